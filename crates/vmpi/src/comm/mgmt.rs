//! Communicator constructors: dup, split, split_type (shared memory), create,
//! create_group, intercommunicators (create, merge), compare and free. Each
//! agrees on a context id with [`super::ctxid`] over the parent's collective
//! context.

use super::ctxid::{self, WORDS};
use super::{Comm, Compare, Group, TAG_CONSTRUCT, UNDEFINED};
use crate::coll::{self, CollCtx, Raw, RawMut, Reduction};
use crate::datatype::Basic;
use crate::error::{Error, ErrorClass, Result};
use crate::op::Op;
use crate::p2p::buffers::{RecvBuf, SendBuf};
use crate::p2p::{Pattern, SendMode};
use crate::runtime;
use std::sync::Arc;

/// MPI_COMM_TYPE_SHARED (MPICH's value).
pub const COMM_TYPE_SHARED: i32 = 1;

fn band(cc: CollCtx, m: &mut [u64; WORDS]) -> Result<()> {
    let red = Reduction::new(Op::Band, Some(Basic::U64), 8)?;
    let b = ctxid::mask_bytes(m);
    // SAFETY: `m` outlives the blocking run.
    coll::run_blocking(unsafe { coll::allreduce(cc, red, None, RawMut::of(b), None)? })
}

fn bcast_bytes(cc: CollCtx, b: &mut [u8], root: usize) -> Result<()> {
    // SAFETY: `b` outlives the blocking run.
    coll::run_blocking(unsafe { coll::bcast(cc, RawMut::of(b), root as i32, None)? })
}

/// A context pair agreed by every member of `cc`'s group.
fn alloc_intra(cc: CollCtx, call: &str) -> Result<u32> {
    let mut m = ctxid::local_mask();
    band(cc, &mut m)?;
    ctxid::take_lowest(&m, call)
}

/// Blocking exchange of byte buffers with one world rank on `ctx`/`tag`.
fn exchange(
    ctx: u32,
    peer_world: usize,
    peer_rank: i32,
    my_rank: i32,
    tag: i32,
    send: &[u8],
    recv: &mut [u8],
    call: &str,
) -> Result<()> {
    let (r, s) = runtime::with(call, |rt| {
        // SAFETY: both buffers outlive the waits below.
        let r = unsafe {
            rt.engine.irecv(
                RecvBuf::new(recv.as_mut_ptr(), recv.len()),
                Pattern {
                    ctx,
                    src: peer_rank,
                    tag,
                },
            )?
        };
        // SAFETY: as above.
        let s = unsafe {
            rt.engine.isend(
                SendBuf::new(send.as_ptr(), send.len()),
                peer_world,
                ctx,
                my_rank,
                tag,
                SendMode::Standard,
            )?
        };
        Ok((r, s))
    })?;
    runtime::wait(s)?;
    let st = runtime::wait(r)?;
    if st.error.is_some() || st.count != recv.len() {
        return Err(Error::new(
            ErrorClass::Truncate,
            format!(
                "{call}: the leaders' exchange got {} bytes, expected {}",
                st.count,
                recv.len()
            ),
        ));
    }
    Ok(())
}

/// A context pair agreed by two groups: each group ANDs its masks, the leaders
/// swap theirs through `swap`, and each leader broadcasts the combined mask.
fn alloc_inter(
    local: &Comm,
    leader: usize,
    call: &str,
    swap: impl FnOnce(&[u8], &mut [u8]) -> Result<()>,
) -> Result<u32> {
    let mut m = ctxid::local_mask();
    band(local.coll(), &mut m)?;
    if local.rank as usize == leader {
        let mut other = [0u64; WORDS];
        let mine = m;
        let mut mine2 = mine;
        swap(ctxid::mask_bytes(&mut mine2), ctxid::mask_bytes(&mut other))?;
        for i in 0..WORDS {
            m[i] &= other[i];
        }
    }
    bcast_bytes(local.coll(), ctxid::mask_bytes(&mut m), leader)?;
    ctxid::take_lowest(&m, call)
}

