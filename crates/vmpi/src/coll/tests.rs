//! Every collective builder and algorithm run in an in-process job
//! ([`crate::harness`]): property tests over communicator sizes, message sizes
//! (across the eager limit, the segment cut and the CMA split), roots, in-place
//! forms, non-commutative operations and shm-domain partitions (the two-level
//! variants), each result checked against a sequential reference.

// Tests index several per-rank vectors by rank.
#![allow(clippy::needless_range_loop)]

use super::*;
use crate::datatype::Basic;
use crate::harness::{coll_ctx, Job, Opts};
use crate::op::Op;
use proptest::prelude::*;

const CTX: u32 = 6;

/// The test's byte for rank `r`, position `i`.
fn byte(seed: u64, r: usize, i: usize) -> u8 {
    (seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add((r * 7919 + i * 31) as u64)
        >> 7) as u8
}

fn data(seed: u64, r: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| byte(seed, r, i)).collect()
}

fn words(v: &[u64]) -> Vec<u8> {
    v.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn unwords(b: &[u8]) -> Vec<u64> {
    b.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Rank `r`'s reduction input: `count` 16-byte elements.
fn red_input(seed: u64, r: usize, count: usize) -> Vec<u64> {
    (0..2 * count)
        .map(|i| seed ^ (r as u64 * 1_000_003 + i as u64 * 17 + 1))
        .collect()
}

/// A reduction on 16-byte elements: MPI_SUM on pairs of u64, or (non-commutative)
/// the composition of affine maps x -> a*x + b, associative but not commutative.
fn reduction(commute: bool) -> Reduction {
    if commute {
        return Reduction::new(Op::Sum, Some(Basic::U64), 8).unwrap();
    }
    let compose = Op::user(false, |inb: &[u8], inout: &mut [u8], count: usize| {
        for k in 0..count {
            let f = unwords(&inb[16 * k..16 * k + 16]);
            let g = unwords(&inout[16 * k..16 * k + 16]);
            // (f o g)(x) = f.a * (g.a * x + g.b) + f.b
            let h = [
                f[0].wrapping_mul(g[0]),
                f[0].wrapping_mul(g[1]).wrapping_add(f[1]),
            ];
            inout[16 * k..16 * k + 16].copy_from_slice(&words(&h));
        }
        Ok(())
    });
    Reduction::new(compose, None, 16).unwrap()
}

/// The reference: inputs of ranks `from..to` combined in rank order.
fn fold(red: &Reduction, inputs: &[Vec<u64>], ranks: std::ops::Range<usize>) -> Vec<u8> {
    let mut acc = words(&inputs[ranks.end - 1]);
    for r in ranks.rev().skip(1) {
        red.run(&words(&inputs[r]), &mut acc).unwrap();
    }
    acc
}

/// Ranks 0..n split into shm domains by `assign` (rank -> domain), empty ones
/// dropped, each in rank order.
fn partition(n: usize, assign: &[usize]) -> Vec<Vec<usize>> {
    let mut d: Vec<Vec<usize>> = vec![Vec::new(); n];
    for r in 0..n {
        d[assign[r % assign.len()] % n].push(r);
    }
    d.into_iter().filter(|x| !x.is_empty()).collect()
}

/// Build every rank's schedule with `build(rank, ctx)` and run them together.
fn run(job: &mut Job, tag: i32, mut build: impl FnMut(usize, CollCtx) -> Result<Sched>) {
    let n = job.size();
    let scheds = (0..n)
        .map(|r| build(r, coll_ctx(n, r, CTX, tag)))
        .collect::<Result<Vec<_>>>()
        .expect("build");
    job.run_scheds(scheds).expect("run");
}

fn opts(n: usize, cma: bool, eager: usize) -> Opts {
    Opts {
        cma,
        eager,
        ..Opts::new(n)
    }
}

/// Message sizes that cross the interesting limits: empty, one byte, small, a
/// few eager pieces, above the segment cut, above the CMA split.
fn sizes() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0usize),
        1usize..64,
        64usize..4096,
        4096usize..40_000,
        Just(140_000usize),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn bcast_from_any_root(n in 1usize..7, len in sizes(), root in 0usize..7, cma: bool,
                           assign in proptest::collection::vec(0usize..3, 1..7), seed: u64) {
        let root = root % n;
        let d = partition(n, &assign);
        let mut bufs: Vec<Vec<u8>> = (0..n)
            .map(|r| if r == root { data(seed, r, len) } else { vec![0; len] })
            .collect();
        let mut job = Job::new(opts(n, cma, 8192));
        // SAFETY: the buffers outlive the run.
        run(&mut job, 1, |r, cc| unsafe {
            bcast(cc, RawMut::of(&mut bufs[r]), root as i32, Some(&d))
        });
        for (r, b) in bufs.iter().enumerate() {
            prop_assert_eq!(b, &data(seed, root, len), "rank {}", r);
        }
    }

    #[test]
    fn gather_and_scatter(n in 1usize..7, blk in sizes(), root in 0usize..7, in_place: bool,
                          seed: u64) {
        let root = root % n;
        let mut job = Job::new(Opts::new(n));
        let sends: Vec<Vec<u8>> = (0..n).map(|r| data(seed, r, blk)).collect();
        let mut whole = vec![0u8; n * blk];
        if in_place {
            whole[root * blk..(root + 1) * blk].copy_from_slice(&sends[root]);
        }
        // SAFETY: the buffers outlive the run.
        run(&mut job, 1, |r, cc| unsafe {
            let send = (!(in_place && r == root)).then(|| Raw::of(&sends[r]));
            let recv = (r == root).then(|| RawMut::of(&mut whole));
            gather(cc, send, recv, root as i32)
        });
        let all: Vec<u8> = sends.concat();
        prop_assert_eq!(&whole, &all);
        // And back: the root scatters what it gathered.
        let mut outs: Vec<Vec<u8>> = vec![vec![0u8; blk]; n];
        // SAFETY: as above.
        run(&mut job, 2, |r, cc| unsafe {
            let send = (r == root).then(|| Raw::of(&whole));
            let recv = (!(in_place && r == root)).then(|| RawMut::of(&mut outs[r]));
            scatter(cc, send, recv, root as i32)
        });
        for r in 0..n {
            if !(in_place && r == root) {
                prop_assert_eq!(&outs[r], &sends[r], "rank {}", r);
            }
        }
    }

    #[test]
    fn gatherv_scatterv_allgatherv(n in 1usize..7, lens in proptest::collection::vec(sizes(), 7),
                                   root in 0usize..7, seed: u64) {
        let root = root % n;
        let counts: Vec<usize> = lens[..n].to_vec();
        // Blocks in reverse rank order with a gap of 3 bytes between them.
        let mut displs = vec![0usize; n];
        let mut at = 0;
        for r in (0..n).rev() {
            displs[r] = at;
            at += counts[r] + 3;
        }
        let total = at;
        let sends: Vec<Vec<u8>> = (0..n).map(|r| data(seed, r, counts[r])).collect();
        let mut job = Job::new(Opts::new(n));
        let mut whole = vec![0xeeu8; total];
        // SAFETY: the buffers outlive the run.
        run(&mut job, 1, |r, cc| unsafe {
            let recv = (r == root).then(|| (RawMut::of(&mut whole), &counts[..], &displs[..]));
            gatherv_blocks(cc, Some(Raw::of(&sends[r])), recv, root as i32, "MPI_Gatherv", None)
        });
        for r in 0..n {
            prop_assert_eq!(&whole[displs[r]..displs[r] + counts[r]], &sends[r][..]);
        }
        let mut outs: Vec<Vec<u8>> = counts.iter().map(|&c| vec![0u8; c]).collect();
        // SAFETY: as above.
        run(&mut job, 2, |r, cc| unsafe {
            let send = (r == root).then(|| (Raw::of(&whole), &counts[..], &displs[..]));
            scatterv_blocks(cc, send, Some(RawMut::of(&mut outs[r])), root as i32, "MPI_Scatterv", None)
        });
        prop_assert_eq!(&outs, &sends);
        let mut alls: Vec<Vec<u8>> = vec![vec![0xeeu8; total]; n];
        // SAFETY: as above.
        run(&mut job, 3, |r, cc| unsafe {
            allgatherv(cc, Some(Raw::of(&sends[r])), RawMut::of(&mut alls[r]), &counts,
                       &displs, "MPI_Allgatherv")
        });
        for a in &alls {
            prop_assert_eq!(a, &whole);
        }
    }

    #[test]
    fn allgather_and_alltoall(n in 1usize..7, blk in sizes(), in_place: bool, cma: bool,
                              seed: u64) {
        let mut job = Job::new(opts(n, cma, 16384));
        let mine: Vec<Vec<u8>> = (0..n).map(|r| data(seed, r, blk)).collect();
        let mut alls: Vec<Vec<u8>> = vec![vec![0u8; n * blk]; n];
        if in_place {
            for r in 0..n {
                alls[r][r * blk..(r + 1) * blk].copy_from_slice(&mine[r]);
            }
        }
        // SAFETY: the buffers outlive the run.
        run(&mut job, 1, |r, cc| unsafe {
            allgather(cc, (!in_place).then(|| Raw::of(&mine[r])), RawMut::of(&mut alls[r]))
        });
        let all = mine.concat();
        for a in &alls {
            prop_assert_eq!(a, &all);
        }
        // Alltoall: rank r's block for p is data(seed, r * n + p).
        let blocks = |r: usize| -> Vec<u8> { (0..n).flat_map(|p| data(seed, r * n + p, blk)).collect() };
        let sends: Vec<Vec<u8>> = (0..n).map(blocks).collect();
        let mut recvs: Vec<Vec<u8>> = if in_place { sends.clone() } else { vec![vec![0u8; n * blk]; n] };
        // SAFETY: as above.
        run(&mut job, 2, |r, cc| unsafe {
            alltoall(cc, (!in_place).then(|| Raw::of(&sends[r])), RawMut::of(&mut recvs[r]))
        });
        for (r, got) in recvs.iter().enumerate() {
            let want: Vec<u8> = (0..n).flat_map(|p| data(seed, p * n + r, blk)).collect();
            prop_assert_eq!(got, &want, "rank {}", r);
        }
    }

    #[test]
    fn alltoallv_every_layout(n in 1usize..6, lens in proptest::collection::vec(sizes(), 36),
                              in_place: bool, seed: u64) {
        // counts[r][p]: bytes rank r sends p; in place needs a symmetric layout.
        let count = |r: usize, p: usize| if in_place { lens[r.min(p) * 6 + r.max(p)] } else { lens[r * 6 + p] };
        let mut job = Job::new(Opts::new(n));
        let layout = |c: Vec<usize>| {
            let mut d = vec![0; c.len()];
            for i in 1..c.len() {
                d[i] = d[i - 1] + c[i - 1] + 1;
            }
            (c, d)
        };
        let sl: Vec<(Vec<usize>, Vec<usize>)> = (0..n).map(|r| layout((0..n).map(|p| count(r, p)).collect())).collect();
        let rl: Vec<(Vec<usize>, Vec<usize>)> = (0..n).map(|r| layout((0..n).map(|p| count(p, r)).collect())).collect();
        let size = |l: &(Vec<usize>, Vec<usize>)| l.1[n - 1] + l.0[n - 1];
        let sends: Vec<Vec<u8>> = (0..n)
            .map(|r| {
                let mut b = vec![0u8; size(&sl[r])];
                for p in 0..n {
                    b[sl[r].1[p]..sl[r].1[p] + sl[r].0[p]].copy_from_slice(&data(seed, r * n + p, sl[r].0[p]));
                }
                b
            })
            .collect();
        let mut recvs: Vec<Vec<u8>> = if in_place { sends.clone() } else { (0..n).map(|r| vec![0u8; size(&rl[r])]).collect() };
        // SAFETY: the buffers outlive the run.
        run(&mut job, 1, |r, cc| unsafe {
            let send = (!in_place).then(|| (Raw::of(&sends[r]), &sl[r].0[..], &sl[r].1[..]));
            alltoallv(cc, send, (RawMut::of(&mut recvs[r]), &rl[r].0, &rl[r].1), "MPI_Alltoallv")
        });
        for r in 0..n {
            for p in 0..n {
                let at = rl[r].1[p];
                prop_assert_eq!(&recvs[r][at..at + rl[r].0[p]], &data(seed, p * n + r, count(p, r))[..]);
            }
        }
    }

    #[test]
    fn reductions(n in 1usize..7, count in prop_oneof![0usize..4, 4usize..300, Just(9000usize)],
                  root in 0usize..7, commute: bool, in_place: bool, cma: bool,
                  assign in proptest::collection::vec(0usize..3, 1..7), seed: u64) {
        let root = root % n;
        let d = partition(n, &assign);
        let red = reduction(commute);
        let inputs: Vec<Vec<u64>> = (0..n).map(|r| red_input(seed, r, count)).collect();
        let want = if count == 0 { Vec::new() } else { fold(&red, &inputs, 0..n) };
        let mut job = Job::new(opts(n, cma, 8192));
        let sends: Vec<Vec<u8>> = inputs.iter().map(|v| words(v)).collect();
        // Reduce.
        let mut outs: Vec<Vec<u8>> = vec![vec![0u8; 16 * count]; n];
        if in_place {
            outs[root] = sends[root].clone();
        }
        // SAFETY: the buffers outlive the run.
        run(&mut job, 1, |r, cc| unsafe {
            let send = (!(in_place && r == root)).then(|| Raw::of(&sends[r]));
            let recv = (r == root).then(|| RawMut::of(&mut outs[r]));
            reduce(cc, red.clone(), send, recv, root as i32, Some(&d))
        });
        prop_assert_eq!(&outs[root], &want);
        // Allreduce.
        let mut outs: Vec<Vec<u8>> = if in_place { sends.clone() } else { vec![vec![0u8; 16 * count]; n] };
        // SAFETY: as above.
        run(&mut job, 2, |r, cc| unsafe {
            allreduce(cc, red.clone(), (!in_place).then(|| Raw::of(&sends[r])),
                      RawMut::of(&mut outs[r]), Some(&d))
        });
        for o in &outs {
            prop_assert_eq!(o, &want);
        }
        // Scan and exscan.
        for (tag, exclusive) in [(3, false), (4, true)] {
            let mut outs: Vec<Vec<u8>> = if in_place { sends.clone() } else { vec![vec![0u8; 16 * count]; n] };
            // SAFETY: as above.
            run(&mut job, tag, |r, cc| unsafe {
                scan(cc, red.clone(), (!in_place).then(|| Raw::of(&sends[r])),
                     RawMut::of(&mut outs[r]), exclusive)
            });
            for r in 0..n {
                let upto = if exclusive { r } else { r + 1 };
                if upto > 0 && count > 0 {
                    prop_assert_eq!(&outs[r], &fold(&red, &inputs, 0..upto), "rank {}", r);
                }
            }
        }
    }

    #[test]
    fn reduce_scatter_blocks(n in 1usize..7, counts in proptest::collection::vec(0usize..40, 7),
                             commute: bool, in_place: bool, seed: u64) {
        let counts = &counts[..n];
        let total: usize = counts.iter().sum();
        let red = reduction(commute);
        let inputs: Vec<Vec<u64>> = (0..n).map(|r| red_input(seed, r, total)).collect();
        let sends: Vec<Vec<u8>> = inputs.iter().map(|v| words(v)).collect();
        let want = if total == 0 { Vec::new() } else { fold(&red, &inputs, 0..n) };
        let bytes: Vec<usize> = counts.iter().map(|c| 16 * c).collect();
        let mut job = Job::new(Opts::new(n));
        let mut outs: Vec<Vec<u8>> = if in_place { sends.clone() } else { bytes.iter().map(|&b| vec![0u8; b]).collect() };
        // SAFETY: the buffers outlive the run.
        run(&mut job, 1, |r, cc| unsafe {
            reduce_scatter(cc, red.clone(), (!in_place).then(|| Raw::of(&sends[r])),
                           RawMut::of(&mut outs[r]), &bytes, "MPI_Reduce_scatter")
        });
        let mut at = 0;
        for r in 0..n {
            prop_assert_eq!(&outs[r][..bytes[r]], &want[at..at + bytes[r]], "rank {}", r);
            at += bytes[r];
        }
    }

    /// Each allreduce algorithm on its own (the table picks only one per size).
    #[test]
    fn allreduce_algorithms(n in 1usize..7, count in 0usize..600, algo in 0usize..3, seed: u64) {
        let red = reduction(true);
        let inputs: Vec<Vec<u64>> = (0..n).map(|r| red_input(seed, r, count)).collect();
        let want = if count == 0 { Vec::new() } else { fold(&red, &inputs, 0..n) };
        let mut outs: Vec<Vec<u8>> = inputs.iter().map(|v| words(v)).collect();
        let mut job = Job::new(Opts::new(n));
        let ranks: Vec<usize> = (0..n).collect();
        // SAFETY: the buffers outlive the run.
        run(&mut job, 1, |r, cc| unsafe {
            let mut s = Sched::new("MPI_Allreduce", cc);
            let acc = s.ext(outs[r].as_mut_ptr(), outs[r].len());
            s.set_reduction(red.clone());
            match algo {
                0 => algos::allreduce_recursive_doubling(&mut s, &ranks, r, acc),
                1 => algos::allreduce_rabenseifner(&mut s, &ranks, r, acc),
                _ => algos::allreduce_ring(&mut s, &ranks, r, acc),
            }
            Ok(s)
        });
        for o in &outs {
            prop_assert_eq!(o, &want);
        }
    }

    /// Each bcast and alltoall algorithm on its own.
    #[test]
    fn bcast_and_alltoall_algorithms(n in 1usize..8, len in sizes(), root in 0usize..8,
                                     blk in 0usize..700, seed: u64) {
        let root = root % n;
        let ranks: Vec<usize> = (0..n).collect();
        let mut job = Job::new(Opts::new(n));
        for (tag, scatter_allgather) in [(1, false), (2, true)] {
            let mut bufs: Vec<Vec<u8>> = (0..n)
                .map(|r| if r == root { data(seed, r, len) } else { vec![0; len] })
                .collect();
            // SAFETY: the buffers outlive the run.
            run(&mut job, tag, |r, cc| unsafe {
                let mut s = Sched::new("MPI_Bcast", cc);
                let b = s.ext(bufs[r].as_mut_ptr(), len);
                if scatter_allgather {
                    algos::bcast_scatter_allgather(&mut s, &ranks, r, root, b);
                } else {
                    algos::bcast_binomial(&mut s, &ranks, r, root, b);
                }
                Ok(s)
            });
            for b in &bufs {
                prop_assert_eq!(b, &data(seed, root, len));
            }
        }
        let sends: Vec<Vec<u8>> = (0..n)
            .map(|r| (0..n).flat_map(|p| data(seed, r * n + p, blk)).collect())
            .collect();
        for (tag, algo) in [(3, 0), (4, 1), (5, 2)] {
            let mut recvs: Vec<Vec<u8>> = vec![vec![0u8; n * blk]; n];
            // SAFETY: as above.
            run(&mut job, tag, |r, cc| unsafe {
                let mut s = Sched::new("MPI_Alltoall", cc);
                let sb = s.ext(sends[r].as_ptr(), n * blk);
                let rb = s.ext(recvs[r].as_mut_ptr(), n * blk);
                let sbl: Vec<B> = (0..n).map(|i| sb.sub(i * blk, blk)).collect();
                let rbl: Vec<B> = (0..n).map(|i| rb.sub(i * blk, blk)).collect();
                match algo {
                    0 => algos::alltoall_bruck(&mut s, n, r, sb, rb, blk),
                    1 => algos::alltoallv_pairwise(&mut s, n, r, &sbl, &rbl),
                    _ => algos::alltoallv_scattered(&mut s, n, r, &sbl, &rbl),
                }
                Ok(s)
            });
            for (r, got) in recvs.iter().enumerate() {
                let want: Vec<u8> = (0..n).flat_map(|p| data(seed, p * n + r, blk)).collect();
                prop_assert_eq!(got, &want, "algo {} rank {}", algo, r);
            }
        }
    }

    #[test]
    fn barriers_complete(n in 1usize..9, assign in proptest::collection::vec(0usize..4, 1..9)) {
        let d = partition(n, &assign);
        let mut job = Job::new(Opts::new(n));
        for tag in 1..4 {
            // SAFETY: a barrier has no buffers.
            run(&mut job, tag, |_, cc| unsafe { barrier_sched(cc, Some(&d)) });
        }
    }
}

