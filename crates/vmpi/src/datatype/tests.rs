//! Tests of the datatype layer against hand-computed values, MPICH's known results and
//! a naive expansion of the type map from `contents` (independent of the compact tree).

#![allow(clippy::type_complexity)]

use super::*;
use crate::datatype::types::DISTRIBUTE_DFLT_DARG;
use crate::error::ErrorClass;

fn b(x: Basic) -> Datatype {
    Datatype::basic(x)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
}

/// The type map expanded one predefined element at a time from `contents`.
fn naive(t: &Datatype, base: i64, out: &mut Vec<(i64, usize)>) {
    let (ints, addrs, types) = t.contents();
    let one = |old: &Datatype, at: i64, out: &mut Vec<(i64, usize)>| naive(old, at, out);
    match t.combiner() {
        Combiner::Named => {
            for &(o, l) in t.basic_kind().unwrap().runs() {
                out.push((base + o as i64, l));
            }
        }
        Combiner::Dup | Combiner::Resized => one(&types[0], base, out),
        Combiner::Contiguous => {
            for k in 0..ints[0] {
                one(&types[0], base + k * types[0].extent(), out);
            }
        }
        Combiner::Vector | Combiner::Hvector => {
            let e = types[0].extent();
            let stride = if t.combiner() == Combiner::Vector {
                ints[2] * e
            } else {
                addrs[0]
            };
            for i in 0..ints[0] {
                for j in 0..ints[1] {
                    one(&types[0], base + i * stride + j * e, out);
                }
            }
        }
        Combiner::Indexed
        | Combiner::Hindexed
        | Combiner::IndexedBlock
        | Combiner::HindexedBlock => {
            let c = ints[0] as usize;
            let e = types[0].extent();
            let (bls, ds): (Vec<i64>, Vec<i64>) = match t.combiner() {
                Combiner::Indexed => (
                    ints[1..=c].to_vec(),
                    ints[c + 1..].iter().map(|d| d * e).collect(),
                ),
                Combiner::Hindexed => (ints[1..].to_vec(), addrs.clone()),
                Combiner::IndexedBlock => {
                    (vec![ints[1]; c], ints[2..].iter().map(|d| d * e).collect())
                }
                _ => (vec![ints[1]; c], addrs.clone()),
            };
            for (bl, d) in bls.iter().zip(ds) {
                for j in 0..*bl {
                    one(&types[0], base + d + j * e, out);
                }
            }
        }
        Combiner::Struct => {
            for i in 0..ints[0] as usize {
                for j in 0..ints[1 + i] {
                    one(&types[i], base + addrs[i] + j * types[i].extent(), out);
                }
            }
        }
        Combiner::Subarray | Combiner::Darray => unreachable!(),
    }
}

fn merged(runs: Vec<(i64, usize)>) -> Vec<(i64, usize)> {
    let mut out: Vec<(i64, usize)> = Vec::new();
    for (o, l) in runs {
        if let Some(last) = out.last_mut() {
            if last.0 + last.1 as i64 == o {
                last.1 += l;
                continue;
            }
        }
        out.push((o, l));
    }
    out
}

fn naive_segments(t: &Datatype, count: usize) -> Vec<(i64, usize)> {
    let mut v = Vec::new();
    for k in 0..count as i64 {
        naive(t, k * t.extent(), &mut v);
    }
    merged(v)
}

