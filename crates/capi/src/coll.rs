//! Collectives in C: every MPI-3.1 collective, blocking and nonblocking (`MPI_I*`,
//! whose requests complete through MPI_Wait/Test like any other). Arguments are
//! checked as MPICH does (communicator, root, counts, datatypes, buffers, where
//! MPI_IN_PLACE may appear, aliased buffers). The core (`vmpi::coll`) works on
//! contiguous bytes: a buffer of a contiguous datatype goes in as it is; any other
//! is packed into a temporary (inputs) or received into one and unpacked when the
//! collective completes (outputs; the `Fixup` of the request for the I-forms).
//! Reductions work on the representation `op::RedSpec` picks. Intercommunicators
//! take every collective MPI defines on them (the core's `coll::inter`): rooted
//! calls name the root with MPI_ROOT / MPI_PROC_NULL / a remote rank, arrays of
//! one entry per peer have one per remote rank (reduce_scatter's counts: one per
//! local rank), MPI_IN_PLACE is refused, and the arguments MPI calls
//! insignificant (the root's send side of a gather, every buffer at an
//! MPI_PROC_NULL rank) are not read. MPI_Scan and MPI_Exscan: MPI_ERR_COMM.

use crate::consts::*;
use crate::dtype::{
    add_fixup, check_count, for_comm, out, recv_target, send_data, Datatype, Fixup, SendData, Wide,
};
use crate::err::{err, fail, R};
use crate::op::{spec, RedSpec, Rep};
use crate::req::{Kind, ReqObj, Spec};
use crate::state::{self, st};
use std::ffi::c_void;
use std::os::raw::c_int;
use std::sync::Arc;
use vmpi::sys::coll::{self as core, Args, Raw, RawMut};
use vmpi::sys::comm::Comm;
use vmpi::sys::p2p::ReqId;

pub const MPI_ERR_ROOT: c_int = 7;

fn in_place(p: *const c_void) -> bool {
    p as usize == usize::MAX
}

/// What a builder does with the call's arguments for the core's one entry point
/// ([`Args`], which borrow the byte counts and the reduction the builder made):
/// run the blocking call, or start the nonblocking one behind `request` (the
/// user's `comm`, for the request's record); for a persistent collective, only
/// check the arguments (its init call), or start it and hand back the engine
/// request (each MPI_Start).
#[derive(Clone, Copy)]
pub(crate) enum Then {
    Run,
    Start(MPI_Comm, *mut MPI_Request),
    Check,
    Into(*mut Option<ReqId>),
}

/// The communicator behind `comm`, intra or inter (the core's entry point takes
/// both).
fn coll_comm(call: &str, comm: MPI_Comm) -> R<Comm> {
    state::with_comm(call, comm, |c| Ok(c.clone()))
}

pub(crate) fn root_ok(c: &Comm, root: c_int) -> R<()> {
    if root < 0 || root >= c.size() {
        return fail(
            MPI_ERR_ROOT,
            format!("invalid root {root} (communicator size {})", c.size()),
        );
    }
    Ok(())
}

/// This rank's part in a call rooted at `root`: (is the root, takes no part).
/// On an intercommunicator the root passes MPI_ROOT, the rest of its group
/// MPI_PROC_NULL (no part), the other group the root's remote rank.
fn rooted(c: &Comm, root: c_int) -> R<(bool, bool)> {
    if !c.is_inter() {
        root_ok(c, root)?;
        return Ok((c.rank == root, false));
    }
    match root {
        MPI_ROOT => Ok((true, false)),
        MPI_PROC_NULL => Ok((false, true)),
        r if (0..c.peer_size()).contains(&r) => Ok((false, false)),
        r => fail(
            MPI_ERR_ROOT,
            format!(
                "invalid root {r} on an intercommunicator (MPI_ROOT, MPI_PROC_NULL or a rank of the remote group of size {})",
                c.peer_size()
            ),
        ),
    }
}

/// MPI_IN_PLACE is not defined on intercommunicators.
fn inter_no_in_place(c: &Comm, p: *const c_void, what: &str) -> R<()> {
    if c.is_inter() && in_place(p) {
        return fail(
            MPI_ERR_BUFFER,
            format!("MPI_IN_PLACE as {what} is not allowed on an intercommunicator"),
        );
    }
    Ok(())
}

/// Is `p` MPI_IN_PLACE? Only the root may pass it (for `what`).
fn root_in_place(p: *const c_void, me_root: bool, what: &str) -> R<bool> {
    if in_place(p) && !me_root {
        return fail(
            MPI_ERR_BUFFER,
            format!("MPI_IN_PLACE as {what} is only allowed at the root"),
        );
    }
    Ok(in_place(p))
}

fn no_in_place(p: *const c_void, what: &str) -> R<()> {
    if in_place(p) {
        return fail(
            MPI_ERR_BUFFER,
            format!("MPI_IN_PLACE is not allowed as {what} here"),
        );
    }
    Ok(())
}

fn no_alias(a: *const c_void, b: *const c_void, n: usize) -> R<()> {
    if n > 0 && a == b && !a.is_null() {
        return fail(
            MPI_ERR_BUFFER,
            "sendbuf and recvbuf are the same buffer (use MPI_IN_PLACE)",
        );
    }
    Ok(())
}

#[derive(Default)]
struct Prep {
    f: Fixup,
}

impl Prep {
    unsafe fn input(&mut self, buf: *const c_void, n: MPI_Count, dt: MPI_Datatype) -> R<Raw> {
        let d = send_data(buf as *const u8, n, dt)?;
        let (ptr, len) = d.ptr_len();
        if let SendData::Packed(v) = d {
            self.f.keep.push(v);
        }
        Ok(Raw { ptr, len })
    }
    unsafe fn output(
        &mut self,
        buf: *mut c_void,
        n: MPI_Count,
        dt: MPI_Datatype,
        preload: bool,
    ) -> R<RawMut> {
        let (ptr, len, fx) = recv_target(buf as *mut u8, n, dt)?;
        if preload && !fx.is_empty() {
            let t = for_comm(dt)?;
            t.pack_range(
                buf as *const u8,
                n as usize,
                0,
                std::slice::from_raw_parts_mut(ptr, len),
            );
        }
        self.f.keep.extend(fx.keep);
        // A collective's request reports no byte count: unpack everything.
        self.f.then.extend(
            fx.then
                .into_iter()
                .map(|g| Box::new(move |_: usize| g(usize::MAX)) as Box<dyn FnOnce(usize) + Send>),
        );
        Ok(RawMut { ptr, len })
    }
    /// Blocks at byte displacements `displs` of `buf`, `counts[i]` elements of
    /// `types[i]` each: (buffer, byte counts, byte displacements) in one run.
    /// `buf` may be MPI_BOTTOM (null) when the blocks hold absolute addresses, by
    /// the rule point-to-point follows too (`dtype::addressable`).
    unsafe fn blocks(
        &mut self,
        buf: *mut c_void,
        counts: &[usize],
        displs: &[i64],
        types: &[Datatype],
        output: bool,
        preload: bool,
    ) -> R<(RawMut, Vec<usize>, Vec<usize>)> {
        let n = counts.len();
        let cb: Vec<usize> = (0..n)
            .map(|i| counts[i] * types[i].size() as usize)
            .collect();
        if (0..n).any(|i| {
            cb[i] > 0
                && !crate::dtype::addressable(buf as *const u8, displs[i] + types[i].true_lb())
        }) {
            return fail(MPI_ERR_BUFFER, "null buffer with a nonzero count");
        }
        let direct = (0..n).all(|i| {
            cb[i] == 0 || (types[i].is_contiguous() && displs[i] + types[i].true_lb() >= 0)
        });
        if direct {
            let db: Vec<usize> = (0..n)
                .map(|i| {
                    if cb[i] == 0 {
                        0
                    } else {
                        (displs[i] + types[i].true_lb()) as usize
                    }
                })
                .collect();
            // From MPI_BOTTOM, the run starts at the lowest block (no pointer
            // arithmetic on null).
            let start = if buf.is_null() {
                (0..n)
                    .filter(|&i| cb[i] > 0)
                    .map(|i| db[i])
                    .min()
                    .unwrap_or(0)
            } else {
                0
            };
            let db: Vec<usize> = db.iter().map(|&d| d.saturating_sub(start)).collect();
            let len = (0..n)
                .map(|i| if cb[i] == 0 { 0 } else { db[i] + cb[i] })
                .max()
                .unwrap_or(0);
            let ptr = if buf.is_null() {
                start as *mut u8
            } else {
                buf as *mut u8
            };
            return Ok((RawMut { ptr, len }, cb, db));
        }
        let total: usize = cb.iter().sum();
        let mut v = vec![0u8; total];
        let mut db = Vec::with_capacity(n);
        let mut at = 0;
        for i in 0..n {
            db.push(at);
            at += cb[i];
        }
        let base = buf as usize;
        if !output || preload {
            for i in 0..n {
                if cb[i] > 0 {
                    types[i].pack_range(
                        (base as *const u8).wrapping_offset(displs[i] as isize),
                        counts[i],
                        0,
                        &mut v[db[i]..db[i] + cb[i]],
                    );
                }
            }
        }
        let ptr = v.as_mut_ptr();
        if output {
            let p = ptr as usize;
            for i in 0..n {
                if cb[i] == 0 {
                    continue;
                }
                let (t, c, d, o, l) = (types[i].clone(), counts[i], displs[i], db[i], cb[i]);
                self.f.then.push(Box::new(move |_| {
                    // SAFETY: the temporary lives in `keep` until the fixups ran.
                    let s = std::slice::from_raw_parts((p + o) as *const u8, l);
                    t.unpack_range(s, 0, (base as *mut u8).wrapping_offset(d as isize), c);
                }));
            }
        }
        self.f.keep.push(v);
        Ok((RawMut { ptr, len: total }, cb, db))
    }
    unsafe fn red_in(&mut self, s: &RedSpec, buf: *const c_void, n: usize) -> R<Raw> {
        if n > 0 && buf.is_null() {
            return fail(MPI_ERR_BUFFER, "null buffer with a nonzero count");
        }
        if s.rep == Rep::Direct {
            return Ok(Raw {
                ptr: s.direct_ptr(buf as *const u8),
                len: s.bytes(n),
            });
        }
        let v = s.load(buf as *const u8, n);
        let r = Raw {
            ptr: v.as_ptr(),
            len: v.len(),
        };
        self.f.keep.push(v);
        Ok(r)
    }
    unsafe fn red_out(
        &mut self,
        s: &RedSpec,
        buf: *mut c_void,
        n: usize,
        preload: bool,
    ) -> R<RawMut> {
        if n > 0 && buf.is_null() {
            return fail(MPI_ERR_BUFFER, "null buffer with a nonzero count");
        }
        if s.rep == Rep::Direct {
            return Ok(RawMut {
                ptr: s.direct_ptr(buf as *const u8) as *mut u8,
                len: s.bytes(n),
            });
        }
        let mut v = if preload {
            s.load(buf as *const u8, n)
        } else {
            vec![0u8; s.bytes(n)]
        };
        let r = RawMut {
            ptr: v.as_mut_ptr(),
            len: v.len(),
        };
        let (p, b, s2) = (r.ptr as usize, buf as usize, s.clone());
        let len = r.len;
        self.f.then.push(Box::new(move |_| {
            // SAFETY: as in `blocks`.
            s2.store(
                std::slice::from_raw_parts(p as *const u8, len),
                b as *mut u8,
                n,
            );
        }));
        self.f.keep.push(v);
        Ok(r)
    }
    unsafe fn done(self, c: &Comm, a: Args<'_>, then: Then) -> R<()> {
        then.finish(c, a, self.f)
    }
}