/// A barrier does not complete on any rank before every rank has entered it.
#[test]
fn barrier_waits_for_the_last_rank() {
    for n in 2..8 {
        for late in 0..n {
            let mut job = Job::new(Opts::new(n));
            let d = partition(n, &[0, 0, 1]);
            // SAFETY: a barrier has no buffers.
            let mut scheds: Vec<Option<Sched>> = (0..n)
                .map(|r| Some(unsafe { barrier_sched(coll_ctx(n, r, CTX, 1), Some(&d)) }.unwrap()))
                .collect();
            let mut late_sched = scheds[late].take();
            let mut done = vec![false; n];
            for _ in 0..2000 {
                job.progress().unwrap();
                for r in 0..n {
                    if let Some(s) = scheds[r].as_mut() {
                        done[r] = done[r] || s.step(&mut job.engines[r]).unwrap();
                    }
                }
            }
            assert!(
                done.iter().all(|&x| !x),
                "n {n}: a rank left the barrier before rank {late} entered"
            );
            scheds[late] = late_sched.take();
            job.run_until(|engines| {
                for r in 0..n {
                    if !done[r] {
                        done[r] = scheds[r].as_mut().unwrap().step(&mut engines[r])?;
                    }
                }
                Ok(done.iter().all(|&x| x))
            })
            .unwrap();
        }
    }
}