/// Packs and unpacks `count` elements of `t` from random memory and checks the bytes
/// against the runs `segs` gathered naively; also in windows and chunks.
fn round_trip(t: &Datatype, count: usize, segs: &[(i64, usize)], rng: &mut Rng) {
    if segs.is_empty() {
        let mut buf = [0u8; 4];
        let mut pos = 0;
        // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
        unsafe { t.pack(std::ptr::null(), count, &mut buf, &mut pos) }.unwrap();
        assert_eq!(pos, 0);
        return;
    }
    let lo = segs.iter().map(|s| s.0).min().unwrap();
    let hi = segs.iter().map(|s| s.0 + s.1 as i64).max().unwrap();
    let mem: Vec<u8> = (0..hi - lo).map(|_| rng.next() as u8).collect();
    // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
    let base = unsafe { mem.as_ptr().offset(-lo as isize) };
    let expect: Vec<u8> = segs
        .iter()
        .flat_map(|&(o, l)| {
            mem[(o - lo) as usize..(o - lo) as usize + l]
                .iter()
                .copied()
        })
        .collect();
    assert_eq!(expect.len(), t.size() as usize * count);
    let mut packed = vec![0u8; expect.len() + 3];
    let mut pos = 3;
    // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
    unsafe { t.pack(base, count, &mut packed, &mut pos) }.unwrap();
    assert_eq!(pos, packed.len());
    assert_eq!(&packed[3..], &expect[..], "{t:?} x {count}");
    // Chunked packing gives the same stream.
    let mut chunked = vec![0u8; expect.len()];
    let mut at = 0;
    while at < chunked.len() {
        let n = (rng.range(1, 40) as usize).min(chunked.len() - at);
        // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
        let got = unsafe { t.pack_range(base, count, at, &mut chunked[at..at + n]) };
        assert_eq!(got, n);
        at += n;
    }
    assert_eq!(chunked, expect);
    // Unpack into zeroes: exactly the type map's bytes come back.
    let mut want = vec![0u8; mem.len()];
    for &(o, l) in segs {
        let s = (o - lo) as usize;
        want[s..s + l].copy_from_slice(&mem[s..s + l]);
    }
    let mut back = vec![0u8; mem.len()];
    let mut pos = 3;
    // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
    unsafe {
        t.unpack(
            &packed,
            &mut pos,
            back.as_mut_ptr().offset(-lo as isize),
            count,
        )
    }
    .unwrap();
    assert_eq!(back, want);
    // And in chunks.
    let mut back = vec![0u8; mem.len()];
    let mut at = 0;
    while at < expect.len() {
        let n = (rng.range(1, 40) as usize).min(expect.len() - at);
        // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
        unsafe {
            t.unpack_range(
                &expect[at..at + n],
                at,
                back.as_mut_ptr().offset(-lo as isize),
                count,
            )
        };
        at += n;
    }
    assert_eq!(back, want);
    // external32 round trip restores the data bytes.
    let mut ext = vec![0u8; t.pack_external_size(count)];
    let mut pos = 0;
    // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
    unsafe { t.pack_external(base, count, &mut ext, &mut pos) }.unwrap();
    let mut back = vec![0u8; mem.len()];
    let mut pos = 0;
    // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
    unsafe {
        t.unpack_external(
            &ext,
            &mut pos,
            back.as_mut_ptr().offset(-lo as isize),
            count,
        )
    }
    .unwrap();
    let has_ld = {
        let mut f = false;
        t.for_each_elems(1, |_, k, _| {
            f |= matches!(
                k,
                Basic::LongDouble | Basic::ComplexLongDouble | Basic::LongDoubleInt
            )
        });
        f
    };
    if !has_ld {
        assert_eq!(back, want);
    }
}

fn check(t: &Datatype, rng: &mut Rng) {
    let one = naive_segments(t, 1);
    assert_eq!(t.segments(1), one, "{t:?}");
    let size: usize = one.iter().map(|s| s.1).sum();
    assert_eq!(size as i64, t.size(), "{t:?}");
    if !one.is_empty() {
        let lo = one.iter().map(|s| s.0).min().unwrap();
        let hi = one.iter().map(|s| s.0 + s.1 as i64).max().unwrap();
        assert_eq!(t.true_lb(), lo, "{t:?}");
        assert_eq!(t.true_extent(), hi - lo, "{t:?}");
    }
    let count = rng.range(0, 5) as usize;
    let segs = naive_segments(t, count);
    assert_eq!(t.segments(count), segs, "{t:?} x {count}");
    round_trip(t, count, &segs, rng);
    if t.is_contiguous() && t.size() > 0 {
        assert_eq!(t.segments(3), vec![(t.true_lb(), 3 * t.size() as usize)]);
    }
}

const KINDS: [Basic; 7] = [
    Basic::Char,
    Basic::I16,
    Basic::I32,
    Basic::F64,
    Basic::DoubleInt,
    Basic::ShortInt,
    Basic::LongDouble,
];

fn random_type(rng: &mut Rng, depth: u32) -> Datatype {
    let old = if depth == 0 || rng.range(0, 2) == 0 {
        b(KINDS[rng.range(0, KINDS.len() as i64 - 1) as usize])
    } else {
        random_type(rng, depth - 1)
    };
    let e = old.extent().max(1);
    let n = rng.range(0, 4) as usize;
    let bls: Vec<i64> = (0..n).map(|_| rng.range(0, 3)).collect();
    let ds: Vec<i64> = (0..n).map(|_| rng.range(-6, 6)).collect();
    let dbs: Vec<i64> = ds.iter().map(|d| d * e + rng.range(-1, 1)).collect();
    match rng.range(0, 10) {
        0 => Datatype::contiguous(rng.range(0, 4), &old),
        1 => Datatype::vector(rng.range(0, 4), rng.range(0, 3), rng.range(-4, 4), &old),
        2 => Datatype::hvector(
            rng.range(0, 4),
            rng.range(0, 3),
            rng.range(-4, 4) * e + rng.range(-2, 2),
            &old,
        ),
        3 => Datatype::indexed(&bls, &ds, &old),
        4 => Datatype::hindexed(&bls, &dbs, &old),
        5 => Datatype::indexed_block(rng.range(0, 3), &ds, &old),
        6 => Datatype::hindexed_block(rng.range(0, 3), &dbs, &old),
        7 => {
            let ts: Vec<Datatype> = (0..n)
                .map(|_| {
                    if rng.range(0, 1) == 0 {
                        old.clone()
                    } else {
                        b(Basic::I32)
                    }
                })
                .collect();
            Datatype::structure(&bls, &dbs, &ts)
        }
        8 => Datatype::resized(&old, rng.range(-8, 8), rng.range(-20, 40)),
        _ => Ok(old.dup()),
    }
    .unwrap()
}

