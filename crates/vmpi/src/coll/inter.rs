//! Collectives on intercommunicators (MPI-3.1 §5.2.2): the schedules of every
//! collective the standard defines between two groups (barrier, bcast, gather(v),
//! scatter(v), allgather(v), alltoall(v/w), reduce, allreduce, reduce_scatter(_block));
//! scan and exscan are not defined there and fail with `ErrorClass::Comm`.
//!
//! Each call is one [`Sched`] on the intercommunicator's collective context, whose
//! group is the local group followed by the remote group ([`CollCtx::far`]): local
//! members are reached with the local tag (the call's sequence number with
//! `TAG_INTER_LOCAL`), remote ones with the call's plain sequence number. Both
//! groups number their calls alike (every member makes the same collective calls
//! in the same order), so the two sides' tags meet and never match any other
//! call's messages, nor the constructors' leader exchanges (`TAG_CONSTRUCT`).
//! The schedules are the local group's intracommunicator algorithms ([`algos`])
//! plus point-to-point steps between the groups: leader to leader (barrier,
//! allreduce, reduce_scatter), root to the remote leader (bcast), every rank to
//! the remote leader (reduce, allgather(v), then a broadcast in that group), or
//! every rank to every remote rank (gather, scatter, alltoall). Rooted calls name
//! the root as the standard says: `ROOT` at the root, `PROC_NULL` at the other
//! members of its group (they take no part), the root's rank in the remote group
//! at the members of the other group. Entered only from [`super::entry`]; the
//! shared area and the two-rank exchange never take these calls.

use super::sched::Far;
use super::{
    algos, check_red, err, even, layout, plan, tuning, Args, CollCtx, Raw, RawMut, Reduction,
    Sched, B,
};
use crate::comm::{Comm, SEQ_MASK};
use crate::error::{ErrorClass, Result};
use crate::p2p::PROC_NULL;
use plan::{AreaState, Call, Facts, Plan};
use tuning::Algo;

/// MPI_ROOT: the root of a rooted collective on an intercommunicator names
/// itself so (MPICH's value).
pub const ROOT: i32 = -3;

/// A rank's part in a rooted call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The root (`ROOT`).
    Root,
    /// A member of the root's group other than the root (`PROC_NULL`): no part.
    Idle,
    /// A member of the other group; the root's rank in the remote group.
    Leaf(usize),
}

fn part(call: &str, root: i32, remote: usize) -> Result<Part> {
    match root {
        ROOT => Ok(Part::Root),
        PROC_NULL => Ok(Part::Idle),
        r if r >= 0 && (r as usize) < remote => Ok(Part::Leaf(r as usize)),
        r => Err(err(
            ErrorClass::Root,
            call,
            format!(
                "invalid root {r} on an intercommunicator (MPI_ROOT, MPI_PROC_NULL or a rank of the remote group of size {remote})"
            ),
        )),
    }
}

/// The shape of one call's schedule: local size, remote size, this rank.
#[derive(Clone, Copy)]
struct Sides {
    l: usize,
    r: usize,
    me: usize,
}

impl Sides {
    /// Member index of remote rank `j`.
    fn far(&self, j: usize) -> usize {
        self.l + j
    }
    fn local(&self) -> Vec<usize> {
        (0..self.l).collect()
    }
}

/// The next call's context on `comm`: the local group followed by the remote one.
fn context(comm: &Comm) -> (CollCtx, Sides) {
    let local = comm.coll();
    let remote = comm.remote.clone().expect("an intercommunicator");
    let l = local.group.len();
    let sides = Sides {
        l,
        r: remote.len(),
        me: local.rank,
    };
    let group = local.group.iter().chain(remote.iter()).copied().collect();
    let far = Far {
        from: l,
        tag: local.tag & SEQ_MASK as i32,
    };
    let cc = CollCtx {
        group,
        far: Some(far),
        ..local
    };
    (cc, sides)
}

/// The table's algorithm for `call` run inside one group of `ranks` members.
fn local_algo(call: Call, ranks: usize) -> Option<Algo> {
    let facts = Facts {
        ranks,
        blocking: false,
        area: AreaState::Absent,
        domains: None,
        forced: tuning::overrides(),
    };
    match plan::plan(call, &facts) {
        Plan::Sched(a) => Some(a),
        _ => None,
    }
}

/// Broadcast `b` from the local leader to the local group.
fn local_bcast(s: &mut Sched, sd: Sides, b: B) {
    match local_algo(Call::Bcast { bytes: b.len }, sd.l) {
        Some(Algo::ScatterAllgather) => algos::bcast_scatter_allgather(s, &sd.local(), sd.me, 0, b),
        _ => algos::bcast_binomial(s, &sd.local(), sd.me, 0, b),
    }
}

