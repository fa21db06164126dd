use super::*;

fn b<T: Copy>(v: &[T]) -> Vec<u8> {
    // SAFETY: test values are plain numbers.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
        .to_vec()
}

fn run<T: Copy>(op: &Op, kind: Basic, a: &[T], io: &[T]) -> Result<Vec<u8>> {
    let (x, mut y) = (b(a), b(io));
    apply(op, kind, a.len(), &x, &mut y)?;
    Ok(y)
}

#[test]
fn integers_every_op() {
    let a = [5i32, -3, 0, 7];
    let c = [2i32, 4, 0, -7];
    let t = |op: Op, want: [i32; 4]| {
        assert_eq!(
            run(&op, Basic::I32, &a, &c).unwrap(),
            b(&want),
            "{}",
            op.name()
        )
    };
    t(Op::Max, [5, 4, 0, 7]);
    t(Op::Min, [2, -3, 0, -7]);
    t(Op::Sum, [7, 1, 0, 0]);
    t(Op::Prod, [10, -12, 0, -49]);
    t(Op::Land, [1, 1, 0, 1]);
    t(Op::Lor, [1, 1, 0, 1]);
    t(Op::Lxor, [0, 0, 0, 0]);
    t(Op::Band, [5 & 2, -3 & 4, 0, 7 & -7]);
    t(Op::Bor, [5 | 2, -3 | 4, 0, 7 | -7]);
    t(Op::Bxor, [5 ^ 2, -3 ^ 4, 0, 7 ^ -7]);
    t(Op::Replace, a);
    t(Op::NoOp, c);
    assert_eq!(
        run(&Op::Sum, Basic::U8, &[250u8], &[10u8]).unwrap(),
        vec![4u8]
    );
    assert_eq!(
        run(&Op::Max, Basic::U64, &[u64::MAX], &[1u64]).unwrap(),
        b(&[u64::MAX])
    );
    assert_eq!(
        run(&Op::Min, Basic::I16, &[-2i16], &[1i16]).unwrap(),
        b(&[-2i16])
    );
}

#[test]
fn floats_and_errors() {
    assert_eq!(
        run(&Op::Sum, Basic::F64, &[1.5f64, 2.0], &[0.25f64, -2.0]).unwrap(),
        b(&[1.75f64, 0.0])
    );
    assert_eq!(
        run(&Op::Prod, Basic::F32, &[3.0f32], &[0.5f32]).unwrap(),
        b(&[1.5f32])
    );
    assert_eq!(
        run(&Op::Max, Basic::F32, &[3.0f32], &[4.5f32]).unwrap(),
        b(&[4.5f32])
    );
    for op in [Op::Band, Op::Land, Op::MaxLoc, Op::Bxor] {
        let e = run(&op, Basic::F64, &[1.0f64], &[1.0f64]).unwrap_err();
        assert_eq!(e.class, ErrorClass::Op);
        assert!(
            e.message.contains(op.name()) && e.message.contains("F64"),
            "{}",
            e.message
        );
    }
    // MPI_CHAR reduces as a signed char (as in MPICH and Open MPI); MPI_WCHAR
    // does not (MPICH refuses it too).
    assert_eq!(
        run(&Op::Sum, Basic::Char, &[-3i8, 100], &[-3i8, 100]).unwrap(),
        b(&[-6i8, -56])
    );
    assert_eq!(
        run(&Op::Max, Basic::Char, &[-3i8, 100], &[5i8, 7]).unwrap(),
        b(&[5i8, 100])
    );
    assert_eq!(Op::Band.check(Basic::Char), Ok(()));
    assert_eq!(
        Op::MaxLoc.check(Basic::Char).unwrap_err().class,
        ErrorClass::Op
    );
    assert_eq!(
        Op::Sum.check(Basic::WChar).unwrap_err().class,
        ErrorClass::Op
    );
    assert_eq!(
        Op::Max.check(Basic::ComplexF64).unwrap_err().class,
        ErrorClass::Op
    );
    assert_eq!(Op::Band.check(Basic::Byte), Ok(()));
    assert_eq!(
        Op::Sum.check(Basic::Byte).unwrap_err().class,
        ErrorClass::Op
    );
    assert_eq!(Op::Lor.check(Basic::Logical), Ok(()));
    assert_eq!(
        Op::Sum.check(Basic::Logical).unwrap_err().class,
        ErrorClass::Op
    );
    assert_eq!(
        Op::MinLoc.check(Basic::I32).unwrap_err().class,
        ErrorClass::Op
    );
    // Short buffers are an error, never a panic.
    let mut y = [0u8; 4];
    assert_eq!(
        apply(&Op::Sum, Basic::F64, 1, &[0u8; 8], &mut y)
            .unwrap_err()
            .class,
        ErrorClass::Buffer
    );
}