#[test]
fn random_types_match_naive_expansion() {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    for _ in 0..3000 {
        let t = random_type(&mut rng, 2);
        check(&t, &mut rng);
    }
}

#[test]
fn mpich_known_bounds() {
    // struct { char; double }: extent rounded to 8.
    let s = Datatype::structure(&[1, 1], &[0, 8], &[b(Basic::Char), b(Basic::F64)]).unwrap();
    assert_eq!(
        (s.size(), s.lb(), s.extent(), s.true_lb(), s.true_extent()),
        (9, 0, 16, 0, 16)
    );
    let s = Datatype::structure(&[1, 1], &[0, 8], &[b(Basic::F64), b(Basic::Char)]).unwrap();
    assert_eq!((s.size(), s.extent(), s.true_extent()), (9, 16, 9));
    let s = Datatype::structure(&[1, 1], &[0, 4], &[b(Basic::I32), b(Basic::Char)]).unwrap();
    assert_eq!(s.extent(), 8);
    // struct { int; double } with extent 16, size 12; not contiguous.
    let s = Datatype::structure(&[1, 1], &[0, 8], &[b(Basic::I32), b(Basic::F64)]).unwrap();
    assert_eq!((s.size(), s.extent()), (12, 16));
    assert!(!s.is_contiguous());
    // Vector: 3 blocks of 2 ints, stride 4 ints.
    let v = Datatype::vector(3, 2, 4, &b(Basic::I32)).unwrap();
    assert_eq!(
        (v.size(), v.lb(), v.extent(), v.true_extent()),
        (24, 0, 40, 40)
    );
    // Negative stride.
    let v = Datatype::vector(3, 1, -2, &b(Basic::I32)).unwrap();
    assert_eq!(
        (v.lb(), v.ub(), v.extent(), v.true_lb(), v.true_extent()),
        (-16, 4, 20, -16, 20)
    );
    assert_eq!(v.segments(1), vec![(0, 4), (-8, 4), (-16, 4)]);
    // Resized, and a contiguous of it.
    let r = Datatype::resized(&b(Basic::I32), -4, 16).unwrap();
    assert_eq!(
        (r.lb(), r.ub(), r.extent(), r.true_lb(), r.true_extent()),
        (-4, 12, 16, 0, 4)
    );
    let c = Datatype::contiguous(2, &r).unwrap();
    assert_eq!(
        (
            c.size(),
            c.lb(),
            c.ub(),
            c.extent(),
            c.true_lb(),
            c.true_extent()
        ),
        (8, -4, 28, 32, 0, 20)
    );
    assert_eq!(c.segments(1), vec![(0, 4), (16, 4)]);
    // Indexed with zero-length blocks ignored in the bounds.
    let x = Datatype::indexed(&[2, 0, 1], &[3, 100, 0], &b(Basic::I32)).unwrap();
    assert_eq!((x.size(), x.lb(), x.extent()), (12, 0, 20));
    assert_eq!(x.segments(1), vec![(12, 8), (0, 4)]);
    // Predefined pair types.
    let di = b(Basic::DoubleInt);
    assert_eq!((di.size(), di.extent(), di.true_extent()), (12, 16, 12));
    assert!(!di.is_contiguous());
    let si = b(Basic::ShortInt);
    assert_eq!((si.size(), si.extent(), si.true_extent()), (6, 8, 8));
    // Empty types.
    let z = Datatype::contiguous(0, &b(Basic::F64)).unwrap();
    assert_eq!((z.size(), z.lb(), z.extent()), (0, 0, 0));
    assert!(z.segments(5).is_empty());
    // Contiguity.
    assert!(b(Basic::F64).is_contiguous());
    assert!(Datatype::vector(4, 3, 3, &b(Basic::F64))
        .unwrap()
        .is_contiguous());
    assert!(!Datatype::vector(4, 3, 4, &b(Basic::F64))
        .unwrap()
        .is_contiguous());
    let packed = Datatype::structure(&[1, 1], &[0, 4], &[b(Basic::I32), b(Basic::F32)]).unwrap();
    assert!(packed.is_contiguous());
    assert_eq!(
        Datatype::contiguous(3, &packed).unwrap().segments(2),
        vec![(0, 48)]
    );
}

#[test]
fn errors_name_call_and_argument() {
    let i = b(Basic::I32);
    let e = Datatype::vector(-1, 1, 1, &i).unwrap_err();
    assert_eq!(e.class, ErrorClass::Count);
    assert_eq!(e.message, "MPI_Type_vector: count -1 is negative");
    let e = Datatype::contiguous(-3, &i).unwrap_err();
    assert_eq!(
        (e.class, e.message.as_str()),
        (
            ErrorClass::Count,
            "MPI_Type_contiguous: count -3 is negative"
        )
    );
    let e = Datatype::hvector(2, -1, 8, &i).unwrap_err();
    assert_eq!(e.class, ErrorClass::Arg);
    assert!(
        e.message
            .starts_with("MPI_Type_create_hvector: blocklength"),
        "{}",
        e.message
    );
    let e = Datatype::indexed(&[1, 2], &[0], &i).unwrap_err();
    assert_eq!(e.class, ErrorClass::Arg);
    assert!(e.message.contains("array_of_displacements"));
    let e = Datatype::structure(&[1, -2], &[0, 4], &[i.clone(), i.clone()]).unwrap_err();
    assert!(e.message.contains("blocklength[1] -2"), "{}", e.message);
    let e = Datatype::contiguous(i64::MAX, &b(Basic::F64)).unwrap_err();
    assert_eq!(e.class, ErrorClass::Arg);
    assert!(
        e.message.starts_with("MPI_Type_contiguous:"),
        "{}",
        e.message
    );
}

