//! Derived datatypes: the constructors of MPI-3.1 chapter 4 (contiguous, vector,
//! indexed, struct, resized, dup; subarray and darray live in `layouts`), their
//! bounds, sizes and contents, the flattened view of their type map, and element
//! counting. Bounds follow MPICH: zero-length blocks are left out of lb/ub, a struct's
//! extent is rounded up to the largest alignment of the predefined types inside it,
//! and a type with no blocks at all has lb = ub = 0.

use std::fmt;
use std::sync::{Arc, OnceLock};

use super::basic::Basic;
use super::typemap::{repeat, seq, walk_elems, walk_runs, Coalesce, Node};
use crate::error::{Error, ErrorClass, Result};

/// A datatype: a predefined element kind or a derived type built from others.
/// Cloning is cheap (a reference count); the type is immutable once built.
#[derive(Clone)]
pub struct Datatype(pub(crate) Arc<TypeInner>);

/// `MPI_COMBINER_*`: which constructor made a datatype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Combiner {
    Named,
    Dup,
    Contiguous,
    Vector,
    Hvector,
    Indexed,
    Hindexed,
    IndexedBlock,
    HindexedBlock,
    Struct,
    Subarray,
    Darray,
    Resized,
}

/// Array storage order for subarray and darray.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Order {
    /// Row-major: the last dimension varies fastest (`MPI_ORDER_C`).
    C,
    /// Column-major: the first dimension varies fastest (`MPI_ORDER_FORTRAN`).
    Fortran,
}

/// Distribution of one dimension of a darray.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Distrib {
    Block,
    Cyclic,
    None,
}

/// `MPI_DISTRIBUTE_DFLT_DARG` (MPICH's value): the default distribution argument.
pub const DISTRIBUTE_DFLT_DARG: i32 = -49767;

impl Order {
    /// The `mpi.h` value (MPICH): `MPI_ORDER_C` = 56, `MPI_ORDER_FORTRAN` = 57. These are
    /// the values [`Datatype::contents`] reports.
    pub fn to_mpi(self) -> i64 {
        match self {
            Order::C => 56,
            Order::Fortran => 57,
        }
    }
    pub fn from_mpi(v: i64) -> Option<Order> {
        match v {
            56 => Some(Order::C),
            57 => Some(Order::Fortran),
            _ => None,
        }
    }
}

impl Distrib {
    /// The `mpi.h` value (MPICH): BLOCK = 121, CYCLIC = 122, NONE = 123.
    pub fn to_mpi(self) -> i64 {
        match self {
            Distrib::Block => 121,
            Distrib::Cyclic => 122,
            Distrib::None => 123,
        }
    }
    pub fn from_mpi(v: i64) -> Option<Distrib> {
        match v {
            121 => Some(Distrib::Block),
            122 => Some(Distrib::Cyclic),
            123 => Some(Distrib::None),
            _ => None,
        }
    }
}

/// The constructor and its exact arguments (for `MPI_Type_get_contents`).
#[derive(Debug)]
pub(crate) enum Kind {
    Named(Basic),
    Dup(Datatype),
    Contiguous(i64, Datatype),
    Vector(i64, i64, i64, Datatype),
    Hvector(i64, i64, i64, Datatype),
    Indexed(Vec<i64>, Vec<i64>, Datatype),
    Hindexed(Vec<i64>, Vec<i64>, Datatype),
    IndexedBlock(i64, Vec<i64>, Datatype),
    HindexedBlock(i64, Vec<i64>, Datatype),
    Struct(Vec<i64>, Vec<i64>, Vec<Datatype>),
    /// ints as `MPI_Type_get_contents` gives them, the old type.
    Subarray(Vec<i64>, Datatype),
    Darray(Vec<i64>, Datatype),
    Resized(i64, i64, Datatype),
}

/// Whether all predefined elements in a type are of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Homog {
    Empty,
    One(Basic),
    Mixed,
}

impl Homog {
    fn join(self, o: Homog) -> Homog {
        match (self, o) {
            (Homog::Empty, x) | (x, Homog::Empty) => x,
            (Homog::One(a), Homog::One(b)) if a == b => Homog::One(a),
            _ => Homog::Mixed,
        }
    }
}