/// MPI_Comm_dup.
pub fn dup(comm: &Comm) -> Result<Comm> {
    if let Some(remote) = &comm.remote {
        // Leaders (rank 0 of each side) swap masks over the intercommunicator.
        let (cctx, me) = (comm.coll_ctx, comm.rank);
        let peer = remote[0];
        let ctx = alloc_inter(&local_of(comm), 0, "MPI_Comm_dup", |s, r| {
            exchange(cctx, peer, 0, me, TAG_CONSTRUCT | 1, s, r, "MPI_Comm_dup")
        })?;
        return Ok(Comm {
            ctx,
            coll_ctx: ctx + 1,
            remote: Some(remote.clone()),
            ..Comm::new_intra(ctx, comm.group.clone(), comm.rank as usize)
        });
    }
    let ctx = alloc_intra(comm.coll(), "MPI_Comm_dup")?;
    Ok(Comm::new_intra(ctx, comm.group.clone(), comm.rank as usize))
}

/// The local group of an intercommunicator as an intracommunicator on the
/// intercommunicator's collective context (its traffic has its own tag bit).
fn local_of(inter: &Comm) -> Comm {
    Comm {
        remote: None,
        ..inter.clone()
    }
}

/// MPI_Comm_split: ranks with the same `color` form a communicator, ordered by
/// (key, old rank); `UNDEFINED` gets None.
pub fn split(comm: &Comm, color: i32, key: i32) -> Result<Option<Comm>> {
    comm.check_intra("MPI_Comm_split")?;
    if color < 0 && color != UNDEFINED {
        return Err(Error::new(
            ErrorClass::Arg,
            format!("MPI_Comm_split: invalid color {color}"),
        ));
    }
    let n = comm.group.len();
    let mut all = vec![0i32; 2 * n];
    let mine = [color, key];
    // SAFETY: both buffers outlive the blocking run.
    coll::run_blocking(unsafe {
        coll::allgather(
            comm.coll(),
            Some(Raw::of(i32_bytes(&mine))),
            RawMut::of(i32_bytes_mut(&mut all)),
        )?
    })?;
    let ctx = alloc_intra(comm.coll(), "MPI_Comm_split")?;
    if color == UNDEFINED {
        ctxid::release(ctx);
        return Ok(None);
    }
    let mut members: Vec<(i32, usize)> = (0..n)
        .filter(|&r| all[2 * r] == color)
        .map(|r| (all[2 * r + 1], r))
        .collect();
    members.sort();
    let group: Arc<[usize]> = members.iter().map(|&(_, r)| comm.group[r]).collect();
    let rank = members
        .iter()
        .position(|&(_, r)| r == comm.rank as usize)
        .expect("member");
    Ok(Some(Comm::new_intra(ctx, group, rank)))
}

/// MPI_Comm_split_type with MPI_COMM_TYPE_SHARED: one communicator per shm domain
/// (ranks that share a /dev/shm region); `UNDEFINED` gets None.
pub fn split_type(comm: &Comm, split_type: i32, key: i32) -> Result<Option<Comm>> {
    let color = if split_type == UNDEFINED {
        UNDEFINED
    } else if split_type == COMM_TYPE_SHARED {
        let me = comm.group[comm.rank as usize];
        runtime::with("MPI_Comm_split_type", |rt| {
            Ok(rt.map.domain_of[me][0] as i32)
        })?
    } else {
        return Err(Error::new(
            ErrorClass::Arg,
            format!("MPI_Comm_split_type: unknown split type {split_type}"),
        ));
    };
    split(comm, color, key)
}