impl Then {
    /// Run or start `a` on `c`; `f` (unpack, free temporaries) once it completes.
    ///
    /// # Safety
    /// `a`'s buffers are valid (the builders checked them, and the temporaries
    /// live in `f` until it runs, after the call).
    unsafe fn finish(self, c: &Comm, a: Args<'_>, f: Fixup) -> R<()> {
        match self {
            Then::Run => {
                core::run(c, a)?;
                f.run(usize::MAX);
            }
            Then::Start(comm, request) => {
                let o = out(request, "request")?;
                let id = core::start(c, a)?;
                add_fixup(id, f);
                *o = st().reqs.insert(ReqObj {
                    kind: Kind::Engine(id),
                    comm,
                    recv: false,
                });
            }
            Then::Check => drop(f),
            Then::Into(slot) => {
                let id = core::start(c, a)?;
                add_fixup(id, f);
                *slot = Some(id);
            }
        }
        Ok(())
    }
}

/// The array argument `p[0..n]` (int, MPI_Count or MPI_Aint), widened.
unsafe fn ints<T: Wide>(p: *const T, n: usize, what: &str) -> R<Vec<i64>> {
    crate::dtype::wide_arr(p, n as MPI_Count, what)
}

fn counts_of(v: &[i64]) -> R<Vec<usize>> {
    v.iter().map(|&c| check_count(c)).collect()
}

/// Byte displacements of `displs` in extents of `t`.
fn displs_of(v: &[i64], t: &Datatype) -> R<Vec<i64>> {
    v.iter()
        .map(|&d| {
            d.checked_mul(t.extent()).ok_or_else(|| {
                crate::err::err(
                    MPI_ERR_COUNT,
                    format!("displacement {d} times the extent {} overflows", t.extent()),
                )
            })
        })
        .collect()
}

// ---- builders ------------------------------------------------------------------------

unsafe fn b_barrier(call: &str, comm: MPI_Comm, then: Then) -> R<()> {
    let c = coll_comm(call, comm)?;
    Prep::default().done(&c, Args::Barrier, then)
}

unsafe fn b_bcast(
    call: &str,
    buf: *mut c_void,
    count: MPI_Count,
    dt: MPI_Datatype,
    root: c_int,
    comm: MPI_Comm,
    then: Then,
) -> R<()> {
    let c = coll_comm(call, comm)?;
    let (me_root, idle) = rooted(&c, root)?;
    no_in_place(buf, "buffer")?;
    let mut p = Prep::default();
    if idle {
        let b = RawMut {
            ptr: std::ptr::null_mut(),
            len: 0,
        };
        return p.done(&c, Args::Bcast { buf: b, root }, then);
    }
    let b = p.output(buf, count, dt, me_root)?;
    if me_root {
        p.f.then.clear(); // the root's buffer is unchanged
    }
    p.done(&c, Args::Bcast { buf: b, root }, then)
}

#[allow(clippy::too_many_arguments)]
unsafe fn b_gather(
    call: &'static str,
    sendbuf: *const c_void,
    sendcount: MPI_Count,
    sendtype: MPI_Datatype,
    recvbuf: *mut c_void,
    recvcount: MPI_Count,
    recvtype: MPI_Datatype,
    root: c_int,
    comm: MPI_Comm,
    then: Then,
) -> R<()> {
    let c = coll_comm(call, comm)?;
    let (me_root, idle) = rooted(&c, root)?;
    let n = c.peer_size() as usize;
    let mut p = Prep::default();
    let send = if c.is_inter() {
        // The root's and its group's send arguments are insignificant.
        if me_root || idle {
            None
        } else {
            inter_no_in_place(&c, sendbuf, "sendbuf")?;
            Some(p.input(sendbuf, sendcount, sendtype)?)
        }
    } else if root_in_place(sendbuf, me_root, "sendbuf")? {
        None
    } else {
        Some(p.input(sendbuf, sendcount, sendtype)?)
    };
    let preload = send.is_none() && !c.is_inter();
    let recv = if me_root {
        no_in_place(recvbuf, "recvbuf")?;
        check_count(recvcount)?;
        if send.is_some() {
            no_alias(sendbuf, recvbuf, recvcount as usize)?;
        }
        let t = for_comm(recvtype)?;
        let counts = vec![recvcount as usize; n];
        let displs: Vec<i64> = (0..n)
            .map(|i| i as i64 * recvcount as i64 * t.extent())
            .collect();
        let types = vec![t; n];
        // In place: the temporary is preloaded, so unpacking the root's block is harmless.
        Some(p.blocks(recvbuf, &counts, &displs, &types, true, preload)?)
    } else {
        None
    };
    // Equal blocks in rank order (a contiguous type's run, or packed).
    let blk = match (&recv, &send) {
        (Some(r), _) => r.1[0],
        (None, Some(m)) => m.len,
        (None, None) => 0,
    };
    let a = Args::Gatherv {
        send,
        recv: recv.as_ref().map(|(b, c, d)| (*b, &c[..], &d[..])),
        root,
        call,
        equal: Some(blk),
    };
    p.done(&c, a, then)
}

#[allow(clippy::too_many_arguments)]
unsafe fn b_gatherv<C: Wide, D: Wide>(
    call: &'static str,
    sendbuf: *const c_void,
    sendcount: MPI_Count,
    sendtype: MPI_Datatype,
    recvbuf: *mut c_void,
    recvcounts: *const C,
    displs: *const D,
    recvtype: MPI_Datatype,
    root: c_int,
    comm: MPI_Comm,
    then: Then,
) -> R<()> {
    let c = coll_comm(call, comm)?;
    let (me_root, idle) = rooted(&c, root)?;
    let n = c.peer_size() as usize;
    let mut p = Prep::default();
    let send = if c.is_inter() {
        if me_root || idle {
            None
        } else {
            inter_no_in_place(&c, sendbuf, "sendbuf")?;
            Some(p.input(sendbuf, sendcount, sendtype)?)
        }
    } else if root_in_place(sendbuf, me_root, "sendbuf")? {
        None
    } else {
        Some(p.input(sendbuf, sendcount, sendtype)?)
    };
    let preload = send.is_none() && !c.is_inter();
    let recv = if me_root {
        no_in_place(recvbuf, "recvbuf")?;
        let counts = counts_of(&ints(recvcounts, n, "recvcounts")?)?;
        let t = for_comm(recvtype)?;
        let dp = displs_of(&ints(displs, n, "displs")?, &t)?;
        let types = vec![t; n];
        Some(p.blocks(recvbuf, &counts, &dp, &types, true, preload)?)
    } else {
        None
    };
    let a = Args::Gatherv {
        send,
        recv: recv.as_ref().map(|(b, c, d)| (*b, &c[..], &d[..])),
        root,
        call,
        equal: None,
    };
    p.done(&c, a, then)
}

#[allow(clippy::too_many_arguments)]
unsafe fn b_scatterv<C: Wide, D: Wide>(
    call: &'static str,
    sendbuf: *const c_void,
    sendcounts: Option<*const C>,
    sendcount: MPI_Count,
    displs: *const D,
    sendtype: MPI_Datatype,
    recvbuf: *mut c_void,
    recvcount: MPI_Count,
    recvtype: MPI_Datatype,
    root: c_int,
    comm: MPI_Comm,
    then: Then,
) -> R<()> {
    let c = coll_comm(call, comm)?;
    let (me_root, idle) = rooted(&c, root)?;
    let n = c.peer_size() as usize;
    let mut p = Prep::default();
    let inter = c.is_inter();
    if inter && !me_root && !idle {
        inter_no_in_place(&c, recvbuf, "recvbuf")?;
    }
    // On an intercommunicator the root and its group receive nothing.
    let inpl = if inter {
        me_root || idle
    } else {
        root_in_place(recvbuf, me_root, "recvbuf")?
    };
    let send = if me_root {
        no_in_place(sendbuf, "sendbuf")?;
        let t = for_comm(sendtype)?;
        let (counts, dp) = match sendcounts {
            Some(sc) => (
                counts_of(&ints(sc, n, "sendcounts")?)?,
                displs_of(&ints(displs, n, "displs")?, &t)?,
            ),
            None => {
                check_count(sendcount)?;
                if !inpl && !inter {
                    no_alias(sendbuf, recvbuf, sendcount as usize)?;
                }
                (
                    vec![sendcount as usize; n],
                    (0..n)
                        .map(|i| i as i64 * sendcount as i64 * t.extent())
                        .collect(),
                )
            }
        };
        let types = vec![t; n];
        let (b, cb, db) = p.blocks(sendbuf as *mut c_void, &counts, &dp, &types, false, false)?;
        Some((
            Raw {
                ptr: b.ptr,
                len: b.len,
            },
            cb,
            db,
        ))
    } else {
        None
    };
    let recv = if inpl {
        None
    } else {
        Some(p.output(recvbuf, recvcount, recvtype, false)?)
    };
    // MPI_Scatter: equal blocks in rank order (a contiguous type's run, or packed).
    let equal = sendcounts.is_none().then(|| match (&send, &recv) {
        (Some(w), _) => w.1[0],
        (None, Some(m)) => m.len,
        (None, None) => 0,
    });
    let a = Args::Scatterv {
        send: send.as_ref().map(|(b, c, d)| (*b, &c[..], &d[..])),
        recv,
        root,
        call,
        equal,
    };
    p.done(&c, a, then)
}

