//! Collective operations, built on point-to-point over the communicator's
//! collective context, and, for small blocking calls inside one shm domain, on the
//! communicator's shared collective area ([`shm_area`], a mapped region of its own;
//! it never touches the channels or the engine's queues).
//!
//! Every call comes in through [`entry`] ([`Args`]: contiguous byte buffers;
//! [`run`], [`start`], [`shortcut`]), for the Rust API and the C ABI alike. The
//! planner ([`plan`]) decides how it runs: a blocking call through the shared
//! area (set up on the communicator's first call that may use it), or on two
//! ranks through [`two_rank`] (at most one message each way, posted straight to
//! the engine), both run by the `*_now` functions here (the front door) on the
//! caller's slices; else a [`Sched`] (schedule) of the algorithm the table
//! ([`tuning`], overridable by `VMPI_*_ALGO`) picks, built here and run at once
//! ([`run_blocking`]) or by the progress engine ([`start_nonblocking`]).
//! Algorithms are in [`algos`]. The two kinds of run know nothing of each
//! other: a schedule never touches the area, and the area never needs a
//! schedule to run (only to set itself up, through two of them).
//!
//! Buffers: `Raw`/`RawMut` are contiguous bytes; `None` for a send buffer is
//! MPI_IN_PLACE. Derived datatypes come in at the front ends: a non-contiguous
//! buffer is packed into a contiguous temporary before [`entry`] and unpacked
//! after completion.
//!
//! Host-aware two-level variants (barrier, bcast, reduce, allreduce) take the
//! communicator's shm domains as a partition of its ranks (`&[Vec<usize>]`), so
//! tests can pass any partition.

pub mod algos;
/// Model check of the shared area's protocol under `loom` (`make test-loom`).
#[cfg(all(test, loom))]
mod area_model;
mod entry;
pub mod inter;
pub mod plan;
pub mod sched;
pub mod shm_area;
#[cfg(all(test, not(loom)))]
mod tests;
pub mod tuning;
pub mod two_rank;

pub use entry::{run, shortcut, start, Args};
pub use inter::ROOT;
pub use sched::{run_blocking, start_nonblocking, CollCtx, Reduction, Sched, B};

use crate::comm::Comm;
use crate::error::{Error, ErrorClass, Result};
use plan::{AreaState, Call, Facts, Plan};
use tuning::Algo;

/// A contiguous input buffer.
#[derive(Debug, Clone, Copy)]
pub struct Raw {
    pub ptr: *const u8,
    pub len: usize,
}

/// A contiguous output buffer.
#[derive(Debug, Clone, Copy)]
pub struct RawMut {
    pub ptr: *mut u8,
    pub len: usize,
}

