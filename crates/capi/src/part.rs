//! Partitioned point-to-point (MPI-4 §4): MPI_Psend_init, MPI_Precv_init,
//! MPI_Pready, MPI_Pready_range, MPI_Pready_list, MPI_Parrived.
//!
//! The design is the simple one MPI-4 allows: one message per start. A
//! partitioned receive posts its receive of the whole buffer (`partitions *
//! count` elements) at MPI_Start; a partitioned send's request becomes active
//! at MPI_Start (an external engine request that nothing completes yet), and
//! the send of the whole buffer is posted by the MPI_Pready that marks the last
//! partition, then joined to that request (`join_all`), so every wait and test
//! function completes it once the message has left. MPI_Parrived reports a
//! partition as arrived once the whole message has. Send and receive may split
//! the buffer in different partitions; their totals must agree.
//!
//! Matching: partitioned messages travel on the communicator's collective
//! context under tags of their own (the user's tag with the sign bit set), so
//! they never match a point-to-point receive or a collective's traffic, and
//! the k-th partitioned send from a rank to a peer with a tag meets the k-th
//! partitioned receive there (per-pair FIFO, starts in the same order).

use crate::consts::*;
use crate::dtype::{add_fixup, check_count, for_comm, out, recv_target_of, send_data_of, Datatype};
use crate::err::{err, fail, R};
use crate::req::{Kind, ReqObj, Spec};
use crate::state::{self, st};
use std::borrow::Cow;
use std::ffi::c_void;
use std::os::raw::c_int;
use vmpi::sys;
use vmpi::sys::comm::Comm;
use vmpi::sys::p2p::{Pattern, RecvBuf, ReqId, SendBuf, SendMode, Status};

/// The tag space of partitioned messages on the collective context.
const PART_TAG: i32 = i32::MIN;

/// The user's tag of a partitioned message's wire tag.
pub fn user_tag(wire: c_int) -> c_int {
    if wire < 0 && wire != MPI_ANY_TAG {
        wire & !PART_TAG
    } else {
        wire
    }
}

/// A partitioned send or receive, as MPI_Psend_init / MPI_Precv_init checked it.
pub struct PSpec {
    buf: usize,
    partitions: usize,
    /// Elements per partition.
    count: usize,
    datatype: Datatype,
    peer: c_int,
    tag: c_int,
    comm: MPI_Comm,
    send: bool,
    /// Send side, while active: which partitions are ready, how many are not.
    ready: Vec<bool>,
    left: usize,
    /// Send side, while active: the request the application waits on.
    whole: Option<ReqId>,
}

#[allow(clippy::too_many_arguments)]
unsafe fn init(
    call: &str,
    buf: *mut c_void,
    partitions: c_int,
    count: MPI_Count,
    datatype: MPI_Datatype,
    peer: c_int,
    tag: c_int,
    comm: MPI_Comm,
    info: MPI_Info,
    request: *mut MPI_Request,
    send: bool,
) -> R<()> {
    let o = out(request, "request")?;
    let c = state::comm(comm)?;
    if c.is_inter() {
        return fail(
            MPI_ERR_COMM,
            format!("{call}: partitioned communication on an intercommunicator is not supported"),
        );
    }
    if send {
        c.check_dest(call, peer)?;
    } else {
        if peer == MPI_ANY_SOURCE {
            return fail(
                MPI_ERR_RANK,
                format!("{call}: MPI_ANY_SOURCE is not allowed for a partitioned receive"),
            );
        }
        c.check_source(call, peer)?;
    }
    Comm::check_send_tag(call, tag)?;
    if partitions < 0 {
        return fail(
            MPI_ERR_ARG,
            format!("{call}: invalid number of partitions {partitions}"),
        );
    }
    let count = check_count(count)?;
    if count.checked_mul(partitions as usize).is_none() {
        return fail(
            MPI_ERR_COUNT,
            format!("{call}: {partitions} partitions of {count} elements overflow"),
        );
    }
    let datatype = for_comm(datatype)?;
    if info != MPI_INFO_NULL {
        crate::info::get(info)?;
    }
    let spec = PSpec {
        buf: buf as usize,
        partitions: partitions as usize,
        count,
        datatype,
        peer,
        tag,
        comm,
        send,
        ready: vec![false; partitions as usize],
        left: 0,
        whole: None,
    };
    *o = st().reqs.insert(ReqObj {
        kind: Kind::Persistent {
            spec: Spec::Part(spec),
            active: None,
        },
        comm,
        recv: !send,
    });
    Ok(())
}