#[test]
fn logical_kinds() {
    assert_eq!(
        run(&Op::Land, Basic::CBool, &[1u8, 0, 1], &[1u8, 1, 0]).unwrap(),
        vec![1, 0, 0]
    );
    assert_eq!(
        run(&Op::Lxor, Basic::Logical, &[1i32, 0, 5], &[1i32, 1, 0]).unwrap(),
        b(&[0i32, 1, 1])
    );
    assert_eq!(
        run(&Op::Bor, Basic::Byte, &[0xf0u8], &[0x0fu8]).unwrap(),
        vec![0xff]
    );
}

#[test]
fn complex_sum_prod() {
    // (1+2i)(3+4i) = -5+10i
    assert_eq!(
        run(
            &Op::Prod,
            Basic::ComplexF64,
            &[[1.0f64, 2.0]],
            &[[3.0f64, 4.0]]
        )
        .unwrap(),
        b(&[[-5.0f64, 10.0]])
    );
    assert_eq!(
        run(
            &Op::Sum,
            Basic::ComplexF32,
            &[[1.0f32, 2.0]],
            &[[3.0f32, 4.0]]
        )
        .unwrap(),
        b(&[[4.0f32, 6.0]])
    );
}

#[test]
fn minloc_maxloc_pairs() {
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct DI(f64, i32, i32);
    let a = [DI(1.0, 3, 0), DI(5.0, 9, 0), DI(2.0, 1, 0)];
    let c = [DI(2.0, 0, 0), DI(5.0, 4, 0), DI(2.0, 7, 0)];
    let mx = run(&Op::MaxLoc, Basic::DoubleInt, &a, &c).unwrap();
    let mn = run(&Op::MinLoc, Basic::DoubleInt, &a, &c).unwrap();
    let get = |v: &[u8], i: usize| {
        (
            f64::from_ne_bytes(v[i * 16..i * 16 + 8].try_into().unwrap()),
            i32::from_ne_bytes(v[i * 16 + 8..i * 16 + 12].try_into().unwrap()),
        )
    };
    assert_eq!(
        [get(&mx, 0), get(&mx, 1), get(&mx, 2)],
        [(2.0, 0), (5.0, 4), (2.0, 1)]
    );
    assert_eq!(
        [get(&mn, 0), get(&mn, 1), get(&mn, 2)],
        [(1.0, 3), (5.0, 4), (2.0, 1)]
    );
    assert_eq!(
        run(&Op::MinLoc, Basic::TwoInt, &[[4i32, 2]], &[[4i32, 1]]).unwrap(),
        b(&[[4i32, 1]])
    );
    assert_eq!(
        run(
            &Op::MaxLoc,
            Basic::ShortInt,
            &[[7i16, 0, 2, 0]],
            &[[3i16, 0, 1, 0]]
        )
        .unwrap(),
        b(&[[7i16, 0, 2, 0]])
    );
    assert_eq!(
        run(
            &Op::MaxLoc,
            Basic::TwoDouble,
            &[[1.0f64, 8.0]],
            &[[1.0f64, 3.0]]
        )
        .unwrap(),
        b(&[[1.0f64, 3.0]])
    );
}