impl Raw {
    pub fn of(s: &[u8]) -> Raw {
        Raw {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }
}
impl RawMut {
    pub fn of(s: &mut [u8]) -> RawMut {
        RawMut {
            ptr: s.as_mut_ptr(),
            len: s.len(),
        }
    }
}

fn err(class: ErrorClass, call: &str, what: String) -> Error {
    Error::new(class, format!("{call}: {what}"))
}

fn check_root(call: &str, root: i32, n: usize) -> Result<usize> {
    if root < 0 || root as usize >= n {
        return Err(err(
            ErrorClass::Root,
            call,
            format!("invalid root {root} (communicator size {n})"),
        ));
    }
    Ok(root as usize)
}

fn ranks(n: usize) -> Vec<usize> {
    (0..n).collect()
}

/// The root's blocks of a gatherv / scatterv buffer (`whole`: the root's buffer with
/// its counts and displacements), checked against the root's own contribution
/// `mine`; other ranks have no blocks and must not pass MPI_IN_PLACE (`mine` None).
/// `roles`: what the whole buffer is for ("receive") and what `mine` does ("sends").
fn root_blocks(
    call: &str,
    n: usize,
    me: usize,
    root: usize,
    whole: Option<(B, &[usize], &[usize])>,
    mine: Option<B>,
    roles: (&str, &str),
) -> Result<Vec<B>> {
    if me != root {
        if mine.is_none() {
            return Err(err(
                ErrorClass::Buffer,
                call,
                "MPI_IN_PLACE is only allowed at the root".into(),
            ));
        }
        return Ok(Vec::new());
    }
    let (buf, counts, displs) = whole.ok_or_else(|| {
        err(
            ErrorClass::Buffer,
            call,
            format!("the root needs a {} buffer", roles.0),
        )
    })?;
    let blocks = layout(call, buf, counts, displs, n)?;
    if let Some(m) = mine {
        if m.len != blocks[root].len {
            return Err(err(
                ErrorClass::Count,
                call,
                format!(
                    "root {} {} bytes but its block holds {}",
                    roles.1, m.len, blocks[root].len
                ),
            ));
        }
    }
    Ok(blocks)
}

/// The block of each rank in a buffer laid out by counts and displacements (bytes).
fn layout(call: &str, buf: B, counts: &[usize], displs: &[usize], n: usize) -> Result<Vec<B>> {
    if counts.len() != n || displs.len() != n {
        return Err(err(
            ErrorClass::Arg,
            call,
            format!(
                "counts and displacements need {n} entries, got {} and {}",
                counts.len(),
                displs.len()
            ),
        ));
    }
    (0..n)
        .map(|i| {
            if counts[i] > 0
                && displs[i]
                    .checked_add(counts[i])
                    .map_or(true, |e| e > buf.len)
            {
                Err(err(
                    ErrorClass::Buffer,
                    call,
                    format!(
                        "block of rank {i} ({} bytes at {}) outside the {}-byte buffer",
                        counts[i], displs[i], buf.len
                    ),
                ))
            } else {
                Ok(if counts[i] == 0 {
                    buf.sub(0, 0)
                } else {
                    buf.sub(displs[i], counts[i])
                })
            }
        })
        .collect()
}

fn even(call: &str, len: usize, n: usize) -> Result<usize> {
    if len % n != 0 {
        return Err(err(
            ErrorClass::Count,
            call,
            format!("buffer of {len} bytes does not split into {n} equal blocks"),
        ));
    }
    Ok(len / n)
}

/// The algorithm of `call`'s schedule on `cc`. A schedule is planned as the
/// planner plans a call that can only run as one: nonblocking, with the area
/// [`AreaState::Absent`]. The shared area and the two-rank exchange are the
/// blocking front door's (`*_now`, from [`entry`]), which sends a call here only
/// when it takes neither; so the area's own setup ([`shm_area`]) and the
/// communicator constructors, which run schedules, never reach the area.
fn sched_algo(cc: &CollCtx, call: Call, domains: Option<&[Vec<usize>]>) -> Algo {
    let facts = Facts {
        ranks: cc.size(),
        blocking: false,
        area: AreaState::Absent,
        domains,
        forced: tuning::overrides(),
    };
    match plan::plan(call, &facts) {
        Plan::Sched(a) => a,
        p => unreachable!("{p:?} for a nonblocking call without an area"),
    }
}

// SAFETY contract shared by every builder below: the buffers must stay valid (and
// inputs unchanged, outputs untouched) until the schedule completes.

/// MPI_Barrier.
pub(crate) unsafe fn barrier_sched(cc: CollCtx, domains: Option<&[Vec<usize>]>) -> Result<Sched> {
    let (n, me) = (cc.size(), cc.rank);
    let mut s = Sched::new("MPI_Barrier", cc);
    match sched_algo(s.cc(), Call::Barrier, domains) {
        Algo::TwoLevel => {
            let d = domains.expect("two-level has domains");
            let (di, mi) = locate(d, me);
            let leaders: Vec<usize> = d.iter().map(|x| x[0]).collect();
            algos::fan_in(&mut s, &d[di], mi, 0);
            if mi == 0 {
                algos::barrier_dissemination(&mut s, &leaders, di);
            }
            algos::fan_out(&mut s, &d[di], mi, 0);
        }
        _ => algos::barrier_dissemination(&mut s, &ranks(n), me),
    }
    Ok(s)
}

/// (domain index, index within the domain) of rank `me`.
fn locate(d: &[Vec<usize>], me: usize) -> (usize, usize) {
    for (i, x) in d.iter().enumerate() {
        if let Some(j) = x.iter().position(|&r| r == me) {
            return (i, j);
        }
    }
    panic!("rank {me} in no domain of the partition");
}

/// Domains with `root` moved to the front of its own (it leads that domain).
fn rooted(d: &[Vec<usize>], root: usize) -> Vec<Vec<usize>> {
    d.iter()
        .map(|x| {
            let mut x = x.clone();
            if let Some(p) = x.iter().position(|&r| r == root) {
                x.remove(p);
                x.insert(0, root);
            }
            x
        })
        .collect()
}

/// MPI_Bcast of `buf` from `root`.
pub(crate) unsafe fn bcast(
    cc: CollCtx,
    buf: RawMut,
    root: i32,
    domains: Option<&[Vec<usize>]>,
) -> Result<Sched> {
    let (n, me) = (cc.size(), cc.rank);
    let root = check_root("MPI_Bcast", root, n)?;
    let mut s = Sched::new("MPI_Bcast", cc);
    let b = s.ext(buf.ptr, buf.len);
    let call = Call::Bcast { bytes: buf.len };
    match sched_algo(s.cc(), call, domains) {
        Algo::TwoLevel => {
            let d = rooted(domains.expect("two-level has domains"), root);
            let (di, mi) = locate(&d, me);
            let leaders: Vec<usize> = d.iter().map(|x| x[0]).collect();
            let (rdi, _) = locate(&d, root);
            if mi == 0 {
                algos::bcast_binomial(&mut s, &leaders, di, rdi, b);
            }
            algos::bcast_binomial(&mut s, &d[di], mi, 0, b);
        }
        Algo::ScatterAllgather => algos::bcast_scatter_allgather(&mut s, &ranks(n), me, root, b),
        _ => algos::bcast_binomial(&mut s, &ranks(n), me, root, b),
    }
    Ok(s)
}

/// Gatherv; `equal`: every block has this many bytes and the root's blocks follow
/// each other in rank order (MPI_Gather; what the planner is told).
pub(crate) unsafe fn gatherv_blocks(
    cc: CollCtx,
    send: Option<Raw>,
    recv: Option<(RawMut, &[usize], &[usize])>,
    root: i32,
    call: &'static str,
    equal: Option<usize>,
) -> Result<Sched> {
    let (n, me) = (cc.size(), cc.rank);
    let root = check_root(call, root, n)?;
    let mut s = Sched::new(call, cc);
    let mine = send.map(|r| s.ext(r.ptr, r.len));
    let whole = recv.map(|(r, c, d)| (s.ext(r.ptr, r.len), c, d));
    let blocks = root_blocks(call, n, me, root, whole, mine, ("receive", "sends"))?;
    let algo = sched_algo(s.cc(), Call::Gather { blk: equal }, None);
    debug_assert_eq!(algo, Algo::Linear);
    algos::gatherv_linear(&mut s, n, me, root, mine, &blocks);
    Ok(s)
}

/// MPI_Gather: equal blocks of `recv.len / size` bytes at the root.
pub(crate) unsafe fn gather(
    cc: CollCtx,
    send: Option<Raw>,
    recv: Option<RawMut>,
    root: i32,
) -> Result<Sched> {
    let n = cc.size();
    let call = "MPI_Gather";
    let (counts, displs) = match (&recv, cc.rank as i32 == root) {
        (Some(r), true) => {
            let blk = even(call, r.len, n)?;
            (vec![blk; n], (0..n).map(|i| i * blk).collect())
        }
        _ => (Vec::new(), Vec::new()),
    };
    let blk = match (&send, counts.first()) {
        (_, Some(&b)) => b,
        (Some(m), None) => m.len,
        (None, None) => 0,
    };
    gatherv_blocks(
        cc,
        send,
        recv.map(|r| (r, &counts[..], &displs[..])),
        root,
        call,
        Some(blk),
    )
}

/// Scatterv; `equal`: every block has this many bytes, laid out in rank order from
/// the start of the root's buffer (MPI_Scatter; what the planner is told).
pub(crate) unsafe fn scatterv_blocks(
    cc: CollCtx,
    send: Option<(Raw, &[usize], &[usize])>,
    recv: Option<RawMut>,
    root: i32,
    call: &'static str,
    equal: Option<usize>,
) -> Result<Sched> {
    let (n, me) = (cc.size(), cc.rank);
    let root = check_root(call, root, n)?;
    let mut s = Sched::new(call, cc);
    let mine = recv.map(|r| s.ext(r.ptr, r.len));
    let whole = send.map(|(r, c, d)| (s.ext(r.ptr, r.len), c, d));
    let blocks = root_blocks(call, n, me, root, whole, mine, ("send", "receives"))?;
    let algo = sched_algo(s.cc(), Call::Scatter { blk: equal }, None);
    debug_assert_eq!(algo, Algo::Linear);
    algos::scatterv_linear(&mut s, n, me, root, &blocks, mine);
    Ok(s)
}

/// MPI_Scatter: equal blocks of `send.len / size` bytes from the root.
pub(crate) unsafe fn scatter(
    cc: CollCtx,
    send: Option<Raw>,
    recv: Option<RawMut>,
    root: i32,
) -> Result<Sched> {
    let n = cc.size();
    let call = "MPI_Scatter";
    let (counts, displs) = match (&send, cc.rank as i32 == root) {
        (Some(r), true) => {
            let blk = even(call, r.len, n)?;
            (vec![blk; n], (0..n).map(|i| i * blk).collect())
        }
        _ => (Vec::new(), Vec::new()),
    };
    let blk = match (&recv, counts.first()) {
        (_, Some(&b)) => b,
        (Some(m), None) => m.len,
        (None, None) => 0,
    };
    scatterv_blocks(
        cc,
        send.map(|r| (r, &counts[..], &displs[..])),
        recv,
        root,
        call,
        Some(blk),
    )
}

/// MPI_Allgatherv (byte counts and displacements); `send` None = in place.
pub(crate) unsafe fn allgatherv(
    cc: CollCtx,
    send: Option<Raw>,
    recv: RawMut,
    counts: &[usize],
    displs: &[usize],
    call: &'static str,
) -> Result<Sched> {
    let (n, me) = (cc.size(), cc.rank);
    let mut s = Sched::new(call, cc);
    let rb = s.ext(recv.ptr, recv.len);
    let bl = layout(call, rb, counts, displs, n)?;
    let equal = counts.iter().all(|&c| c == counts[0])
        && displs.iter().enumerate().all(|(i, &d)| d == i * counts[0]);
    let mut mine = None;
    if let Some(m) = send {
        if m.len != bl[me].len {
            return Err(err(
                ErrorClass::Count,
                call,
                format!(
                    "this rank sends {} bytes but its block holds {}",
                    m.len, bl[me].len
                ),
            ));
        }
        mine = Some(s.ext(m.ptr, m.len));
    }
    let blk = equal.then(|| counts.first().copied().unwrap_or(0));
    let algo = sched_algo(s.cc(), Call::Allgather { blk }, None);
    debug_assert_eq!(algo, Algo::Ring);
    algos::allgatherv_ring(&mut s, n, me, &bl, mine);
    Ok(s)
}

/// MPI_Allgather: equal blocks of `recv.len / size` bytes.
pub(crate) unsafe fn allgather(cc: CollCtx, send: Option<Raw>, recv: RawMut) -> Result<Sched> {
    let n = cc.size();
    let blk = even("MPI_Allgather", recv.len, n)?;
    let counts = vec![blk; n];
    let displs: Vec<usize> = (0..n).map(|i| i * blk).collect();
    allgatherv(cc, send, recv, &counts, &displs, "MPI_Allgather")
}

/// MPI_Alltoall: equal blocks of `recv.len / size` bytes; `send` None = in place.
pub(crate) unsafe fn alltoall(cc: CollCtx, send: Option<Raw>, recv: RawMut) -> Result<Sched> {
    let call = "MPI_Alltoall";
    let (n, me) = (cc.size(), cc.rank);
    let blk = even(call, recv.len, n)?;
    let mut s = Sched::new(call, cc);
    let rb = s.ext(recv.ptr, recv.len);
    let sb = match send {
        Some(m) => {
            if m.len != recv.len {
                return Err(err(
                    ErrorClass::Count,
                    call,
                    format!(
                        "send buffer of {} bytes, receive buffer of {}",
                        m.len, recv.len
                    ),
                ));
            }
            s.ext(m.ptr, m.len)
        }
        None => {
            let t = s.tmp(recv.len);
            s.copy(rb, t);
            t
        }
    };
    match sched_algo(s.cc(), Call::Alltoall { blk }, None) {
        Algo::Bruck => algos::alltoall_bruck(&mut s, n, me, sb, rb, blk),
        a => {
            let sbl: Vec<B> = (0..n).map(|i| sb.sub(i * blk, blk)).collect();
            let rbl: Vec<B> = (0..n).map(|i| rb.sub(i * blk, blk)).collect();
            if a == Algo::Scattered {
                algos::alltoallv_scattered(&mut s, n, me, &sbl, &rbl);
            } else {
                algos::alltoallv_pairwise(&mut s, n, me, &sbl, &rbl);
            }
        }
    }
    Ok(s)
}

/// MPI_Alltoallv and, on bytes, MPI_Alltoallw: byte counts and displacements per
/// peer; `send` None = in place (the send layout is the receive layout).
pub(crate) unsafe fn alltoallv(
    cc: CollCtx,
    send: Option<(Raw, &[usize], &[usize])>,
    recv: (RawMut, &[usize], &[usize]),
    call: &'static str,
) -> Result<Sched> {
    let (n, me) = (cc.size(), cc.rank);
    let mut s = Sched::new(call, cc);
    let rb = s.ext(recv.0.ptr, recv.0.len);
    let rbl = layout(call, rb, recv.1, recv.2, n)?;
    let sbl = match send {
        Some((m, c, d)) => {
            let sb = s.ext(m.ptr, m.len);
            layout(call, sb, c, d, n)?
        }
        None => {
            let t = s.tmp(recv.0.len);
            s.copy(rb, t);
            rbl.iter().map(|b| B { slot: t.slot, ..*b }).collect()
        }
    };
    let algo = sched_algo(s.cc(), Call::Alltoallv, None);
    debug_assert_eq!(algo, Algo::Scattered);
    algos::alltoallv_scattered(&mut s, n, me, &sbl, &rbl);
    Ok(s)
}

fn check_red(call: &str, red: &Reduction, len: usize) -> Result<()> {
    if len % red.unit != 0 {
        return Err(err(
            ErrorClass::Count,
            call,
            format!(
                "{len} bytes is not a whole number of {}-byte elements",
                red.unit
            ),
        ));
    }
    Ok(())
}

/// MPI_Reduce to `root`; `send` None = in place (root only); `recv` at the root.
pub(crate) unsafe fn reduce(
    cc: CollCtx,
    red: Reduction,
    send: Option<Raw>,
    recv: Option<RawMut>,
    root: i32,
    domains: Option<&[Vec<usize>]>,
) -> Result<Sched> {
    let call = "MPI_Reduce";
    let (n, me) = (cc.size(), cc.rank);
    let root = check_root(call, root, n)?;
    let commute = red.commutative();
    let mut s = Sched::new(call, cc);
    let out = if me == root {
        let r = recv.ok_or_else(|| {
            err(
                ErrorClass::Buffer,
                call,
                "the root needs a receive buffer".into(),
            )
        })?;
        Some(s.ext(r.ptr, r.len))
    } else {
        None
    };
    let input = match send {
        Some(m) => s.ext(m.ptr, m.len),
        None => out.ok_or_else(|| {
            err(
                ErrorClass::Buffer,
                call,
                "MPI_IN_PLACE is only allowed at the root".into(),
            )
        })?,
    };
    if let Some(o) = out {
        if o.len != input.len {
            return Err(err(
                ErrorClass::Count,
                call,
                format!("send {} bytes, receive {} bytes", input.len, o.len),
            ));
        }
    }
    check_red(call, &red, input.len)?;
    s.set_reduction(red);
    let plan_call = Call::Reduce {
        bytes: input.len,
        commutes: commute,
    };
    match sched_algo(s.cc(), plan_call, domains) {
        Algo::TwoLevel => {
            let d = rooted(domains.expect("two-level has domains"), root);
            let (di, mi) = locate(&d, me);
            let leaders: Vec<usize> = d.iter().map(|x| x[0]).collect();
            let (rdi, _) = locate(&d, root);
            // Leaders reduce their domain into a scratch (the root: into recv).
            let part = if mi == 0 {
                Some(out.unwrap_or_else(|| s.tmp(input.len)))
            } else {
                None
            };
            algos::reduce_binomial(&mut s, &d[di], mi, 0, input, part);
            if let Some(p) = part {
                algos::reduce_binomial(&mut s, &leaders, di, rdi, p, out.or(Some(p)));
            }
        }
        _ => algos::reduce_binomial(&mut s, &ranks(n), me, root, input, out),
    }
    Ok(s)
}

/// MPI_Allreduce; `send` None = in place.
pub(crate) unsafe fn allreduce(
    cc: CollCtx,
    red: Reduction,
    send: Option<Raw>,
    recv: RawMut,
    domains: Option<&[Vec<usize>]>,
) -> Result<Sched> {
    let call = "MPI_Allreduce";
    let (n, me) = (cc.size(), cc.rank);
    let mut s = Sched::new(call, cc);
    let acc = s.ext(recv.ptr, recv.len);
    check_red(call, &red, recv.len)?;
    let input = match send {
        Some(m) => {
            if m.len != recv.len {
                return Err(err(
                    ErrorClass::Count,
                    call,
                    format!("send {} bytes, receive {} bytes", m.len, recv.len),
                ));
            }
            Some(s.ext(m.ptr, m.len))
        }
        None => None,
    };
    let commute = red.commutative();
    let count = recv.len / red.unit;
    s.set_reduction(red);
    let plan_call = Call::Allreduce {
        bytes: recv.len,
        count,
        commutes: commute,
    };
    match sched_algo(s.cc(), plan_call, domains) {
        Algo::TwoLevel => {
            let d = domains.expect("two-level has domains");
            let (di, mi) = locate(d, me);
            let leaders: Vec<usize> = d.iter().map(|x| x[0]).collect();
            let inp = match input {
                Some(i) => i,
                None => {
                    let t = s.tmp(recv.len);
                    s.copy(acc, t);
                    t
                }
            };
            algos::reduce_binomial(&mut s, &d[di], mi, 0, inp, (mi == 0).then_some(acc));
            if mi == 0 {
                // Among the leaders: the table's flat choice for their number.
                let leaders_plan = plan::plan(
                    plan_call,
                    &Facts {
                        ranks: leaders.len(),
                        blocking: false,
                        area: AreaState::Absent,
                        domains: None,
                        forced: tuning::Overrides::default(),
                    },
                );
                let a = leaders_plan.algo().unwrap_or(Algo::RecursiveDoubling);
                flat_allreduce(&mut s, a, &leaders, di, acc);
            }
            algos::bcast_binomial(&mut s, &d[di], mi, 0, acc);
        }
        a => {
            if let Some(i) = input {
                s.copy(i, acc);
            }
            if n == 2 && a == Algo::Rabenseifner {
                // Its two exchanges are both ranks pulling from each other at
                // once: up to 64 KiB halves, eager pieces win (128 KiB: 0.8x).
                s.cut_up_to(tuning::SEGMENT_MAX_EXCHANGE);
            }
            flat_allreduce(&mut s, a, &ranks(n), me, acc);
        }
    }
    Ok(s)
}

fn flat_allreduce(s: &mut Sched, a: Algo, r: &[usize], me: usize, acc: B) {
    match a {
        Algo::Rabenseifner => algos::allreduce_rabenseifner(s, r, me, acc),
        Algo::Ring => algos::allreduce_ring(s, r, me, acc),
        _ => algos::allreduce_recursive_doubling(s, r, me, acc),
    }
}

/// MPI_Reduce_scatter with byte counts per rank; `send` None = in place (the input
/// is `recv`, which then holds all blocks; the result lands at its start).
pub(crate) unsafe fn reduce_scatter(
    cc: CollCtx,
    red: Reduction,
    send: Option<Raw>,
    recv: RawMut,
    counts: &[usize],
    call: &'static str,
) -> Result<Sched> {
    let (n, me) = (cc.size(), cc.rank);
    if counts.len() != n {
        return Err(err(
            ErrorClass::Arg,
            call,
            format!("counts need {n} entries, got {}", counts.len()),
        ));
    }
    let total: usize = counts.iter().sum();
    for &c in counts {
        check_red(call, &red, c)?;
    }
    let mut s = Sched::new(call, cc);
    let rb = s.ext(recv.ptr, recv.len);
    let input = match send {
        Some(m) => {
            if m.len != total {
                return Err(err(
                    ErrorClass::Count,
                    call,
                    format!("send buffer of {} bytes, counts add up to {total}", m.len),
                ));
            }
            if recv.len < counts[me] {
                return Err(err(
                    ErrorClass::Buffer,
                    call,
                    format!(
                        "receive buffer of {} bytes, this rank's block is {}",
                        recv.len, counts[me]
                    ),
                ));
            }
            s.ext(m.ptr, m.len)
        }
        None => {
            if recv.len < total {
                return Err(err(
                    ErrorClass::Buffer,
                    call,
                    format!(
                        "in place: receive buffer of {} bytes, counts add up to {total}",
                        recv.len
                    ),
                ));
            }
            let t = s.tmp(total);
            s.copy(rb.sub(0, total), t);
            t
        }
    };
    let mut displs = vec![0; n];
    for i in 1..n {
        displs[i] = displs[i - 1] + counts[i - 1];
    }
    let blocks: Vec<B> = (0..n).map(|i| input.sub(displs[i], counts[i])).collect();
    let out = rb.sub(0, counts[me]);
    let commute = red.commutative();
    s.set_reduction(red);
    let plan_call = Call::ReduceScatter { commutes: commute };
    if sched_algo(s.cc(), plan_call, None) == Algo::Pairwise {
        algos::reduce_scatter_pairwise(&mut s, n, me, input, &blocks, out);
    } else {
        let all = if me == 0 { s.tmp(total) } else { s.tmp(0) };
        algos::reduce_binomial(&mut s, &ranks(n), me, 0, input, (me == 0).then_some(all));
        let ab: Vec<B> = (0..n)
            .map(|i| all.sub(displs[i].min(all.len), if me == 0 { counts[i] } else { 0 }))
            .collect();
        algos::scatterv_linear(&mut s, n, me, 0, &ab, Some(out));
    }
    Ok(s)
}

/// MPI_Scan (inclusive) or MPI_Exscan; `send` None = in place.
pub(crate) unsafe fn scan(
    cc: CollCtx,
    red: Reduction,
    send: Option<Raw>,
    recv: RawMut,
    exclusive: bool,
) -> Result<Sched> {
    let call = if exclusive { "MPI_Exscan" } else { "MPI_Scan" };
    let (n, me) = (cc.size(), cc.rank);
    check_red(call, &red, recv.len)?;
    let mut s = Sched::new(call, cc);
    let out = s.ext(recv.ptr, recv.len);
    let input = match send {
        Some(m) => {
            if m.len != recv.len {
                return Err(err(
                    ErrorClass::Count,
                    call,
                    format!("send {} bytes, receive {} bytes", m.len, recv.len),
                ));
            }
            s.ext(m.ptr, m.len)
        }
        None => out,
    };
    s.set_reduction(red);
    let algo = sched_algo(s.cc(), Call::Scan, None);
    debug_assert_eq!(algo, Algo::RecursiveDoubling);
    if exclusive {
        algos::scan_recursive_doubling(&mut s, n, me, out, Some(input));
    } else {
        s.copy(input, out);
        algos::scan_recursive_doubling(&mut s, n, me, out, None);
    }
    Ok(s)
}

/// What a blocking call does at its front door.
enum Now<'a> {
    /// Run it on the communicator's area (the call is already counted, as a
    /// schedule would count it).
    Area(&'a shm_area::Area),
    TwoRank,
    /// Build a schedule (the builder asks the planner for its algorithm, with
    /// the domains).
    Sched,
}

/// The planner's verdict on a blocking call on `comm` at its front door: the area
/// as it is now (set up first if this is the communicator's first call that may
/// use it), the forced algorithms. None on an intercommunicator (no shortcut
/// applies); an error where setting the area up failed.
#[inline(always)]
fn plan_now(comm: &Comm, call: Call) -> Option<Result<Now<'_>>> {
    if comm.is_inter() {
        return None;
    }
    // The hot path: a set-up area that takes the call.
    if let Some(Some(a)) = comm.area_tried() {
        if plan::area_takes(call, comm.size() as usize, a.limits(), &tuning::overrides()) {
            comm.skip_call();
            return Some(Ok(Now::Area(a)));
        }
    }
    Some(off_area(comm, call))
}