/// Mismatched lengths are reported on the ranks that see them, and every rank's
/// schedule still ends (nobody is left waiting).
#[test]
fn length_mismatch_is_reported_and_nobody_hangs() {
    let n = 4;
    let mut job = Job::new(Opts::new(n));
    let mut bufs: Vec<Vec<u8>> = (0..n)
        .map(|r| vec![1u8; if r == 2 { 40 } else { 64 }])
        .collect();
    // SAFETY: the buffers outlive the run.
    let mut scheds: Vec<Sched> = (0..n)
        .map(|r| {
            unsafe { bcast(coll_ctx(n, r, CTX, 1), RawMut::of(&mut bufs[r]), 0, None) }.unwrap()
        })
        .collect();
    let mut result: Vec<Option<Result<()>>> = (0..n).map(|_| None).collect();
    job.run_until(|engines| {
        for r in 0..n {
            if result[r].is_none() {
                match scheds[r].step(&mut engines[r]) {
                    Ok(true) => result[r] = Some(Ok(())),
                    Ok(false) => {}
                    Err(e) => result[r] = Some(Err(e)),
                }
            }
        }
        Ok(result.iter().all(Option::is_some))
    })
    .unwrap();
    assert!(
        result[2].as_ref().unwrap().is_err(),
        "rank 2 got a 64-byte message into 40 bytes"
    );
}

