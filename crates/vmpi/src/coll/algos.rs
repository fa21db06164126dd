//! The algorithms, each as a schedule builder over a list of participants
//! (`ranks`: communicator ranks in their order for this algorithm; `me`: this
//! rank's index in it), so the two-level variants reuse them on a domain or on the
//! leaders. All buffers are contiguous byte ranges ([`B`]); sizes are in bytes and
//! reduction blocks are cut at multiples of the reduction's unit.

use super::sched::{Sched, B};

fn pof2_floor(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        1 << (usize::BITS - 1 - n.leading_zeros())
    }
}

/// Dissemination barrier: ceil(log2 n) rounds of zero-byte messages.
pub fn barrier_dissemination(s: &mut Sched, ranks: &[usize], me: usize) {
    let n = ranks.len();
    let z = s.tmp(0);
    let mut d = 1;
    while d < n {
        s.recv(ranks[(me + n - d) % n], z);
        s.send(ranks[(me + d) % n], z);
        s.fence();
        d *= 2;
    }
}

/// Everyone to `ranks[root]` and back (zero bytes): the intra-domain half of the
/// two-level barrier.
pub fn fan_in(s: &mut Sched, ranks: &[usize], me: usize, root: usize) {
    let z = s.tmp(0);
    if me == root {
        for (i, &r) in ranks.iter().enumerate() {
            if i != root {
                s.recv(r, z);
            }
        }
    } else {
        s.send(ranks[root], z);
    }
    s.fence();
}

pub fn fan_out(s: &mut Sched, ranks: &[usize], me: usize, root: usize) {
    let z = s.tmp(0);
    if me == root {
        for (i, &r) in ranks.iter().enumerate() {
            if i != root {
                s.send(r, z);
            }
        }
    } else {
        s.recv(ranks[root], z);
    }
    s.fence();
}

/// Binomial-tree broadcast of `buf` from `ranks[root]`.
pub fn bcast_binomial(s: &mut Sched, ranks: &[usize], me: usize, root: usize, buf: B) {
    let n = ranks.len();
    if n <= 1 {
        return;
    }
    let vr = (me + n - root) % n;
    let real = |v: usize| ranks[(v + root) % n];
    let mut mask = 1;
    while mask < n {
        if vr & mask != 0 {
            s.recv(real(vr - mask), buf);
            s.fence();
            break;
        }
        mask <<= 1;
    }
    mask >>= 1;
    while mask > 0 {
        if vr + mask < n {
            s.send(real(vr + mask), buf);
        }
        mask >>= 1;
    }
    s.fence();
}

/// Broadcast as a binomial scatter of n blocks followed by a ring allgather (van de
/// Geijn): for large messages, every link carries about 2·len bytes instead of
/// log2(n)·len.
pub fn bcast_scatter_allgather(s: &mut Sched, ranks: &[usize], me: usize, root: usize, buf: B) {
    let n = ranks.len();
    if n <= 1 {
        return;
    }
    let len = buf.len;
    let c = len.div_ceil(n);
    let vr = (me + n - root) % n;
    let real = |v: usize| ranks[(v + root) % n];
    // Blocks [a, b) as a byte range of buf (clipped; may be empty).
    let blocks = |a: usize, b: usize| {
        let (x, y) = ((a * c).min(len), (b.min(n) * c).min(len));
        buf.sub(x, y - x)
    };
    let mut mask = 1;
    while mask < n {
        if vr & mask != 0 {
            let r = blocks(vr, vr + mask);
            if r.len > 0 {
                s.recv(real(vr - mask), r);
            }
            s.fence();
            break;
        }
        mask <<= 1;
    }
    mask >>= 1;
    while mask > 0 {
        if vr + mask < n {
            let r = blocks(vr + mask, vr + 2 * mask);
            if r.len > 0 {
                s.send(real(vr + mask), r);
            }
        }
        mask >>= 1;
    }
    s.fence();
    // Ring allgather of the blocks, in relative numbering.
    let right = real((vr + 1) % n);
    let left = real((vr + n - 1) % n);
    for k in 0..n - 1 {
        let sb = blocks((vr + n - k) % n, (vr + n - k) % n + 1);
        let rb = blocks((vr + 2 * n - k - 1) % n, (vr + 2 * n - k - 1) % n + 1);
        if rb.len > 0 {
            s.recv(left, rb);
        }
        if sb.len > 0 {
            s.send(right, sb);
        }
        s.fence();
    }
}