/// MPI_Comm_create: every rank of `comm` calls it; members of `group` get the new
/// communicator (in group order), the others None.
pub fn create(comm: &Comm, group: &Group) -> Result<Option<Comm>> {
    comm.check_intra("MPI_Comm_create")?;
    if let Some(w) = group.world_ranks().iter().find(|w| !comm.group.contains(w)) {
        return Err(Error::new(
            ErrorClass::Group,
            format!("MPI_Comm_create: world rank {w} of the group is not in the communicator"),
        ));
    }
    let ctx = alloc_intra(comm.coll(), "MPI_Comm_create")?;
    let me = comm.group[comm.rank as usize];
    match group.rank_of_world(me) {
        Some(r) => Ok(Some(Comm::new_intra(ctx, group.arc(), r as usize))),
        None => {
            ctxid::release(ctx);
            Ok(None)
        }
    }
}

/// MPI_Comm_create_group: only the members of `group` call it (with the same tag).
pub fn create_group(comm: &Comm, group: &Group, tag: i32) -> Result<Comm> {
    comm.check_intra("MPI_Comm_create_group")?;
    Comm::check_send_tag("MPI_Comm_create_group", tag)?;
    let me = comm.group[comm.rank as usize];
    let r = group.rank_of_world(me).ok_or_else(|| {
        Error::new(
            ErrorClass::Group,
            "MPI_Comm_create_group: the calling process is not in the group",
        )
    })?;
    if let Some(w) = group.world_ranks().iter().find(|w| !comm.group.contains(w)) {
        return Err(Error::new(
            ErrorClass::Group,
            format!(
                "MPI_Comm_create_group: world rank {w} of the group is not in the communicator"
            ),
        ));
    }
    // The members agree among themselves on the parent's collective context, with
    // a tag outside the range of the parent's own collectives.
    let cc = CollCtx {
        ctx: comm.coll_ctx,
        rank: r as usize,
        group: group.arc(),
        tag: TAG_CONSTRUCT | (tag & super::SEQ_MASK as i32),
        area: None,
        blocking: false,
    };
    let ctx = alloc_intra(cc, "MPI_Comm_create_group")?;
    Ok(Comm::new_intra(ctx, group.arc(), r as usize))
}

/// MPI_Comm_compare.
pub fn compare(a: &Comm, b: &Comm) -> Compare {
    let g = Group::from_arc(a.group.clone()).compare(&Group::from_arc(b.group.clone()));
    let rg = match (&a.remote, &b.remote) {
        (None, None) => Compare::Ident,
        (Some(x), Some(y)) => Group::from_arc(x.clone()).compare(&Group::from_arc(y.clone())),
        _ => return Compare::Unequal,
    };
    let worst = if g as i32 >= rg as i32 { g } else { rg };
    match worst {
        Compare::Ident if a.ctx == b.ctx => Compare::Ident,
        Compare::Ident => Compare::Congruent,
        other => other,
    }
}

/// MPI_Comm_free: give the context pair back (world and self are never freed).
pub fn free(comm: Comm) {
    ctxid::release(comm.ctx);
}

fn u64s(v: &[usize]) -> Vec<u8> {
    v.iter().flat_map(|&x| (x as u64).to_le_bytes()).collect()
}

fn from_u64s(b: &[u8]) -> Vec<usize> {
    b.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()) as usize)
        .collect()
}