#[allow(clippy::too_many_arguments)]
unsafe fn b_allgatherv<C: Wide, D: Wide>(
    call: &'static str,
    sendbuf: *const c_void,
    sendcount: MPI_Count,
    sendtype: MPI_Datatype,
    recvbuf: *mut c_void,
    recvcounts: Option<*const C>,
    recvcount: MPI_Count,
    displs: *const D,
    recvtype: MPI_Datatype,
    comm: MPI_Comm,
    then: Then,
) -> R<()> {
    let c = coll_comm(call, comm)?;
    let n = c.peer_size() as usize;
    no_in_place(recvbuf, "recvbuf")?;
    inter_no_in_place(&c, sendbuf, "sendbuf")?;
    let mut p = Prep::default();
    let inpl = in_place(sendbuf);
    let send = if inpl {
        None
    } else {
        Some(p.input(sendbuf, sendcount, sendtype)?)
    };
    let t = for_comm(recvtype)?;
    let (counts, dp) = match recvcounts {
        Some(rc) => (
            counts_of(&ints(rc, n, "recvcounts")?)?,
            displs_of(&ints(displs, n, "displs")?, &t)?,
        ),
        None => {
            check_count(recvcount)?;
            if !inpl {
                no_alias(sendbuf, recvbuf, recvcount as usize)?;
            }
            (
                vec![recvcount as usize; n],
                (0..n)
                    .map(|i| i as i64 * recvcount as i64 * t.extent())
                    .collect(),
            )
        }
    };
    let types = vec![t; n];
    let (b, cb, db) = p.blocks(recvbuf, &counts, &dp, &types, true, inpl)?;
    let a = Args::Allgatherv {
        send,
        recv: (b, &cb, &db),
        call,
    };
    p.done(&c, a, then)
}

/// Alltoall(v/w): per-rank counts, byte displacements and types for both sides.
#[allow(clippy::too_many_arguments)]
unsafe fn b_alltoallw(
    call: &'static str,
    sendbuf: *const c_void,
    sc: Vec<usize>,
    sd: Vec<i64>,
    st_: Vec<Datatype>,
    recvbuf: *mut c_void,
    rc: Vec<usize>,
    rd: Vec<i64>,
    rt: Vec<Datatype>,
    c: &Comm,
    then: Then,
) -> R<()> {
    no_in_place(recvbuf, "recvbuf")?;
    let mut p = Prep::default();
    let inpl = in_place(sendbuf);
    let recv = p.blocks(recvbuf, &rc, &rd, &rt, true, inpl)?;
    let send = if inpl {
        None
    } else {
        let (b, cb, db) = p.blocks(sendbuf as *mut c_void, &sc, &sd, &st_, false, false)?;
        Some((
            Raw {
                ptr: b.ptr,
                len: b.len,
            },
            cb,
            db,
        ))
    };
    let a = Args::Alltoallv {
        send: send.as_ref().map(|(b, c, d)| (*b, &c[..], &d[..])),
        recv: (recv.0, &recv.1, &recv.2),
        call,
    };
    p.done(c, a, then)
}

#[allow(clippy::too_many_arguments)]
unsafe fn b_alltoall(
    call: &'static str,
    sendbuf: *const c_void,
    sendcount: MPI_Count,
    sendtype: MPI_Datatype,
    recvbuf: *mut c_void,
    recvcount: MPI_Count,
    recvtype: MPI_Datatype,
    comm: MPI_Comm,
    then: Then,
) -> R<()> {
    let c = coll_comm(call, comm)?;
    let n = c.peer_size() as usize;
    inter_no_in_place(&c, sendbuf, "sendbuf")?;
    check_count(recvcount)?;
    let rt = for_comm(recvtype)?;
    let (sc, sd, st_) = if in_place(sendbuf) {
        (vec![], vec![], vec![])
    } else {
        check_count(sendcount)?;
        no_alias(sendbuf, recvbuf, recvcount as usize)?;
        let t = for_comm(sendtype)?;
        (
            vec![sendcount as usize; n],
            (0..n)
                .map(|i| i as i64 * sendcount as i64 * t.extent())
                .collect(),
            vec![t; n],
        )
    };
    let rd: Vec<i64> = (0..n)
        .map(|i| i as i64 * recvcount as i64 * rt.extent())
        .collect();
    // Equal blocks in rank order on both sides (a contiguous type's run, or packed):
    // the core's alltoall, with its algorithms and the shared area, takes them.
    no_in_place(recvbuf, "recvbuf")?;
    let mut p = Prep::default();
    let inpl = in_place(sendbuf);
    let (rb, rcb, rdb) = p.blocks(
        recvbuf,
        &vec![recvcount as usize; n],
        &rd,
        &vec![rt; n],
        true,
        inpl,
    )?;
    let recv = RawMut {
        ptr: rb.ptr.wrapping_add(rdb[0]),
        len: n * rcb[0],
    };
    let send = if inpl {
        None
    } else {
        let (b, cb, db) = p.blocks(sendbuf as *mut c_void, &sc, &sd, &st_, false, false)?;
        Some(Raw {
            ptr: b.ptr.wrapping_add(db[0]),
            len: n * cb[0],
        })
    };
    p.done(&c, Args::Alltoall { send, recv }, then)
}

#[allow(clippy::too_many_arguments)]
unsafe fn b_alltoallv<C: Wide, D: Wide>(
    call: &'static str,
    sendbuf: *const c_void,
    sendcounts: *const C,
    sdispls: *const D,
    sendtype: MPI_Datatype,
    recvbuf: *mut c_void,
    recvcounts: *const C,
    rdispls: *const D,
    recvtype: MPI_Datatype,
    comm: MPI_Comm,
    then: Then,
) -> R<()> {
    let c = coll_comm(call, comm)?;
    let n = c.peer_size() as usize;
    inter_no_in_place(&c, sendbuf, "sendbuf")?;
    let rt = for_comm(recvtype)?;
    let rc = counts_of(&ints(recvcounts, n, "recvcounts")?)?;
    let rd = displs_of(&ints(rdispls, n, "rdispls")?, &rt)?;
    let (sc, sd, st_) = if in_place(sendbuf) {
        (vec![], vec![], vec![])
    } else {
        let t = for_comm(sendtype)?;
        (
            counts_of(&ints(sendcounts, n, "sendcounts")?)?,
            displs_of(&ints(sdispls, n, "sdispls")?, &t)?,
            vec![t; n],
        )
    };
    b_alltoallw(
        call,
        sendbuf,
        sc,
        sd,
        st_,
        recvbuf,
        rc,
        rd,
        vec![rt; n],
        &c,
        then,
    )
}

#[allow(clippy::too_many_arguments)]
unsafe fn b_alltoallw_c<C: Wide, D: Wide>(
    call: &'static str,
    sendbuf: *const c_void,
    sendcounts: *const C,
    sdispls: *const D,
    sendtypes: *const MPI_Datatype,
    recvbuf: *mut c_void,
    recvcounts: *const C,
    rdispls: *const D,
    recvtypes: *const MPI_Datatype,
    comm: MPI_Comm,
    then: Then,
) -> R<()> {
    let c = coll_comm(call, comm)?;
    let n = c.peer_size() as usize;
    inter_no_in_place(&c, sendbuf, "sendbuf")?;
    let types = |p: *const MPI_Datatype, what: &str| -> R<Vec<Datatype>> {
        if n > 0 && p.is_null() {
            return fail(MPI_ERR_ARG, format!("{what} is a null pointer"));
        }
        (0..n).map(|i| for_comm(*p.add(i))).collect()
    };
    let rt = types(recvtypes, "recvtypes")?;
    let rc = counts_of(&ints(recvcounts, n, "recvcounts")?)?;
    let rd = ints(rdispls, n, "rdispls")?;
    let (sc, sd, st_) = if in_place(sendbuf) {
        (vec![], vec![], vec![])
    } else {
        (
            counts_of(&ints(sendcounts, n, "sendcounts")?)?,
            ints(sdispls, n, "sdispls")?,
            types(sendtypes, "sendtypes")?,
        )
    };
    b_alltoallw(call, sendbuf, sc, sd, st_, recvbuf, rc, rd, rt, &c, then)
}

#[allow(clippy::too_many_arguments)]
/// The checked arguments of a reduce or allreduce: the element count, the
/// reduction and whether the send buffer is MPI_IN_PLACE.
struct RedArgs {
    n: usize,
    s: RedSpec,
    inpl: bool,
    /// This rank receives the result (every rank of an allreduce).
    me_root: bool,
    /// This rank's send buffer is read (not at the root of a reduce on an
    /// intercommunicator, nor at the MPI_PROC_NULL ranks of its group).
    sends: bool,
}

