//! Every collective against a reference computed locally from the same
//! deterministic inputs: counts 0, 1, odd and large (1 MiB), every root, in place,
//! user operations (commutative and not), split / dup communicators, several
//! nonblocking collectives in flight mixed with point-to-point, intercommunicators,
//! split_shared, and the two-level algorithms on real domains (`VMPI_SHM_DOMAIN_SPLIT`;
//! any partition is covered in-process by `vmpi::coll`'s unit tests).
//!
//! `mpirun -np N coll_check [quick]`; prints "coll_check: ok" on rank 0.

use vmpi::{user_op, Communicator, Input, Op, Result};

fn val(rank: i32, i: usize) -> i64 {
    ((rank as i64 + 1) * 1000 + (i as i64) * 7) % 9973
}

fn input(rank: i32, n: usize) -> Vec<i64> {
    (0..n).map(|i| val(rank, i)).collect()
}

macro_rules! check {
    ($c:expr, $($m:tt)*) => { if !$c { panic!($($m)*); } };
}

/// 2x2 matrix product: non-commutative.
fn matmul(a: &[i64; 4], b: &[i64; 4]) -> [i64; 4] {
    [
        (a[0] * b[0] + a[1] * b[2]) % 1009,
        (a[0] * b[1] + a[1] * b[3]) % 1009,
        (a[2] * b[0] + a[3] * b[2]) % 1009,
        (a[2] * b[1] + a[3] * b[3]) % 1009,
    ]
}

fn mat(rank: i32, i: usize) -> [i64; 4] {
    [
        (rank as i64 + i as i64) % 5 + 1,
        rank as i64 % 3,
        (i as i64) % 2,
        1,
    ]
}

fn counts_for(large: bool) -> Vec<usize> {
    if large {
        // 5003 elements (40 KB): whole by rendezvous, its halves and blocks cut
        // into eager pieces with a short last one; 12001 (96 KB): on two ranks
        // the allreduce halves are cut too (tuning::SEGMENT_MAX_EXCHANGE);
        // 1 << 17: large rendezvous.
        vec![0, 1, 7, 5003, 12001, 1 << 17]
    } else {
        vec![0, 1, 7]
    }
}