#[test]
fn envelope_and_contents() {
    let i = b(Basic::I32);
    let d = b(Basic::F64);
    assert_eq!(i.envelope(), (0, 0, 0, Combiner::Named));
    assert_eq!(i.basic_kind(), Some(Basic::I32));
    let cases: Vec<(Datatype, Combiner, Vec<i64>, Vec<i64>, usize)> = vec![
        (i.dup(), Combiner::Dup, vec![], vec![], 1),
        (
            Datatype::contiguous(3, &i).unwrap(),
            Combiner::Contiguous,
            vec![3],
            vec![],
            1,
        ),
        (
            Datatype::vector(2, 3, -4, &i).unwrap(),
            Combiner::Vector,
            vec![2, 3, -4],
            vec![],
            1,
        ),
        (
            Datatype::hvector(2, 3, 40, &i).unwrap(),
            Combiner::Hvector,
            vec![2, 3],
            vec![40],
            1,
        ),
        (
            Datatype::indexed(&[1, 2], &[5, 0], &i).unwrap(),
            Combiner::Indexed,
            vec![2, 1, 2, 5, 0],
            vec![],
            1,
        ),
        (
            Datatype::hindexed(&[1, 2], &[20, 0], &i).unwrap(),
            Combiner::Hindexed,
            vec![2, 1, 2],
            vec![20, 0],
            1,
        ),
        (
            Datatype::indexed_block(2, &[4, 0, 8], &i).unwrap(),
            Combiner::IndexedBlock,
            vec![3, 2, 4, 0, 8],
            vec![],
            1,
        ),
        (
            Datatype::hindexed_block(2, &[16, 0], &i).unwrap(),
            Combiner::HindexedBlock,
            vec![2, 2],
            vec![16, 0],
            1,
        ),
        (
            Datatype::structure(&[1, 2], &[0, 8], &[i.clone(), d.clone()]).unwrap(),
            Combiner::Struct,
            vec![2, 1, 2],
            vec![0, 8],
            2,
        ),
        (
            Datatype::subarray(&[4, 5], &[2, 3], &[1, 2], Order::C, &i).unwrap(),
            Combiner::Subarray,
            vec![2, 4, 5, 2, 3, 1, 2, 56],
            vec![],
            1,
        ),
        (
            Datatype::darray(
                4,
                1,
                &[8, 6],
                &[Distrib::Block, Distrib::Cyclic],
                &[-49767, 2],
                &[2, 2],
                Order::Fortran,
                &i,
            )
            .unwrap(),
            Combiner::Darray,
            vec![4, 1, 2, 8, 6, 121, 122, -49767, 2, 2, 2, 57],
            vec![],
            1,
        ),
        (
            Datatype::resized(&i, -4, 12).unwrap(),
            Combiner::Resized,
            vec![],
            vec![-4, 12],
            1,
        ),
    ];
    for (t, comb, ints, addrs, ntypes) in cases {
        assert_eq!(t.envelope(), (ints.len(), addrs.len(), ntypes, comb));
        let (ci, ca, ct) = t.contents();
        assert_eq!((ci, ca), (ints, addrs), "{comb:?}");
        assert_eq!(ct.len(), ntypes);
        assert!(ct[0].ptr_eq(&i), "{comb:?}");
        assert_eq!(t.basic_kind(), None);
    }
    // Dup keeps everything.
    let v = Datatype::vector(3, 1, -2, &d).unwrap();
    let w = v.dup();
    assert_eq!(
        (w.size(), w.lb(), w.extent(), w.true_lb(), w.true_extent()),
        (v.size(), v.lb(), v.extent(), v.true_lb(), v.true_extent())
    );
    assert_eq!(w.segments(2), v.segments(2));
    assert_eq!(w.reduce_kind(), v.reduce_kind());
}