/// MPI_Reduce's argument checks (`root` None: MPI_Allreduce's).
#[allow(clippy::too_many_arguments)]
unsafe fn red_args(
    sendbuf: *const c_void,
    recvbuf: *mut c_void,
    count: MPI_Count,
    dt: MPI_Datatype,
    op: MPI_Op,
    root: Option<c_int>,
    c: &Comm,
) -> R<RedArgs> {
    let (me_root, idle) = match root {
        Some(r) => rooted(c, r)?,
        None => (true, false),
    };
    let n = check_count(count)?;
    let s = spec(op, dt)?;
    if c.is_inter() {
        let sends = !idle && (root.is_none() || !me_root);
        if sends {
            inter_no_in_place(c, sendbuf, "sendbuf")?;
        }
        if me_root {
            no_in_place(recvbuf, "recvbuf")?;
            if sends {
                no_alias(sendbuf, recvbuf, n)?;
            }
        }
        return Ok(RedArgs {
            n,
            s,
            inpl: false,
            me_root,
            sends,
        });
    }
    let inpl = if root.is_some() {
        root_in_place(sendbuf, me_root, "sendbuf")?
    } else {
        in_place(sendbuf)
    };
    if me_root {
        no_in_place(recvbuf, "recvbuf")?;
        if !inpl {
            no_alias(sendbuf, recvbuf, n)?;
        }
    }
    Ok(RedArgs {
        n,
        s,
        inpl,
        me_root,
        sends: !inpl,
    })
}

#[allow(clippy::too_many_arguments)]
unsafe fn b_reduce(
    call: &str,
    sendbuf: *const c_void,
    recvbuf: *mut c_void,
    count: MPI_Count,
    dt: MPI_Datatype,
    op: MPI_Op,
    root: c_int,
    comm: MPI_Comm,
    then: Then,
) -> R<()> {
    let c = coll_comm(call, comm)?;
    let RedArgs {
        n,
        s,
        inpl,
        me_root,
        sends,
    } = red_args(sendbuf, recvbuf, count, dt, op, Some(root), &c)?;
    let mut p = Prep::default();
    let recv = if me_root {
        Some(p.red_out(&s, recvbuf, n, inpl)?)
    } else {
        None
    };
    let send = if sends {
        Some(p.red_in(&s, sendbuf, n)?)
    } else {
        None
    };
    let a = Args::Reduce {
        red: &s.red,
        send,
        recv,
        root,
    };
    p.done(&c, a, then)
}

#[allow(clippy::too_many_arguments)]
unsafe fn b_allreduce(
    call: &str,
    sendbuf: *const c_void,
    recvbuf: *mut c_void,
    count: MPI_Count,
    dt: MPI_Datatype,
    op: MPI_Op,
    comm: MPI_Comm,
    then: Then,
) -> R<()> {
    let c = coll_comm(call, comm)?;
    let RedArgs { n, s, inpl, .. } = red_args(sendbuf, recvbuf, count, dt, op, None, &c)?;
    let mut p = Prep::default();
    let recv = p.red_out(&s, recvbuf, n, inpl)?;
    let send = if inpl {
        None
    } else {
        Some(p.red_in(&s, sendbuf, n)?)
    };
    let a = Args::Allreduce {
        red: &s.red,
        send,
        recv,
    };
    p.done(&c, a, then)
}

#[allow(clippy::too_many_arguments)]
unsafe fn b_reduce_scatter(
    call: &'static str,
    sendbuf: *const c_void,
    recvbuf: *mut c_void,
    counts: Vec<usize>,
    dt: MPI_Datatype,
    op: MPI_Op,
    comm: MPI_Comm,
    c: Comm,
    then: Then,
) -> R<()> {
    let _ = comm;
    let s = spec(op, dt)?;
    no_in_place(recvbuf, "recvbuf")?;
    inter_no_in_place(&c, sendbuf, "sendbuf")?;
    let inpl = in_place(sendbuf);
    let total: usize = counts.iter().sum();
    let mine = counts[c.rank as usize];
    if !inpl {
        no_alias(sendbuf, recvbuf, total)?;
    }
    let mut p = Prep::default();
    let recv = p.red_out(&s, recvbuf, if inpl { total } else { mine }, inpl)?;
    let send = if inpl {
        None
    } else {
        Some(p.red_in(&s, sendbuf, total)?)
    };
    let cb: Vec<usize> = counts.iter().map(|&k| s.bytes(k)).collect();
    let a = Args::ReduceScatter {
        red: &s.red,
        send,
        recv,
        counts: &cb,
        call,
    };
    p.done(&c, a, then)
}

#[allow(clippy::too_many_arguments)]
unsafe fn b_scan(
    call: &str,
    sendbuf: *const c_void,
    recvbuf: *mut c_void,
    count: MPI_Count,
    dt: MPI_Datatype,
    op: MPI_Op,
    comm: MPI_Comm,
    exclusive: bool,
    then: Then,
) -> R<()> {
    let c = coll_comm(call, comm)?;
    if c.is_inter() {
        return fail(
            MPI_ERR_COMM,
            format!("{call}: not defined on intercommunicators (MPI-3.1 §5.11)"),
        );
    }
    let n = check_count(count)?;
    let s = spec(op, dt)?;
    no_in_place(recvbuf, "recvbuf")?;
    let inpl = in_place(sendbuf);
    if !inpl {
        no_alias(sendbuf, recvbuf, n)?;
    }
    let mut p = Prep::default();
    // Exscan leaves rank 0's buffer undefined; preload so it stays as it was.
    let recv = p.red_out(&s, recvbuf, n, inpl || exclusive)?;
    let send = if inpl {
        None
    } else {
        Some(p.red_in(&s, sendbuf, n)?)
    };
    let a = Args::Scan {
        red: &s.red,
        send,
        recv,
        exclusive,
    };
    p.done(&c, a, then)
}

// ---- the C entry points ------------------------------------------------------------------

/// Defines the blocking `MPI_X` and the nonblocking `MPI_IX` from one builder call.
macro_rules! coll_pair {
    ($name:ident / $pname:ident, $iname:ident / $ipname:ident, ($($a:ident : $t:ty),*), |$call:ident, $c:ident, $then:ident| $build:expr) => {
        mpi_fn! { $c => fn $name / $pname($($a: $t),*) {
            let $call = stringify!($name);
            let $then = Then::Run;
            $build
        }}
        mpi_fn! { $c => fn $iname / $ipname($($a: $t,)* request: *mut MPI_Request) {
            let $call = stringify!($iname);
            out(request, "request")?;
            let $then = Then::Start($c, request);
            $build
        }}
    };
}
pub(crate) use coll_pair;

mpi_fn! { comm => fn MPI_Barrier / PMPI_Barrier(comm: MPI_Comm) {
    state::with_comm("MPI_Barrier", comm, |c| Ok(core::barrier(c)?))
}}

mpi_fn! { comm => fn MPI_Ibarrier / PMPI_Ibarrier(comm: MPI_Comm, request: *mut MPI_Request) {
    out(request, "request")?;
    b_barrier("MPI_Ibarrier", comm, Then::Start(comm, request))
}}

// MPI_Bcast, MPI_Gather, MPI_Scatter, MPI_Allgather, MPI_Alltoall, MPI_Reduce and
// MPI_Allreduce on contiguous buffers first offer the call to the planner's
// shortcuts (`core::shortcut`: the shared area, two ranks), before packing
// anything; when it needs a schedule, the call goes to `core::run` as the rest do.

/// A blocking collective that the communicator's shared area may take: `direct`
/// offers it (Some: it ran there, with this result); else `schedule` builds it and
/// it runs as a schedule.
fn area_or(
    call: &str,
    comm: MPI_Comm,
    direct: impl FnOnce(&Comm) -> R<Option<vmpi::Result<()>>>,
    schedule: impl FnOnce() -> R<()>,
) -> R<()> {
    // An intercommunicator has no front door: its calls are schedules.
    let direct = |c: &Comm| if c.is_inter() { Ok(None) } else { direct(c) };
    if let Some(r) = state::with_comm(call, comm, direct)? {
        return Ok(r?);
    }
    schedule()
}

/// `count` elements of contiguous `dt` at `buf` as bytes, for the shared area's
/// direct calls; None when the type is not contiguous or the buffer is null (the
/// schedule path handles those, and reports a null buffer).
unsafe fn contig<'a>(
    buf: *const c_void,
    count: usize,
    dt: MPI_Datatype,
) -> R<Option<&'a mut [u8]>> {
    let t = crate::dtype::for_comm_cow(dt)?;
    let len = count * t.size() as usize;
    if !t.is_contiguous() || (len > 0 && buf.is_null()) {
        return Ok(None);
    }
    if len == 0 {
        return Ok(Some(&mut []));
    }
    // SAFETY: the caller's buffer holds `count` elements of a contiguous type, i.e.
    // `len` bytes from its true lower bound, and is ours until the call returns;
    // callers check that send and receive buffers are distinct.
    Ok(Some(std::slice::from_raw_parts_mut(
        (buf as *mut u8).wrapping_offset(t.true_lb() as isize),
        len,
    )))
}

// Every collective below is a macro instantiated twice: the int form and the MPI-4
// `_c` form (MPI_Count counts, MPI_Aint displacements). Both widen their arguments
// once and call the same builders, which take MPI_Count and arrays of either type.

macro_rules! bcast_fns {
    ($ct:ty, $name:ident / $pname:ident, $iname:ident / $ipname:ident) => {
        mpi_fn! { comm => fn $name / $pname(buffer: *mut c_void, count: $ct, datatype: MPI_Datatype, root: c_int, comm: MPI_Comm) {
            let call = stringify!($name);
            let count = MPI_Count::from(count);
            area_or(call, comm, |c| {
                no_in_place(buffer, "buffer")?;
                Ok(match contig(buffer, check_count(count)?, datatype)? {
                    Some(b) => core::shortcut(c, &Args::Bcast { buf: RawMut::of(b), root }),
                    None => None,
                })
            }, || b_bcast(call, buffer, count, datatype, root, comm, Then::Run))
        }}

        mpi_fn! { comm => fn $iname / $ipname(buffer: *mut c_void, count: $ct, datatype: MPI_Datatype, root: c_int, comm: MPI_Comm, request: *mut MPI_Request) {
            out(request, "request")?;
            b_bcast(stringify!($iname), buffer, count.into(), datatype, root, comm, Then::Start(comm, request))
        }}
    };
}
bcast_fns!(c_int, MPI_Bcast / PMPI_Bcast, MPI_Ibcast / PMPI_Ibcast);
bcast_fns!(
    MPI_Count,
    MPI_Bcast_c / PMPI_Bcast_c,
    MPI_Ibcast_c / PMPI_Ibcast_c
);