mpi_fn! { comm => fn MPI_Psend_init / PMPI_Psend_init(buf: *const c_void, partitions: c_int, count: MPI_Count, datatype: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm, info: MPI_Info, request: *mut MPI_Request) {
    init("MPI_Psend_init", buf as *mut c_void, partitions, count, datatype, dest, tag, comm, info, request, true)
}}

mpi_fn! { comm => fn MPI_Precv_init / PMPI_Precv_init(buf: *mut c_void, partitions: c_int, count: MPI_Count, datatype: MPI_Datatype, source: c_int, tag: c_int, comm: MPI_Comm, info: MPI_Info, request: *mut MPI_Request) {
    init("MPI_Precv_init", buf, partitions, count, datatype, source, tag, comm, info, request, false)
}}

/// What a start or the last MPI_Pready posts: the spec's fields.
struct Post {
    buf: usize,
    n: usize,
    datatype: Datatype,
    peer: c_int,
    tag: c_int,
    comm: MPI_Comm,
}

fn post_of(s: &PSpec) -> Post {
    Post {
        buf: s.buf,
        n: s.partitions * s.count,
        datatype: s.datatype.clone(),
        peer: s.peer,
        tag: s.tag,
        comm: s.comm,
    }
}

/// MPI_Start of a partitioned request (inactive, the caller checked).
pub unsafe fn start(h: MPI_Request) -> R<()> {
    let call = "MPI_Start";
    let (p, send) = match st().reqs.get(h).map(|o| &o.kind) {
        Some(Kind::Persistent {
            spec: Spec::Part(s),
            active: None,
        }) => (post_of(s), s.send),
        _ => return fail(MPI_ERR_INTERN, "not an inactive partitioned request"),
    };
    let c = state::comm(p.comm)?;
    if send {
        let whole = sys::with(call, |rt| Ok(rt.new_external()))?;
        let none_left = {
            let mut s = st();
            match s.reqs.get_mut(h).map(|o| &mut o.kind) {
                Some(Kind::Persistent {
                    spec: Spec::Part(sp),
                    active,
                }) => {
                    sp.ready.iter_mut().for_each(|r| *r = false);
                    sp.left = sp.partitions;
                    sp.whole = Some(whole);
                    *active = Some(Box::new(Kind::Engine(whole)));
                    sp.left == 0
                }
                _ => return fail(MPI_ERR_INTERN, "partitioned request vanished"),
            }
        };
        if none_left {
            send_all(call, &c, p, whole)?;
        }
        return Ok(());
    }
    let k = if p.peer == MPI_PROC_NULL {
        Kind::Done(Status::empty())
    } else {
        let (ptr, bytes, fx) = recv_target_of(p.buf as *mut u8, p.n, Cow::Owned(p.datatype))?;
        // SAFETY: MPI's rule: the buffer stays valid and untouched until the
        // request completes; a temporary lives in the fixup, which unpacks it.
        let id = sys::with(call, |rt| {
            rt.irecv(
                RecvBuf::new(ptr, bytes),
                Pattern {
                    ctx: c.coll_ctx,
                    src: p.peer,
                    tag: PART_TAG | p.tag,
                },
            )
        })?;
        add_fixup(id, fx);
        Kind::Engine(id)
    };
    crate::req::set_active(h, k);
    Ok(())
}

/// Post the send of the whole buffer and let `whole` complete with it.
unsafe fn send_all(call: &str, c: &Comm, p: Post, whole: ReqId) -> R<()> {
    if p.peer == MPI_PROC_NULL {
        sys::with(call, |rt| rt.join_all(whole, Vec::new()))?;
        return Ok(());
    }
    let data = send_data_of(p.buf as *const u8, p.n, &p.datatype)?;
    let (ptr, len) = data.ptr_len();
    let to = c.world_rank(p.peer);
    // SAFETY: MPI's rule: the buffer stays valid and unchanged until the request
    // completes; a packed copy lives in the fixup of `whole` until then.
    sys::with(call, |rt| {
        let id = rt.isend(
            SendBuf::new(ptr, len),
            to,
            c.coll_ctx,
            c.rank,
            PART_TAG | p.tag,
            SendMode::Standard,
        )?;
        rt.join_all(whole, vec![id])
    })?;
    if let crate::dtype::SendData::Packed(v) = data {
        let mut f = crate::dtype::Fixup::default();
        f.keep.push(v);
        add_fixup(whole, f);
    }
    Ok(())
}