fn collectives(w: &Communicator, quick: bool) -> Result<()> {
    let (me, p) = (w.rank(), w.size());
    let pu = p as usize;
    for &n in &counts_for(!quick) {
        // bcast from every root (large only from the last root)
        for root in 0..p {
            if n > 1000 && root != p - 1 {
                continue;
            }
            let mut b = if me == root {
                input(root, n)
            } else {
                vec![-1; n]
            };
            w.bcast(&mut b, root)?;
            check!(b == input(root, n), "bcast n={n} root={root}");
        }
        // allreduce sum / max, send buffer and in place
        let want: Vec<i64> = (0..n).map(|i| (0..p).map(|r| val(r, i)).sum()).collect();
        let mut r = vec![0i64; n];
        w.allreduce(Input::Buf(&input(me, n)), &mut r, &Op::Sum)?;
        check!(r == want, "allreduce sum n={n}");
        let mut r = input(me, n);
        w.allreduce(Input::InPlace, &mut r, &Op::Sum)?;
        check!(r == want, "allreduce in place n={n}");
        let wmax: Vec<i64> = (0..n)
            .map(|i| (0..p).map(|r| val(r, i)).max().unwrap())
            .collect();
        let mut r = vec![0i64; n];
        w.allreduce(Input::Buf(&input(me, n)), &mut r, &Op::Max)?;
        check!(r == wmax, "allreduce max n={n}");
        // reduce to every root (large to two: on two ranks, either end of the
        // one message of coll::two_rank)
        for root in 0..p {
            if n > 1000 && root > 1 {
                continue;
            }
            let mine = input(me, n);
            if me == root {
                let mut r = vec![0i64; n];
                w.reduce(Input::Buf(&mine), Some(&mut r), &Op::Sum, root)?;
                check!(r == want, "reduce n={n} root={root}");
                let mut r = mine.clone();
                w.reduce(Input::InPlace, Some(&mut r), &Op::Sum, root)?;
                check!(r == want, "reduce in place n={n} root={root}");
            } else {
                w.reduce(Input::Buf(&mine), None, &Op::Sum, root)?;
                w.reduce(Input::Buf(&mine), None, &Op::Sum, root)?;
            }
        }
        let nb = if n > 1000 { n / pu / 4 } else { n };
        // gather / scatter / allgather / alltoall with blocks of nb
        for root in 0..p {
            if n > 1000 && root != p / 2 {
                continue;
            }
            let mine = input(me, nb);
            if me == root {
                let mut all = vec![0i64; nb * pu];
                w.gather(Input::Buf(&mine), Some(&mut all), root)?;
                let want: Vec<i64> = (0..p).flat_map(|r| input(r, nb)).collect();
                check!(all == want, "gather n={nb} root={root}");
                let mut all2 = vec![0i64; nb * pu];
                all2[me as usize * nb..(me as usize + 1) * nb].copy_from_slice(&mine);
                w.gather(Input::InPlace, Some(&mut all2), root)?;
                check!(all2 == want, "gather in place");
                let mut back = vec![0i64; nb];
                w.scatter(Some(&want), Some(&mut back), root)?;
                check!(back == mine, "scatter n={nb} root={root}");
                w.scatter(Some(&want), None, root)?;
            } else {
                w.gather(Input::Buf(&mine), None, root)?;
                w.gather(Input::Buf(&mine), None, root)?;
                let mut back = vec![0i64; nb];
                w.scatter(None, Some(&mut back), root)?;
                check!(back == mine, "scatter n={nb} root={root}");
                let mut back = vec![0i64; nb];
                w.scatter(None, Some(&mut back), root)?;
                check!(back == mine, "scatter (root in place) n={nb}");
            }
        }
        let all_want: Vec<i64> = (0..p).flat_map(|r| input(r, nb)).collect();
        let mut all = vec![0i64; nb * pu];
        w.allgather(Input::Buf(&input(me, nb)), &mut all)?;
        check!(all == all_want, "allgather n={nb}");
        let mut all = vec![0i64; nb * pu];
        all[me as usize * nb..(me as usize + 1) * nb].copy_from_slice(&input(me, nb));
        w.allgather(Input::InPlace, &mut all)?;
        check!(all == all_want, "allgather in place n={nb}");
        // alltoall: block j from rank r is val(r, j*nb + i)
        let snd = input(me, nb * pu);
        let a2a_want: Vec<i64> = (0..pu)
            .flat_map(|r| (0..nb).map(move |i| val(r as i32, me as usize * nb + i)))
            .collect();
        let mut rcv = vec![0i64; nb * pu];
        w.alltoall(Input::Buf(&snd), &mut rcv)?;
        check!(rcv == a2a_want, "alltoall n={nb}");
        let mut rcv = snd.clone();
        w.alltoall(Input::InPlace, &mut rcv)?;
        check!(rcv == a2a_want, "alltoall in place n={nb}");
        // scan / exscan
        let scan_want: Vec<i64> = (0..n).map(|i| (0..=me).map(|r| val(r, i)).sum()).collect();
        let mut r = vec![0i64; n];
        w.scan(Input::Buf(&input(me, n)), &mut r, &Op::Sum)?;
        check!(r == scan_want, "scan n={n}");
        let mut r = vec![-5i64; n];
        w.exscan(Input::Buf(&input(me, n)), &mut r, &Op::Sum)?;
        let ex_want: Vec<i64> = if me == 0 {
            vec![-5; n]
        } else {
            (0..n).map(|i| (0..me).map(|r| val(r, i)).sum()).collect()
        };
        check!(r == ex_want, "exscan n={n}");
        let mut r = input(me, n);
        w.scan(Input::InPlace, &mut r, &Op::Sum)?;
        check!(r == scan_want, "scan in place n={n}");
        // reduce_scatter_block and reduce_scatter with uneven counts
        let snd = input(me, nb * pu);
        let sum_all: Vec<i64> = (0..nb * pu)
            .map(|i| (0..p).map(|r| val(r, i)).sum())
            .collect();
        let mut r = vec![0i64; nb];
        w.reduce_scatter_block(Input::Buf(&snd), &mut r, &Op::Sum)?;
        check!(
            r[..] == sum_all[me as usize * nb..(me as usize + 1) * nb],
            "reduce_scatter_block n={nb}"
        );
        let counts: Vec<usize> = (0..pu).map(|i| (i + nb) % 3 + nb / 2).collect();
        let tot: usize = counts.iter().sum();
        let off: usize = counts[..me as usize].iter().sum();
        let snd = input(me, tot);
        let want: Vec<i64> = (off..off + counts[me as usize])
            .map(|i| (0..p).map(|r| val(r, i)).sum())
            .collect();
        let mut r = vec![0i64; counts[me as usize]];
        w.reduce_scatter(Input::Buf(&snd), &mut r, &counts, &Op::Sum)?;
        check!(r == want, "reduce_scatter n={tot}");
        let mut r = snd.clone();
        w.reduce_scatter(Input::InPlace, &mut r, &counts, &Op::Sum)?;
        check!(
            r[..counts[me as usize]] == want[..],
            "reduce_scatter in place n={tot}"
        );
    }
    // v-variants with uneven counts: rank r contributes r+1 elements (0 for the last)
    let cnt = |r: usize| if r + 1 == pu { 0 } else { r + 1 };
    let counts: Vec<usize> = (0..pu).map(cnt).collect();
    let displs: Vec<usize> = (0..pu)
        .map(|r| (0..r).map(cnt).sum::<usize>() + r)
        .collect();
    let total = displs[pu - 1] + counts[pu - 1] + 1;
    let mine = input(me, counts[me as usize]);
    let mut want = vec![-1i64; total];
    for r in 0..pu {
        want[displs[r]..displs[r] + counts[r]].copy_from_slice(&input(r as i32, counts[r]));
    }
    let mut got = vec![-1i64; total];
    w.allgatherv(Input::Buf(&mine), &mut got, &counts, &displs)?;
    check!(got == want, "allgatherv");
    for root in 0..p {
        if me == root {
            let mut got = vec![-1i64; total];
            w.gatherv(Input::Buf(&mine), Some((&mut got, &counts, &displs)), root)?;
            check!(got == want, "gatherv root={root}");
            let mut back = vec![0i64; counts[me as usize]];
            w.scatterv(Some((&want, &counts, &displs)), Some(&mut back), root)?;
            check!(back == mine, "scatterv root={root}");
        } else {
            w.gatherv(Input::Buf(&mine), None, root)?;
            let mut back = vec![0i64; counts[me as usize]];
            w.scatterv(None, Some(&mut back), root)?;
            check!(back == mine, "scatterv root={root}");
        }
    }
    // alltoallv: to rank j send (me + j) % 3 elements
    let sc: Vec<usize> = (0..pu).map(|j| (me as usize + j) % 3).collect();
    let sd: Vec<usize> = (0..pu).map(|j| (0..j).map(|k| sc[k]).sum()).collect();
    let rc: Vec<usize> = (0..pu).map(|j| (j + me as usize) % 3).collect();
    let rd: Vec<usize> = (0..pu)
        .map(|j| (0..j).map(|k| rc[k]).sum::<usize>() + 1)
        .collect();
    let snd: Vec<i64> = (0..sc.iter().sum::<usize>()).map(|i| val(me, i)).collect();
    let mut rcv = vec![-1i64; rc.iter().sum::<usize>() + 1];
    w.alltoallv(Input::Buf(&snd), &sc, &sd, &mut rcv, &rc, &rd)?;
    for j in 0..pu {
        let their_sd: usize = (0..me as usize).map(|k| (j + k) % 3).sum();
        for i in 0..rc[j] {
            check!(
                rcv[rd[j] + i] == val(j as i32, their_sd + i),
                "alltoallv from {j}"
            );
        }
    }
    // alltoallw on bytes: same as alltoall of 3 bytes per pair
    let sb: Vec<u8> = (0..3 * pu).map(|i| (me as usize * 31 + i) as u8).collect();
    let c3 = vec![3usize; pu];
    let d3: Vec<usize> = (0..pu).map(|j| 3 * j).collect();
    let mut rb = vec![0u8; 3 * pu];
    w.alltoallw(Input::Buf(&sb), &c3, &d3, &mut rb, &c3, &d3)?;
    for j in 0..pu {
        for i in 0..3 {
            check!(
                rb[3 * j + i] == (j * 31 + 3 * me as usize + i) as u8,
                "alltoallw"
            );
        }
    }
    // user ops: non-commutative 2x2 matrix product, in rank order
    let mm = user_op::<[i64; 4]>(false, |a, b| {
        for (x, y) in a.iter().zip(b.iter_mut()) {
            *y = matmul(x, y);
        }
    });
    // (1500 elements: 48000 bytes, above the shared area on two ranks)
    for &n in &[1usize, 5, 1500] {
        let mine: Vec<[i64; 4]> = (0..n).map(|i| mat(me, i)).collect();
        let prefix =
            |upto: i32, i: usize| (1..=upto).fold(mat(0, i), |acc, r| matmul(&acc, &mat(r, i)));
        let want: Vec<[i64; 4]> = (0..n).map(|i| prefix(p - 1, i)).collect();
        let mut r = vec![[0i64; 4]; n];
        w.allreduce(Input::Buf(&mine), &mut r, &mm)?;
        check!(r == want, "allreduce non-commutative n={n}");
        for root in 0..p {
            let mut r = vec![[0i64; 4]; n];
            w.reduce(
                Input::Buf(&mine),
                if me == root { Some(&mut r) } else { None },
                &mm,
                root,
            )?;
            check!(
                me != root || r == want,
                "reduce non-commutative root={root}"
            );
        }
        let mut r = vec![[0i64; 4]; n];
        w.scan(Input::Buf(&mine), &mut r, &mm)?;
        check!(
            r == (0..n).map(|i| prefix(me, i)).collect::<Vec<_>>(),
            "scan non-commutative"
        );
        let mut r = vec![[0i64; 4]; n];
        w.exscan(Input::Buf(&mine), &mut r, &mm)?;
        check!(
            me == 0 || r == (0..n).map(|i| prefix(me - 1, i)).collect::<Vec<_>>(),
            "exscan non-commutative"
        );
        let mut r = vec![[0i64; 4]; 1];
        let all: Vec<[i64; 4]> = (0..pu).map(|j| mat(me, j)).collect();
        w.reduce_scatter_block(Input::Buf(&all), &mut r, &mm)?;
        let wj = (1..p).fold(mat(0, me as usize), |acc, r| {
            matmul(&acc, &mat(r, me as usize))
        });
        check!(r[0] == wj, "reduce_scatter_block non-commutative");
    }
    // commutative user op and MINLOC/MAXLOC
    let add = user_op::<i64>(true, |a, b| b.iter_mut().zip(a).for_each(|(y, x)| *y += x));
    let mut r = vec![0i64; 9];
    w.allreduce(Input::Buf(&input(me, 9)), &mut r, &add)?;
    check!(
        r == (0..9)
            .map(|i| (0..p).map(|q| val(q, i)).sum())
            .collect::<Vec<i64>>(),
        "user commutative"
    );
    let v = [vmpi::DoubleInt::new((me % 3) as f64, me)];
    let mut r = [vmpi::DoubleInt::default()];
    w.allreduce(Input::Buf(&v), &mut r, &Op::MaxLoc)?;
    let mx = (0..p).map(|q| q % 3).max().unwrap();
    check!(
        r[0].value == mx as f64 && r[0].index == (0..p).find(|q| q % 3 == mx).unwrap(),
        "maxloc {:?}",
        r[0]
    );
    // float sum of complex
    let z = [vmpi::Complex64 {
        re: 1.0,
        im: me as f64,
    }];
    let mut r = [vmpi::Complex64::default()];
    w.allreduce(Input::Buf(&z), &mut r, &Op::Sum)?;
    check!(
        r[0].re == p as f64 && r[0].im == (0..p).sum::<i32>() as f64,
        "complex sum"
    );
    // an undefined op is an error naming it
    let e = w
        .allreduce(Input::Buf(&[1.0f64]), &mut [0.0f64], &Op::Band)
        .unwrap_err();
    check!(
        e.class == vmpi::ErrorClass::Op && e.message.contains("MPI_BAND"),
        "band on f64: {e}"
    );
    w.barrier()?;
    Ok(())
}