macro_rules! gather_fns {
    ($ct:ty, $name:ident / $pname:ident, $iname:ident / $ipname:ident) => {
        mpi_fn! { comm => fn $name / $pname(sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, root: c_int, comm: MPI_Comm) {
            let call = stringify!($name);
            let (sendcount, recvcount) = (MPI_Count::from(sendcount), MPI_Count::from(recvcount));
            area_or(call, comm, |c| {
                root_ok(c, root)?;
                let n = c.size() as usize;
                let me_root = c.rank == root;
                let inpl = root_in_place(sendbuf, me_root, "sendbuf")?;
                let send = if inpl { Some(None) } else { contig(sendbuf, check_count(sendcount)?, sendtype)?.map(Some) };
                let recv = if me_root {
                    no_in_place(recvbuf, "recvbuf")?;
                    let rc = check_count(recvcount)?;
                    if !inpl {
                        no_alias(sendbuf, recvbuf, rc)?;
                    }
                    contig(recvbuf, n * rc, recvtype)?.map(Some)
                } else {
                    Some(None)
                };
                Ok(match (send, recv) {
                    (Some(s), Some(r)) => core::shortcut(c, &Args::Gather { send: s.map(|x| Raw::of(x)), recv: r.map(RawMut::of), root }),
                    _ => None,
                })
            }, || b_gather(call, sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, root, comm, Then::Run))
        }}

        mpi_fn! { comm => fn $iname / $ipname(sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, root: c_int, comm: MPI_Comm, request: *mut MPI_Request) {
            out(request, "request")?;
            b_gather(stringify!($iname), sendbuf, sendcount.into(), sendtype, recvbuf, recvcount.into(), recvtype, root, comm, Then::Start(comm, request))
        }}
    };
}
gather_fns!(c_int, MPI_Gather / PMPI_Gather, MPI_Igather / PMPI_Igather);
gather_fns!(
    MPI_Count,
    MPI_Gather_c / PMPI_Gather_c,
    MPI_Igather_c / PMPI_Igather_c
);

macro_rules! gatherv_fns {
    ($ct:ty, $dt:ty, $name:ident / $pname:ident, $iname:ident / $ipname:ident) => {
        coll_pair!($name / $pname, $iname / $ipname,
            (sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const $ct, displs: *const $dt, recvtype: MPI_Datatype, root: c_int, comm: MPI_Comm),
            |call, comm, then| b_gatherv(call, sendbuf, sendcount.into(), sendtype, recvbuf, recvcounts, displs, recvtype, root, comm, then));
    };
}
gatherv_fns!(
    c_int,
    c_int,
    MPI_Gatherv / PMPI_Gatherv,
    MPI_Igatherv / PMPI_Igatherv
);
gatherv_fns!(
    MPI_Count,
    MPI_Aint,
    MPI_Gatherv_c / PMPI_Gatherv_c,
    MPI_Igatherv_c / PMPI_Igatherv_c
);

macro_rules! scatter_fns {
    ($ct:ty, $name:ident / $pname:ident, $iname:ident / $ipname:ident) => {
        mpi_fn! { comm => fn $name / $pname(sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, root: c_int, comm: MPI_Comm) {
            let call = stringify!($name);
            let (sendcount, recvcount) = (MPI_Count::from(sendcount), MPI_Count::from(recvcount));
            area_or(call, comm, |c| {
                root_ok(c, root)?;
                let n = c.size() as usize;
                let me_root = c.rank == root;
                let inpl = root_in_place(recvbuf, me_root, "recvbuf")?;
                let send = if me_root {
                    no_in_place(sendbuf, "sendbuf")?;
                    let sc = check_count(sendcount)?;
                    if !inpl {
                        no_alias(sendbuf, recvbuf, sc)?;
                    }
                    contig(sendbuf, n * sc, sendtype)?.map(Some)
                } else {
                    Some(None)
                };
                let recv = if inpl { Some(None) } else { contig(recvbuf, check_count(recvcount)?, recvtype)?.map(Some) };
                Ok(match (send, recv) {
                    (Some(s), Some(r)) => core::shortcut(c, &Args::Scatter { send: s.map(|x| Raw::of(x)), recv: r.map(RawMut::of), root }),
                    _ => None,
                })
            }, || b_scatterv(call, sendbuf, None::<*const $ct>, sendcount, std::ptr::null::<$ct>(), sendtype, recvbuf, recvcount, recvtype, root, comm, Then::Run))
        }}

        mpi_fn! { comm => fn $iname / $ipname(sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, root: c_int, comm: MPI_Comm, request: *mut MPI_Request) {
            out(request, "request")?;
            b_scatterv(stringify!($iname), sendbuf, None::<*const $ct>, sendcount.into(), std::ptr::null::<$ct>(), sendtype, recvbuf, recvcount.into(), recvtype, root, comm, Then::Start(comm, request))
        }}
    };
}
scatter_fns!(
    c_int,
    MPI_Scatter / PMPI_Scatter,
    MPI_Iscatter / PMPI_Iscatter
);
scatter_fns!(
    MPI_Count,
    MPI_Scatter_c / PMPI_Scatter_c,
    MPI_Iscatter_c / PMPI_Iscatter_c
);

macro_rules! scatterv_fns {
    ($ct:ty, $dt:ty, $name:ident / $pname:ident, $iname:ident / $ipname:ident) => {
        coll_pair!($name / $pname, $iname / $ipname,
            (sendbuf: *const c_void, sendcounts: *const $ct, displs: *const $dt, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, root: c_int, comm: MPI_Comm),
            |call, comm, then| b_scatterv(call, sendbuf, Some(sendcounts), 0, displs, sendtype, recvbuf, recvcount.into(), recvtype, root, comm, then));
    };
}
scatterv_fns!(
    c_int,
    c_int,
    MPI_Scatterv / PMPI_Scatterv,
    MPI_Iscatterv / PMPI_Iscatterv
);
scatterv_fns!(
    MPI_Count,
    MPI_Aint,
    MPI_Scatterv_c / PMPI_Scatterv_c,
    MPI_Iscatterv_c / PMPI_Iscatterv_c
);

/// The buffers of an allgather (`per_peer` false: one send block) or alltoall
/// (`size` send blocks) as bytes for the area's direct call: (send, None = in
/// place; receive), or None when a type is not contiguous.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
unsafe fn to_all<'a>(
    c: &Comm,
    sendbuf: *const c_void,
    sendcount: MPI_Count,
    sendtype: MPI_Datatype,
    recvbuf: *mut c_void,
    recvcount: MPI_Count,
    recvtype: MPI_Datatype,
    per_peer: bool,
) -> R<Option<(Option<&'a [u8]>, &'a mut [u8])>> {
    let n = c.size() as usize;
    no_in_place(recvbuf, "recvbuf")?;
    let rc = check_count(recvcount)?;
    let send = if in_place(sendbuf) {
        Some(None)
    } else {
        no_alias(sendbuf, recvbuf, rc)?;
        let blocks = if per_peer { n } else { 1 };
        contig(sendbuf, blocks * check_count(sendcount)?, sendtype)?.map(|x| Some(&*x))
    };
    Ok(send.zip(contig(recvbuf, n * rc, recvtype)?))
}

macro_rules! allgather_fns {
    ($ct:ty, $name:ident / $pname:ident, $iname:ident / $ipname:ident) => {
        mpi_fn! { comm => fn $name / $pname(sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, comm: MPI_Comm) {
            let call = stringify!($name);
            let (sendcount, recvcount) = (MPI_Count::from(sendcount), MPI_Count::from(recvcount));
            area_or(call, comm, |c| {
                Ok(match to_all(c, sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, false)? {
                    Some((s, r)) => core::shortcut(c, &Args::Allgather { send: s.map(Raw::of), recv: RawMut::of(r) }),
                    None => None,
                })
            }, || b_allgatherv(call, sendbuf, sendcount, sendtype, recvbuf, None::<*const $ct>, recvcount, std::ptr::null::<$ct>(), recvtype, comm, Then::Run))
        }}

        mpi_fn! { comm => fn $iname / $ipname(sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, comm: MPI_Comm, request: *mut MPI_Request) {
            out(request, "request")?;
            b_allgatherv(stringify!($iname), sendbuf, sendcount.into(), sendtype, recvbuf, None::<*const $ct>, recvcount.into(), std::ptr::null::<$ct>(), recvtype, comm, Then::Start(comm, request))
        }}
    };
}
allgather_fns!(
    c_int,
    MPI_Allgather / PMPI_Allgather,
    MPI_Iallgather / PMPI_Iallgather
);
allgather_fns!(
    MPI_Count,
    MPI_Allgather_c / PMPI_Allgather_c,
    MPI_Iallgather_c / PMPI_Iallgather_c
);

macro_rules! allgatherv_fns {
    ($ct:ty, $dt:ty, $name:ident / $pname:ident, $iname:ident / $ipname:ident) => {
        coll_pair!($name / $pname, $iname / $ipname,
            (sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const $ct, displs: *const $dt, recvtype: MPI_Datatype, comm: MPI_Comm),
            |call, comm, then| b_allgatherv(call, sendbuf, sendcount.into(), sendtype, recvbuf, Some(recvcounts), 0, displs, recvtype, comm, then));
    };
}
allgatherv_fns!(
    c_int,
    c_int,
    MPI_Allgatherv / PMPI_Allgatherv,
    MPI_Iallgatherv / PMPI_Iallgatherv
);
allgatherv_fns!(
    MPI_Count,
    MPI_Aint,
    MPI_Allgatherv_c / PMPI_Allgatherv_c,
    MPI_Iallgatherv_c / PMPI_Iallgatherv_c
);

