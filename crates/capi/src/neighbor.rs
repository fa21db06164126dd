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
//! The MPI_Ineighbor_* forms run the operation to completion and return a request
//! that is already complete (as MPI_Comm_idup does): correct for programs whose
//! ranks all start the operation before waiting on other ones.

use crate::consts::*;
use crate::dtype::{out, recv_target, send_data, Fixup, SendData};
use crate::err::{err, fail, R};
use crate::state::st;
use std::ffi::c_void;
use std::os::raw::c_int;
use vmpi::sys;
use vmpi::sys::comm::Comm;
use vmpi::sys::p2p::{Pattern, SendMode, Status};
use vmpi::sys::p2p::{RecvBuf, SendBuf};

/// A request that is already complete, for the calls that finish at once.
pub fn done_request(comm: MPI_Comm) -> MPI_Request {
    st().reqs.insert(crate::req::ReqObj {
        kind: crate::req::Kind::Done(Status::empty()),
        comm,
        recv: false,
    })
}

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

fn extent(dt: MPI_Datatype) -> R<isize> {
    Ok(crate::dtype::get(dt)?.extent() as isize)
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
        count: c_int,
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
        count: c_int,
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

/// Run the transfers, then unpack what arrived into non-contiguous receive buffers.
unsafe fn run_typed(c: &Comm, call: &str, sends: Sends, recvs: Recvs) -> R<()> {
    run(c, call, &sends.xfers, &recvs.xfers)?;
    drop(sends);
    for f in recvs.fixups {
        f.run(usize::MAX);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
unsafe fn allgather(
    call: &str,
    sendbuf: *const c_void,
    sendcount: c_int,
    sendtype: MPI_Datatype,
    recvbuf: *mut c_void,
    recvcounts: Option<&[c_int]>,
    recvcount: c_int,
    displs: Option<&[c_int]>,
    recvtype: MPI_Datatype,
    comm: MPI_Comm,
) -> R<()> {
    let (c, ins, outs, rt, stag) = plan(comm)?;
    let ext = extent(recvtype)?;
    let mut recvs = Recvs::default();
    for (k, &p) in ins.iter().enumerate() {
        let (cnt, disp) = match (recvcounts, displs) {
            (Some(rc), Some(d)) => (rc[k], d[k] as isize),
            _ => (recvcount, (k as isize) * recvcount as isize),
        };
        recvs.add(
            p,
            (recvbuf as *mut u8).wrapping_offset(disp * ext),
            cnt,
            recvtype,
            rt[k],
        )?;
    }
    let mut sends = Sends::default();
    for (k, &p) in outs.iter().enumerate() {
        sends.add(p, sendbuf as *const u8, sendcount, sendtype, stag[k])?;
    }
    run_typed(&c, call, sends, recvs)
}

#[allow(clippy::too_many_arguments)]
/// Alltoall in all its forms: per-slot (count, byte displacement, datatype).
unsafe fn alltoall(
    call: &str,
    sendbuf: *const c_void,
    s: &dyn Fn(usize) -> R<(c_int, isize, MPI_Datatype)>,
    recvbuf: *mut c_void,
    r: &dyn Fn(usize) -> R<(c_int, isize, MPI_Datatype)>,
    comm: MPI_Comm,
    plan_: (Comm, Vec<i32>, Vec<i32>, Vec<i32>, Vec<i32>),
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
    run_typed(&c, call, sends, recvs)
}

unsafe fn a2a(
    call: &str,
    sendbuf: *const c_void,
    sendcount: c_int,
    sendtype: MPI_Datatype,
    recvbuf: *mut c_void,
    recvcount: c_int,
    recvtype: MPI_Datatype,
    comm: MPI_Comm,
) -> R<()> {
    let p = plan(comm)?;
    let (se, re) = (extent(sendtype)?, extent(recvtype)?);
    alltoall(
        call,
        sendbuf,
        &|k| Ok((sendcount, k as isize * sendcount as isize * se, sendtype)),
        recvbuf,
        &|k| Ok((recvcount, k as isize * recvcount as isize * re, recvtype)),
        comm,
        p,
    )
}

#[allow(clippy::too_many_arguments)]
unsafe fn a2av(
    call: &str,
    sendbuf: *const c_void,
    sendcounts: *const c_int,
    sdispls: *const c_int,
    sendtype: MPI_Datatype,
    recvbuf: *mut c_void,
    recvcounts: *const c_int,
    rdispls: *const c_int,
    recvtype: MPI_Datatype,
    comm: MPI_Comm,
) -> R<()> {
    let p = plan(comm)?;
    let (ni, no) = (p.1.len(), p.2.len());
    let (sc, sd) = (
        slice(sendcounts, no, "sendcounts")?,
        slice(sdispls, no, "sdispls")?,
    );
    let (rc, rd) = (
        slice(recvcounts, ni, "recvcounts")?,
        slice(rdispls, ni, "rdispls")?,
    );
    let (se, re) = (extent(sendtype)?, extent(recvtype)?);
    alltoall(
        call,
        sendbuf,
        &|k| Ok((sc[k], sd[k] as isize * se, sendtype)),
        recvbuf,
        &|k| Ok((rc[k], rd[k] as isize * re, recvtype)),
        comm,
        p,
    )
}

#[allow(clippy::too_many_arguments)]
unsafe fn a2aw(
    call: &str,
    sendbuf: *const c_void,
    sendcounts: *const c_int,
    sdispls: *const MPI_Aint,
    sendtypes: *const MPI_Datatype,
    recvbuf: *mut c_void,
    recvcounts: *const c_int,
    rdispls: *const MPI_Aint,
    recvtypes: *const MPI_Datatype,
    comm: MPI_Comm,
) -> R<()> {
    let p = plan(comm)?;
    let (ni, no) = (p.1.len(), p.2.len());
    let (sc, sd, st_) = (
        slice(sendcounts, no, "sendcounts")?,
        slice(sdispls, no, "sdispls")?,
        slice(sendtypes, no, "sendtypes")?,
    );
    let (rc, rd, rt) = (
        slice(recvcounts, ni, "recvcounts")?,
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
    )
}

unsafe fn vargs<'a>(
    comm: MPI_Comm,
    recvcounts: *const c_int,
    displs: *const c_int,
) -> R<(&'a [c_int], &'a [c_int])> {
    let n = crate::topo::neighbors(comm)?.0.len();
    Ok((
        slice(recvcounts, n, "recvcounts")?,
        slice(displs, n, "displs")?,
    ))
}

mpi_fn! { comm => fn MPI_Neighbor_allgather / PMPI_Neighbor_allgather(sendbuf: *const c_void, sendcount: c_int, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: c_int, recvtype: MPI_Datatype, comm: MPI_Comm) {
    allgather("MPI_Neighbor_allgather", sendbuf, sendcount, sendtype, recvbuf, None, recvcount, None, recvtype, comm)
}}

mpi_fn! { comm => fn MPI_Neighbor_allgatherv / PMPI_Neighbor_allgatherv(sendbuf: *const c_void, sendcount: c_int, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const c_int, displs: *const c_int, recvtype: MPI_Datatype, comm: MPI_Comm) {
    let (rc, d) = vargs(comm, recvcounts, displs)?;
    allgather("MPI_Neighbor_allgatherv", sendbuf, sendcount, sendtype, recvbuf, Some(rc), 0, Some(d), recvtype, comm)
}}

mpi_fn! { comm => fn MPI_Neighbor_alltoall / PMPI_Neighbor_alltoall(sendbuf: *const c_void, sendcount: c_int, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: c_int, recvtype: MPI_Datatype, comm: MPI_Comm) {
    a2a("MPI_Neighbor_alltoall", sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm)
}}

mpi_fn! { comm => fn MPI_Neighbor_alltoallv / PMPI_Neighbor_alltoallv(sendbuf: *const c_void, sendcounts: *const c_int, sdispls: *const c_int, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const c_int, rdispls: *const c_int, recvtype: MPI_Datatype, comm: MPI_Comm) {
    a2av("MPI_Neighbor_alltoallv", sendbuf, sendcounts, sdispls, sendtype, recvbuf, recvcounts, rdispls, recvtype, comm)
}}

mpi_fn! { comm => fn MPI_Neighbor_alltoallw / PMPI_Neighbor_alltoallw(sendbuf: *const c_void, sendcounts: *const c_int, sdispls: *const MPI_Aint, sendtypes: *const MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const c_int, rdispls: *const MPI_Aint, recvtypes: *const MPI_Datatype, comm: MPI_Comm) {
    a2aw("MPI_Neighbor_alltoallw", sendbuf, sendcounts, sdispls, sendtypes, recvbuf, recvcounts, rdispls, recvtypes, comm)
}}

unsafe fn done(comm: MPI_Comm, request: *mut MPI_Request) -> R<()> {
    *out(request, "request")? = done_request(comm);
    Ok(())
}

mpi_fn! { comm => fn MPI_Ineighbor_allgather / PMPI_Ineighbor_allgather(sendbuf: *const c_void, sendcount: c_int, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: c_int, recvtype: MPI_Datatype, comm: MPI_Comm, request: *mut MPI_Request) {
    out(request, "request")?;
    allgather("MPI_Ineighbor_allgather", sendbuf, sendcount, sendtype, recvbuf, None, recvcount, None, recvtype, comm)?;
    done(comm, request)
}}

mpi_fn! { comm => fn MPI_Ineighbor_allgatherv / PMPI_Ineighbor_allgatherv(sendbuf: *const c_void, sendcount: c_int, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const c_int, displs: *const c_int, recvtype: MPI_Datatype, comm: MPI_Comm, request: *mut MPI_Request) {
    out(request, "request")?;
    let (rc, d) = vargs(comm, recvcounts, displs)?;
    allgather("MPI_Ineighbor_allgatherv", sendbuf, sendcount, sendtype, recvbuf, Some(rc), 0, Some(d), recvtype, comm)?;
    done(comm, request)
}}

mpi_fn! { comm => fn MPI_Ineighbor_alltoall / PMPI_Ineighbor_alltoall(sendbuf: *const c_void, sendcount: c_int, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcount: c_int, recvtype: MPI_Datatype, comm: MPI_Comm, request: *mut MPI_Request) {
    out(request, "request")?;
    a2a("MPI_Ineighbor_alltoall", sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm)?;
    done(comm, request)
}}

mpi_fn! { comm => fn MPI_Ineighbor_alltoallv / PMPI_Ineighbor_alltoallv(sendbuf: *const c_void, sendcounts: *const c_int, sdispls: *const c_int, sendtype: MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const c_int, rdispls: *const c_int, recvtype: MPI_Datatype, comm: MPI_Comm, request: *mut MPI_Request) {
    out(request, "request")?;
    a2av("MPI_Ineighbor_alltoallv", sendbuf, sendcounts, sdispls, sendtype, recvbuf, recvcounts, rdispls, recvtype, comm)?;
    done(comm, request)
}}

mpi_fn! { comm => fn MPI_Ineighbor_alltoallw / PMPI_Ineighbor_alltoallw(sendbuf: *const c_void, sendcounts: *const c_int, sdispls: *const MPI_Aint, sendtypes: *const MPI_Datatype, recvbuf: *mut c_void, recvcounts: *const c_int, rdispls: *const MPI_Aint, recvtypes: *const MPI_Datatype, comm: MPI_Comm, request: *mut MPI_Request) {
    out(request, "request")?;
    a2aw("MPI_Ineighbor_alltoallw", sendbuf, sendcounts, sdispls, sendtypes, recvbuf, recvcounts, rdispls, recvtypes, comm)?;
    done(comm, request)
}}
