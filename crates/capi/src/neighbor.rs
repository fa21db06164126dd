//! Neighborhood collectives (MPI_Neighbor_* and MPI_Ineighbor_*) over
//! point-to-point on the communicator's collective context: every receive from
//! the in-neighbors is posted, then every send to the out-neighbors, then all are
//! waited for. Buffers are bytes (`count * extent` of each datatype), which covers
//! the predefined (contiguous) datatypes; derived datatypes come with the
//! datatype engine's pack/unpack.
//!
//! Tags: each call takes the communicator's next collective sequence number, so
//! concurrent collectives never match each other. On a Cartesian communicator
//! every direction has its own tag (2·ndims sequence numbers): what a process
//! sends to its -1 neighbor lands in that neighbor's +1 slot even when both are
//! the same process (a periodic dimension of size 1 or 2), as MPI-4 specifies.
//! Graph and distributed-graph neighbors pair parallel edges in order.
//!
//! The MPI_Ineighbor_* forms post the same receives and sends and return one
//! request that completes when all of them have (`join_all`, advanced by the
//! progress loop), truncation reported as its error; packed send data and
//! receive temporaries live in its fixup until then. The persistent forms
//! (MPI_Neighbor_*_init) check at init and start that nonblocking form at every
//! MPI_Start (`coll::Then`, as the other persistent collectives).

use crate::coll::{new_persistent, Held, HeldArr, Pins, Then};
use crate::consts::*;
use crate::dtype::{add_fixup, out, recv_target, send_data, Fixup, SendData, Wide};
use crate::err::{err, fail, R};
use crate::state::st;
use std::ffi::c_void;
use std::os::raw::c_int;
use vmpi::sys;
use vmpi::sys::comm::Comm;
use vmpi::sys::p2p::{Pattern, ReqId, SendMode};
use vmpi::sys::p2p::{RecvBuf, SendBuf};

/// One transfer with a rank of `c` (PROC_NULL: none).
pub struct Xfer {
    pub peer: i32,
    pub ptr: usize,
    pub len: usize,
    pub tag: i32,
}

/// Post `recvs` then `sends` on `c`'s collective context and wait for all.
pub unsafe fn run(c: &Comm, call: &str, sends: &[Xfer], recvs: &[Xfer]) -> R<()> {
    let mut ids = Vec::new();
    sys::with(call, |rt| {
        for r in recvs.iter().filter(|x| x.peer != MPI_PROC_NULL) {
            let id = rt.irecv(
                RecvBuf::new(r.ptr as *mut u8, r.len),
                Pattern {
                    ctx: c.coll_ctx,
                    src: r.peer,
                    tag: r.tag,
                },
            )?;
            ids.push((id, Some(r.len)));
        }
        for s in sends.iter().filter(|x| x.peer != MPI_PROC_NULL) {
            let id = rt.isend(
                SendBuf::new(s.ptr as *const u8, s.len),
                c.world_rank(s.peer),
                c.coll_ctx,
                c.rank,
                s.tag,
                SendMode::Standard,
            )?;
            ids.push((id, None));
        }
        Ok(())
    })?;
    let mut bad = None;
    for (id, want) in ids {
        let s = sys::wait(id)?;
        if let Some(w) = want {
            if (s.error.is_some() || s.count != w) && bad.is_none() {
                bad = Some(format!(
                    "{call}: got {} bytes from rank {}, expected {w} (the counts and types of the ranks do not match)",
                    s.count, s.source
                ));
            }
        }
    }
    match bad {
        Some(m) => fail(MPI_ERR_TRUNCATE, m),
        None => Ok(()),
    }
}