macro_rules! alltoall_fns {
    ($ct:ty, $name:ident / $pname:ident, $iname:ident / $ipname:ident) => {
        mpi_fn! { comm => fn $name / $pname(sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, comm: MPI_Comm) {
            let call = stringify!($name);
            let (sendcount, recvcount) = (MPI_Count::from(sendcount), MPI_Count::from(recvcount));
            area_or(call, comm, |c| {
                Ok(match to_all(c, sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, true)? {
                    Some((s, r)) => core::shortcut(c, &Args::Alltoall { send: s.map(Raw::of), recv: RawMut::of(r) }),
                    None => None,
                })
            }, || b_alltoall(call, sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm, Then::Run))
        }}

        mpi_fn! { comm => fn $iname / $ipname(sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, comm: MPI_Comm, request: *mut MPI_Request) {
            out(request, "request")?;
            b_alltoall(stringify!($iname), sendbuf, sendcount.into(), sendtype, recvbuf, recvcount.into(), recvtype, comm, Then::Start(comm, request))
        }}
    };
}
alltoall_fns!(
    c_int,
    MPI_Alltoall / PMPI_Alltoall,
    MPI_Ialltoall / PMPI_Ialltoall
);
alltoall_fns!(
    MPI_Count,
    MPI_Alltoall_c / PMPI_Alltoall_c,
    MPI_Ialltoall_c / PMPI_Ialltoall_c
);

macro_rules! alltoallvw_fns {
    ($ct:ty, $dt:ty, $v:ident / $pv:ident, $iv:ident / $piv:ident, $w:ident / $pw:ident, $iw:ident / $piw:ident) => {
        coll_pair!($v / $pv, $iv / $piv,
            (sendbuf: *const c_void, sendcounts: *const $ct, sdispls: *const $dt, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const $ct, rdispls: *const $dt, recvtype: MPI_Datatype, comm: MPI_Comm),
            |call, comm, then| b_alltoallv(call, sendbuf, sendcounts, sdispls, sendtype, recvbuf, recvcounts, rdispls, recvtype, comm, then));

        coll_pair!($w / $pw, $iw / $piw,
            (sendbuf: *const c_void, sendcounts: *const $ct, sdispls: *const $dt, sendtypes: *const MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const $ct, rdispls: *const $dt, recvtypes: *const MPI_Datatype, comm: MPI_Comm),
            |call, comm, then| b_alltoallw_c(call, sendbuf, sendcounts, sdispls, sendtypes, recvbuf, recvcounts, rdispls, recvtypes, comm, then));
    };
}
alltoallvw_fns!(
    c_int,
    c_int,
    MPI_Alltoallv / PMPI_Alltoallv,
    MPI_Ialltoallv / PMPI_Ialltoallv,
    MPI_Alltoallw / PMPI_Alltoallw,
    MPI_Ialltoallw / PMPI_Ialltoallw
);
alltoallvw_fns!(
    MPI_Count,
    MPI_Aint,
    MPI_Alltoallv_c / PMPI_Alltoallv_c,
    MPI_Ialltoallv_c / PMPI_Ialltoallv_c,
    MPI_Alltoallw_c / PMPI_Alltoallw_c,
    MPI_Ialltoallw_c / PMPI_Ialltoallw_c
);

macro_rules! reduce_fns {
    ($ct:ty, $name:ident / $pname:ident, $iname:ident / $ipname:ident) => {
        mpi_fn! { comm => fn $name / $pname(sendbuf: *const c_void, recvbuf: *mut c_void, count: $ct, datatype: MPI_Datatype, op: MPI_Op, root: c_int, comm: MPI_Comm) {
            let call = stringify!($name);
            let count = MPI_Count::from(count);
            area_or(call, comm, |c| {
                let RedArgs { n, s, inpl, me_root, .. } = red_args(sendbuf, recvbuf, count, datatype, op, Some(root), c)?;
                let len = s.bytes(n);
                if s.rep != Rep::Direct || (!inpl && sendbuf.is_null()) || (me_root && recvbuf.is_null()) {
                    return Ok(None);
                }
                // SAFETY: contiguous buffers of `count` elements (`len` bytes from their
                // true lower bound), distinct (checked above), ours until we return.
                let send = (!inpl).then(|| std::slice::from_raw_parts(s.direct_ptr(sendbuf as *const u8), len));
                let recv = me_root.then(|| std::slice::from_raw_parts_mut(s.direct_ptr(recvbuf as *const u8) as *mut u8, len));
                // Drop the datatype's reference now: a locked decrement after the area
                // operation would wait for its last shared store to reach the peers.
                let RedSpec { red, t, .. } = s;
                drop(t);
                Ok(core::shortcut(c, &Args::Reduce { red: &red, send: send.map(Raw::of), recv: recv.map(RawMut::of), root }))
            }, || b_reduce(call, sendbuf, recvbuf, count, datatype, op, root, comm, Then::Run))
        }}

        mpi_fn! { comm => fn $iname / $ipname(sendbuf: *const c_void, recvbuf: *mut c_void, count: $ct, datatype: MPI_Datatype, op: MPI_Op, root: c_int, comm: MPI_Comm, request: *mut MPI_Request) {
            out(request, "request")?;
            b_reduce(stringify!($iname), sendbuf, recvbuf, count.into(), datatype, op, root, comm, Then::Start(comm, request))
        }}
    };
}
reduce_fns!(c_int, MPI_Reduce / PMPI_Reduce, MPI_Ireduce / PMPI_Ireduce);
reduce_fns!(
    MPI_Count,
    MPI_Reduce_c / PMPI_Reduce_c,
    MPI_Ireduce_c / PMPI_Ireduce_c
);

macro_rules! allreduce_fns {
    ($ct:ty, $name:ident / $pname:ident, $iname:ident / $ipname:ident) => {
        mpi_fn! { comm => fn $name / $pname(sendbuf: *const c_void, recvbuf: *mut c_void, count: $ct, datatype: MPI_Datatype, op: MPI_Op, comm: MPI_Comm) {
            let call = stringify!($name);
            let count = MPI_Count::from(count);
            area_or(call, comm, |c| {
                let RedArgs { n, s, inpl, .. } = red_args(sendbuf, recvbuf, count, datatype, op, None, c)?;
                let len = s.bytes(n);
                if s.rep != Rep::Direct || recvbuf.is_null() || (!inpl && sendbuf.is_null()) {
                    return Ok(None);
                }
                // SAFETY: as in MPI_Reduce.
                let send = (!inpl).then(|| std::slice::from_raw_parts(s.direct_ptr(sendbuf as *const u8), len));
                let recv = std::slice::from_raw_parts_mut(s.direct_ptr(recvbuf as *const u8) as *mut u8, len);
                let RedSpec { red, t, .. } = s; // as in MPI_Reduce
                drop(t);
                Ok(core::shortcut(c, &Args::Allreduce { red: &red, send: send.map(Raw::of), recv: RawMut::of(recv) }))
            }, || b_allreduce(call, sendbuf, recvbuf, count, datatype, op, comm, Then::Run))
        }}

        mpi_fn! { comm => fn $iname / $ipname(sendbuf: *const c_void, recvbuf: *mut c_void, count: $ct, datatype: MPI_Datatype, op: MPI_Op, comm: MPI_Comm, request: *mut MPI_Request) {
            out(request, "request")?;
            b_allreduce(stringify!($iname), sendbuf, recvbuf, count.into(), datatype, op, comm, Then::Start(comm, request))
        }}
    };
}
allreduce_fns!(
    c_int,
    MPI_Allreduce / PMPI_Allreduce,
    MPI_Iallreduce / PMPI_Iallreduce
);
allreduce_fns!(
    MPI_Count,
    MPI_Allreduce_c / PMPI_Allreduce_c,
    MPI_Iallreduce_c / PMPI_Iallreduce_c
);

unsafe fn rs_counts<C: Wide>(
    call: &str,
    recvcounts: *const C,
    comm: MPI_Comm,
) -> R<(Vec<usize>, Comm)> {
    let c = coll_comm(call, comm)?;
    let n = c.size() as usize;
    Ok((counts_of(&ints(recvcounts, n, "recvcounts")?)?, c))
}

unsafe fn rsb_counts(call: &str, recvcount: MPI_Count, comm: MPI_Comm) -> R<(Vec<usize>, Comm)> {
    let c = coll_comm(call, comm)?;
    let n = c.size() as usize;
    Ok((vec![check_count(recvcount)?; n], c))
}

macro_rules! reduce_scan_fns {
    ($ct:ty, $rs:ident / $prs:ident, $irs:ident / $pirs:ident, $rsb:ident / $prsb:ident, $irsb:ident / $pirsb:ident,
     $scan:ident / $pscan:ident, $iscan:ident / $piscan:ident, $exscan:ident / $pexscan:ident, $iexscan:ident / $piexscan:ident) => {
        coll_pair!($rs / $prs, $irs / $pirs,
            (sendbuf: *const c_void, recvbuf: *mut c_void, recvcounts: *const $ct, datatype: MPI_Datatype, op: MPI_Op, comm: MPI_Comm),
            |call, comm, then| rs_counts(call, recvcounts, comm).and_then(|(k, c)| b_reduce_scatter(call, sendbuf, recvbuf, k, datatype, op, comm, c, then)));

        coll_pair!($rsb / $prsb, $irsb / $pirsb,
            (sendbuf: *const c_void, recvbuf: *mut c_void, recvcount: $ct, datatype: MPI_Datatype, op: MPI_Op, comm: MPI_Comm),
            |call, comm, then| rsb_counts(call, recvcount.into(), comm).and_then(|(k, c)| b_reduce_scatter(call, sendbuf, recvbuf, k, datatype, op, comm, c, then)));

        coll_pair!($scan / $pscan, $iscan / $piscan,
            (sendbuf: *const c_void, recvbuf: *mut c_void, count: $ct, datatype: MPI_Datatype, op: MPI_Op, comm: MPI_Comm),
            |call, comm, then| b_scan(call, sendbuf, recvbuf, count.into(), datatype, op, comm, false, then));

        coll_pair!($exscan / $pexscan, $iexscan / $piexscan,
            (sendbuf: *const c_void, recvbuf: *mut c_void, count: $ct, datatype: MPI_Datatype, op: MPI_Op, comm: MPI_Comm),
            |call, comm, then| b_scan(call, sendbuf, recvbuf, count.into(), datatype, op, comm, true, then));
    };
}
reduce_scan_fns!(
    c_int,
    MPI_Reduce_scatter / PMPI_Reduce_scatter,
    MPI_Ireduce_scatter / PMPI_Ireduce_scatter,
    MPI_Reduce_scatter_block / PMPI_Reduce_scatter_block,
    MPI_Ireduce_scatter_block / PMPI_Ireduce_scatter_block,
    MPI_Scan / PMPI_Scan,
    MPI_Iscan / PMPI_Iscan,
    MPI_Exscan / PMPI_Exscan,
    MPI_Iexscan / PMPI_Iexscan
);
reduce_scan_fns!(
    MPI_Count,
    MPI_Reduce_scatter_c / PMPI_Reduce_scatter_c,
    MPI_Ireduce_scatter_c / PMPI_Ireduce_scatter_c,
    MPI_Reduce_scatter_block_c / PMPI_Reduce_scatter_block_c,
    MPI_Ireduce_scatter_block_c / PMPI_Ireduce_scatter_block_c,
    MPI_Scan_c / PMPI_Scan_c,
    MPI_Iscan_c / PMPI_Iscan_c,
    MPI_Exscan_c / PMPI_Exscan_c,
    MPI_Iexscan_c / PMPI_Iexscan_c
);