/// Binomial-tree reduction to `ranks[root]`, combining in canonical rank order when
/// the operation does not commute (then the tree is rooted at index 0 and the
/// result is forwarded to the root). `out` is where the root puts the result (it
/// may be `input`'s range when in place); `input` is never written.
pub fn reduce_binomial(
    s: &mut Sched,
    ranks: &[usize],
    me: usize,
    root: usize,
    input: B,
    out: Option<B>,
) {
    let n = ranks.len();
    let len = input.len;
    let commute = s.reduction().commutative();
    let troot = if commute { root } else { 0 };
    let vr = (me + n - troot) % n;
    let real = |v: usize| ranks[(v + troot) % n];
    let root_out = (me == troot && me == root).then(|| out.expect("root has an output"));
    let in_place = root_out.is_some_and(|o| o.overlaps(input));
    // The accumulator (this rank's partial result), made at the first reduction: the
    // first child's contribution is received straight into it and this rank's
    // input folded in front (input op child: canonical order either way), which
    // saves copying the input first. In place at the root it starts as `out`.
    let mut acc = root_out.filter(|_| in_place);
    let mut cur = acc.unwrap_or(input);
    let mut tmp = None;
    let mut mask = 1;
    while mask < n {
        if vr & mask == 0 {
            let src = vr | mask;
            if src < n {
                match acc {
                    None => {
                        let a = root_out.unwrap_or_else(|| s.tmp(len));
                        s.recv(real(src), a);
                        s.fence();
                        s.reduce(input, a);
                        acc = Some(a);
                        cur = a;
                    }
                    Some(a) => {
                        let t = *tmp.get_or_insert_with(|| s.tmp(len));
                        s.recv(real(src), t);
                        s.fence();
                        if commute {
                            s.reduce(t, a);
                        } else {
                            // a holds lower ranks: a = a op t.
                            s.reduce(a, t);
                            s.copy(t, a);
                        }
                        cur = a;
                    }
                }
            }
        } else {
            s.send(real(vr & !mask), cur);
            s.fence();
            break;
        }
        mask <<= 1;
    }
    if let (Some(o), None) = (root_out, acc) {
        // No children (a communicator of one).
        s.copy(input, o);
        cur = o;
    }
    if troot != root {
        if me == troot {
            s.send(ranks[root], cur);
            s.fence();
        } else if me == root {
            s.recv(ranks[troot], out.expect("root has an output"));
            s.fence();
        }
    }
}

/// The fold of the non-power-of-two ranks used by recursive doubling and
/// Rabenseifner: the first 2·rem ranks pair up, the even one hands its data to the
/// odd one and sits out. Returns this rank's new rank among pof2, or None.
fn fold(
    s: &mut Sched,
    ranks: &[usize],
    me: usize,
    acc: B,
    tmp: B,
) -> (usize, usize, Option<usize>) {
    let n = ranks.len();
    let pof2 = pof2_floor(n);
    let rem = n - pof2;
    let nr = if me < 2 * rem {
        if me % 2 == 0 {
            s.send(ranks[me + 1], acc);
            s.fence();
            None
        } else {
            s.recv(ranks[me - 1], tmp);
            s.fence();
            s.reduce(tmp, acc);
            Some(me / 2)
        }
    } else {
        Some(me - rem)
    };
    (pof2, rem, nr)
}

fn unfold(s: &mut Sched, ranks: &[usize], me: usize, rem: usize, acc: B) {
    if me < 2 * rem {
        if me % 2 == 0 {
            s.recv(ranks[me + 1], acc);
        } else {
            s.send(ranks[me - 1], acc);
        }
        s.fence();
    }
}