fn nonblocking(w: &Communicator) -> Result<()> {
    let (me, p) = (w.rank(), w.size());
    let pu = p as usize;
    let n = 1000;
    let mine = input(me, n);
    let mut a = vec![0i64; n];
    let mut b = if me == 0 { input(0, n) } else { vec![0; n] };
    let mut c = vec![0i64; n * pu];
    let mut d = vec![0i64; n];
    let mut token = vec![0i64; 4];
    let ring = vec![me as i64; 4];
    let small = input(me, n * pu);
    vmpi::scope(|s| -> Result<()> {
        let mut reqs = vec![
            s.iallreduce(w, Input::Buf(&mine), &mut a, &Op::Sum)?,
            s.irecv(w, &mut token, (me + p - 1) % p, 77)?,
            s.ibcast(w, &mut b, 0)?,
            s.ialltoall(w, Input::Buf(&small), &mut c)?,
            s.isend(w, &ring, (me + 1) % p, 77)?,
            s.iscan(w, Input::Buf(&mine), &mut d, &Op::Sum)?,
            s.ibarrier(w)?,
        ];
        vmpi::wait_all(&mut reqs)?;
        Ok(())
    })?;
    check!(
        a == (0..n)
            .map(|i| (0..p).map(|r| val(r, i)).sum())
            .collect::<Vec<i64>>(),
        "iallreduce"
    );
    check!(b == input(0, n), "ibcast");
    check!(
        c == (0..pu)
            .flat_map(|r| (0..n).map(move |i| val(r as i32, me as usize * n + i)))
            .collect::<Vec<i64>>(),
        "ialltoall"
    );
    check!(
        d == (0..n)
            .map(|i| (0..=me).map(|r| val(r, i)).sum())
            .collect::<Vec<i64>>(),
        "iscan"
    );
    check!(
        token == vec![((me + p - 1) % p) as i64; 4],
        "p2p beside nonblocking collectives"
    );
    // Started in different orders of completion: wait the later one first.
    let mut x = vec![0i64; 3];
    let mut y = vec![0i64; 3];
    vmpi::scope(|s| -> Result<()> {
        let r1 = s.iallreduce(w, Input::Buf(&[1i64, 2, 3]), &mut x, &Op::Sum)?;
        let r2 = s.iallreduce(w, Input::Buf(&[10i64, 20, 30]), &mut y, &Op::Max)?;
        r2.wait()?;
        r1.wait()?;
        Ok(())
    })?;
    check!(
        x == vec![p as i64, 2 * p as i64, 3 * p as i64] && y == vec![10, 20, 30],
        "two iallreduce"
    );
    // Blocking calls that need no schedule (the shared area; on two ranks above
    // it, messages posted straight to the engine) while a nonblocking collective
    // is in flight on the same communicator: every call keeps its own tag.
    let big = 6000; // 48000-byte blocks: above the area and the schedules' pieces
    let mut e = vec![0i64; 3];
    let mut f = if me == 0 { input(0, big) } else { vec![0; big] };
    let mut g = vec![0i64; big * pu];
    let mut h = vec![0i64; big * pu];
    let blocks = input(me, big * pu);
    vmpi::scope(|s| -> Result<()> {
        let r = s.iallreduce(w, Input::Buf(&[1i64, 2, 3]), &mut e, &Op::Sum)?;
        w.bcast(&mut f, 0)?;
        w.allgather(Input::Buf(&input(me, big)), &mut g)?;
        w.alltoall(Input::Buf(&blocks), &mut h)?;
        r.wait()?;
        Ok(())
    })?;
    check!(
        e == vec![p as i64, 2 * p as i64, 3 * p as i64],
        "iallreduce beside blocking calls"
    );
    check!(f == input(0, big), "bcast beside iallreduce");
    check!(
        g == (0..p).flat_map(|r| input(r, big)).collect::<Vec<i64>>(),
        "allgather beside iallreduce"
    );
    check!(
        h == (0..pu)
            .flat_map(|r| (0..big).map(move |i| val(r as i32, me as usize * big + i)))
            .collect::<Vec<i64>>(),
        "alltoall beside iallreduce"
    );
    Ok(())
}