/// Every rank's `mine` (ints), in rank order, over `c`'s collective context.
pub fn allgather_ints(c: &Comm, call: &str, mine: &[i32]) -> R<Vec<Vec<i32>>> {
    let n = c.size();
    let (t1, t2) = (c.coll().tag, c.coll().tag);
    let my_len = [mine.len() as u64];
    let mut lens = vec![0u64; n as usize];
    let others: Vec<i32> = (0..n).filter(|&r| r != c.rank).collect();
    // SAFETY: every buffer outlives the blocking run.
    unsafe {
        run(
            c,
            call,
            &others
                .iter()
                .map(|&p| Xfer {
                    peer: p,
                    ptr: my_len.as_ptr() as usize,
                    len: 8,
                    tag: t1,
                })
                .collect::<Vec<_>>(),
            &others
                .iter()
                .map(|&p| Xfer {
                    peer: p,
                    ptr: lens.as_mut_ptr().add(p as usize) as usize,
                    len: 8,
                    tag: t1,
                })
                .collect::<Vec<_>>(),
        )?;
    }
    let mut all: Vec<Vec<i32>> = lens.iter().map(|&l| vec![0; l as usize]).collect();
    all[c.rank as usize] = mine.to_vec();
    let recvs: Vec<Xfer> = others
        .iter()
        .map(|&p| Xfer {
            peer: p,
            ptr: all[p as usize].as_mut_ptr() as usize,
            len: 4 * all[p as usize].len(),
            tag: t2,
        })
        .collect();
    let sends: Vec<Xfer> = others
        .iter()
        .map(|&p| Xfer {
            peer: p,
            ptr: mine.as_ptr() as usize,
            len: 4 * mine.len(),
            tag: t2,
        })
        .collect();
    // SAFETY: as above (the inner vectors are not resized while the run lasts).
    unsafe { run(c, call, &sends, &recvs)? };
    Ok(all)
}

/// The neighbors and per-slot tags of `comm` for one call: (in, out, recv tag of
/// slot k, send tag of slot k).
fn plan(comm: MPI_Comm) -> R<(Comm, Vec<i32>, Vec<i32>, Vec<i32>, Vec<i32>)> {
    let c = crate::comm::check(comm)?;
    if c.is_inter() {
        return fail(
            MPI_ERR_COMM,
            "neighborhood collectives need an intracommunicator with a topology",
        );
    }
    let (ins, outs, cart) = crate::topo::neighbors(comm)?;
    let (rt, stag) = if cart {
        let t: Vec<i32> = (0..ins.len()).map(|_| c.coll().tag).collect();
        let s = (0..outs.len()).map(|k| t[k ^ 1]).collect();
        (t, s)
    } else {
        let t = c.coll().tag;
        (vec![t; ins.len()], vec![t; outs.len()])
    };
    Ok((c, ins, outs, rt, stag))
}

unsafe fn slice<'a, T>(p: *const T, n: usize, what: &str) -> R<&'a [T]> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(err(MPI_ERR_ARG, format!("{what} is a null pointer")));
    }
    Ok(std::slice::from_raw_parts(p, n))
}

/// The array argument `p[0..n]` (int, MPI_Count or MPI_Aint), widened.
unsafe fn wide<T: Wide>(p: *const T, n: usize, what: &str) -> R<Vec<i64>> {
    crate::dtype::wide_arr(p, n as MPI_Count, what)
}

fn extent(dt: MPI_Datatype) -> R<i64> {
    Ok(crate::dtype::get(dt)?.extent())
}

/// `k * count * extent` or `displ * extent` bytes, or MPI_ERR_COUNT when it overflows.
fn scaled(parts: &[i64]) -> R<isize> {
    parts
        .iter()
        .try_fold(1i64, |a, &b| a.checked_mul(b))
        .and_then(|x| isize::try_from(x).ok())
        .ok_or_else(|| {
            err(
                MPI_ERR_COUNT,
                format!("the displacement {parts:?} overflows"),
            )
        })
}

/// Send buffers (packed copies of non-contiguous data live here until the run ends).
#[derive(Default)]
struct Sends {
    data: Vec<SendData>,
    xfers: Vec<Xfer>,
}

impl Sends {
    unsafe fn add(
        &mut self,
        peer: i32,
        buf: *const u8,
        count: MPI_Count,
        dt: MPI_Datatype,
        tag: i32,
    ) -> R<()> {
        let d = send_data(buf, count, dt)?;
        let (ptr, len) = d.ptr_len();
        self.xfers.push(Xfer {
            peer,
            ptr: ptr as usize,
            len,
            tag,
        });
        self.data.push(d);
        Ok(())
    }
}

/// Receive targets (temporaries for non-contiguous types are unpacked after the run).
#[derive(Default)]
struct Recvs {
    fixups: Vec<Fixup>,
    xfers: Vec<Xfer>,
}

impl Recvs {
    unsafe fn add(
        &mut self,
        peer: i32,
        buf: *mut u8,
        count: MPI_Count,
        dt: MPI_Datatype,
        tag: i32,
    ) -> R<()> {
        let (ptr, len, f) = recv_target(buf, count, dt)?;
        self.xfers.push(Xfer {
            peer,
            ptr: ptr as usize,
            len,
            tag,
        });
        self.fixups.push(f);
        Ok(())
    }
}