/// Everything about a type except how it was made.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub(crate) size: i64,
    pub(crate) lb: i64,
    pub(crate) ub: i64,
    pub(crate) true_lb: i64,
    pub(crate) true_ub: i64,
    /// Largest alignment of the predefined types inside (struct extent rounding).
    pub(crate) align: i64,
    /// The type map of one element: `node` placed at `off`.
    pub(crate) off: i64,
    pub(crate) node: Node,
    /// Count elements are one run of `size * count` bytes at `true_lb`.
    pub(crate) contig: bool,
    /// Predefined elements in one element (a pair type counts once).
    pub(crate) units: i64,
    /// Basic elements in one element as `MPI_Get_elements` counts them.
    pub(crate) elems: i64,
    pub(crate) homog: Homog,
}

#[derive(Debug)]
pub(crate) struct TypeInner {
    pub(crate) kind: Kind,
    pub(crate) meta: Meta,
}

impl fmt::Debug for Datatype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.0.meta;
        match &self.0.kind {
            Kind::Named(b) => write!(f, "Datatype({b:?})"),
            _ => write!(
                f,
                "Datatype({:?}, size {}, lb {}, extent {}, true_lb {}, true_extent {})",
                self.combiner(),
                m.size,
                m.lb,
                m.ub - m.lb,
                m.true_lb,
                m.true_ub - m.true_lb
            ),
        }
    }
}

fn err(class: ErrorClass, msg: String) -> Error {
    Error::new(class, msg)
}

/// An i128 intermediate that must fit an MPI address (i64).
pub(crate) fn fit(call: &str, what: &str, v: i128) -> Result<i64> {
    i64::try_from(v).map_err(|_| {
        err(
            ErrorClass::Arg,
            format!("{call}: {what} ({v}) does not fit a 64-bit address"),
        )
    })
}

pub(crate) fn check_count(call: &str, what: &str, v: i64) -> Result<usize> {
    if v < 0 {
        let class = if what == "count" {
            ErrorClass::Count
        } else {
            ErrorClass::Arg
        };
        return Err(err(class, format!("{call}: {what} {v} is negative")));
    }
    usize::try_from(v).map_err(|_| err(ErrorClass::Arg, format!("{call}: {what} {v} is too large")))
}

fn check_len(call: &str, what: &str, got: usize, want: usize) -> Result<()> {
    if got != want {
        return Err(err(
            ErrorClass::Arg,
            format!("{call}: {what} has {got} entries, expected {want}"),
        ));
    }
    Ok(())
}

/// Bounds of `cnt >= 1` consecutive copies of `old` placed at `disp` (MPICH's
/// `MPII_DATATYPE_BLOCK_LB_UB`): (lb, ub, true_lb, true_ub).
fn block_bounds(cnt: i64, disp: i128, old: &Meta) -> (i128, i128, i128, i128) {
    let ext = (old.ub - old.lb) as i128;
    let span = ext * (cnt as i128 - 1);
    let (lb, ub) = if old.ub >= old.lb {
        (disp + old.lb as i128, disp + old.ub as i128 + span)
    } else {
        (disp + old.lb as i128 + span, disp + old.ub as i128)
    };
    let tlb = lb + (old.true_lb - old.lb) as i128;
    let tub = ub + (old.true_ub - old.ub) as i128;
    (lb, ub, tlb, tub)
}

fn is_contig(size: i64, lb: i64, ub: i64, node: &Node) -> bool {
    size == 0 || (size == ub - lb && node.dense() == Some(size as usize))
}

impl Datatype {
    fn new(kind: Kind, meta: Meta) -> Datatype {
        Datatype(Arc::new(TypeInner { kind, meta }))
    }

    pub(crate) fn meta(&self) -> &Meta {
        &self.0.meta
    }

    /// The same layout under another constructor's name (subarray, darray).
    pub(crate) fn with_kind(&self, kind: Kind) -> Datatype {
        Datatype::new(kind, self.0.meta.clone())
    }