fn communicators(w: &Communicator) -> Result<()> {
    let (me, p) = (w.rank(), w.size());
    // dup: same group, own matching space
    let d = w.dup()?;
    check!(
        d.compare(w) == vmpi::Compare::Congruent && w.compare(w) == vmpi::Compare::Ident,
        "dup compare"
    );
    let mut x = [0i64];
    d.allreduce(Input::Buf(&[me as i64]), &mut x, &Op::Sum)?;
    check!(x[0] == (0..p as i64).sum::<i64>(), "dup allreduce");
    // split into evens and odds, reversed order
    let s = w.split(me % 2, -me)?.expect("color given");
    let members: Vec<i32> = (0..p).filter(|r| r % 2 == me % 2).rev().collect();
    check!(
        s.size() == members.len() as i32
            && s.rank() == members.iter().position(|&r| r == me).unwrap() as i32,
        "split rank"
    );
    let mut x = [0i64];
    s.allreduce(Input::Buf(&[me as i64]), &mut x, &Op::Sum)?;
    check!(
        x[0] == members.iter().map(|&r| r as i64).sum::<i64>(),
        "split allreduce"
    );
    let mut b = [if s.rank() == 0 { 99i64 } else { 0 }];
    s.bcast(&mut b, 0)?;
    check!(b[0] == 99, "split bcast");
    check!(w.split(vmpi::UNDEFINED, 0)?.is_none(), "undefined color");
    // split_shared: all ranks of one machine share /dev/shm
    let sh = w.split_shared(0)?;
    check!(sh.size() >= 1, "split_shared");
    let mut x = [0i64];
    sh.allreduce(Input::Buf(&[1i64]), &mut x, &Op::Sum)?;
    check!(x[0] == sh.size() as i64, "split_shared allreduce");
    // create from a group: ranks 0..ceil(p/2)
    let g = w.group().range_incl(&[(0, (p - 1) / 2, 1)])?;
    let c = w.create(&g)?;
    check!(c.is_some() == (me <= (p - 1) / 2), "create membership");
    if let Some(c) = &c {
        let mut x = [0i64];
        c.allreduce(Input::Buf(&[1i64]), &mut x, &Op::Sum)?;
        check!(x[0] == c.size() as i64, "create allreduce");
        let cg = w.create_group(&g, 5)?;
        check!(
            cg.compare(c) == vmpi::Compare::Congruent,
            "create_group congruent"
        );
        cg.barrier()?;
        cg.free();
    }
    // intercommunicator between evens and odds, then merge with odds high
    if p >= 2 {
        // Each side's leader is its local rank 0: the highest rank of its parity.
        let remote_leader = (0..p).filter(|r| r % 2 != me % 2).max().unwrap();
        let ic = s.intercomm_create(0, Some(w), remote_leader, 42)?;
        check!(
            ic.is_inter() && ic.remote_size() == p / 2 + (p % 2) * ((me % 2 == 1) as i32),
            "remote size {}",
            ic.remote_size()
        );
        // p2p across: local rank 0 of each side swaps its world rank
        if ic.rank() == 0 {
            let mut got = [0i32];
            ic.sendrecv(&[me], 0, 3, &mut got, 0, 3)?;
            check!(got[0] == remote_leader, "intercomm p2p");
        }
        let merged = ic.intercomm_merge(me % 2 == 1)?;
        check!(merged.size() == p, "merged size");
        let evens = (p + 1) / 2;
        // evens first (in split order: descending), then odds
        let pos_in_s = s.rank();
        let want_rank = if me % 2 == 0 {
            pos_in_s
        } else {
            evens + pos_in_s
        };
        check!(
            merged.rank() == want_rank,
            "merged rank {} want {want_rank}",
            merged.rank()
        );
        let mut x = [0i64];
        merged.allreduce(Input::Buf(&[me as i64]), &mut x, &Op::Sum)?;
        check!(x[0] == (0..p as i64).sum::<i64>(), "merged allreduce");
        let idup = ic.dup()?;
        check!(idup.is_inter(), "intercomm dup");
        idup.free();
        merged.free();
    }
    // Collectives on world still agree after all that.
    let mut b = [me as i64];
    w.bcast(&mut b, p - 1)?;
    check!(b[0] == (p - 1) as i64, "world after comm management");
    d.free();
    Ok(())
}