/// Recursive-doubling allreduce on `acc` (which holds this rank's input): log2(n)
/// exchanges of the whole vector; correct for non-commutative operations.
pub fn allreduce_recursive_doubling(s: &mut Sched, ranks: &[usize], me: usize, acc: B) {
    let n = ranks.len();
    if n <= 1 {
        return;
    }
    let commute = s.reduction().commutative();
    let tmp = s.tmp(acc.len);
    let (pof2, rem, nr) = fold(s, ranks, me, acc, tmp);
    if let Some(nr) = nr {
        let mut mask = 1;
        while mask < pof2 {
            let nd = nr ^ mask;
            let dst = if nd < rem { nd * 2 + 1 } else { nd + rem };
            s.sendrecv(ranks[dst], acc, tmp);
            s.fence();
            if dst < me || commute {
                s.reduce(tmp, acc);
            } else {
                s.reduce(acc, tmp);
                s.copy(tmp, acc);
            }
            mask <<= 1;
        }
    }
    unfold(s, ranks, me, rem, acc);
}

/// Element counts of `parts` nearly equal blocks of `count` elements.
fn split(count: usize, parts: usize) -> (Vec<usize>, Vec<usize>) {
    let cnts: Vec<usize> = (0..parts)
        .map(|i| count / parts + usize::from(i < count % parts))
        .collect();
    let mut disps = vec![0; parts];
    for i in 1..parts {
        disps[i] = disps[i - 1] + cnts[i - 1];
    }
    (cnts, disps)
}

/// Rabenseifner's allreduce (commutative operations): reduce-scatter by recursive
/// halving, then allgather by recursive doubling: 2·log2(n)·α + 2·len·β.
pub fn allreduce_rabenseifner(s: &mut Sched, ranks: &[usize], me: usize, acc: B) {
    let n = ranks.len();
    if n <= 1 {
        return;
    }
    let unit = s.reduction().unit;
    let count = acc.len / unit;
    let tmp = s.tmp(acc.len);
    let (pof2, rem, nr) = fold(s, ranks, me, acc, tmp);
    if let Some(nr) = nr {
        let (cnts, disps) = split(count, pof2);
        let rng = |b: B, i: usize, c: usize| b.sub(disps[i] * unit, c * unit);
        let sum = |a: usize, b: usize| cnts[a..b].iter().sum::<usize>();
        let real = |nd: usize| ranks[if nd < rem { nd * 2 + 1 } else { nd + rem }];
        let (mut send_idx, mut recv_idx, mut last_idx) = (0usize, 0usize, pof2);
        let mut mask = 1;
        while mask < pof2 {
            let nd = nr ^ mask;
            let (sc, rc);
            if nr < nd {
                send_idx = recv_idx + pof2 / (mask * 2);
                sc = sum(send_idx, last_idx);
                rc = sum(recv_idx, send_idx);
            } else {
                recv_idx = send_idx + pof2 / (mask * 2);
                sc = sum(send_idx, recv_idx);
                rc = sum(recv_idx, last_idx);
            }
            s.sendrecv(real(nd), rng(acc, send_idx, sc), rng(tmp, recv_idx, rc));
            s.fence();
            s.reduce(rng(tmp, recv_idx, rc), rng(acc, recv_idx, rc));
            send_idx = recv_idx;
            mask <<= 1;
            if mask < pof2 {
                last_idx = recv_idx + pof2 / mask;
            }
        }
        mask >>= 1;
        while mask > 0 {
            let nd = nr ^ mask;
            let (sc, rc);
            if nr < nd {
                if mask != pof2 / 2 {
                    last_idx += pof2 / (mask * 2);
                }
                recv_idx = send_idx + pof2 / (mask * 2);
                sc = sum(send_idx, recv_idx);
                rc = sum(recv_idx, last_idx);
            } else {
                recv_idx = send_idx - pof2 / (mask * 2);
                sc = sum(send_idx, last_idx);
                rc = sum(recv_idx, send_idx);
            }
            s.sendrecv(real(nd), rng(acc, send_idx, sc), rng(acc, recv_idx, rc));
            s.fence();
            if nr > nd {
                send_idx = recv_idx;
            }
            mask >>= 1;
        }
    }
    unfold(s, ranks, me, rem, acc);
}