#[test]
fn subarray_c_and_fortran() {
    let i = b(Basic::I32);
    let c = Datatype::subarray(&[4, 5], &[2, 3], &[1, 2], Order::C, &i).unwrap();
    assert_eq!((c.size(), c.lb(), c.extent()), (24, 0, 80));
    assert_eq!(c.segments(1), vec![(28, 12), (48, 12)]);
    assert_eq!(
        c.segments(2),
        vec![(28, 12), (48, 12), (108, 12), (128, 12)]
    );
    let f = Datatype::subarray(&[4, 5], &[2, 3], &[1, 2], Order::Fortran, &i).unwrap();
    assert_eq!((f.size(), f.lb(), f.extent()), (24, 0, 80));
    assert_eq!(f.segments(1), vec![(36, 8), (52, 8), (68, 8)]);
    // 3-d against a direct computation.
    let (sz, sub, st) = ([3i64, 4, 5], [2i64, 2, 3], [1i64, 0, 2]);
    for order in [Order::C, Order::Fortran] {
        let t = Datatype::subarray(&sz, &sub, &st, order, &b(Basic::F64)).unwrap();
        let mut offs = Vec::new();
        for a in st[0]..st[0] + sub[0] {
            for bb in st[1]..st[1] + sub[1] {
                for cc in st[2]..st[2] + sub[2] {
                    let lin = match order {
                        Order::C => (a * sz[1] + bb) * sz[2] + cc,
                        Order::Fortran => a + sz[0] * (bb + sz[1] * cc),
                    };
                    offs.push(lin * 8);
                }
            }
        }
        offs.sort();
        assert_eq!(
            t.segments(1),
            merged(offs.into_iter().map(|o| (o, 8)).collect())
        );
        assert_eq!(t.extent(), 60 * 8);
        let mut rng = Rng(7);
        let segs = t.segments(2);
        round_trip(&t, 2, &segs, &mut rng);
    }
    // Out-of-range arguments.
    let e = Datatype::subarray(&[4, 5], &[2, 3], &[3, 2], Order::C, &i).unwrap_err();
    assert_eq!(e.class, ErrorClass::Arg);
    assert!(
        e.message
            .starts_with("MPI_Type_create_subarray: array_of_starts[0] = 3"),
        "{}",
        e.message
    );
    let e = Datatype::subarray(&[4, 5], &[2, 6], &[0, 0], Order::C, &i).unwrap_err();
    assert!(
        e.message.contains("array_of_subsizes[1] = 6"),
        "{}",
        e.message
    );
    let e = Datatype::subarray(&[4, 0], &[2, 0], &[0, 0], Order::C, &i).unwrap_err();
    assert!(e.message.contains("array_of_sizes[1] = 0"), "{}", e.message);
    assert!(Datatype::subarray(&[], &[], &[], Order::C, &i).is_err());
    assert!(Datatype::subarray(&[4], &[2, 2], &[0], Order::C, &i).is_err());
}

/// Which process coordinate owns global index `x` of a dimension.
fn owner(g: i64, p: i64, dist: Distrib, darg: i64, x: i64) -> i64 {
    let dflt = DISTRIBUTE_DFLT_DARG as i64;
    match dist {
        Distrib::None => 0,
        Distrib::Block => {
            let blk = if darg == dflt { (g + p - 1) / p } else { darg };
            x / blk
        }
        Distrib::Cyclic => {
            let blk = if darg == dflt { 1 } else { darg };
            (x / blk) % p
        }
    }
}

fn darray_naive(
    rank: i64,
    g: &[i64],
    dist: &[Distrib],
    dargs: &[i64],
    p: &[i64],
    order: Order,
    ext: i64,
) -> Vec<(i64, usize)> {
    let n = g.len();
    let total: i64 = g.iter().product();
    let mut offs = Vec::new();
    for lin in 0..total {
        // Multi-index of memory position `lin`.
        let mut idx = vec![0i64; n];
        let mut r = lin;
        match order {
            Order::C => {
                for d in (0..n).rev() {
                    idx[d] = r % g[d];
                    r /= g[d];
                }
            }
            Order::Fortran => {
                for d in 0..n {
                    idx[d] = r % g[d];
                    r /= g[d];
                }
            }
        }
        let mut who = 0;
        for d in 0..n {
            who = who * p[d] + owner(g[d], p[d], dist[d], dargs[d], idx[d]);
        }
        if who == rank {
            offs.push((lin * ext, ext as usize));
        }
    }
    merged(offs)
}