/// Mark `parts` of the partitioned send `h` ready; the last one sends.
unsafe fn ready(call: &str, h: MPI_Request, parts: &[c_int]) -> R<()> {
    let fire = {
        let mut s = st();
        let o = s
            .reqs
            .get_mut(h)
            .ok_or_else(|| err(MPI_ERR_REQUEST, format!("invalid request {:#x}", h as u32)))?;
        let (sp, active) = match &mut o.kind {
            Kind::Persistent {
                spec: Spec::Part(sp),
                active,
            } if sp.send => (sp, active),
            _ => {
                return fail(
                    MPI_ERR_REQUEST,
                    format!("{:#x} is not a partitioned send request", h as u32),
                )
            }
        };
        if active.is_none() || sp.whole.is_none() {
            return fail(
                MPI_ERR_REQUEST,
                format!(
                    "partitioned send request {:#x} is not active (MPI_Start)",
                    h as u32
                ),
            );
        }
        if let Some(&bad) = parts
            .iter()
            .find(|&&i| i < 0 || i as usize >= sp.partitions)
        {
            return fail(
                MPI_ERR_ARG,
                format!(
                    "invalid partition {bad} (the request has {})",
                    sp.partitions
                ),
            );
        }
        let was = sp.left;
        for &i in parts {
            let r = &mut sp.ready[i as usize];
            if !*r {
                *r = true;
                sp.left -= 1;
            }
        }
        (was > 0 && sp.left == 0).then(|| (post_of(sp), sp.whole.expect("active")))
    };
    if let Some((p, whole)) = fire {
        let c = state::comm(p.comm)?;
        send_all(call, &c, p, whole)?;
    }
    Ok(())
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Pready / PMPI_Pready(partition: c_int, request: MPI_Request) {
    ready("MPI_Pready", request, &[partition])
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Pready_range / PMPI_Pready_range(partition_low: c_int, partition_high: c_int, request: MPI_Request) {
    if partition_low > partition_high {
        return fail(MPI_ERR_ARG, format!("partition_low {partition_low} is above partition_high {partition_high}"));
    }
    let parts: Vec<c_int> = (partition_low..=partition_high).collect();
    ready("MPI_Pready_range", request, &parts)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Pready_list / PMPI_Pready_list(length: c_int, array_of_partitions: *mut c_int, request: MPI_Request) {
    if length < 0 {
        return fail(MPI_ERR_ARG, format!("invalid length {length}"));
    }
    let parts = if length == 0 {
        &[][..]
    } else if array_of_partitions.is_null() {
        return fail(MPI_ERR_ARG, "array_of_partitions is a null pointer");
    } else {
        std::slice::from_raw_parts(array_of_partitions, length as usize)
    };
    ready("MPI_Pready_list", request, parts)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Parrived / PMPI_Parrived(request: MPI_Request, partition: c_int, flag: *mut c_int) {
    let f = out(flag, "flag")?;
    let id = {
        let s = st();
        let o = s
            .reqs
            .get(request)
            .ok_or_else(|| err(MPI_ERR_REQUEST, format!("invalid request {:#x}", request as u32)))?;
        match &o.kind {
            Kind::Persistent { spec: Spec::Part(sp), active } if !sp.send => {
                if partition < 0 || partition as usize >= sp.partitions {
                    return fail(MPI_ERR_ARG, format!("invalid partition {partition} (the request has {})", sp.partitions));
                }
                match active.as_deref() {
                    Some(Kind::Engine(id)) => Some(*id),
                    _ => None, // inactive, or from MPI_PROC_NULL: nothing to wait for
                }
            }
            _ => return fail(MPI_ERR_REQUEST, format!("{:#x} is not a partitioned receive request", request as u32)),
        }
    };
    *f = match id {
        None => 1,
        Some(id) => sys::with("MPI_Parrived", |rt| {
            rt.progress()?;
            rt.is_complete(id)
        })? as c_int,
    };
    Ok(())
}}