/// With `VMPI_SHM_DOMAIN_SPLIT=k` the communicator's domains are blocks of k
/// consecutive ranks (world and a dup, and the reversed split), and the collectives
/// run on them through the public API (the two-level variants when forced or
/// chosen) with correct results.
fn real_domains(w: &Communicator) -> Result<()> {
    let Some(k) = std::env::var("VMPI_SHM_DOMAIN_SPLIT")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&k| k > 0)
    else {
        return Ok(());
    };
    let (me, p) = (w.rank(), w.size() as usize);
    let want: Vec<Vec<usize>> = (0..p)
        .collect::<Vec<_>>()
        .chunks(k)
        .map(|c| c.to_vec())
        .collect();
    let d = w.raw_comm().domains()?;
    check!(*d == want, "domains with VMPI_SHM_DOMAIN_SPLIT={k}: {d:?}");
    // A communicator in reverse rank order: world rank p-1-i is rank i.
    let rev = w.split(0, p as i32 - me)?.expect("color 0");
    let rd = rev.raw_comm().domains()?;
    let mut rwant: Vec<Vec<usize>> = want
        .iter()
        .map(|b| b.iter().map(|&x| p - 1 - x).rev().collect())
        .collect();
    rwant.sort();
    let mut rgot = (*rd).clone();
    rgot.sort();
    check!(
        rgot == rwant,
        "domains of the reversed communicator: {rd:?}"
    );
    for c in [w, &rev] {
        let r = c.rank();
        for &n in &[1usize, 13, 5003, 1 << 15] {
            for root in 0..p as i32 {
                let mut b = if r == root {
                    input(root, n)
                } else {
                    vec![0; n]
                };
                c.bcast(&mut b, root)?;
                check!(b == input(root, n), "split-domain bcast n={n} root={root}");
                let mut out = vec![0i64; n];
                c.reduce(
                    Input::Buf(&input(r, n)),
                    (r == root).then_some(&mut out[..]),
                    &Op::Sum,
                    root,
                )?;
                let want: Vec<i64> = (0..n)
                    .map(|i| (0..p as i32).map(|q| val(q, i)).sum())
                    .collect();
                check!(
                    r != root || out == want,
                    "split-domain reduce n={n} root={root}"
                );
            }
            let mut out = vec![0i64; n];
            c.allreduce(Input::Buf(&input(r, n)), &mut out, &Op::Sum)?;
            let want: Vec<i64> = (0..n)
                .map(|i| (0..p as i32).map(|q| val(q, i)).sum())
                .collect();
            check!(out == want, "split-domain allreduce n={n}");
            c.barrier()?;
        }
    }
    rev.free();
    Ok(())
}

