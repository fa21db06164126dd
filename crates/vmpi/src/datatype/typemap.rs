//! The type map of one datatype element in compact form, and the walks over it.
//!
//! A type map is a tree: leaves are runs of consecutive predefined elements, inner
//! nodes repeat a child at a stride or list children at displacements. Constructors
//! build it in O(1) (contiguous, vector) or O(blocks) (indexed, struct), never per
//! element; a vector of a million doubles is one `Repeat` over one leaf. Walks visit
//! leaves (for external32 and element counting) or contiguous byte runs inside a
//! window of the packed stream (for pack, unpack and segments), skipping whole
//! subtrees that lie outside the window.

use std::sync::Arc;

use super::basic::Basic;

/// A subtree of a type map; offsets inside it are relative to where it is placed.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    /// `n > 0` consecutive elements of one kind at offset 0, `b.size()` apart.
    Elems(Basic, usize),
    /// A child repeated `count >= 2` times, `stride` bytes apart.
    Repeat(Arc<Rep>),
    /// Children at displacements, in type-map order (none: the empty type map).
    Seq(Arc<SeqNode>),
}

#[derive(Debug)]
pub(crate) struct Rep {
    count: usize,
    stride: i64,
    child: Node,
    size: usize,
    dense: Option<usize>,
}

#[derive(Debug)]
pub(crate) struct SeqNode {
    items: Vec<(i64, Node)>,
    size: usize,
    dense: Option<usize>,
}

/// Nested lists up to this length are inlined into their parent list.
const INLINE_SEQ: usize = 8;

impl Node {
    pub(crate) fn empty() -> Node {
        Node::Seq(Arc::new(SeqNode {
            items: Vec::new(),
            size: 0,
            dense: Some(0),
        }))
    }

    /// Packed bytes in this subtree.
    pub(crate) fn size(&self) -> usize {
        match self {
            Node::Elems(b, n) => n * b.mpi_size(),
            Node::Repeat(r) => r.size,
            Node::Seq(s) => s.size,
        }
    }

    /// `Some(len)` when the subtree is one run of `len` bytes starting at offset 0.
    pub(crate) fn dense(&self) -> Option<usize> {
        match self {
            Node::Elems(b, n) if b.dense() => Some(n * b.size()),
            Node::Elems(..) => None,
            Node::Repeat(r) => r.dense,
            Node::Seq(s) => s.dense,
        }
    }
}

/// `count` copies of `node` (placed at `off`), `stride` bytes apart: returns the
/// placed result.
pub(crate) fn repeat(count: usize, stride: i64, off: i64, node: &Node) -> (i64, Node) {
    let size = node.size();
    if count == 0 || size == 0 {
        return (0, Node::empty());
    }
    if count == 1 {
        return (off, node.clone());
    }
    if let Node::Elems(b, n) = node {
        if stride == (n * b.size()) as i64 {
            return (off, Node::Elems(*b, n * count));
        }
    }
    if let Node::Repeat(r) = node {
        if r.stride.checked_mul(r.count as i64) == Some(stride) {
            let rep = Rep {
                count: r.count * count,
                stride: r.stride,
                child: r.child.clone(),
                size: size * count,
                dense: r.dense.map(|l| l * count),
            };
            return (off, Node::Repeat(Arc::new(rep)));
        }
    }
    let dense = match node.dense() {
        Some(l) if l as i64 == stride => Some(l * count),
        _ => None,
    };
    let rep = Rep {
        count,
        stride,
        child: node.clone(),
        size: size * count,
        dense,
    };
    (off, Node::Repeat(Arc::new(rep)))
}

/// Children at absolute displacements, in type-map order: returns the placed list,
/// with empty children dropped, small nested lists inlined and adjacent runs of the
/// same element kind merged.
pub(crate) fn seq(items: impl IntoIterator<Item = (i64, Node)>) -> (i64, Node) {
    let mut out: Vec<(i64, Node)> = Vec::new();
    fn push(out: &mut Vec<(i64, Node)>, d: i64, n: Node) {
        if n.size() == 0 {
            return;
        }
        if let Node::Seq(s) = &n {
            if s.items.len() <= INLINE_SEQ {
                for (d2, c) in &s.items {
                    push(out, d + d2, c.clone());
                }
                return;
            }
        }
        if let (Some((pd, Node::Elems(pb, pn))), Node::Elems(b, m)) = (out.last_mut(), &n) {
            if pb == b && *pd + (*pn * b.size()) as i64 == d {
                *pn += m;
                return;
            }
        }
        out.push((d, n));
    }
    for (d, n) in items {
        push(&mut out, d, n);
    }
    match out.len() {
        0 => (0, Node::empty()),
        1 => out.pop().unwrap(),
        _ => {
            let base = out[0].0;
            for item in out.iter_mut() {
                item.0 -= base;
            }
            let size = out.iter().map(|(_, n)| n.size()).sum();
            let mut dense = Some(0usize);
            for (d, n) in &out {
                dense = match (dense, n.dense()) {
                    (Some(at), Some(l)) if at as i64 == *d => Some(at + l),
                    _ => None,
                };
            }
            (
                base,
                Node::Seq(Arc::new(SeqNode {
                    items: out,
                    size,
                    dense,
                })),
            )
        }
    }
}