fn no_in_place(call: &str) -> crate::error::Error {
    err(
        ErrorClass::Buffer,
        call,
        "MPI_IN_PLACE is not allowed on an intercommunicator".into(),
    )
}

/// The schedule of `args` on the intercommunicator `comm`.
///
/// # Safety
/// As for [`super::run`], until the schedule completes.
pub(super) unsafe fn build(comm: &Comm, args: Args<'_>) -> Result<Sched> {
    let call = args.call();
    if let Args::Scan { .. } = args {
        return Err(err(
            ErrorClass::Comm,
            call,
            "not defined on intercommunicators (MPI-3.1 §5.11)".into(),
        ));
    }
    let (cc, sd) = context(comm);
    let mut s = Sched::new(call, cc);
    match args {
        Args::Barrier => barrier(&mut s, sd),
        Args::Bcast { buf, root } => {
            let b = s.ext(buf.ptr, buf.len);
            match part(call, root, sd.r)? {
                Part::Root => {
                    s.send(sd.far(0), b);
                    s.fence();
                }
                Part::Idle => {}
                Part::Leaf(r) => {
                    if sd.me == 0 {
                        s.recv(sd.far(r), b);
                        s.fence();
                    }
                    local_bcast(&mut s, sd, b);
                }
            }
        }
        Args::Gather { send, recv, root } => {
            let blocks = match (part(call, root, sd.r)?, recv) {
                (Part::Root, Some(r)) => {
                    let blk = even(call, r.len, sd.r)?;
                    let counts = vec![blk; sd.r];
                    let displs: Vec<usize> = (0..sd.r).map(|i| i * blk).collect();
                    Some((r, counts, displs))
                }
                _ => None,
            };
            let recv = blocks.as_ref().map(|(r, c, d)| (*r, &c[..], &d[..]));
            gatherv(&mut s, sd, call, send, recv, root)?;
        }
        Args::Gatherv {
            send, recv, root, ..
        } => gatherv(&mut s, sd, call, send, recv, root)?,
        Args::Scatter { send, recv, root } => {
            let blocks = match (part(call, root, sd.r)?, send) {
                (Part::Root, Some(w)) => {
                    let blk = even(call, w.len, sd.r)?;
                    let counts = vec![blk; sd.r];
                    let displs: Vec<usize> = (0..sd.r).map(|i| i * blk).collect();
                    Some((w, counts, displs))
                }
                _ => None,
            };
            let send = blocks.as_ref().map(|(w, c, d)| (*w, &c[..], &d[..]));
            scatterv(&mut s, sd, call, send, recv, root)?;
        }
        Args::Scatterv {
            send, recv, root, ..
        } => scatterv(&mut s, sd, call, send, recv, root)?,
        Args::Allgather { send, recv } => {
            let blk = even(call, recv.len, sd.r)?;
            let counts = vec![blk; sd.r];
            let displs: Vec<usize> = (0..sd.r).map(|i| i * blk).collect();
            allgatherv(&mut s, sd, call, send, (recv, &counts, &displs))?;
        }
        Args::Allgatherv { send, recv, .. } => allgatherv(&mut s, sd, call, send, recv)?,
        Args::Alltoall { send, recv } => {
            let send = send.ok_or_else(|| no_in_place(call))?;
            let (sb, rb) = (even(call, send.len, sd.r)?, even(call, recv.len, sd.r)?);
            let at = |b: usize| (0..sd.r).map(|i| i * b).collect::<Vec<_>>();
            let (sc, rc) = (vec![sb; sd.r], vec![rb; sd.r]);
            let (sdp, rdp) = (at(sb), at(rb));
            alltoallv(&mut s, sd, call, Some((send, &sc, &sdp)), (recv, &rc, &rdp))?;
        }
        Args::Alltoallv { send, recv, .. } => alltoallv(&mut s, sd, call, send, recv)?,
        Args::Reduce {
            red,
            send,
            recv,
            root,
        } => reduce(&mut s, sd, call, red, send, recv, root)?,
        Args::Allreduce { red, send, recv } => allreduce(&mut s, sd, call, red, send, recv)?,
        Args::ReduceScatter {
            red,
            send,
            recv,
            counts,
            ..
        } => reduce_scatter(&mut s, sd, call, red, send, recv, counts)?,
        Args::Scan { .. } => unreachable!("refused above"),
    }
    Ok(s)
}

/// Every member of one group has entered once its leader has heard from all of
/// them; the leaders swap that news, then release their groups.
fn barrier(s: &mut Sched, sd: Sides) {
    let local = sd.local();
    algos::fan_in(s, &local, sd.me, 0);
    if sd.me == 0 {
        let z = s.tmp(0);
        s.sendrecv(sd.far(0), z, z);
        s.fence();
    }
    algos::fan_out(s, &local, sd.me, 0);
}