#[test]
fn darray_matches_global_index_ownership() {
    let dflt = DISTRIBUTE_DFLT_DARG as i64;
    let configs: Vec<(Vec<i64>, Vec<Distrib>, Vec<i64>, Vec<i64>)> = vec![
        (vec![10], vec![Distrib::Block], vec![dflt], vec![3]),
        (vec![10], vec![Distrib::Cyclic], vec![dflt], vec![3]),
        (vec![11], vec![Distrib::Cyclic], vec![2], vec![3]),
        (vec![10], vec![Distrib::Block], vec![4], vec![3]),
        (
            vec![7, 5],
            vec![Distrib::Block, Distrib::Block],
            vec![dflt, dflt],
            vec![2, 3],
        ),
        (
            vec![7, 5],
            vec![Distrib::Cyclic, Distrib::Block],
            vec![2, dflt],
            vec![2, 2],
        ),
        (
            vec![7, 9],
            vec![Distrib::Block, Distrib::Cyclic],
            vec![dflt, 2],
            vec![2, 2],
        ),
        (
            vec![6, 9],
            vec![Distrib::Cyclic, Distrib::Cyclic],
            vec![dflt, 4],
            vec![3, 2],
        ),
        (
            vec![6, 4],
            vec![Distrib::None, Distrib::Cyclic],
            vec![dflt, dflt],
            vec![1, 3],
        ),
        (
            vec![5, 6, 7],
            vec![Distrib::Cyclic, Distrib::Block, Distrib::Cyclic],
            vec![2, dflt, 3],
            vec![2, 2, 2],
        ),
        (
            vec![4, 3, 5],
            vec![Distrib::Block, Distrib::None, Distrib::Cyclic],
            vec![dflt, dflt, dflt],
            vec![2, 1, 3],
        ),
    ];
    let mut rng = Rng(99);
    for (g, dist, dargs, p) in configs {
        let size: i64 = p.iter().product();
        for order in [Order::C, Order::Fortran] {
            for old in [
                b(Basic::I32),
                Datatype::contiguous(2, &b(Basic::I16)).unwrap(),
            ] {
                let ext = old.extent();
                let mut covered = 0;
                for rank in 0..size {
                    let t =
                        Datatype::darray(size, rank, &g, &dist, &dargs, &p, order, &old).unwrap();
                    let want = darray_naive(rank, &g, &dist, &dargs, &p, order, ext);
                    assert_eq!(
                        t.segments(1),
                        want,
                        "rank {rank} of {g:?} {dist:?} {dargs:?} {p:?} {order:?}"
                    );
                    assert_eq!((t.lb(), t.extent()), (0, g.iter().product::<i64>() * ext));
                    covered += t.size();
                    let segs = t.segments(2);
                    round_trip(&t, 2, &segs, &mut rng);
                }
                assert_eq!(covered, g.iter().product::<i64>() * old.size());
            }
        }
    }
    // Errors.
    let i = b(Basic::I32);
    let e = Datatype::darray(4, 0, &[10], &[Distrib::Block], &[2], &[4], Order::C, &i).unwrap_err();
    assert_eq!(e.class, ErrorClass::Arg);
    assert!(e.message.contains("array_of_dargs[0] = 2"), "{}", e.message);
    let e =
        Datatype::darray(4, 0, &[10], &[Distrib::None], &[dflt], &[4], Order::C, &i).unwrap_err();
    assert!(e.message.contains("MPI_DISTRIBUTE_NONE"), "{}", e.message);
    let e = Datatype::darray(
        4,
        0,
        &[10, 10],
        &[Distrib::Block; 2],
        &[dflt; 2],
        &[2, 3],
        Order::C,
        &i,
    )
    .unwrap_err();
    assert!(
        e.message.contains("product of array_of_psizes"),
        "{}",
        e.message
    );
    let e =
        Datatype::darray(4, 4, &[10], &[Distrib::Block], &[dflt], &[4], Order::C, &i).unwrap_err();
    assert!(e.message.contains("rank 4"), "{}", e.message);
    let e =
        Datatype::darray(2, 0, &[10], &[Distrib::Cyclic], &[0], &[2], Order::C, &i).unwrap_err();
    assert!(e.message.contains("array_of_dargs[0] = 0"), "{}", e.message);
}

#[test]
fn external32_long_is_four_bytes() {
    // MPI-3.1 Table 13.2: long and unsigned long are 4 bytes; a value that does not
    // fit keeps its low 32 bits (MPICH does the same); unpacking extends the sign.
    let v: [i64; 3] = [-2, 0x1234_5678, 0x1_2345_6789];
    let t = b(Basic::Long);
    assert_eq!(t.pack_external_size(3), 12);
    assert_eq!(b(Basic::I64).pack_external_size(3), 24);
    let mut out = [0u8; 12];
    let mut pos = 0;
    // SAFETY: `v` holds 3 longs; `out` has room for their 12 external bytes.
    unsafe { t.pack_external(v.as_ptr() as *const u8, 3, &mut out, &mut pos) }.unwrap();
    assert_eq!(pos, 12);
    assert_eq!(
        out,
        [0xff, 0xff, 0xff, 0xfe, 0x12, 0x34, 0x56, 0x78, 0x23, 0x45, 0x67, 0x89]
    );
    let mut back = [7i64; 3];
    let mut pos = 0;
    // SAFETY: `back` holds 3 longs.
    unsafe { t.unpack_external(&out, &mut pos, back.as_mut_ptr() as *mut u8, 3) }.unwrap();
    assert_eq!(back, [-2, 0x1234_5678, 0x2345_6789]);
    let mut ub = [7u64; 1];
    let mut pos = 0;
    // SAFETY: `ub` holds one unsigned long; `out` has 4 bytes for it.
    unsafe { b(Basic::ULong).unpack_external(&out[..4], &mut pos, ub.as_mut_ptr() as *mut u8, 1) }
        .unwrap();
    assert_eq!(ub, [0xffff_fffe]);
    // One byte short: an error, nothing written.
    let mut short = [0u8; 11];
    let mut pos = 0;
    // SAFETY: as above; the pack fails before touching the buffers.
    unsafe { t.pack_external(v.as_ptr() as *const u8, 3, &mut short, &mut pos) }.unwrap_err();
    assert_eq!(pos, 0);
    // Arithmetic is the 64-bit one.
    assert_eq!(t.size(), 8);
}