/// Counts that differ between ranks: the rank that receives more than was sent
/// gets a truncation error naming the sender (through the shared area as through
/// schedules), the others succeed, and the communicator stays usable.
fn mismatched_counts(w: &vmpi::Communicator) -> Result<()> {
    let (me, p) = (w.rank(), w.size());
    // A forced bcast algorithm may route through rank 1 (scatter + allgather).
    if p < 2 || std::env::var_os("VMPI_BCAST_ALGO").is_some() {
        return Ok(());
    }
    // Only rank 1 (a leaf of the binomial tree: an interior rank that fails
    // cannot forward, and its subtree would wait forever, as in any MPI). Small
    // (the shared area), and on two ranks above the area's size (posted straight
    // to the engine, no schedule), where the report names both byte counts.
    let large = (
        40 << 10,
        48 << 10,
        "rank 0 sent 40960 bytes where this rank expects 49152",
    );
    for (root_has, one_has, says) in [(8, 16, "rank 0"), large] {
        if root_has > 16 && p != 2 {
            continue;
        }
        let mut b = vec![7u8; if me == 1 { one_has } else { root_has }];
        let r = w.bcast(&mut b, 0);
        if me != 1 {
            check!(r.is_ok(), "bcast of {root_has} with matching counts: {r:?}");
        } else {
            let e = r.expect_err("bcast with a longer count than the root's must fail");
            check!(
                e.class == vmpi::ErrorClass::Truncate && e.message.contains(says),
                "bcast count mismatch ({root_has} vs {one_has}) reported as {e}"
            );
        }
    }
    let mut g = vec![0u8; 4 * p as usize];
    let mine = vec![me as u8; if me == 1 { 3 } else { 4 }];
    let r = w.gather(
        Input::Buf(&mine),
        if me == 0 { Some(&mut g) } else { None },
        0,
    );
    if me == 0 {
        let e = r.expect_err("gather with a short block must fail at the root");
        check!(
            e.class == vmpi::ErrorClass::Truncate && e.message.contains("rank 1"),
            "gather count mismatch reported as {e}"
        );
    } else {
        check!(r.is_ok(), "gather sender: {r:?}");
    }
    w.barrier()?;
    let mut x = [me as i64];
    w.allreduce(Input::InPlace, &mut x, &Op::Sum)?;
    check!(
        x[0] == (0..p as i64).sum::<i64>(),
        "allreduce after mismatches"
    );
    // A bcast in pieces through the area (64-byte slots, 3 ranks or more): rank 1
    // expects fewer pieces, then more, than the root sends. It must fail at once,
    // the others must not wait for it, and the area must stay in step.
    if p >= 3 && std::env::var("VMPI_COLL_SHM_SIZE").as_deref() == Ok("64") {
        for theirs in [100, 300] {
            let mut b = vec![me as u8; if me == 1 { theirs } else { 200 }];
            let r = w.bcast(&mut b, 0);
            if me == 1 {
                let e = r.expect_err("bcast in pieces with another count than the root's");
                check!(
                    e.class == vmpi::ErrorClass::Truncate && e.message.contains("rank 0"),
                    "bcast piece mismatch reported as {e}"
                );
            } else {
                check!(r.is_ok() && b == vec![0u8; 200], "bcast in pieces: {r:?}");
            }
        }
        let mut b = vec![me as u8; 200];
        w.bcast(&mut b, 2)?;
        check!(b == vec![2u8; 200], "bcast in pieces after mismatches");
        w.barrier()?;
    }
    Ok(())
}

fn main() -> Result<()> {
    let quick = std::env::args().any(|a| a == "quick");
    let u = vmpi::init()?;
    let w = u.world();
    collectives(w, quick)?;
    nonblocking(w)?;
    communicators(w)?;
    real_domains(w)?;
    mismatched_counts(w)?;
    // Self communicator: every collective is a copy.
    let mut r = [0i64; 3];
    u.self_comm()
        .allreduce(Input::Buf(&[1i64, 2, 3]), &mut r, &Op::Sum)?;
    check!(r == [1, 2, 3], "self allreduce");
    w.barrier()?;
    if w.rank() == 0 {
        println!("coll_check: ok ({} ranks)", w.size());
    }
    Ok(())
}