#[test]
fn long_double_through_c() {
    assert_eq!(long_double::size(), 16);
    let ld = |v: &[f64]| {
        v.iter()
            .flat_map(|d| long_double::from_f64(*d))
            .collect::<Vec<u8>>()
    };
    let back = |v: &[u8]| {
        v.chunks(16)
            .map(|c| long_double::to_f64(c.try_into().unwrap()))
            .collect::<Vec<f64>>()
    };
    let mut y = ld(&[1.0, 10.0]);
    apply(&Op::Sum, Basic::LongDouble, 2, &ld(&[0.5, 2.0]), &mut y).unwrap();
    assert_eq!(back(&y), [1.5, 12.0]);
    apply(&Op::Prod, Basic::LongDouble, 2, &ld(&[2.0, 0.5]), &mut y).unwrap();
    assert_eq!(back(&y), [3.0, 6.0]);
    apply(&Op::Max, Basic::LongDouble, 2, &ld(&[4.0, 0.5]), &mut y).unwrap();
    assert_eq!(back(&y), [4.0, 6.0]);
    // Extended precision really is used: 1 + 2^-60 - 1 keeps 2^-60 (f64 would give 0).
    let mut one = ld(&[1.0]);
    apply(
        &Op::Sum,
        Basic::LongDouble,
        1,
        &ld(&[2f64.powi(-60)]),
        &mut one,
    )
    .unwrap();
    apply(&Op::Sum, Basic::LongDouble, 1, &ld(&[-1.0]), &mut one).unwrap();
    assert_eq!(back(&one), [2f64.powi(-60)]);
    // complex long double: (1+2i)(3+4i)
    let mut z = ld(&[3.0, 4.0]);
    apply(
        &Op::Prod,
        Basic::ComplexLongDouble,
        1,
        &ld(&[1.0, 2.0]),
        &mut z,
    )
    .unwrap();
    assert_eq!(back(&z), [-5.0, 10.0]);
    assert_eq!(
        Op::Max.check(Basic::ComplexLongDouble).unwrap_err().class,
        ErrorClass::Op
    );
    // long double int MINLOC, tie keeps lower index
    let pair = |v: f64, i: i32| {
        let mut p = long_double::from_f64(v).to_vec();
        p.extend_from_slice(&i.to_ne_bytes());
        p.resize(32, 0);
        p
    };
    let mut y = pair(2.0, 5);
    apply(&Op::MinLoc, Basic::LongDoubleInt, 1, &pair(2.0, 3), &mut y).unwrap();
    // Only the data bytes are defined (value: 10 bytes, index at 16); padding is not.
    let data = |p: &[u8]| [&p[..10], &p[16..20]].concat();
    assert_eq!(data(&y), data(&pair(2.0, 3)));
    apply(&Op::MaxLoc, Basic::LongDoubleInt, 1, &pair(1.0, 0), &mut y).unwrap();
    assert_eq!(data(&y), data(&pair(2.0, 3)));
}

#[test]
fn user_op_gets_bytes_and_count() {
    let op = Op::user(false, |a, b, n| {
        assert_eq!(n, 2);
        for i in 0..a.len() {
            b[i] = b[i].wrapping_add(a[i]);
        }
        Ok(())
    });
    assert!(!op.is_commutative());
    let mut y = vec![1u8, 2];
    apply(&op, Basic::Byte, 2, &[10, 20], &mut y).unwrap();
    assert_eq!(y, vec![11, 22]);
}

/// The vectorized typed loop (aligned buffers) and the byte-wise loop (misaligned)
/// agree, for every fast-path op and width.
#[test]
fn aligned_and_misaligned_agree() {
    let n = 1001;
    let vals: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin() * 1e3).collect();
    let other: Vec<f64> = (0..n).map(|i| (i as f64 * 0.11).cos() * 1e3).collect();
    let bytes = |v: &[f64]| v.iter().flat_map(|x| x.to_ne_bytes()).collect::<Vec<u8>>();
    let ops = [Op::Sum, Op::Prod, Op::Min, Op::Max];
    for op in &ops {
        for kind in [
            Basic::F64,
            Basic::F32,
            Basic::I32,
            Basic::I64,
            Basic::U8,
            Basic::U16,
        ] {
            let cnt = n * 8 / kind.size();
            let (a, b) = (bytes(&vals), bytes(&other));
            // Aligned: u64-backed copies.
            let mut aw = vec![0u64; n];
            let mut bw = vec![0u64; n];
            for i in 0..n {
                aw[i] = u64::from_ne_bytes(a[i * 8..i * 8 + 8].try_into().unwrap());
                bw[i] = u64::from_ne_bytes(b[i * 8..i * 8 + 8].try_into().unwrap());
            }
            // SAFETY: u64 vectors viewed as bytes (any byte pattern is fine).
            let (ab, bb) = unsafe {
                (
                    std::slice::from_raw_parts(aw.as_ptr().cast::<u8>(), n * 8),
                    std::slice::from_raw_parts_mut(bw.as_mut_ptr().cast::<u8>(), n * 8),
                )
            };
            apply(op, kind, cnt, ab, bb).unwrap();
            // Misaligned by one byte.
            let mut am = vec![0u8; n * 8 + 1];
            let mut bm = vec![0u8; n * 8 + 1];
            am[1..].copy_from_slice(&a);
            bm[1..].copy_from_slice(&b);
            apply(op, kind, cnt, &am[1..], &mut bm[1..]).unwrap();
            let same = bb.iter().zip(&bm[1..]).all(|(x, y)| x == y);
            assert!(
                same,
                "{} on {kind:?}: aligned and misaligned differ",
                op.name()
            );
        }
    }
}