/// Ring allreduce (commutative operations): a ring reduce-scatter then a ring
/// allgather, 2(n-1) steps of len/n bytes.
pub fn allreduce_ring(s: &mut Sched, ranks: &[usize], me: usize, acc: B) {
    let n = ranks.len();
    if n <= 1 {
        return;
    }
    let unit = s.reduction().unit;
    let (cnts, disps) = split(acc.len / unit, n);
    let blk = |b: B, i: usize| b.sub(disps[i] * unit, cnts[i] * unit);
    let tmp = s.tmp(acc.len);
    let (right, left) = (ranks[(me + 1) % n], ranks[(me + n - 1) % n]);
    for k in 0..n - 1 {
        let (sb, rb) = ((me + n - k) % n, (me + 2 * n - k - 1) % n);
        s.sendrecv_maybe(right, blk(acc, sb), left, blk(tmp, rb));
        s.fence();
        s.reduce(blk(tmp, rb), blk(acc, rb));
    }
    for k in 0..n - 1 {
        let (sb, rb) = ((me + 1 + n - k) % n, (me + n - k) % n);
        s.sendrecv_maybe(right, blk(acc, sb), left, blk(acc, rb));
        s.fence();
    }
}

/// Linear gather of variable blocks: `blocks[i]` is where rank i's bytes go at
/// the root; `mine` is this rank's contribution (None at an in-place root).
pub fn gatherv_linear(
    s: &mut Sched,
    n: usize,
    me: usize,
    root: usize,
    mine: Option<B>,
    blocks: &[B],
) {
    if me == root {
        for (i, &b) in blocks.iter().enumerate().take(n) {
            if i != root && b.len > 0 {
                s.recv(i, b);
            }
        }
        // The own block is copied after the receives are posted: a sender that
        // writes part of its block (the split rendezvous) works meanwhile.
        if let Some(m) = mine {
            s.copy(m, blocks[root]);
        }
    } else if let Some(m) = mine {
        if m.len > 0 {
            s.send(root, m);
        }
    }
    s.fence();
}

/// Linear scatter of variable blocks from the root; `mine` is where this rank's
/// block goes (None at an in-place root).
pub fn scatterv_linear(
    s: &mut Sched,
    n: usize,
    me: usize,
    root: usize,
    blocks: &[B],
    mine: Option<B>,
) {
    if me == root {
        for (i, &b) in blocks.iter().enumerate().take(n) {
            if i != root && b.len > 0 {
                s.send(i, b);
            }
        }
        // The own block is copied after the sends are posted, while the receivers
        // pull theirs (2 ranks, 64 KiB: the root's copy first delayed the receiver
        // by the whole copy).
        if let Some(m) = mine {
            s.copy(blocks[root], m);
        }
    } else if let Some(m) = mine {
        if m.len > 0 {
            s.recv(root, m);
        }
    }
    s.fence();
}

/// Ring allgather of variable blocks laid out in `blocks`: n-1 steps. `mine`:
/// this rank's block in a send buffer of its own (None: already in place); the
/// first step sends it from there and copies it into place while the transfers
/// run, rather than before posting them.
pub fn allgatherv_ring(s: &mut Sched, n: usize, me: usize, blocks: &[B], mine: Option<B>) {
    let (right, left) = ((me + 1) % n, (me + n - 1) % n);
    for k in 0..n.saturating_sub(1) {
        let (sb, rb) = ((me + n - k) % n, (me + 2 * n - k - 1) % n);
        let from = if k == 0 {
            mine.unwrap_or(blocks[sb])
        } else {
            blocks[sb]
        };
        s.sendrecv_maybe(right, from, left, blocks[rb]);
        if k == 0 {
            if let Some(m) = mine {
                s.copy(m, blocks[me]);
            }
        }
        s.fence();
    }
    if n == 1 {
        if let Some(m) = mine {
            s.copy(m, blocks[me]);
        }
    }
}

/// Pairwise alltoall(v/w): step k exchanges with me±k; `send[i]`/`recv[i]` are the
/// blocks for and from rank i (send blocks must not alias receive blocks).
pub fn alltoallv_pairwise(s: &mut Sched, n: usize, me: usize, send: &[B], recv: &[B]) {
    for k in 1..n {
        let (to, from) = ((me + k) % n, (me + n - k) % n);
        s.sendrecv_maybe(to, send[to], from, recv[from]);
        if k == 1 {
            // This rank's own block, copied while the first exchange runs.
            s.copy(send[me], recv[me]);
        }
        s.fence();
    }
    if n == 1 {
        s.copy(send[me], recv[me]);
    }
}