/// [`plan_now`] past its hot path: the area is not set up, or does not take the
/// call. The communicator's first blocking call that the area may take sets it
/// up (a collective step, of schedules: every rank is at this same call), and is
/// then planned with what came of it.
#[inline(never)]
fn off_area(comm: &Comm, call: Call) -> Result<Now<'_>> {
    let forced = tuning::overrides();
    let ranks = comm.size() as usize;
    let tried = match comm.area_tried() {
        None if plan::may_use_area(call, &forced) => Some(comm.set_up_area()?),
        t => t,
    };
    let area = match tried {
        Some(Some(a)) if plan::area_takes(call, ranks, a.limits(), &forced) => {
            comm.skip_call();
            return Ok(Now::Area(a));
        }
        Some(Some(a)) => AreaState::Ready(a.limits()),
        Some(None) => AreaState::Absent,
        None => AreaState::Untried,
    };
    Ok(verdict(call, ranks, area, forced))
}

/// The plan of a blocking call that the area does not take.
fn verdict(call: Call, ranks: usize, area: AreaState, forced: tuning::Overrides) -> Now<'static> {
    let facts = Facts {
        ranks,
        blocking: true,
        area,
        // Only the schedule's algorithm depends on them: the builder plans again.
        domains: None,
        forced,
    };
    match plan::plan(call, &facts) {
        Plan::Area => unreachable!("the area's verdict came first"),
        Plan::TwoRank(_) => Now::TwoRank,
        Plan::Sched(_) => Now::Sched,
    }
}