/// Visits the leaves of `node` placed at `base`: `f(offset, kind, n)`.
pub(crate) fn walk_elems(node: &Node, base: i64, f: &mut impl FnMut(i64, Basic, usize)) {
    match node {
        Node::Elems(b, n) => f(base, *b, *n),
        Node::Repeat(r) => {
            for i in 0..r.count {
                walk_elems(&r.child, base + i as i64 * r.stride, f);
            }
        }
        Node::Seq(s) => {
            for (d, c) in &s.items {
                walk_elems(c, base + d, f);
            }
        }
    }
}

#[inline(always)]
fn clip(
    mem: i64,
    p: usize,
    len: usize,
    lo: usize,
    hi: usize,
    f: &mut impl FnMut(i64, usize, usize),
) {
    let a = p.max(lo);
    let b = (p + len).min(hi);
    if a < b {
        f(mem + (a - p) as i64, a, b - a);
    }
}

/// Visits the byte runs of `node` placed at `base` whose packed bytes start at `p`,
/// clipped to the packed window `[lo, hi)`: `f(offset, packed_offset, len)`.
pub(crate) fn walk_runs(
    node: &Node,
    base: i64,
    p: usize,
    lo: usize,
    hi: usize,
    f: &mut impl FnMut(i64, usize, usize),
) {
    let size = node.size();
    if p >= hi || p + size <= lo {
        return;
    }
    if let Some(l) = node.dense() {
        clip(base, p, l, lo, hi, f);
        return;
    }
    match node {
        Node::Elems(b, n) => {
            let es = b.mpi_size();
            let first = lo.saturating_sub(p) / es;
            let last = (*n).min((hi - p).div_ceil(es));
            for i in first..last {
                let mut q = p + i * es;
                let m = base + (i * b.size()) as i64;
                for &(ro, rl) in b.runs() {
                    clip(m + ro as i64, q, rl, lo, hi, f);
                    q += rl;
                }
            }
        }
        Node::Repeat(r) => {
            let cs = r.child.size();
            let first = lo.saturating_sub(p) / cs;
            let last = r.count.min((hi - p).div_ceil(cs));
            if let Some(l) = r.child.dense() {
                for i in first..last {
                    clip(base + i as i64 * r.stride, p + i * cs, l, lo, hi, f);
                }
            } else {
                for i in first..last {
                    walk_runs(&r.child, base + i as i64 * r.stride, p + i * cs, lo, hi, f);
                }
            }
        }
        Node::Seq(s) => {
            let mut q = p;
            for (d, c) in &s.items {
                let cs = c.size();
                if q + cs > lo {
                    walk_runs(c, base + d, q, lo, hi, f);
                }
                q += cs;
                if q >= hi {
                    break;
                }
            }
        }
    }
}

/// Merges runs that continue each other in memory before handing them on.
pub(crate) struct Coalesce<F: FnMut(i64, usize, usize)> {
    mem: i64,
    packed: usize,
    len: usize,
    sink: F,
}

impl<F: FnMut(i64, usize, usize)> Coalesce<F> {
    pub(crate) fn new(sink: F) -> Self {
        Coalesce {
            mem: 0,
            packed: 0,
            len: 0,
            sink,
        }
    }

    #[inline(always)]
    pub(crate) fn run(&mut self, mem: i64, packed: usize, len: usize) {
        if self.len > 0 && self.mem + self.len as i64 == mem && self.packed + self.len == packed {
            self.len += len;
        } else {
            self.flush();
            self.mem = mem;
            self.packed = packed;
            self.len = len;
        }
    }

    pub(crate) fn flush(&mut self) {
        if self.len > 0 {
            (self.sink)(self.mem, self.packed, self.len);
            self.len = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(node: &Node, base: i64) -> Vec<(i64, usize, usize)> {
        let mut v = Vec::new();
        walk_runs(node, base, 0, 0, usize::MAX, &mut |m, p, l| {
            v.push((m, p, l))
        });
        v
    }

    #[test]
    fn repeat_of_dense_leaf_merges() {
        let (o, n) = repeat(10, 8, 0, &Node::Elems(Basic::F64, 1));
        assert_eq!(o, 0);
        assert!(matches!(n, Node::Elems(Basic::F64, 10)));
        let (_, v) = repeat(1_000_000, 16, 0, &Node::Elems(Basic::F64, 1));
        assert!(matches!(v, Node::Repeat(_)));
        assert_eq!(v.size(), 8_000_000);
        assert_eq!(v.dense(), None);
    }

    #[test]
    fn seq_merges_and_windows_clip() {
        let (o, n) = seq(vec![
            (8, Node::Elems(Basic::I32, 1)),
            (12, Node::Elems(Basic::I32, 2)),
            (40, Node::Elems(Basic::I16, 1)),
        ]);
        assert_eq!(o, 8);
        assert_eq!(runs(&n, o), vec![(8, 0, 12), (40, 12, 2)]);
        let mut v = Vec::new();
        walk_runs(&n, o, 0, 5, 13, &mut |m, p, l| v.push((m, p, l)));
        assert_eq!(v, vec![(13, 5, 7), (40, 12, 1)]);
    }

    #[test]
    fn short_int_has_a_hole() {
        let n = Node::Elems(Basic::ShortInt, 2);
        assert_eq!(
            runs(&n, 0),
            vec![(0, 0, 2), (4, 2, 4), (8, 6, 2), (12, 8, 4)]
        );
    }
}