/// Gather(v): each member of the other group sends its block straight to the
/// root, which receives them by remote rank.
unsafe fn gatherv(
    s: &mut Sched,
    sd: Sides,
    call: &str,
    send: Option<Raw>,
    recv: Option<(RawMut, &[usize], &[usize])>,
    root: i32,
) -> Result<()> {
    match part(call, root, sd.r)? {
        Part::Root => {
            let (r, c, d) = recv.ok_or_else(|| {
                err(
                    ErrorClass::Buffer,
                    call,
                    "the root needs a receive buffer".into(),
                )
            })?;
            let rb = s.ext(r.ptr, r.len);
            let blocks = layout(call, rb, c, d, sd.r)?;
            for (j, &b) in blocks.iter().enumerate() {
                if b.len > 0 {
                    s.recv(sd.far(j), b);
                }
            }
            s.fence();
        }
        Part::Idle => {}
        Part::Leaf(r) => {
            let m = send.ok_or_else(|| no_in_place(call))?;
            if m.len > 0 {
                let b = s.ext(m.ptr, m.len);
                s.send(sd.far(r), b);
                s.fence();
            }
        }
    }
    Ok(())
}

/// Scatter(v): the root sends each member of the other group its block.
unsafe fn scatterv(
    s: &mut Sched,
    sd: Sides,
    call: &str,
    send: Option<(Raw, &[usize], &[usize])>,
    recv: Option<RawMut>,
    root: i32,
) -> Result<()> {
    match part(call, root, sd.r)? {
        Part::Root => {
            let (w, c, d) = send.ok_or_else(|| {
                err(
                    ErrorClass::Buffer,
                    call,
                    "the root needs a send buffer".into(),
                )
            })?;
            let sb = s.ext(w.ptr, w.len);
            let blocks = layout(call, sb, c, d, sd.r)?;
            for (j, &b) in blocks.iter().enumerate() {
                if b.len > 0 {
                    s.send(sd.far(j), b);
                }
            }
            s.fence();
        }
        Part::Idle => {}
        Part::Leaf(r) => {
            let m = recv.ok_or_else(|| no_in_place(call))?;
            if m.len > 0 {
                let b = s.ext(m.ptr, m.len);
                s.recv(sd.far(r), b);
                s.fence();
            }
        }
    }
    Ok(())
}

/// Allgather(v): every member sends its block to the remote leader; each leader
/// gathers the other group's blocks (in remote rank order, packed unless the
/// blocks already lie so in its buffer) and broadcasts them in its group, where
/// each member puts them in its own layout.
unsafe fn allgatherv(
    s: &mut Sched,
    sd: Sides,
    call: &str,
    send: Option<Raw>,
    recv: (RawMut, &[usize], &[usize]),
) -> Result<()> {
    let m = send.ok_or_else(|| no_in_place(call))?;
    let (r, counts, displs) = recv;
    let rb = s.ext(r.ptr, r.len);
    let blocks = layout(call, rb, counts, displs, sd.r)?;
    let total: usize = counts.iter().sum();
    let mut at = 0;
    let in_order = blocks.iter().all(|b| {
        let ok = b.len == 0 || b.off == at;
        at += b.len;
        ok
    }) && total <= rb.len;
    let packed = if in_order {
        rb.sub(0, total)
    } else {
        s.tmp(total)
    };
    let mut offs = Vec::with_capacity(sd.r);
    let mut at = 0;
    for &c in counts {
        offs.push(at);
        at += c;
    }
    if sd.me == 0 {
        for j in 0..sd.r {
            if counts[j] > 0 {
                s.recv(sd.far(j), packed.sub(offs[j], counts[j]));
            }
        }
    }
    if m.len > 0 {
        let mb = s.ext(m.ptr, m.len);
        s.send(sd.far(0), mb);
    }
    s.fence();
    local_bcast(s, sd, packed);
    if !in_order {
        for j in 0..sd.r {
            s.copy(packed.sub(offs[j], counts[j]), blocks[j]);
        }
    }
    Ok(())
}

/// Alltoall(v/w): every member sends each remote rank its block and receives
/// one from each, all at once (starting from its own rank, so that the remote
/// ranks are not all asked by the same first sender).
unsafe fn alltoallv(
    s: &mut Sched,
    sd: Sides,
    call: &str,
    send: Option<(Raw, &[usize], &[usize])>,
    recv: (RawMut, &[usize], &[usize]),
) -> Result<()> {
    let (w, sc, sdp) = send.ok_or_else(|| no_in_place(call))?;
    let rb = s.ext(recv.0.ptr, recv.0.len);
    let rbl = layout(call, rb, recv.1, recv.2, sd.r)?;
    let sb = s.ext(w.ptr, w.len);
    let sbl = layout(call, sb, sc, sdp, sd.r)?;
    for k in 0..sd.r {
        let j = (sd.me + k) % sd.r;
        if rbl[j].len > 0 {
            s.recv(sd.far(j), rbl[j]);
        }
    }
    for k in 0..sd.r {
        let j = (sd.me + k) % sd.r;
        if sbl[j].len > 0 {
            s.send(sd.far(j), sbl[j]);
        }
    }
    s.fence();
    Ok(())
}