/// Run the transfers, then unpack what arrived into non-contiguous receive
/// buffers (`then` Run); or post them behind one request (Start, Into); or
/// nothing (Check: the arguments are good).
unsafe fn run_typed(c: &Comm, call: &str, sends: Sends, recvs: Recvs, then: Then) -> R<()> {
    let (comm, request) = match then {
        Then::Run => {
            run(c, call, &sends.xfers, &recvs.xfers)?;
            drop(sends);
            for f in recvs.fixups {
                f.run(usize::MAX);
            }
            return Ok(());
        }
        Then::Check => return Ok(()),
        Then::Start(comm, request) => (Some(comm), Some(request)),
        Then::Into(_) => (None, None),
    };
    let whole = start(c, call, &sends.xfers, &recvs.xfers)?;
    let mut f = Fixup::default();
    for d in sends.data {
        if let SendData::Packed(v) = d {
            f.keep.push(v);
        }
    }
    // The request's status counts no bytes: every unpack takes the whole buffer.
    for r in recvs.fixups {
        f.keep.extend(r.keep);
        f.then.extend(
            r.then
                .into_iter()
                .map(|g| Box::new(move |_: usize| g(usize::MAX)) as Box<dyn FnOnce(usize) + Send>),
        );
    }
    add_fixup(whole, f);
    match (then, comm, request) {
        (Then::Into(slot), ..) => *slot = Some(whole),
        (_, Some(comm), Some(request)) => {
            *out(request, "request")? = st().reqs.insert(crate::req::ReqObj {
                kind: crate::req::Kind::Engine(whole),
                comm,
                recv: false,
            });
        }
        _ => unreachable!("a request to start into"),
    }
    Ok(())
}

/// Post `recvs` then `sends` on `c`'s collective context: one request that
/// completes when all have (its status: the first error, a truncation).
unsafe fn start(c: &Comm, call: &str, sends: &[Xfer], recvs: &[Xfer]) -> R<ReqId> {
    Ok(sys::with(call, |rt| {
        let mut ids = Vec::new();
        for r in recvs.iter().filter(|x| x.peer != MPI_PROC_NULL) {
            ids.push(rt.irecv(
                RecvBuf::new(r.ptr as *mut u8, r.len),
                Pattern {
                    ctx: c.coll_ctx,
                    src: r.peer,
                    tag: r.tag,
                },
            )?);
        }
        for s in sends.iter().filter(|x| x.peer != MPI_PROC_NULL) {
            ids.push(rt.isend(
                SendBuf::new(s.ptr as *const u8, s.len),
                c.world_rank(s.peer),
                c.coll_ctx,
                c.rank,
                s.tag,
                SendMode::Standard,
            )?);
        }
        let whole = rt.new_external();
        rt.join_all(whole, ids)?;
        Ok(whole)
    })?)
}

// Every function below takes MPI_Count counts and widened arrays: the int forms
// and the MPI-4 `_c` forms (macros at the end) both call them.

#[allow(clippy::too_many_arguments)]
unsafe fn allgather(
    call: &str,
    sendbuf: *const c_void,
    sendcount: MPI_Count,
    sendtype: MPI_Datatype,
    recvbuf: *mut c_void,
    recvcounts: Option<&[i64]>,
    recvcount: MPI_Count,
    displs: Option<&[i64]>,
    recvtype: MPI_Datatype,
    comm: MPI_Comm,
    then: Then,
) -> R<()> {
    let (c, ins, outs, rt, stag) = plan(comm)?;
    let ext = extent(recvtype)?;
    let mut recvs = Recvs::default();
    for (k, &p) in ins.iter().enumerate() {
        let (cnt, disp) = match (recvcounts, displs) {
            (Some(rc), Some(d)) => (rc[k], scaled(&[d[k], ext])?),
            _ => (recvcount, scaled(&[k as i64, recvcount, ext])?),
        };
        recvs.add(
            p,
            (recvbuf as *mut u8).wrapping_offset(disp),
            cnt,
            recvtype,
            rt[k],
        )?;
    }
    let mut sends = Sends::default();
    for (k, &p) in outs.iter().enumerate() {
        sends.add(p, sendbuf as *const u8, sendcount, sendtype, stag[k])?;
    }
    run_typed(&c, call, sends, recvs, then)
}