/// The intercommunicator between world ranks 0..l (group 0, in order) and
/// l..l+r (group 1, backwards: local, remote and world ranks all differ), as
/// each world rank sees it.
fn inter_comms(l: usize, r: usize) -> Vec<Comm> {
    let a: std::sync::Arc<[usize]> = (0..l).collect();
    let b: std::sync::Arc<[usize]> = (l..l + r).rev().collect();
    (0..l + r)
        .map(|w| {
            let (mine, theirs) = if w < l { (&a, &b) } else { (&b, &a) };
            let rank = mine.iter().position(|&x| x == w).unwrap();
            Comm {
                remote: Some(theirs.clone()),
                ..Comm::new_intra(CTX, mine.clone(), rank)
            }
        })
        .collect()
}

/// (group, local rank) of world rank `w` in [`inter_comms`]`(l, _)`.
fn side(comms: &[Comm], l: usize, w: usize) -> (usize, usize) {
    (usize::from(w >= l), comms[w].rank as usize)
}

/// Build every world rank's schedule of `args(w)` on its intercommunicator and
/// run them together.
fn run_inter<'a>(job: &mut Job, comms: &[Comm], mut args: impl FnMut(usize) -> Args<'a>) {
    let scheds = (0..comms.len())
        // SAFETY: the tests' buffers outlive the run.
        .map(|w| unsafe { inter::build(&comms[w], args(w)) })
        .collect::<Result<Vec<_>>>()
        .expect("build");
    job.run_scheds(scheds).expect("run");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Rooted calls on an intercommunicator: bcast, gather, scatter and reduce
    /// (non-commutative: the other group's inputs in its rank order) from the
    /// root `root` of group `rg`; MPI_PROC_NULL ranks keep their buffers.
    #[test]
    fn intercomm_rooted(l in 1usize..4, r in 1usize..4, rg in 0usize..2, root in 0usize..3,
                        len in sizes(), commute: bool, seed: u64) {
        let comms = inter_comms(l, r);
        let n = l + r;
        let sizes = [l, r];
        let root = root % sizes[rg];
        let other = sizes[1 - rg];
        let arg = |w: usize| {
            let (g, me) = side(&comms, l, w);
            if g != rg {
                root as i32
            } else if me == root {
                inter::ROOT
            } else {
                crate::p2p::PROC_NULL
            }
        };
        let mut job = Job::new(opts(n, true, 8192));
        // Bcast.
        let mut bufs: Vec<Vec<u8>> = (0..n)
            .map(|w| if arg(w) == inter::ROOT { data(seed, w, len) } else { vec![7; len] })
            .collect();
        let ptrs: Vec<RawMut> = bufs.iter_mut().map(|b| RawMut::of(b)).collect();
        run_inter(&mut job, &comms, |w| Args::Bcast { buf: ptrs[w], root: arg(w) });
        let root_w = (0..n).find(|&w| arg(w) == inter::ROOT).unwrap();
        for w in 0..n {
            let want = match arg(w) {
                crate::p2p::PROC_NULL => vec![7; len],
                _ => data(seed, root_w, len),
            };
            prop_assert_eq!(&bufs[w], &want, "bcast at world rank {}", w);
        }
        // Gather, then scatter back.
        let blk = len.min(5000);
        let sends: Vec<Vec<u8>> = (0..n).map(|w| data(seed, w, blk)).collect();
        let mut whole = vec![0u8; other * blk];
        let wp = RawMut::of(&mut whole);
        run_inter(&mut job, &comms, |w| Args::Gather {
            send: (arg(w) >= 0).then(|| Raw::of(&sends[w])),
            recv: (arg(w) == inter::ROOT).then_some(wp),
            root: arg(w),
        });
        let by_rank = |j: usize| (0..n).find(|&w| side(&comms, l, w) == (1 - rg, j)).unwrap();
        for j in 0..other {
            prop_assert_eq!(&whole[j * blk..(j + 1) * blk], &sends[by_rank(j)][..], "gather block {}", j);
        }
        let mut outs = vec![vec![0u8; blk]; n];
        let op: Vec<RawMut> = outs.iter_mut().map(|b| RawMut::of(b)).collect();
        let wr = Raw::of(&whole);
        run_inter(&mut job, &comms, |w| Args::Scatter {
            send: (arg(w) == inter::ROOT).then_some(wr),
            recv: (arg(w) >= 0).then_some(op[w]),
            root: arg(w),
        });
        for w in 0..n {
            if arg(w) >= 0 {
                prop_assert_eq!(&outs[w], &sends[w], "scatter at world rank {}", w);
            }
        }
        // Reduce.
        let count = len.min(3000) / 16;
        let red = reduction(commute);
        let inputs: Vec<Vec<u64>> = (0..n).map(|w| red_input(seed, w, count)).collect();
        let ins: Vec<Vec<u8>> = inputs.iter().map(|v| words(v)).collect();
        let mut out = vec![0u8; 16 * count];
        let outp = RawMut::of(&mut out);
        run_inter(&mut job, &comms, |w| Args::Reduce {
            red: &red,
            send: (arg(w) >= 0).then(|| Raw::of(&ins[w])),
            recv: (arg(w) == inter::ROOT).then_some(outp),
            root: arg(w),
        });
        let ordered: Vec<Vec<u64>> = (0..other).map(|j| inputs[by_rank(j)].clone()).collect();
        if count > 0 {
            prop_assert_eq!(&out, &fold(&red, &ordered, 0..other));
        }
    }

    /// Calls without a root: every rank gets the other group's data.
    #[test]
    fn intercomm_all(l in 1usize..4, r in 1usize..4, len in sizes(), commute: bool,
                     lens in proptest::collection::vec(0usize..3000, 9), seed: u64) {
        let comms = inter_comms(l, r);
        let n = l + r;
        let sizes = [l, r];
        let by_rank = |g: usize, j: usize| (0..n).find(|&w| side(&comms, l, w) == (g, j)).unwrap();
        let mut job = Job::new(opts(n, true, 8192));
        run_inter(&mut job, &comms, |_| Args::Barrier);
        // Allgather.
        let sends: Vec<Vec<u8>> = (0..n).map(|w| data(seed, w, len)).collect();
        let mut recvs: Vec<Vec<u8>> = (0..n)
            .map(|w| vec![0u8; sizes[1 - side(&comms, l, w).0] * len])
            .collect();
        let rp: Vec<RawMut> = recvs.iter_mut().map(|b| RawMut::of(b)).collect();
        run_inter(&mut job, &comms, |w| Args::Allgather { send: Some(Raw::of(&sends[w])), recv: rp[w] });
        for w in 0..n {
            let g = side(&comms, l, w).0;
            let want: Vec<u8> = (0..sizes[1 - g]).flat_map(|j| sends[by_rank(1 - g, j)].clone()).collect();
            prop_assert_eq!(&recvs[w], &want, "allgather at world rank {}", w);
        }
        // Alltoallv: rank s of one group sends rank t of the other lens[(s+2t)%9] bytes.
        let cnt = |s: usize, t: usize| lens[(s + 2 * t) % 9];
        let layout_of = |counts: &[usize]| {
            let mut d = Vec::new();
            let mut at = 0;
            for &c in counts {
                d.push(at);
                at += c + 1;
            }
            (d, at)
        };
        let mut sc = Vec::new();
        let mut rc = Vec::new();
        for w in 0..n {
            let (g, me) = side(&comms, l, w);
            sc.push((0..sizes[1 - g]).map(|t| cnt(me, t)).collect::<Vec<_>>());
            rc.push((0..sizes[1 - g]).map(|s| cnt(s, me)).collect::<Vec<_>>());
        }
        let sl: Vec<_> = sc.iter().map(|c| layout_of(c)).collect();
        let rl: Vec<_> = rc.iter().map(|c| layout_of(c)).collect();
        let sbufs: Vec<Vec<u8>> = (0..n).map(|w| data(seed ^ 1, w, sl[w].1)).collect();
        let mut rbufs: Vec<Vec<u8>> = (0..n).map(|w| vec![0u8; rl[w].1]).collect();
        let rbp: Vec<RawMut> = rbufs.iter_mut().map(|b| RawMut::of(b)).collect();
        run_inter(&mut job, &comms, |w| Args::Alltoallv {
            send: Some((Raw::of(&sbufs[w]), &sc[w][..], &sl[w].0[..])),
            recv: (rbp[w], &rc[w][..], &rl[w].0[..]),
            call: "MPI_Alltoallv",
        });
        for w in 0..n {
            let (g, me) = side(&comms, l, w);
            for s in 0..sizes[1 - g] {
                let sw = by_rank(1 - g, s);
                let (at, c) = (sl[sw].0[me], sc[sw][me]);
                let got = &rbufs[w][rl[w].0[s]..rl[w].0[s] + c];
                prop_assert_eq!(got, &sbufs[sw][at..at + c], "alltoallv {} from {}", w, sw);
            }
        }
        // Allreduce and reduce_scatter (vectors of l*r elements, scattered by counts).
        let red = reduction(commute);
        let unit = 16;
        let count = l * r * (1 + len.min(2000) / 200);
        let inputs: Vec<Vec<u64>> = (0..n).map(|w| red_input(seed, w, count)).collect();
        let ins: Vec<Vec<u8>> = inputs.iter().map(|v| words(v)).collect();
        let mut outs = vec![vec![0u8; unit * count]; n];
        let op: Vec<RawMut> = outs.iter_mut().map(|b| RawMut::of(b)).collect();
        run_inter(&mut job, &comms, |w| Args::Allreduce { red: &red, send: Some(Raw::of(&ins[w])), recv: op[w] });
        let results: Vec<Vec<u8>> = (0..2)
            .map(|g| {
                let ordered: Vec<Vec<u64>> = (0..sizes[g]).map(|j| inputs[by_rank(g, j)].clone()).collect();
                fold(&red, &ordered, 0..sizes[g])
            })
            .collect();
        for w in 0..n {
            let g = side(&comms, l, w).0;
            prop_assert_eq!(&outs[w], &results[1 - g], "allreduce at world rank {}", w);
        }
        // Each group's counts (elements) add up to `count`: equal blocks but for
        // one element moved from the last block to the first.
        let counts: Vec<Vec<usize>> = (0..2)
            .map(|g| {
                let k = sizes[g];
                let mut c = vec![count / k; k];
                if k > 1 {
                    c[0] += 1;
                    c[k - 1] -= 1;
                }
                c.iter().map(|x| x * unit).collect()
            })
            .collect();
        let mut rs = vec![vec![0u8; unit * count]; n];
        let rsp: Vec<RawMut> = rs.iter_mut().map(|b| RawMut::of(b)).collect();
        run_inter(&mut job, &comms, |w| Args::ReduceScatter {
            red: &red,
            send: Some(Raw::of(&ins[w])),
            recv: rsp[w],
            counts: &counts[side(&comms, l, w).0][..],
            call: "MPI_Reduce_scatter",
        });
        for w in 0..n {
            let (g, me) = side(&comms, l, w);
            let at: usize = counts[g][..me].iter().sum();
            let c = counts[g][me];
            prop_assert_eq!(&rs[w][..c], &results[1 - g][at..at + c], "reduce_scatter at world rank {}", w);
        }
    }
}

#[test]
fn intercomm_scan_is_refused() {
    let comms = inter_comms(1, 2);
    let red = reduction(true);
    let mut out = [0u8; 16];
    let inp = [0u8; 16];
    // SAFETY: the buffers outlive the (refused) call.
    let e = unsafe {
        inter::build(
            &comms[0],
            Args::Scan {
                red: &red,
                send: Some(Raw::of(&inp)),
                recv: RawMut::of(&mut out),
                exclusive: false,
            },
        )
    }
    .err()
    .expect("refused");
    assert_eq!(e.class, ErrorClass::Comm);
    assert!(
        e.message.contains("not defined on intercommunicators"),
        "{}",
        e.message
    );
}