/// All sends and receives posted at once, this rank's own block copied while they
/// run (alltoallv/w, whose blocks may differ wildly in size, and alltoall on small
/// communicators: no step waits for a slow or descheduled pair).
pub fn alltoallv_scattered(s: &mut Sched, n: usize, me: usize, send: &[B], recv: &[B]) {
    for k in 1..n {
        let from = (me + n - k) % n;
        if recv[from].len > 0 {
            s.recv(from, recv[from]);
        }
    }
    for k in 1..n {
        let to = (me + k) % n;
        if send[to].len > 0 {
            s.send(to, send[to]);
        }
    }
    s.copy(send[me], recv[me]);
    s.fence();
}

/// Bruck's alltoall for small blocks of `blk` bytes: ceil(log2 n) steps, each
/// moving about half the blocks.
pub fn alltoall_bruck(s: &mut Sched, n: usize, me: usize, send: B, recv: B, blk: usize) {
    let t = s.tmp(n * blk);
    let at = |b: B, i: usize| b.sub(i * blk, blk);
    for i in 0..n {
        s.copy(at(send, (me + i) % n), at(t, i));
    }
    let (pk, rpk) = (
        s.tmp(n.div_ceil(2) * blk + blk),
        s.tmp(n.div_ceil(2) * blk + blk),
    );
    let mut k = 1;
    while k < n {
        let idx: Vec<usize> = (0..n).filter(|i| i & k != 0).collect();
        for (j, &i) in idx.iter().enumerate() {
            s.copy(at(t, i), at(pk, j));
        }
        let m = idx.len() * blk;
        s.sendrecv_maybe((me + k) % n, pk.sub(0, m), (me + n - k) % n, rpk.sub(0, m));
        s.fence();
        for (j, &i) in idx.iter().enumerate() {
            s.copy(at(rpk, j), at(t, i));
        }
        k <<= 1;
    }
    for i in 0..n {
        s.copy(at(t, i), at(recv, (me + n - i) % n));
    }
}

/// Reduce-scatter for commutative operations: n-1 pairwise steps, each sending the
/// block the peer owns and reducing the block received into this rank's result.
/// `input` holds all blocks (`blocks[i]` ranges within it), `out` gets block me.
pub fn reduce_scatter_pairwise(s: &mut Sched, n: usize, me: usize, input: B, blocks: &[B], out: B) {
    let mine = B {
        slot: input.slot,
        ..blocks[me]
    };
    s.copy(mine, out);
    let tmp = s.tmp(out.len);
    for k in 1..n {
        let (to, from) = ((me + k) % n, (me + n - k) % n);
        let sb = B {
            slot: input.slot,
            ..blocks[to]
        };
        s.sendrecv_maybe(to, sb, from, tmp);
        s.fence();
        s.reduce(tmp, out);
    }
}

/// Inclusive scan by recursive doubling (MPICH): log2(n) exchanges of the partial
/// result; respects canonical order. `out` holds this rank's input on entry.
pub fn scan_recursive_doubling(s: &mut Sched, n: usize, me: usize, out: B, exclusive: Option<B>) {
    let commute = s.reduction().commutative();
    let len = out.len;
    let partial = s.tmp(len);
    let tmp = s.tmp(len);
    match exclusive {
        None => s.copy(out, partial),
        Some(input) => s.copy(input, partial),
    }
    let mut first = true;
    let mut mask = 1;
    while mask < n {
        let dst = me ^ mask;
        if dst < n {
            s.sendrecv(dst, partial, tmp);
            s.fence();
            if me > dst {
                s.reduce(tmp, partial);
                if exclusive.is_none() {
                    s.reduce(tmp, out);
                } else if first {
                    s.copy(tmp, out);
                    first = false;
                } else {
                    s.reduce(tmp, out);
                }
            } else if commute {
                s.reduce(tmp, partial);
            } else {
                s.reduce(partial, tmp);
                s.copy(tmp, partial);
            }
        }
        mask <<= 1;
    }
}

impl Sched {
    /// Receive `r` from `from` and send `sb` to `to`, skipping empty ranges (both
    /// sides skip the same ones: sizes are known to both).
    pub fn sendrecv_maybe(&mut self, to: usize, sb: B, from: usize, r: B) {
        if r.len > 0 {
            self.recv(from, r);
        }
        if sb.len > 0 {
            self.send(to, sb);
        }
    }
}