    /// The predefined datatype of one element kind (shared: cheap to call).
    pub fn basic(b: Basic) -> Datatype {
        Datatype::basic_ref(b).clone()
    }

    /// The predefined datatype of one element kind, borrowed: no reference count
    /// touched (a locked instruction; the collectives' hot paths avoid them).
    pub fn basic_ref(b: Basic) -> &'static Datatype {
        static TABLE: OnceLock<Vec<Datatype>> = OnceLock::new();
        let table = TABLE.get_or_init(|| {
            Basic::ALL
                .iter()
                .map(|&b| Datatype::make_basic(b))
                .collect()
        });
        &table[b as usize]
    }

    fn make_basic(b: Basic) -> Datatype {
        let size = b.size() as i64;
        let meta = Meta {
            size: b.mpi_size() as i64,
            lb: 0,
            ub: size,
            true_lb: 0,
            true_ub: b
                .parts()
                .last()
                .map(|p| (p.off + p.len) as i64)
                .unwrap_or(0),
            align: b.align() as i64,
            off: 0,
            node: Node::Elems(b, 1),
            contig: b.dense(),
            units: 1,
            elems: b.element_parts() as i64,
            homog: Homog::One(b),
        };
        Datatype::new(Kind::Named(b), meta)
    }

    /// A type with no data (MPICH's zero-length type: lb = ub = 0).
    fn zerolen(kind: Kind, homog: Homog, align: i64) -> Datatype {
        let meta = Meta {
            size: 0,
            lb: 0,
            ub: 0,
            true_lb: 0,
            true_ub: 0,
            align,
            off: 0,
            node: Node::empty(),
            contig: true,
            units: 0,
            elems: 0,
            homog,
        };
        Datatype::new(kind, meta)
    }

    /// `count` blocks of `blocklen` copies of `old`, block starts `stride` bytes apart.
    fn vector_like(
        call: &str,
        count: i64,
        blocklen: i64,
        stride: i128,
        old: &Datatype,
        kind: Kind,
    ) -> Result<Datatype> {
        let o = old.meta();
        let c = check_count(call, "count", count)?;
        let bl = check_count(call, "blocklength", blocklen)?;
        let stride = fit(call, "stride in bytes", stride)?;
        if c == 0 || bl == 0 {
            return Ok(Datatype::zerolen(kind, o.homog, o.align));
        }
        let size = fit(
            call,
            "size",
            o.size as i128 * count as i128 * blocklen as i128,
        )?;
        let (blb, bub, btlb, btub) = block_bounds(blocklen, 0, o);
        let reach = stride as i128 * (count as i128 - 1);
        let (lo, hi) = if reach < 0 { (reach, 0) } else { (0, reach) };
        let lb = fit(call, "lower bound", blb + lo)?;
        let ub = fit(call, "upper bound", bub + hi)?;
        // True bounds cover data only: an old type without data adds none.
        let (true_lb, true_ub) = if o.size == 0 {
            (lb, lb)
        } else {
            (
                fit(call, "true lower bound", btlb + lo)?,
                fit(call, "true upper bound", btub + hi)?,
            )
        };
        let ext = o.ub - o.lb;
        let (boff, block) = repeat(bl, ext, o.off, &o.node);
        let (off, node) = repeat(c, stride, boff, &block);
        let meta = Meta {
            size,
            lb,
            ub,
            true_lb,
            true_ub,
            align: o.align,
            off,
            contig: is_contig(size, lb, ub, &node),
            node,
            units: o.units * count * blocklen,
            elems: o.elems * count * blocklen,
            homog: o.homog,
        };
        Ok(Datatype::new(kind, meta))
    }

    /// Blocks `(displacement in bytes, count, type)` in type-map order; `round` pads
    /// the extent to the largest alignment inside (struct).
    fn from_blocks(
        call: &str,
        blocks: &[(i128, i64, &Datatype)],
        round: bool,
        kind: Kind,
    ) -> Result<Datatype> {
        let mut align = 0;
        let mut h_all = Homog::Empty;
        for (_, _, t) in blocks {
            align = align.max(t.meta().align);
            h_all = h_all.join(t.meta().homog);
        }
        let mut size: i128 = 0;
        let mut units: i128 = 0;
        let mut elems: i128 = 0;
        let mut homog = Homog::Empty;
        let mut bounds: Option<(i128, i128)> = None;
        let mut tbounds: Option<(i128, i128)> = None;
        let mut items = Vec::with_capacity(blocks.len());
        for (i, &(disp, cnt, t)) in blocks.iter().enumerate() {
            let c = check_count(call, &format!("blocklength[{i}]"), cnt)?;
            if c == 0 {
                continue;
            }
            let o = t.meta();
            size += o.size as i128 * cnt as i128;
            units += o.units as i128 * cnt as i128;
            elems += o.elems as i128 * cnt as i128;
            homog = homog.join(o.homog);
            let (lb, ub, tlb, tub) = block_bounds(cnt, disp, o);
            bounds = Some(match bounds {
                None => (lb, ub),
                Some((a, b)) => (a.min(lb), b.max(ub)),
            });
            // True bounds cover data only: a block without data adds none.
            if o.size > 0 {
                tbounds = Some(match tbounds {
                    None => (tlb, tub),
                    Some((a, b)) => (a.min(tlb), b.max(tub)),
                });
            }
            let (boff, block) = repeat(c, o.ub - o.lb, o.off, &o.node);
            let at = fit(call, &format!("displacement[{i}]"), disp + boff as i128)?;
            items.push((at, block));
        }
        let Some((lb, mut ub)) = bounds else {
            return Ok(Datatype::zerolen(kind, h_all, align));
        };
        let (tlb, tub) = tbounds.unwrap_or((lb, lb));
        if round && align > 0 {
            let eps = (ub - lb).rem_euclid(align as i128);
            if eps != 0 {
                ub += align as i128 - eps;
            }
        }
        let size = fit(call, "size", size)?;
        let lb = fit(call, "lower bound", lb)?;
        let ub = fit(call, "upper bound", ub)?;
        let (off, node) = seq(items);
        let meta = Meta {
            size,
            lb,
            ub,
            true_lb: fit(call, "true lower bound", tlb)?,
            true_ub: fit(call, "true upper bound", tub)?,
            align,
            off,
            contig: is_contig(size, lb, ub, &node),
            node,
            units: fit(call, "element count", units)?,
            elems: fit(call, "element count", elems)?,
            homog,
        };
        Ok(Datatype::new(kind, meta))
    }

    /// `MPI_Type_contiguous`.
    pub fn contiguous(count: i64, old: &Datatype) -> Result<Datatype> {
        let call = "MPI_Type_contiguous";
        check_count(call, "count", count)?;
        Datatype::vector_like(call, 1, count, 0, old, Kind::Contiguous(count, old.clone()))
    }

    /// `MPI_Type_vector`: `stride` in extents of `old`.
    pub fn vector(count: i64, blocklen: i64, stride: i64, old: &Datatype) -> Result<Datatype> {
        let s = stride as i128 * old.extent() as i128;
        let kind = Kind::Vector(count, blocklen, stride, old.clone());
        Datatype::vector_like("MPI_Type_vector", count, blocklen, s, old, kind)
    }

    /// `MPI_Type_create_hvector`: `stride_bytes` in bytes.
    pub fn hvector(
        count: i64,
        blocklen: i64,
        stride_bytes: i64,
        old: &Datatype,
    ) -> Result<Datatype> {
        let kind = Kind::Hvector(count, blocklen, stride_bytes, old.clone());
        Datatype::vector_like(
            "MPI_Type_create_hvector",
            count,
            blocklen,
            stride_bytes as i128,
            old,
            kind,
        )
    }

    /// `MPI_Type_indexed`: displacements in extents of `old`.
    pub fn indexed(blocklens: &[i64], displs: &[i64], old: &Datatype) -> Result<Datatype> {
        let call = "MPI_Type_indexed";
        check_len(
            call,
            "array_of_displacements",
            displs.len(),
            blocklens.len(),
        )?;
        let ext = old.extent() as i128;
        let blocks: Vec<_> = blocklens
            .iter()
            .zip(displs)
            .map(|(&b, &d)| (d as i128 * ext, b, old))
            .collect();
        let kind = Kind::Indexed(blocklens.to_vec(), displs.to_vec(), old.clone());
        Datatype::from_blocks(call, &blocks, false, kind)
    }

    /// `MPI_Type_create_hindexed`: displacements in bytes.
    pub fn hindexed(blocklens: &[i64], displs_bytes: &[i64], old: &Datatype) -> Result<Datatype> {
        let call = "MPI_Type_create_hindexed";
        check_len(
            call,
            "array_of_displacements",
            displs_bytes.len(),
            blocklens.len(),
        )?;
        let blocks: Vec<_> = blocklens
            .iter()
            .zip(displs_bytes)
            .map(|(&b, &d)| (d as i128, b, old))
            .collect();
        let kind = Kind::Hindexed(blocklens.to_vec(), displs_bytes.to_vec(), old.clone());
        Datatype::from_blocks(call, &blocks, false, kind)
    }

    /// `MPI_Type_create_indexed_block`: displacements in extents of `old`.
    pub fn indexed_block(blocklen: i64, displs: &[i64], old: &Datatype) -> Result<Datatype> {
        let call = "MPI_Type_create_indexed_block";
        check_count(call, "blocklength", blocklen)?;
        let ext = old.extent() as i128;
        let blocks: Vec<_> = displs
            .iter()
            .map(|&d| (d as i128 * ext, blocklen, old))
            .collect();
        let kind = Kind::IndexedBlock(blocklen, displs.to_vec(), old.clone());
        Datatype::from_blocks(call, &blocks, false, kind)
    }

    /// `MPI_Type_create_hindexed_block`: displacements in bytes.
    pub fn hindexed_block(blocklen: i64, displs_bytes: &[i64], old: &Datatype) -> Result<Datatype> {
        let call = "MPI_Type_create_hindexed_block";
        check_count(call, "blocklength", blocklen)?;
        let blocks: Vec<_> = displs_bytes
            .iter()
            .map(|&d| (d as i128, blocklen, old))
            .collect();
        let kind = Kind::HindexedBlock(blocklen, displs_bytes.to_vec(), old.clone());
        Datatype::from_blocks(call, &blocks, false, kind)
    }

    /// `MPI_Type_create_struct`. The extent is rounded up to the largest alignment of
    /// the predefined types inside (MPICH), so `{char; double}` has extent 16.
    pub fn structure(
        blocklens: &[i64],
        displs_bytes: &[i64],
        types: &[Datatype],
    ) -> Result<Datatype> {
        let call = "MPI_Type_create_struct";
        check_len(
            call,
            "array_of_displacements",
            displs_bytes.len(),
            blocklens.len(),
        )?;
        check_len(call, "array_of_types", types.len(), blocklens.len())?;
        let blocks: Vec<_> = blocklens
            .iter()
            .zip(displs_bytes)
            .zip(types)
            .map(|((&b, &d), t)| (d as i128, b, t))
            .collect();
        let kind = Kind::Struct(blocklens.to_vec(), displs_bytes.to_vec(), types.to_vec());
        Datatype::from_blocks(call, &blocks, true, kind)
    }

    /// `MPI_Type_create_resized`: same type map, lower bound `lb`, extent `extent`.
    pub fn resized(old: &Datatype, lb: i64, extent: i64) -> Result<Datatype> {
        let call = "MPI_Type_create_resized";
        let ub = fit(call, "lb + extent", lb as i128 + extent as i128)?;
        let mut meta = old.meta().clone();
        meta.lb = lb;
        meta.ub = ub;
        meta.contig = is_contig(meta.size, lb, ub, &meta.node);
        Ok(Datatype::new(Kind::Resized(lb, extent, old.clone()), meta))
    }

    /// `MPI_Type_dup`: the same type under combiner `Dup`.
    pub fn dup(&self) -> Datatype {
        Datatype::new(Kind::Dup(self.clone()), self.meta().clone())
    }

    /// Whether two handles name the very same type object.
    pub fn ptr_eq(&self, other: &Datatype) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Bytes of data in one element (`MPI_Type_size`).
    pub fn size(&self) -> i64 {
        self.meta().size
    }
    pub fn lb(&self) -> i64 {
        self.meta().lb
    }
    pub fn ub(&self) -> i64 {
        self.meta().ub
    }
    pub fn extent(&self) -> i64 {
        self.meta().ub - self.meta().lb
    }
    pub fn true_lb(&self) -> i64 {
        self.meta().true_lb
    }
    pub fn true_extent(&self) -> i64 {
        self.meta().true_ub - self.meta().true_lb
    }

    /// Count elements of this type are one run of `size * count` bytes at `true_lb`
    /// (no holes, size == extent): pack and unpack are one copy.
    pub fn is_contiguous(&self) -> bool {
        self.meta().contig
    }

    pub fn combiner(&self) -> Combiner {
        match &self.0.kind {
            Kind::Named(_) => Combiner::Named,
            Kind::Dup(_) => Combiner::Dup,
            Kind::Contiguous(..) => Combiner::Contiguous,
            Kind::Vector(..) => Combiner::Vector,
            Kind::Hvector(..) => Combiner::Hvector,
            Kind::Indexed(..) => Combiner::Indexed,
            Kind::Hindexed(..) => Combiner::Hindexed,
            Kind::IndexedBlock(..) => Combiner::IndexedBlock,
            Kind::HindexedBlock(..) => Combiner::HindexedBlock,
            Kind::Struct(..) => Combiner::Struct,
            Kind::Subarray(..) => Combiner::Subarray,
            Kind::Darray(..) => Combiner::Darray,
            Kind::Resized(..) => Combiner::Resized,
        }
    }

    /// `MPI_Type_get_envelope`: (ints, addresses, datatypes, combiner).
    pub fn envelope(&self) -> (usize, usize, usize, Combiner) {
        let (i, a, t) = self.contents();
        (i.len(), a.len(), t.len(), self.combiner())
    }

    /// `MPI_Type_get_contents`: the constructor's arguments as (ints, addresses,
    /// datatypes), in the standard's order. Orders and distributions are given as
    /// their MPICH `mpi.h` values ([`Order::to_mpi`], [`Distrib::to_mpi`]). Empty for a
    /// predefined type.
    pub fn contents(&self) -> (Vec<i64>, Vec<i64>, Vec<Datatype>) {
        fn with_count(v: &[i64]) -> Vec<i64> {
            let mut out = Vec::with_capacity(v.len() + 1);
            out.push(v.len() as i64);
            out.extend_from_slice(v);
            out
        }
        match &self.0.kind {
            Kind::Named(_) => (vec![], vec![], vec![]),
            Kind::Dup(t) => (vec![], vec![], vec![t.clone()]),
            Kind::Contiguous(c, t) => (vec![*c], vec![], vec![t.clone()]),
            Kind::Vector(c, b, s, t) => (vec![*c, *b, *s], vec![], vec![t.clone()]),
            Kind::Hvector(c, b, s, t) => (vec![*c, *b], vec![*s], vec![t.clone()]),
            Kind::Indexed(b, d, t) => {
                let mut ints = with_count(b);
                ints.extend_from_slice(d);
                (ints, vec![], vec![t.clone()])
            }
            Kind::Hindexed(b, d, t) => (with_count(b), d.clone(), vec![t.clone()]),
            Kind::IndexedBlock(b, d, t) => {
                let mut ints = vec![d.len() as i64, *b];
                ints.extend_from_slice(d);
                (ints, vec![], vec![t.clone()])
            }
            Kind::HindexedBlock(b, d, t) => (vec![d.len() as i64, *b], d.clone(), vec![t.clone()]),
            Kind::Struct(b, d, ts) => (with_count(b), d.clone(), ts.clone()),
            Kind::Subarray(ints, t) | Kind::Darray(ints, t) => {
                (ints.clone(), vec![], vec![t.clone()])
            }
            Kind::Resized(lb, ext, t) => (vec![], vec![*lb, *ext], vec![t.clone()]),
        }
    }

    /// The element kind of a predefined type; `None` for derived types.
    pub fn basic_kind(&self) -> Option<Basic> {
        match self.0.kind {
            Kind::Named(b) => Some(b),
            _ => None,
        }
    }

    /// For reductions: `Some((kind, n))` when one element is `n` predefined elements
    /// of one kind (any layout; a pair type counts once), else `None`.
    pub fn reduce_kind(&self) -> Option<(Basic, usize)> {
        match self.meta().homog {
            Homog::One(b) => Some((b, self.meta().units as usize)),
            _ => None,
        }
    }

    /// Packed bytes of `count` elements, or an error naming `call` if that overflows.
    pub fn packed_size(&self, count: usize, call: &str) -> Result<usize> {
        (self.meta().size as usize)
            .checked_mul(count)
            .ok_or_else(|| {
                err(
                    ErrorClass::Count,
                    format!("{call}: count {count} overflows the packed size"),
                )
            })
    }

    /// Visits the data of `count` elements as byte runs clipped to the packed window
    /// `[lo, hi)`: `f(offset_from_buffer, packed_offset, len)`, in type-map order, runs
    /// that continue each other in memory merged. Skips whole elements and subtrees
    /// outside the window, so a window deep into a large type costs little.
    pub fn for_each_run(
        &self,
        count: usize,
        lo: usize,
        hi: usize,
        f: impl FnMut(i64, usize, usize),
    ) {
        let m = self.meta();
        let size = m.size as usize;
        if size == 0 || count == 0 {
            return;
        }
        let hi = hi.min(size.saturating_mul(count));
        if lo >= hi {
            return;
        }
        let mut sink = Coalesce::new(f);
        if m.contig {
            sink.run(m.true_lb + lo as i64, lo, hi - lo);
        } else {
            let ext = m.ub - m.lb;
            let first = lo / size;
            let last = count.min(hi.div_ceil(size));
            for k in first..last {
                walk_runs(
                    &m.node,
                    m.off + k as i64 * ext,
                    k * size,
                    lo,
                    hi,
                    &mut |a, p, l| sink.run(a, p, l),
                );
            }
        }
        sink.flush();
    }

    /// The type map of `count` elements flattened to contiguous byte runs
    /// `(offset_from_buffer, len)` in type-map order, adjacent runs merged.
    pub fn segments(&self, count: usize) -> Vec<(i64, usize)> {
        let mut v = Vec::new();
        self.for_each_run(count, 0, usize::MAX, |a, _, l| v.push((a, l)));
        v
    }

    /// Visits the predefined elements of `count` elements in type-map order:
    /// `f(offset_from_buffer, kind, n)` for `n` consecutive elements `kind.size()` apart.
    pub fn for_each_elems(&self, count: usize, mut f: impl FnMut(i64, Basic, usize)) {
        let m = self.meta();
        let ext = m.ub - m.lb;
        for k in 0..count {
            walk_elems(&m.node, m.off + k as i64 * ext, &mut f);
        }
    }

    /// Number of basic elements in `bytes` bytes of packed data (`MPI_Get_elements`),
    /// or `None` when the bytes end inside a basic element.
    pub fn elements_in(&self, bytes: usize) -> Option<i64> {
        let m = self.meta();
        let size = m.size as usize;
        if size == 0 {
            return if bytes == 0 { Some(0) } else { None };
        }
        let mut n = (bytes / size) as i64 * m.elems;
        let mut rest = bytes % size;
        let mut whole = true;
        if rest > 0 {
            walk_elems(&m.node, 0, &mut |_, b, k| {
                if rest == 0 {
                    return;
                }
                let es = b.mpi_size();
                let full = (rest / es).min(k);
                n += (full * b.element_parts()) as i64;
                rest -= full * es;
                if full < k && rest > 0 {
                    if b.element_parts() == 2 && rest == b.parts()[0].len {
                        n += 1;
                    } else {
                        whole = false;
                    }
                    rest = 0;
                }
            });
        }
        whole.then_some(n)
    }
}