/// MPI_Bcast straight through the shared area or, on two ranks, posted straight
/// to the engine ([`two_rank`]), where the planner says so; None: build a schedule.
fn bcast_now(comm: &Comm, buf: &mut [u8], root: i32) -> Option<Result<()>> {
    let call = "MPI_Bcast";
    match plan_now(comm, Call::Bcast { bytes: buf.len() })? {
        Ok(Now::Area(area)) => {
            Some(check_root(call, root, area.size()).and_then(|r| area.bcast(call, r, buf)))
        }
        Ok(Now::TwoRank) => two_rank::bcast(comm, buf, root),
        Ok(Now::Sched) => None,
        Err(e) => Some(Err(e)),
    }
}

/// MPI_Allreduce straight through the shared area (`send` None: in place), where
/// the planner says so (None: build a schedule).
fn allreduce_now(
    comm: &Comm,
    red: &Reduction,
    send: Option<&[u8]>,
    recv: &mut [u8],
) -> Option<Result<()>> {
    let call = "MPI_Allreduce";
    let plan_call = Call::Allreduce {
        bytes: recv.len(),
        count: recv.len() / red.unit,
        commutes: red.commutative(),
    };
    let area = match plan_now(comm, plan_call)? {
        Ok(Now::Area(a)) => a,
        Ok(_) => return None,
        Err(e) => return Some(Err(e)),
    };
    let mut run = || {
        if let Some(m) = send {
            if m.len() != recv.len() {
                return Err(err(
                    ErrorClass::Count,
                    call,
                    format!("send {} bytes, receive {} bytes", m.len(), recv.len()),
                ));
            }
        }
        check_red(call, red, recv.len())?;
        area.allreduce(call, red, send, recv)
    };
    Some(run())
}