// ---- persistent collectives (MPI-4) ----------------------------------------------------
//
// MPI_X_init checks its arguments as MPI_IX does (the same builder, told only to
// check) and keeps them; every MPI_Start calls that builder again, which starts a
// fresh schedule exactly as MPI_IX would, and the request is active until it
// completes (through any wait or test function), then inactive again. What the
// arguments name must stay valid until the request is freed: the buffers (MPI's
// rule), the arrays of counts, displacements and datatypes (copied here), and
// the derived datatypes and user operations (the request holds copies of their
// handles of its own, so that the caller may free theirs).

/// A scalar or pointer argument of a persistent collective as the caller gave it.
#[derive(Clone, Copy)]
pub(crate) struct Held<T>(pub(crate) T);
// SAFETY: the pointers are the caller's buffers, which MPI lets any of its
// threads use for the request (MPI_Start may be called from any thread).
unsafe impl<T> Send for Held<T> {}
unsafe impl<T> Sync for Held<T> {}
impl<T: Copy> Held<T> {
    pub(crate) fn get(&self) -> T {
        self.0
    }
}

/// An array argument copied at init (`n` elements; none where the call does not
/// read it: then the caller's pointer, never read, is passed on).
pub(crate) struct HeldArr<T> {
    v: Vec<T>,
    p: usize,
}
impl<T: Copy> HeldArr<T> {
    /// # Safety
    /// `p` holds `n` elements unless it is null or `n` is 0.
    pub(crate) unsafe fn new(p: *const T, n: usize) -> Self {
        let v = if p.is_null() || n == 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts(p, n).to_vec()
        };
        HeldArr { v, p: p as usize }
    }
    pub(crate) fn get(&self) -> *const T {
        if self.v.is_empty() {
            self.p as *const T
        } else {
            self.v.as_ptr()
        }
    }
}

/// Handles of the request's own (copies of derived datatypes and user
/// operations), removed when the request is freed.
#[derive(Default)]
pub(crate) struct Pins {
    types: Vec<MPI_Datatype>,
    ops: Vec<MPI_Op>,
}

impl Pins {
    /// A handle of the request's own for `h` (a predefined one stays as it is).
    pub(crate) fn dtype(&mut self, h: MPI_Datatype) -> MPI_Datatype {
        let mut s = st();
        let Some(o) = s.dtypes.get(h) else {
            return h;
        };
        let copy = crate::dtype::DtObj {
            dt: o.dt.clone(),
            committed: o.committed,
            inner: o.inner.clone(),
            large: o.large,
        };
        let n = s.dtypes.insert(copy);
        self.types.push(n);
        n
    }
    /// [`Pins::dtype`] of each of `n` handles at `p`.
    ///
    /// # Safety
    /// As for [`HeldArr::new`].
    pub(crate) unsafe fn dtypes(
        &mut self,
        p: *const MPI_Datatype,
        n: usize,
    ) -> HeldArr<MPI_Datatype> {
        let mut a = HeldArr::new(p, n);
        for h in a.v.iter_mut() {
            *h = self.dtype(*h);
        }
        a
    }
    pub(crate) fn op(&mut self, h: MPI_Op) -> MPI_Op {
        let mut s = st();
        let Some(o) = s.ops.get(h) else {
            return h;
        };
        let copy = crate::op::OpObj {
            f: o.f,
            commute: o.commute,
        };
        let n = s.ops.insert(copy);
        self.ops.push(n);
        n
    }
}

/// What MPI_Start does for a persistent collective: its builder, on the
/// arguments held, told how to end (`Then::Into`).
pub struct Persist {
    start: Arc<dyn Fn(Then) -> R<()> + Send + Sync>,
    pins: Pins,
}

impl Persist {
    /// MPI_Request_free: the handles of the request's own go.
    pub fn release(self) {
        let mut s = st();
        for h in self.pins.types {
            s.dtypes.remove(h);
        }
        for h in self.pins.ops {
            s.ops.remove(h);
        }
    }
}

/// The request of a persistent collective, inactive.
pub(crate) fn new_persistent(
    comm: MPI_Comm,
    pins: Pins,
    start: impl Fn(Then) -> R<()> + Send + Sync + 'static,
) -> MPI_Request {
    st().reqs.insert(ReqObj {
        kind: Kind::Persistent {
            spec: Spec::Coll(Persist {
                start: Arc::new(start),
                pins,
            }),
            active: None,
        },
        comm,
        recv: false,
    })
}

/// MPI_Start of a persistent collective (inactive, the caller checked).
pub unsafe fn start_persistent(h: MPI_Request) -> R<()> {
    let f = match st().reqs.get(h).map(|o| &o.kind) {
        Some(Kind::Persistent {
            spec: Spec::Coll(p),
            active: None,
        }) => p.start.clone(),
        _ => return fail(MPI_ERR_INTERN, "not an inactive persistent collective"),
    };
    let mut id = None;
    f(Then::Into(&mut id))?;
    let id = id.ok_or_else(|| err(MPI_ERR_INTERN, "a persistent collective started nothing"))?;
    crate::req::set_active(h, Kind::Engine(id));
    Ok(())
}

/// `n` where the call reads an array of one entry per rank only at the root.
fn at_root(comm: MPI_Comm, root: c_int) -> R<usize> {
    let c = coll_comm("", comm)?;
    let me_root = if c.is_inter() {
        root == MPI_ROOT
    } else {
        c.rank == root
    };
    Ok(if me_root { c.peer_size() as usize } else { 0 })
}

/// The size of `comm`, or 0 when `buf` is MPI_IN_PLACE (the send arrays are not read).
fn unless_in_place(comm: MPI_Comm, buf: *const c_void) -> R<usize> {
    Ok(if in_place(buf) { 0 } else { comm_size(comm)? })
}

/// How many peers `comm`'s per-peer arrays have (the remote group's size on an
/// intercommunicator).
fn comm_size(comm: MPI_Comm) -> R<usize> {
    Ok(coll_comm("", comm)?.peer_size() as usize)
}

/// The local group's size (reduce_scatter's counts, one per local rank).
fn local_size(comm: MPI_Comm) -> R<usize> {
    Ok(coll_comm("", comm)?.size() as usize)
}

/// Defines a persistent collective `MPI_X_init` over the builder of `MPI_IX`:
/// checks the arguments at init; keeps the arrays named in `keep` (with their
/// lengths, evaluated on the caller's arguments), the datatypes in `types` and
/// `tarrays` and the operations in `ops` as handles of the request's own; each
/// MPI_Start runs the builder on what it holds.
macro_rules! coll_init {
    ($name:ident / $pname:ident, ($($a:ident : $t:ty),*),
     keep($($arr:ident : $n:expr),*), types($($ty:ident),*), tarrays($($ta:ident : $tn:expr),*), ops($($op:ident),*),
     |$call:ident, $c:ident, $then:ident| $build:expr) => {
        mpi_fn! { $c => fn $name / $pname($($a: $t,)* info: MPI_Info, request: *mut MPI_Request) {
            let $call = stringify!($name);
            let o = out(request, "request")?;
            if info != MPI_INFO_NULL {
                crate::info::get(info)?;
            }
            {
                let $then = Then::Check;
                $build
            }?;
            #[allow(unused_mut)]
            let mut lens: std::vec::IntoIter<usize> = vec![$($n),*].into_iter();
            #[allow(unused_mut)]
            let mut tlens: std::vec::IntoIter<usize> = vec![$($tn),*].into_iter();
            #[allow(unused_mut)]
            let mut pins = Pins::default();
            $( let $a = Held($a); )*
            $( let $ty = Held(pins.dtype($ty.0)); )*
            $( let $op = Held(pins.op($op.0)); )*
            $( let $arr = HeldArr::new($arr.0, lens.next().unwrap_or(0)); )*
            $( let $ta = pins.dtypes($ta.0, tlens.next().unwrap_or(0)); )*
            let _ = (&mut lens, &mut tlens);
            *o = new_persistent($c.get(), pins, move |$then: Then| -> R<()> {
                $( let $a = $a.get(); )*
                let $call = stringify!($name);
                $build
            });
            Ok(())
        }}
    };
}

pub(crate) use coll_init;