#[test]
fn external32_is_big_endian() {
    let t = Datatype::contiguous(2, &b(Basic::I32)).unwrap();
    let v: [i32; 2] = [1, 0x01020304];
    let mut out = [0u8; 8];
    let mut pos = 0;
    // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
    unsafe { t.pack_external(v.as_ptr() as *const u8, 1, &mut out, &mut pos) }.unwrap();
    assert_eq!(out, [0, 0, 0, 1, 1, 2, 3, 4]);
    let mut back = [0i32; 2];
    let mut pos = 0;
    // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
    unsafe { t.unpack_external(&out, &mut pos, back.as_mut_ptr() as *mut u8, 1) }.unwrap();
    assert_eq!(back, v);

    let x = 1.5f64;
    let mut out = [0u8; 8];
    let mut pos = 0;
    // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
    unsafe { b(Basic::F64).pack_external(&x as *const f64 as *const u8, 1, &mut out, &mut pos) }
        .unwrap();
    assert_eq!(out, 1.5f64.to_be_bytes());

    // DOUBLE_INT: 12 bytes, no padding.
    #[repr(C)]
    struct DI(f64, i32);
    let di = DI(2.0, 7);
    let mut out = [0u8; 12];
    let mut pos = 0;
    // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
    unsafe {
        b(Basic::DoubleInt).pack_external(&di as *const DI as *const u8, 1, &mut out, &mut pos)
    }
    .unwrap();
    assert_eq!(&out[..8], &2.0f64.to_be_bytes());
    assert_eq!(&out[8..], &[0, 0, 0, 7]);
    assert_eq!(b(Basic::DoubleInt).pack_external_size(3), 36);

    // long double 1.0 (x87: mantissa 1 << 63, exponent 0x3fff) is binary128 0x3fff 0...
    let mut ld = [0u8; 16];
    ld[7] = 0x80;
    ld[8] = 0xff;
    ld[9] = 0x3f;
    let mut out = [0u8; 16];
    let mut pos = 0;
    // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
    unsafe { b(Basic::LongDouble).pack_external(ld.as_ptr(), 1, &mut out, &mut pos) }.unwrap();
    let mut want = [0u8; 16];
    want[0] = 0x3f;
    want[1] = 0xff;
    assert_eq!(out, want);
    let mut back = [0u8; 16];
    let mut pos = 0;
    // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
    unsafe { b(Basic::LongDouble).unpack_external(&out, &mut pos, back.as_mut_ptr(), 1) }.unwrap();
    assert_eq!(back, ld);
    // -3.25: sign, exponent 0x4000, mantissa 0b1101 << 60.
    let mut ld = [0u8; 16];
    ld[0..8].copy_from_slice(&(0b1101u64 << 60).to_le_bytes());
    ld[8..10].copy_from_slice(&0xc000u16.to_le_bytes());
    let mut pos = 0;
    // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
    unsafe { b(Basic::LongDouble).pack_external(ld.as_ptr(), 1, &mut out, &mut pos) }.unwrap();
    assert_eq!(&out[..3], &[0xc0, 0x00, 0xa0]);
    let mut back = [0u8; 16];
    let mut pos = 0;
    // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
    unsafe { b(Basic::LongDouble).unpack_external(&out, &mut pos, back.as_mut_ptr(), 1) }.unwrap();
    assert_eq!(back, ld);
}

#[test]
fn truncation_when_buffers_are_short() {
    let t = Datatype::vector(4, 1, 2, &b(Basic::F64)).unwrap();
    let src = [0f64; 8];
    let mut out = [0u8; 31];
    let mut pos = 0;
    // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
    let e = unsafe { t.pack(src.as_ptr() as *const u8, 1, &mut out, &mut pos) }.unwrap_err();
    assert_eq!(e.class, ErrorClass::Truncate);
    assert!(e.message.starts_with("MPI_Pack:"), "{}", e.message);
    assert_eq!(pos, 0);
    let mut out = [0u8; 40];
    let mut pos = 9;
    assert_eq!(
        // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
        unsafe { t.pack(src.as_ptr() as *const u8, 1, &mut out, &mut pos) }
            .unwrap_err()
            .class,
        ErrorClass::Truncate
    );
    let mut dst = [0f64; 8];
    let mut pos = 16;
    // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
    let e = unsafe { t.unpack(&out, &mut pos, dst.as_mut_ptr() as *mut u8, 1) }.unwrap_err();
    assert_eq!(e.class, ErrorClass::Truncate);
    let mut pos = 0;
    let e =
        // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
        unsafe { t.pack_external(src.as_ptr() as *const u8, 2, &mut out, &mut pos) }.unwrap_err();
    assert_eq!(e.class, ErrorClass::Truncate);
}