/// MPI_Intercomm_create: `local_comm`'s ranks and the group led by `remote_leader`
/// (a rank of `peer_comm`, used only at the local leader) form an intercommunicator.
pub fn intercomm_create(
    local: &Comm,
    local_leader: i32,
    peer: Option<&Comm>,
    remote_leader: i32,
    tag: i32,
) -> Result<Comm> {
    let call = "MPI_Intercomm_create";
    local.check_intra(call)?;
    if local_leader < 0 || local_leader >= local.size() {
        return Err(Error::new(
            ErrorClass::Rank,
            format!("{call}: invalid local leader {local_leader}"),
        ));
    }
    let leader = local_leader as usize;
    let am_leader = local.rank as usize == leader;
    let mut n_remote = [0u8; 8];
    let mut remote_bytes = Vec::new();
    if am_leader {
        let peer = peer.ok_or_else(|| {
            Error::new(
                ErrorClass::Comm,
                format!("{call}: the local leader needs the peer communicator"),
            )
        })?;
        peer.check_dest(call, remote_leader)?;
        Comm::check_send_tag(call, tag)?;
        let pw = peer.world_rank(remote_leader);
        let mine = u64s(&local.group);
        exchange(
            peer.ctx,
            pw,
            remote_leader,
            peer.rank,
            tag,
            &(mine.len() as u64 / 8).to_le_bytes(),
            &mut n_remote,
            call,
        )?;
        remote_bytes = vec![0u8; u64::from_le_bytes(n_remote) as usize * 8];
        exchange(
            peer.ctx,
            pw,
            remote_leader,
            peer.rank,
            tag,
            &mine,
            &mut remote_bytes,
            call,
        )?;
    }
    bcast_bytes(local.coll(), &mut n_remote, leader)?;
    remote_bytes.resize(u64::from_le_bytes(n_remote) as usize * 8, 0);
    bcast_bytes(local.coll(), &mut remote_bytes, leader)?;
    let remote: Arc<[usize]> = from_u64s(&remote_bytes).into();
    if remote.iter().any(|w| local.group.contains(w)) {
        return Err(Error::new(
            ErrorClass::Arg,
            format!("{call}: the local and remote groups overlap"),
        ));
    }
    let ctx = alloc_inter(local, leader, call, |s, r| {
        let peer = peer.expect("leader has the peer");
        exchange(
            peer.ctx,
            peer.world_rank(remote_leader),
            remote_leader,
            peer.rank,
            tag,
            s,
            r,
            call,
        )
    })?;
    Ok(Comm {
        remote: Some(remote),
        ..Comm::new_intra(ctx, local.group.clone(), local.rank as usize)
    })
}

/// MPI_Intercomm_merge: one intracommunicator of both groups; the group whose
/// members pass `high = false` comes first (ties: the group whose rank 0 has the
/// lower world rank).
pub fn intercomm_merge(inter: &Comm, high: bool) -> Result<Comm> {
    let call = "MPI_Intercomm_merge";
    let remote = inter.remote.clone().ok_or_else(|| {
        Error::new(
            ErrorClass::Comm,
            format!("{call}: not an intercommunicator"),
        )
    })?;
    let local = local_of(inter);
    let mut flags = [high as u8, 0];
    if inter.rank == 0 {
        let mut theirs = [0u8; 1];
        exchange(
            inter.coll_ctx,
            remote[0],
            0,
            0,
            TAG_CONSTRUCT | 2,
            &flags[..1],
            &mut theirs,
            call,
        )?;
        flags[1] = theirs[0];
    }
    bcast_bytes(local.coll(), &mut flags, 0)?;
    let (mine_high, their_high) = (flags[0] != 0, flags[1] != 0);
    let local_first = if mine_high != their_high {
        !mine_high
    } else {
        inter.group[0] < remote[0]
    };
    let group: Arc<[usize]> = if local_first {
        inter.group.iter().chain(remote.iter()).copied().collect()
    } else {
        remote.iter().chain(inter.group.iter()).copied().collect()
    };
    let me = inter.group[inter.rank as usize];
    let rank = group.iter().position(|&w| w == me).expect("member");
    let (cctx, r0) = (inter.coll_ctx, remote[0]);
    let ctx = alloc_inter(&local, 0, call, |s, r| {
        exchange(cctx, r0, 0, 0, TAG_CONSTRUCT | 3, s, r, call)
    })?;
    Ok(Comm::new_intra(ctx, group, rank))
}

fn i32_bytes(v: &[i32]) -> &[u8] {
    // SAFETY: i32s are plain bytes.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

fn i32_bytes_mut(v: &mut [i32]) -> &mut [u8] {
    // SAFETY: any bytes make valid i32s.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}