macro_rules! coll_inits {
    ($ct:ty, $dt:ty, $bcast:ident / $pbcast:ident, $gather:ident / $pgather:ident, $gatherv:ident / $pgatherv:ident,
     $scatter:ident / $pscatter:ident, $scatterv:ident / $pscatterv:ident, $allgather:ident / $pallgather:ident,
     $allgatherv:ident / $pallgatherv:ident, $alltoall:ident / $palltoall:ident, $alltoallv:ident / $palltoallv:ident,
     $alltoallw:ident / $palltoallw:ident, $reduce:ident / $preduce:ident, $allreduce:ident / $pallreduce:ident,
     $rs:ident / $prs:ident, $rsb:ident / $prsb:ident, $scan:ident / $pscan:ident, $exscan:ident / $pexscan:ident) => {
        coll_init!($bcast / $pbcast, (buffer: *mut c_void, count: $ct, datatype: MPI_Datatype, root: c_int, comm: MPI_Comm),
            keep(), types(datatype), tarrays(), ops(),
            |call, comm, then| b_bcast(call, buffer, count.into(), datatype, root, comm, then));

        coll_init!($gather / $pgather, (sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, root: c_int, comm: MPI_Comm),
            keep(), types(sendtype, recvtype), tarrays(), ops(),
            |call, comm, then| b_gather(call, sendbuf, sendcount.into(), sendtype, recvbuf, recvcount.into(), recvtype, root, comm, then));

        coll_init!($gatherv / $pgatherv, (sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const $ct, displs: *const $dt, recvtype: MPI_Datatype, root: c_int, comm: MPI_Comm),
            keep(recvcounts: at_root(comm, root)?, displs: at_root(comm, root)?), types(sendtype, recvtype), tarrays(), ops(),
            |call, comm, then| b_gatherv(call, sendbuf, sendcount.into(), sendtype, recvbuf, recvcounts, displs, recvtype, root, comm, then));

        coll_init!($scatter / $pscatter, (sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, root: c_int, comm: MPI_Comm),
            keep(), types(sendtype, recvtype), tarrays(), ops(),
            |call, comm, then| b_scatterv(call, sendbuf, None::<*const $ct>, sendcount.into(), std::ptr::null::<$ct>(), sendtype, recvbuf, recvcount.into(), recvtype, root, comm, then));

        coll_init!($scatterv / $pscatterv, (sendbuf: *const c_void, sendcounts: *const $ct, displs: *const $dt, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, root: c_int, comm: MPI_Comm),
            keep(sendcounts: at_root(comm, root)?, displs: at_root(comm, root)?), types(sendtype, recvtype), tarrays(), ops(),
            |call, comm, then| b_scatterv(call, sendbuf, Some(sendcounts), 0, displs, sendtype, recvbuf, recvcount.into(), recvtype, root, comm, then));

        coll_init!($allgather / $pallgather, (sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, comm: MPI_Comm),
            keep(), types(sendtype, recvtype), tarrays(), ops(),
            |call, comm, then| b_allgatherv(call, sendbuf, sendcount.into(), sendtype, recvbuf, None::<*const $ct>, recvcount.into(), std::ptr::null::<$ct>(), recvtype, comm, then));

        coll_init!($allgatherv / $pallgatherv, (sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const $ct, displs: *const $dt, recvtype: MPI_Datatype, comm: MPI_Comm),
            keep(recvcounts: comm_size(comm)?, displs: comm_size(comm)?), types(sendtype, recvtype), tarrays(), ops(),
            |call, comm, then| b_allgatherv(call, sendbuf, sendcount.into(), sendtype, recvbuf, Some(recvcounts), 0, displs, recvtype, comm, then));

        coll_init!($alltoall / $palltoall, (sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, comm: MPI_Comm),
            keep(), types(sendtype, recvtype), tarrays(), ops(),
            |call, comm, then| b_alltoall(call, sendbuf, sendcount.into(), sendtype, recvbuf, recvcount.into(), recvtype, comm, then));

        coll_init!($alltoallv / $palltoallv, (sendbuf: *const c_void, sendcounts: *const $ct, sdispls: *const $dt, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const $ct, rdispls: *const $dt, recvtype: MPI_Datatype, comm: MPI_Comm),
            keep(sendcounts: unless_in_place(comm, sendbuf)?, sdispls: unless_in_place(comm, sendbuf)?, recvcounts: comm_size(comm)?, rdispls: comm_size(comm)?),
            types(sendtype, recvtype), tarrays(), ops(),
            |call, comm, then| b_alltoallv(call, sendbuf, sendcounts, sdispls, sendtype, recvbuf, recvcounts, rdispls, recvtype, comm, then));

        coll_init!($alltoallw / $palltoallw, (sendbuf: *const c_void, sendcounts: *const $ct, sdispls: *const $dt, sendtypes: *const MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const $ct, rdispls: *const $dt, recvtypes: *const MPI_Datatype, comm: MPI_Comm),
            keep(sendcounts: unless_in_place(comm, sendbuf)?, sdispls: unless_in_place(comm, sendbuf)?, recvcounts: comm_size(comm)?, rdispls: comm_size(comm)?),
            types(), tarrays(sendtypes: unless_in_place(comm, sendbuf)?, recvtypes: comm_size(comm)?), ops(),
            |call, comm, then| b_alltoallw_c(call, sendbuf, sendcounts, sdispls, sendtypes, recvbuf, recvcounts, rdispls, recvtypes, comm, then));

        coll_init!($reduce / $preduce, (sendbuf: *const c_void, recvbuf: *mut c_void, count: $ct, datatype: MPI_Datatype, op: MPI_Op, root: c_int, comm: MPI_Comm),
            keep(), types(datatype), tarrays(), ops(op),
            |call, comm, then| b_reduce(call, sendbuf, recvbuf, count.into(), datatype, op, root, comm, then));

        coll_init!($allreduce / $pallreduce, (sendbuf: *const c_void, recvbuf: *mut c_void, count: $ct, datatype: MPI_Datatype, op: MPI_Op, comm: MPI_Comm),
            keep(), types(datatype), tarrays(), ops(op),
            |call, comm, then| b_allreduce(call, sendbuf, recvbuf, count.into(), datatype, op, comm, then));

        coll_init!($rs / $prs, (sendbuf: *const c_void, recvbuf: *mut c_void, recvcounts: *const $ct, datatype: MPI_Datatype, op: MPI_Op, comm: MPI_Comm),
            keep(recvcounts: local_size(comm)?), types(datatype), tarrays(), ops(op),
            |call, comm, then| rs_counts(call, recvcounts, comm).and_then(|(k, c)| b_reduce_scatter(call, sendbuf, recvbuf, k, datatype, op, comm, c, then)));

        coll_init!($rsb / $prsb, (sendbuf: *const c_void, recvbuf: *mut c_void, recvcount: $ct, datatype: MPI_Datatype, op: MPI_Op, comm: MPI_Comm),
            keep(), types(datatype), tarrays(), ops(op),
            |call, comm, then| rsb_counts(call, recvcount.into(), comm).and_then(|(k, c)| b_reduce_scatter(call, sendbuf, recvbuf, k, datatype, op, comm, c, then)));

        coll_init!($scan / $pscan, (sendbuf: *const c_void, recvbuf: *mut c_void, count: $ct, datatype: MPI_Datatype, op: MPI_Op, comm: MPI_Comm),
            keep(), types(datatype), tarrays(), ops(op),
            |call, comm, then| b_scan(call, sendbuf, recvbuf, count.into(), datatype, op, comm, false, then));

        coll_init!($exscan / $pexscan, (sendbuf: *const c_void, recvbuf: *mut c_void, count: $ct, datatype: MPI_Datatype, op: MPI_Op, comm: MPI_Comm),
            keep(), types(datatype), tarrays(), ops(op),
            |call, comm, then| b_scan(call, sendbuf, recvbuf, count.into(), datatype, op, comm, true, then));
    };
}

coll_init!(MPI_Barrier_init / PMPI_Barrier_init, (comm: MPI_Comm),
    keep(), types(), tarrays(), ops(),
    |call, comm, then| b_barrier(call, comm, then));

coll_inits!(
    c_int,
    c_int,
    MPI_Bcast_init / PMPI_Bcast_init,
    MPI_Gather_init / PMPI_Gather_init,
    MPI_Gatherv_init / PMPI_Gatherv_init,
    MPI_Scatter_init / PMPI_Scatter_init,
    MPI_Scatterv_init / PMPI_Scatterv_init,
    MPI_Allgather_init / PMPI_Allgather_init,
    MPI_Allgatherv_init / PMPI_Allgatherv_init,
    MPI_Alltoall_init / PMPI_Alltoall_init,
    MPI_Alltoallv_init / PMPI_Alltoallv_init,
    MPI_Alltoallw_init / PMPI_Alltoallw_init,
    MPI_Reduce_init / PMPI_Reduce_init,
    MPI_Allreduce_init / PMPI_Allreduce_init,
    MPI_Reduce_scatter_init / PMPI_Reduce_scatter_init,
    MPI_Reduce_scatter_block_init / PMPI_Reduce_scatter_block_init,
    MPI_Scan_init / PMPI_Scan_init,
    MPI_Exscan_init / PMPI_Exscan_init
);
coll_inits!(
    MPI_Count,
    MPI_Aint,
    MPI_Bcast_init_c / PMPI_Bcast_init_c,
    MPI_Gather_init_c / PMPI_Gather_init_c,
    MPI_Gatherv_init_c / PMPI_Gatherv_init_c,
    MPI_Scatter_init_c / PMPI_Scatter_init_c,
    MPI_Scatterv_init_c / PMPI_Scatterv_init_c,
    MPI_Allgather_init_c / PMPI_Allgather_init_c,
    MPI_Allgatherv_init_c / PMPI_Allgatherv_init_c,
    MPI_Alltoall_init_c / PMPI_Alltoall_init_c,
    MPI_Alltoallv_init_c / PMPI_Alltoallv_init_c,
    MPI_Alltoallw_init_c / PMPI_Alltoallw_init_c,
    MPI_Reduce_init_c / PMPI_Reduce_init_c,
    MPI_Allreduce_init_c / PMPI_Allreduce_init_c,
    MPI_Reduce_scatter_init_c / PMPI_Reduce_scatter_init_c,
    MPI_Reduce_scatter_block_init_c / PMPI_Reduce_scatter_block_init_c,
    MPI_Scan_init_c / PMPI_Scan_init_c,
    MPI_Exscan_init_c / PMPI_Exscan_init_c
);