#[test]
fn reduce_kinds() {
    let d = b(Basic::F64);
    let i = b(Basic::I32);
    assert_eq!(d.reduce_kind(), Some((Basic::F64, 1)));
    assert_eq!(
        Datatype::contiguous(3, &d).unwrap().reduce_kind(),
        Some((Basic::F64, 3))
    );
    let v = Datatype::vector(4, 2, -3, &d).unwrap();
    assert_eq!(v.reduce_kind(), Some((Basic::F64, 8)));
    let s = Datatype::structure(&[1, 2], &[0, 8], &[i.clone(), i.clone()]).unwrap();
    assert_eq!(s.reduce_kind(), Some((Basic::I32, 3)));
    let m = Datatype::structure(&[1, 1], &[0, 8], &[i.clone(), d.clone()]).unwrap();
    assert_eq!(m.reduce_kind(), None);
    let m0 = Datatype::structure(&[1, 0], &[0, 8], &[i.clone(), d.clone()]).unwrap();
    assert_eq!(m0.reduce_kind(), Some((Basic::I32, 1)));
    let p = Datatype::contiguous(5, &b(Basic::DoubleInt)).unwrap();
    assert_eq!(p.reduce_kind(), Some((Basic::DoubleInt, 5)));
    let sub = Datatype::subarray(&[4, 4], &[2, 2], &[1, 1], Order::C, &d).unwrap();
    assert_eq!(sub.reduce_kind(), Some((Basic::F64, 4)));
    assert_eq!(
        Datatype::resized(&v, 0, 100).unwrap().dup().reduce_kind(),
        Some((Basic::F64, 8))
    );
}

#[test]
fn elements_in_counts_basic_elements() {
    let s = Datatype::structure(&[1, 1], &[0, 8], &[b(Basic::I32), b(Basic::F64)]).unwrap();
    assert_eq!(s.elements_in(0), Some(0));
    assert_eq!(s.elements_in(4), Some(1));
    assert_eq!(s.elements_in(12), Some(2));
    assert_eq!(s.elements_in(16), Some(3));
    assert_eq!(s.elements_in(36), Some(6));
    assert_eq!(s.elements_in(6), None);
    assert_eq!(s.elements_in(20), None);
    let c = Datatype::contiguous(4, &b(Basic::F64)).unwrap();
    assert_eq!(c.elements_in(8), Some(1));
    assert_eq!(c.elements_in(40), Some(5));
    assert_eq!(c.elements_in(9), None);
    let di = b(Basic::DoubleInt);
    assert_eq!(di.elements_in(8), Some(1));
    assert_eq!(di.elements_in(12), Some(2));
    assert_eq!(di.elements_in(20), Some(3));
    assert_eq!(b(Basic::TwoInt).elements_in(16), Some(2));
    assert_eq!(b(Basic::TwoInt).elements_in(4), None);
    let z = Datatype::contiguous(0, &b(Basic::F64)).unwrap();
    assert_eq!(z.elements_in(0), Some(0));
}

#[test]
fn large_vector_is_compact_and_packs() {
    let n = 1_000_000usize;
    let d = b(Basic::F64);
    let v = Datatype::vector(n as i64, 1, 2, &d).unwrap();
    assert!(matches!(v.meta().node, super::typemap::Node::Repeat(_)));
    let src: Vec<f64> = (0..2 * n).map(|x| x as f64).collect();
    let mut out = vec![0u8; 8 * n];
    let mut pos = 0;
    // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
    unsafe { v.pack(src.as_ptr() as *const u8, 1, &mut out, &mut pos) }.unwrap();
    assert_eq!(pos, 8 * n);
    for k in [0, 1, 12345, n - 1] {
        assert_eq!(
            f64::from_ne_bytes(out[8 * k..8 * k + 8].try_into().unwrap()),
            (2 * k) as f64
        );
    }
    let mut back = vec![-1f64; 2 * n];
    let mut pos = 0;
    // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
    unsafe { v.unpack(&out, &mut pos, back.as_mut_ptr() as *mut u8, 1) }.unwrap();
    assert!(back.iter().enumerate().all(|(i, &x)| if i % 2 == 0 {
        x == i as f64
    } else {
        x == -1.0
    }));
    // A window deep inside costs little and is right.
    let mut w = [0u8; 16];
    assert_eq!(
        // SAFETY: the buffers passed cover count elements of the type at the given base (the test sized them from its extent).
        unsafe { v.pack_range(src.as_ptr() as *const u8, 1, 8 * (n - 2), &mut w) },
        16
    );
    assert_eq!(
        f64::from_ne_bytes(w[8..].try_into().unwrap()),
        (2 * (n - 1)) as f64
    );
    // Contiguous: one run.
    let c = Datatype::contiguous(n as i64, &d).unwrap();
    assert_eq!(c.segments(3), vec![(0, 24 * n)]);
}

#[test]
fn datatypes_cross_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Datatype>();
    let t = Datatype::vector(3, 1, 2, &b(Basic::F32)).unwrap();
    let u = t.clone();
    assert_eq!(
        std::thread::spawn(move || u.segments(1)).join().unwrap(),
        t.segments(1)
    );
}