/// Reduce the group's inputs (`input`) to the local leader, into scratch there
/// (in rank order for operations that do not commute); the scratch at the
/// leader.
fn reduce_to_leader(s: &mut Sched, sd: Sides, input: B) -> Option<B> {
    let acc = (sd.me == 0).then(|| s.tmp(input.len));
    algos::reduce_binomial(s, &sd.local(), sd.me, 0, input, acc);
    acc
}

/// Reduce: the other group reduces to its leader, which sends the result to
/// the root.
unsafe fn reduce(
    s: &mut Sched,
    sd: Sides,
    call: &str,
    red: &Reduction,
    send: Option<Raw>,
    recv: Option<RawMut>,
    root: i32,
) -> Result<()> {
    s.set_reduction(red.clone());
    match part(call, root, sd.r)? {
        Part::Root => {
            let r = recv.ok_or_else(|| {
                err(
                    ErrorClass::Buffer,
                    call,
                    "the root needs a receive buffer".into(),
                )
            })?;
            check_red(call, red, r.len)?;
            let out = s.ext(r.ptr, r.len);
            s.recv(sd.far(0), out);
            s.fence();
        }
        Part::Idle => {}
        Part::Leaf(r) => {
            let m = send.ok_or_else(|| no_in_place(call))?;
            check_red(call, red, m.len)?;
            let input = s.ext(m.ptr, m.len);
            if let Some(acc) = reduce_to_leader(s, sd, input) {
                s.send(sd.far(r), acc);
                s.fence();
            }
        }
    }
    Ok(())
}

/// Allreduce: each group reduces to its leader, the leaders swap their
/// results, and each broadcasts the other group's result in its own.
unsafe fn allreduce(
    s: &mut Sched,
    sd: Sides,
    call: &str,
    red: &Reduction,
    send: Option<Raw>,
    recv: RawMut,
) -> Result<()> {
    let m = send.ok_or_else(|| no_in_place(call))?;
    if m.len != recv.len {
        return Err(err(
            ErrorClass::Count,
            call,
            format!("send {} bytes, receive {} bytes", m.len, recv.len),
        ));
    }
    check_red(call, red, recv.len)?;
    s.set_reduction(red.clone());
    let input = s.ext(m.ptr, m.len);
    let out = s.ext(recv.ptr, recv.len);
    if let Some(acc) = reduce_to_leader(s, sd, input) {
        s.sendrecv(sd.far(0), acc, out);
        s.fence();
    }
    local_bcast(s, sd, out);
    Ok(())
}

/// Reduce_scatter(_block): each group reduces its vectors (the sum of its
/// counts) to its leader, the leaders swap them, and each scatters the other
/// group's result in its group by its counts (one per local rank).
unsafe fn reduce_scatter(
    s: &mut Sched,
    sd: Sides,
    call: &str,
    red: &Reduction,
    send: Option<Raw>,
    recv: RawMut,
    counts: &[usize],
) -> Result<()> {
    if counts.len() != sd.l {
        return Err(err(
            ErrorClass::Arg,
            call,
            format!(
                "counts need {} entries (the local group), got {}",
                sd.l,
                counts.len()
            ),
        ));
    }
    let m = send.ok_or_else(|| no_in_place(call))?;
    let total: usize = counts.iter().sum();
    for &c in counts {
        check_red(call, red, c)?;
    }
    if m.len != total {
        return Err(err(
            ErrorClass::Count,
            call,
            format!("send buffer of {} bytes, counts add up to {total}", m.len),
        ));
    }
    if recv.len < counts[sd.me] {
        return Err(err(
            ErrorClass::Buffer,
            call,
            format!(
                "receive buffer of {} bytes, this rank's block is {}",
                recv.len, counts[sd.me]
            ),
        ));
    }
    s.set_reduction(red.clone());
    let input = s.ext(m.ptr, m.len);
    let out = s.ext(recv.ptr, recv.len).sub(0, counts[sd.me]);
    let mut blocks = Vec::new();
    if let Some(acc) = reduce_to_leader(s, sd, input) {
        let theirs = s.tmp(total);
        s.sendrecv(sd.far(0), acc, theirs);
        s.fence();
        let mut at = 0;
        for &c in counts {
            blocks.push(theirs.sub(at, c));
            at += c;
        }
    }
    algos::scatterv_linear(s, sd.l, sd.me, 0, &blocks, Some(out));
    Ok(())
}