/// MPI_Reduce straight through the shared area (`send` None: in place at the
/// root; `recv` at the root) or, on two ranks, posted straight to the engine
/// ([`two_rank`]), where the planner says so; None: build a schedule.
fn reduce_now(
    comm: &Comm,
    red: &Reduction,
    send: Option<&[u8]>,
    recv: Option<&mut [u8]>,
    root: i32,
) -> Option<Result<()>> {
    let call = "MPI_Reduce";
    let bytes = send.map(|m| m.len()).or(recv.as_ref().map(|r| r.len()))?;
    let plan_call = Call::Reduce {
        bytes,
        commutes: red.commutative(),
    };
    let area = match plan_now(comm, plan_call)? {
        Ok(Now::Area(a)) => a,
        Ok(Now::TwoRank) => return two_rank::reduce(comm, red, send, recv, root),
        Ok(Now::Sched) => return None,
        Err(e) => return Some(Err(e)),
    };
    let run = || {
        let root = check_root(call, root, area.size())?;
        let me_root = comm.rank as usize == root;
        if me_root && recv.is_none() {
            return Err(err(
                ErrorClass::Buffer,
                call,
                "the root needs a receive buffer".into(),
            ));
        }
        if send.is_none() && !me_root {
            return Err(err(
                ErrorClass::Buffer,
                call,
                "MPI_IN_PLACE is only allowed at the root".into(),
            ));
        }
        let recv = recv.filter(|_| me_root);
        if let (Some(m), Some(r)) = (send, recv.as_ref()) {
            if m.len() != r.len() {
                return Err(err(
                    ErrorClass::Count,
                    call,
                    format!("send {} bytes, receive {} bytes", m.len(), r.len()),
                ));
            }
        }
        check_red(call, red, bytes)?;
        area.reduce(call, red, root, send, recv)
    };
    Some(run())
}