#[allow(clippy::too_many_arguments)]
/// Alltoall in all its forms: per-slot (count, byte displacement, datatype).
unsafe fn alltoall(
    call: &str,
    sendbuf: *const c_void,
    s: &dyn Fn(usize) -> R<(MPI_Count, isize, MPI_Datatype)>,
    recvbuf: *mut c_void,
    r: &dyn Fn(usize) -> R<(MPI_Count, isize, MPI_Datatype)>,
    comm: MPI_Comm,
    plan_: (Comm, Vec<i32>, Vec<i32>, Vec<i32>, Vec<i32>),
    then: Then,
) -> R<()> {
    let (c, ins, outs, rt, stag) = plan_;
    let mut sends = Sends::default();
    for (k, &p) in outs.iter().enumerate() {
        let (cnt, disp, dt) = s(k)?;
        sends.add(
            p,
            (sendbuf as *const u8).wrapping_offset(disp),
            cnt,
            dt,
            stag[k],
        )?;
    }
    let mut recvs = Recvs::default();
    for (k, &p) in ins.iter().enumerate() {
        let (cnt, disp, dt) = r(k)?;
        recvs.add(
            p,
            (recvbuf as *mut u8).wrapping_offset(disp),
            cnt,
            dt,
            rt[k],
        )?;
    }
    let _ = comm;
    run_typed(&c, call, sends, recvs, then)
}

#[allow(clippy::too_many_arguments)]
unsafe fn a2a(
    call: &str,
    sendbuf: *const c_void,
    sendcount: MPI_Count,
    sendtype: MPI_Datatype,
    recvbuf: *mut c_void,
    recvcount: MPI_Count,
    recvtype: MPI_Datatype,
    comm: MPI_Comm,
    then: Then,
) -> R<()> {
    let p = plan(comm)?;
    let (se, re) = (extent(sendtype)?, extent(recvtype)?);
    alltoall(
        call,
        sendbuf,
        &|k| Ok((sendcount, scaled(&[k as i64, sendcount, se])?, sendtype)),
        recvbuf,
        &|k| Ok((recvcount, scaled(&[k as i64, recvcount, re])?, recvtype)),
        comm,
        p,
        then,
    )
}

#[allow(clippy::too_many_arguments)]
unsafe fn a2av<C: Wide, D: Wide>(
    call: &str,
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
    let p = plan(comm)?;
    let (ni, no) = (p.1.len(), p.2.len());
    let (sc, sd) = (
        wide(sendcounts, no, "sendcounts")?,
        wide(sdispls, no, "sdispls")?,
    );
    let (rc, rd) = (
        wide(recvcounts, ni, "recvcounts")?,
        wide(rdispls, ni, "rdispls")?,
    );
    let (se, re) = (extent(sendtype)?, extent(recvtype)?);
    alltoall(
        call,
        sendbuf,
        &|k| Ok((sc[k], scaled(&[sd[k], se])?, sendtype)),
        recvbuf,
        &|k| Ok((rc[k], scaled(&[rd[k], re])?, recvtype)),
        comm,
        p,
        then,
    )
}

#[allow(clippy::too_many_arguments)]
unsafe fn a2aw<C: Wide>(
    call: &str,
    sendbuf: *const c_void,
    sendcounts: *const C,
    sdispls: *const MPI_Aint,
    sendtypes: *const MPI_Datatype,
    recvbuf: *mut c_void,
    recvcounts: *const C,
    rdispls: *const MPI_Aint,
    recvtypes: *const MPI_Datatype,
    comm: MPI_Comm,
    then: Then,
) -> R<()> {
    let p = plan(comm)?;
    let (ni, no) = (p.1.len(), p.2.len());
    let (sc, sd, st_) = (
        wide(sendcounts, no, "sendcounts")?,
        slice(sdispls, no, "sdispls")?,
        slice(sendtypes, no, "sendtypes")?,
    );
    let (rc, rd, rt) = (
        wide(recvcounts, ni, "recvcounts")?,
        slice(rdispls, ni, "rdispls")?,
        slice(recvtypes, ni, "recvtypes")?,
    );
    alltoall(
        call,
        sendbuf,
        &|k| Ok((sc[k], sd[k], st_[k])),
        recvbuf,
        &|k| Ok((rc[k], rd[k], rt[k])),
        comm,
        p,
        then,
    )
}

unsafe fn vargs<C: Wide, D: Wide>(
    comm: MPI_Comm,
    recvcounts: *const C,
    displs: *const D,
) -> R<(Vec<i64>, Vec<i64>)> {
    let n = crate::topo::neighbors(comm)?.0.len();
    Ok((
        wide(recvcounts, n, "recvcounts")?,
        wide(displs, n, "displs")?,
    ))
}