fn buffer_err(call: &str, what: &str) -> Error {
    err(ErrorClass::Buffer, call, what.into())
}

fn block_len_err(call: &str, who: &str, sends: usize, holds: usize) -> Error {
    err(
        ErrorClass::Count,
        call,
        format!("{who} {sends} bytes but its block holds {holds}"),
    )
}

/// MPI_Gather (`call`: or the front end's gatherv of equal blocks in rank order)
/// straight through the shared area (`send` None: in place at the root; `recv`:
/// the root's `size` blocks), where the planner says so.
fn gather_now(
    comm: &Comm,
    call: &str,
    send: Option<&[u8]>,
    recv: Option<&mut [u8]>,
    root: i32,
) -> Option<Result<()>> {
    let n = comm.size() as usize;
    let me_root = comm.rank == root;
    let blk = match (me_root, &recv, send) {
        (true, Some(r), _) => r.len() / n,
        (false, _, Some(m)) => m.len(),
        _ => return None,
    };
    let area = match plan_now(comm, Call::Gather { blk: Some(blk) })? {
        Ok(Now::Area(a)) => a,
        Ok(_) => return None,
        Err(e) => return Some(Err(e)),
    };
    let run = || {
        let root = check_root(call, root, n)?;
        let recv = recv.filter(|_| me_root);
        if me_root {
            even(call, recv.as_ref().map_or(0, |r| r.len()), n)?;
        }
        match send {
            None if !me_root => {
                return Err(buffer_err(call, "MPI_IN_PLACE is only allowed at the root"))
            }
            Some(m) if me_root && m.len() != blk => {
                return Err(block_len_err(call, "root sends", m.len(), blk))
            }
            _ => {}
        }
        area.gather(call, root, send, recv, blk)
    };
    Some(run())
}

/// MPI_Scatter (`call`: or the front end's scatterv of equal blocks in rank
/// order) straight through the shared area (`send`: the root's `size` blocks;
/// `recv` None: in place at the root), where the planner says so.
fn scatter_now(
    comm: &Comm,
    call: &str,
    send: Option<&[u8]>,
    recv: Option<&mut [u8]>,
    root: i32,
) -> Option<Result<()>> {
    let n = comm.size() as usize;
    let me_root = comm.rank == root;
    let blk = match (me_root, send, &recv) {
        (true, Some(w), _) => w.len() / n,
        (false, _, Some(m)) => m.len(),
        _ => return None,
    };
    let area = match plan_now(comm, Call::Scatter { blk: Some(blk) })? {
        Ok(Now::Area(a)) => a,
        Ok(_) => return None,
        Err(e) => return Some(Err(e)),
    };
    let run = || {
        let root = check_root(call, root, n)?;
        let send = send.filter(|_| me_root);
        if me_root {
            even(call, send.map_or(0, |w| w.len()), n)?;
        }
        match &recv {
            None if !me_root => {
                return Err(buffer_err(call, "MPI_IN_PLACE is only allowed at the root"))
            }
            Some(m) if me_root && m.len() != blk => {
                return Err(block_len_err(call, "root receives", m.len(), blk))
            }
            _ => {}
        }
        area.scatter(call, root, send, recv, blk)
    };
    Some(run())
}