/// In-degree and out-degree of `comm`'s topology: the lengths of the receive
/// and send arrays.
fn degrees(comm: MPI_Comm) -> R<(usize, usize)> {
    let (ins, outs, _) = crate::topo::neighbors(comm)?;
    Ok((ins.len(), outs.len()))
}

/// The blocking, nonblocking and persistent neighborhood collectives of one
/// count type (`$ct` counts, `$dt` allgatherv/alltoallv displacements): the int
/// forms and the MPI-4 `_c` forms.
macro_rules! neighbor_fns {
    ($ct:ty, $dt:ty, $ag:ident / $pag:ident, $iag:ident / $piag:ident, $agi:ident / $pagi:ident,
     $agv:ident / $pagv:ident, $iagv:ident / $piagv:ident, $agvi:ident / $pagvi:ident,
     $a2a:ident / $pa2a:ident, $ia2a:ident / $pia2a:ident, $a2ai:ident / $pa2ai:ident,
     $a2av:ident / $pa2av:ident, $ia2av:ident / $pia2av:ident, $a2avi:ident / $pa2avi:ident,
     $a2aw:ident / $pa2aw:ident, $ia2aw:ident / $pia2aw:ident, $a2awi:ident / $pa2awi:ident) => {
        crate::coll::coll_pair!($ag / $pag, $iag / $piag,
            (sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, comm: MPI_Comm),
            |call, comm, then| allgather(call, sendbuf, sendcount.into(), sendtype, recvbuf, None, recvcount.into(), None, recvtype, comm, then));
        crate::coll::coll_init!($agi / $pagi,
            (sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, comm: MPI_Comm),
            keep(), types(sendtype, recvtype), tarrays(), ops(),
            |call, comm, then| allgather(call, sendbuf, sendcount.into(), sendtype, recvbuf, None, recvcount.into(), None, recvtype, comm, then));

        crate::coll::coll_pair!($agv / $pagv, $iagv / $piagv,
            (sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const $ct, displs: *const $dt, recvtype: MPI_Datatype, comm: MPI_Comm),
            |call, comm, then| vargs(comm, recvcounts, displs).and_then(|(rc, d)| allgather(call, sendbuf, sendcount.into(), sendtype, recvbuf, Some(&rc), 0, Some(&d), recvtype, comm, then)));
        crate::coll::coll_init!($agvi / $pagvi,
            (sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const $ct, displs: *const $dt, recvtype: MPI_Datatype, comm: MPI_Comm),
            keep(recvcounts: degrees(comm)?.0, displs: degrees(comm)?.0), types(sendtype, recvtype), tarrays(), ops(),
            |call, comm, then| vargs(comm, recvcounts, displs).and_then(|(rc, d)| allgather(call, sendbuf, sendcount.into(), sendtype, recvbuf, Some(&rc), 0, Some(&d), recvtype, comm, then)));

        crate::coll::coll_pair!($a2a / $pa2a, $ia2a / $pia2a,
            (sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, comm: MPI_Comm),
            |call, comm, then| a2a(call, sendbuf, sendcount.into(), sendtype, recvbuf, recvcount.into(), recvtype, comm, then));
        crate::coll::coll_init!($a2ai / $pa2ai,
            (sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, comm: MPI_Comm),
            keep(), types(sendtype, recvtype), tarrays(), ops(),
            |call, comm, then| a2a(call, sendbuf, sendcount.into(), sendtype, recvbuf, recvcount.into(), recvtype, comm, then));

        crate::coll::coll_pair!($a2av / $pa2av, $ia2av / $pia2av,
            (sendbuf: *const c_void, sendcounts: *const $ct, sdispls: *const $dt, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const $ct, rdispls: *const $dt, recvtype: MPI_Datatype, comm: MPI_Comm),
            |call, comm, then| a2av(call, sendbuf, sendcounts, sdispls, sendtype, recvbuf, recvcounts, rdispls, recvtype, comm, then));
        crate::coll::coll_init!($a2avi / $pa2avi,
            (sendbuf: *const c_void, sendcounts: *const $ct, sdispls: *const $dt, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const $ct, rdispls: *const $dt, recvtype: MPI_Datatype, comm: MPI_Comm),
            keep(sendcounts: degrees(comm)?.1, sdispls: degrees(comm)?.1, recvcounts: degrees(comm)?.0, rdispls: degrees(comm)?.0),
            types(sendtype, recvtype), tarrays(), ops(),
            |call, comm, then| a2av(call, sendbuf, sendcounts, sdispls, sendtype, recvbuf, recvcounts, rdispls, recvtype, comm, then));

        crate::coll::coll_pair!($a2aw / $pa2aw, $ia2aw / $pia2aw,
            (sendbuf: *const c_void, sendcounts: *const $ct, sdispls: *const MPI_Aint, sendtypes: *const MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const $ct, rdispls: *const MPI_Aint, recvtypes: *const MPI_Datatype, comm: MPI_Comm),
            |call, comm, then| a2aw(call, sendbuf, sendcounts, sdispls, sendtypes, recvbuf, recvcounts, rdispls, recvtypes, comm, then));
        crate::coll::coll_init!($a2awi / $pa2awi,
            (sendbuf: *const c_void, sendcounts: *const $ct, sdispls: *const MPI_Aint, sendtypes: *const MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const $ct, rdispls: *const MPI_Aint, recvtypes: *const MPI_Datatype, comm: MPI_Comm),
            keep(sendcounts: degrees(comm)?.1, sdispls: degrees(comm)?.1, recvcounts: degrees(comm)?.0, rdispls: degrees(comm)?.0),
            types(), tarrays(sendtypes: degrees(comm)?.1, recvtypes: degrees(comm)?.0), ops(),
            |call, comm, then| a2aw(call, sendbuf, sendcounts, sdispls, sendtypes, recvbuf, recvcounts, rdispls, recvtypes, comm, then));
    };
}
neighbor_fns!(
    c_int,
    c_int,
    MPI_Neighbor_allgather / PMPI_Neighbor_allgather,
    MPI_Ineighbor_allgather / PMPI_Ineighbor_allgather,
    MPI_Neighbor_allgather_init / PMPI_Neighbor_allgather_init,
    MPI_Neighbor_allgatherv / PMPI_Neighbor_allgatherv,
    MPI_Ineighbor_allgatherv / PMPI_Ineighbor_allgatherv,
    MPI_Neighbor_allgatherv_init / PMPI_Neighbor_allgatherv_init,
    MPI_Neighbor_alltoall / PMPI_Neighbor_alltoall,
    MPI_Ineighbor_alltoall / PMPI_Ineighbor_alltoall,
    MPI_Neighbor_alltoall_init / PMPI_Neighbor_alltoall_init,
    MPI_Neighbor_alltoallv / PMPI_Neighbor_alltoallv,
    MPI_Ineighbor_alltoallv / PMPI_Ineighbor_alltoallv,
    MPI_Neighbor_alltoallv_init / PMPI_Neighbor_alltoallv_init,
    MPI_Neighbor_alltoallw / PMPI_Neighbor_alltoallw,
    MPI_Ineighbor_alltoallw / PMPI_Ineighbor_alltoallw,
    MPI_Neighbor_alltoallw_init / PMPI_Neighbor_alltoallw_init
);
neighbor_fns!(
    MPI_Count,
    MPI_Aint,
    MPI_Neighbor_allgather_c / PMPI_Neighbor_allgather_c,
    MPI_Ineighbor_allgather_c / PMPI_Ineighbor_allgather_c,
    MPI_Neighbor_allgather_init_c / PMPI_Neighbor_allgather_init_c,
    MPI_Neighbor_allgatherv_c / PMPI_Neighbor_allgatherv_c,
    MPI_Ineighbor_allgatherv_c / PMPI_Ineighbor_allgatherv_c,
    MPI_Neighbor_allgatherv_init_c / PMPI_Neighbor_allgatherv_init_c,
    MPI_Neighbor_alltoall_c / PMPI_Neighbor_alltoall_c,
    MPI_Ineighbor_alltoall_c / PMPI_Ineighbor_alltoall_c,
    MPI_Neighbor_alltoall_init_c / PMPI_Neighbor_alltoall_init_c,
    MPI_Neighbor_alltoallv_c / PMPI_Neighbor_alltoallv_c,
    MPI_Ineighbor_alltoallv_c / PMPI_Ineighbor_alltoallv_c,
    MPI_Neighbor_alltoallv_init_c / PMPI_Neighbor_alltoallv_init_c,
    MPI_Neighbor_alltoallw_c / PMPI_Neighbor_alltoallw_c,
    MPI_Ineighbor_alltoallw_c / PMPI_Ineighbor_alltoallw_c,
    MPI_Neighbor_alltoallw_init_c / PMPI_Neighbor_alltoallw_init_c
);