/// MPI_Allgather (`call`: or an allgatherv of equal blocks in rank order)
/// straight through the shared area (`send` None: in place) or, on two ranks,
/// posted straight to the engine ([`two_rank`]), where the planner says so.
fn allgather_now(
    comm: &Comm,
    call: &str,
    send: Option<&[u8]>,
    recv: &mut [u8],
) -> Option<Result<()>> {
    let n = comm.size() as usize;
    let blk = recv.len() / n;
    let area = match plan_now(comm, Call::Allgather { blk: Some(blk) })? {
        Ok(Now::Area(a)) => a,
        Ok(Now::TwoRank) => return two_rank::allgather(comm, send, recv),
        Ok(Now::Sched) => return None,
        Err(e) => return Some(Err(e)),
    };
    let mut run = || {
        even(call, recv.len(), n)?;
        if let Some(m) = send {
            if m.len() != blk {
                return Err(block_len_err(call, "this rank sends", m.len(), blk));
            }
        }
        area.allgather(call, send, recv, blk)
    };
    Some(run())
}

/// MPI_Alltoall straight through the shared area (`send` None: in place) or, on
/// two ranks, posted straight to the engine ([`two_rank`]), where the planner
/// says so.
fn alltoall_now(comm: &Comm, send: Option<&[u8]>, recv: &mut [u8]) -> Option<Result<()>> {
    let call = "MPI_Alltoall";
    let n = comm.size() as usize;
    let blk = recv.len() / n.max(1);
    let area = match plan_now(comm, Call::Alltoall { blk })? {
        Ok(Now::Area(a)) => a,
        Ok(Now::TwoRank) => return two_rank::alltoall(comm, send, recv),
        Ok(Now::Sched) => return None,
        Err(e) => return Some(Err(e)),
    };
    let mut run = || {
        let blk = even(call, recv.len(), n)?;
        if let Some(m) = send {
            if m.len() != recv.len() {
                return Err(err(
                    ErrorClass::Count,
                    call,
                    format!(
                        "send buffer of {} bytes, receive buffer of {}",
                        m.len(),
                        recv.len()
                    ),
                ));
            }
        }
        area.alltoall(call, send, recv, blk)
    };
    Some(run())
}

/// MPI_Barrier through the shared area, where the planner says so (None: build
/// a schedule).
fn barrier_now(comm: &Comm) -> Option<Result<()>> {
    match plan_now(comm, Call::Barrier)? {
        Ok(Now::Area(area)) => Some(area.barrier("MPI_Barrier")),
        Ok(_) => None,
        Err(e) => Some(Err(e)),
    }
}

/// MPI_Barrier on a communicator, blocking.
pub fn barrier(comm: &Comm) -> Result<()> {
    // SAFETY: a barrier has no buffers.
    unsafe { entry::run(comm, Args::Barrier) }
}
