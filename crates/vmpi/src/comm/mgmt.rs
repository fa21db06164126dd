//! Communicator constructors: dup (and its nonblocking form, idup), split,
//! split_type (shared memory), create, create_group, intercommunicators (create,
//! merge), compare and free. Each agrees on a context id (`comm::agree`, the
//! rounds of `comm::ctxid`) among the members on the parent's collective
//! context; the blocking ones wait for the agreement, idup hands it back.

use super::agree::{self, Agreement, Members};
use super::ctxid::{self, Alloc};
use super::{Comm, Compare, Group, TAG_CONSTRUCT, TAG_GROUP, TAG_INTER_LOCAL, UNDEFINED};
use crate::coll::{self, CollCtx, Raw, RawMut};
use crate::error::{Error, ErrorClass, Result};
use crate::p2p::buffers::{RecvBuf, SendBuf};
use crate::p2p::{Pattern, ReqId, SendMode};
use crate::runtime;
use std::sync::Arc;

/// MPI_COMM_TYPE_SHARED (MPICH's value).
pub const COMM_TYPE_SHARED: i32 = 1;

fn bcast_bytes(cc: CollCtx, b: &mut [u8], root: usize) -> Result<()> {
    // SAFETY: `b` outlives the blocking run.
    coll::run_blocking(unsafe { coll::bcast(cc, RawMut::of(b), root as i32, None)? })
}

/// A context pair agreed by every member of `cc`'s group (`ignore`: this rank
/// takes part but will not be a member).
fn agree_intra(call: &'static str, cc: CollCtx, ignore: bool) -> Result<u32> {
    let alloc = Alloc::new(cc.ctx, cc.tag, ignore);
    agree::agree(call, Members::Intra(cc), alloc)
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

/// The members of an agreement between the two groups of an intercommunicator
/// (or of one being made): `local` is this group on its collective context;
/// `leader` its leader's rank; at the leader, the remote leader as world rank,
/// the context, and the ranks both leaders go by there.
fn inter_members(
    local: CollCtx,
    leader: usize,
    remote: Option<(usize, u32, [i32; 2], i32)>,
) -> Members {
    let pair = remote
        .filter(|_| local.rank == leader)
        .map(|(world, ctx, wire, tag)| CollCtx {
            ctx,
            rank: 0,
            group: Arc::from([local.group[leader], world]),
            tag,
            wire: Some(Arc::from(wire)),
            far: None,
        });
    Members::Inter {
        local,
        leader,
        pair,
    }
}

/// The tag an intercommunicator's leaders swap masks with for the call whose
/// local tag is `local_tag`: unique per call, apart from the fixed tags of the
/// leaders' other exchanges.
fn swap_tag(local_tag: i32) -> i32 {
    TAG_CONSTRUCT | TAG_INTER_LOCAL | (local_tag & super::SEQ_MASK as i32)
}

/// A communicator being made by a nonblocking constructor (MPI_Comm_idup).
pub struct PendingComm {
    agreement: Agreement,
    make: Box<dyn FnOnce(u32) -> Comm + Send>,
}

impl PendingComm {
    /// The engine request that completes when the new communicator is ready.
    pub fn request(&self) -> ReqId {
        self.agreement.request()
    }

    /// The new communicator, once the request has completed.
    pub fn finish(self) -> Result<Comm> {
        let ctx = self.agreement.outcome()?;
        Ok((self.make)(ctx))
    }

    /// Wait for the new communicator.
    pub fn wait(self) -> Result<Comm> {
        runtime::wait(self.request())?;
        self.finish()
    }
}

/// MPI_Comm_idup: start duplicating `comm`; every member calls it (in the same
/// order as its other collective calls on `comm`).
pub fn idup(comm: &Comm) -> Result<PendingComm> {
    let call = "MPI_Comm_idup";
    let (group, rank) = (comm.group.clone(), comm.rank as usize);
    if let Some(remote) = comm.remote.clone() {
        // Leaders (rank 0 of each side) swap masks over the intercommunicator.
        let local = local_of(comm).coll();
        let tag = swap_tag(local.tag);
        let members = inter_members(
            local.clone(),
            0,
            Some((remote[0], comm.coll_ctx, [0, 0], tag)),
        );
        let agreement =
            Agreement::start(call, members, Alloc::new(comm.coll_ctx, local.tag, false))?;
        return Ok(PendingComm {
            agreement,
            make: Box::new(move |ctx| Comm {
                remote: Some(remote),
                ..Comm::new_intra(ctx, group, rank)
            }),
        });
    }
    let cc = comm.coll();
    let alloc = Alloc::new(cc.ctx, cc.tag, false);
    Ok(PendingComm {
        agreement: Agreement::start(call, Members::Intra(cc), alloc)?,
        make: Box::new(move |ctx| Comm::new_intra(ctx, group, rank)),
    })
}

/// MPI_Comm_dup.
pub fn dup(comm: &Comm) -> Result<Comm> {
    idup(comm)?.wait()
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
/// (key, old rank); `UNDEFINED` gets None. On an intercommunicator each group
/// splits, and the ranks of one color on both sides form an intercommunicator.
pub fn split(comm: &Comm, color: i32, key: i32) -> Result<Option<Comm>> {
    if color < 0 && color != UNDEFINED {
        return Err(Error::new(
            ErrorClass::Arg,
            format!("MPI_Comm_split: invalid color {color}"),
        ));
    }
    if comm.is_inter() {
        return split_inter(comm, color, key);
    }
    let all = colors_and_keys(comm.coll(), color, key)?;
    let ctx = agree_intra("MPI_Comm_split", comm.coll(), color == UNDEFINED)?;
    if color == UNDEFINED {
        return Ok(None);
    }
    let group = members_of(&all, &comm.group, color);
    let me = comm.group[comm.rank as usize];
    let rank = group.iter().position(|&w| w == me).expect("member");
    Ok(Some(Comm::new_intra(ctx, group.into(), rank)))
}

/// Every rank's (color, key) of a split, in rank order, gathered over `cc`.
fn colors_and_keys(cc: CollCtx, color: i32, key: i32) -> Result<Vec<i32>> {
    let mut all = vec![0i32; 2 * cc.group.len()];
    let mine = [color, key];
    // SAFETY: both buffers outlive the blocking run.
    coll::run_blocking(unsafe {
        coll::allgather(
            cc,
            Some(Raw::of(i32_bytes(&mine))),
            RawMut::of(i32_bytes_mut(&mut all)),
        )?
    })?;
    Ok(all)
}

/// The members of one color, from every rank's (color, key) in `all`, as world
/// ranks of `group` ordered by (key, old rank).
fn members_of(all: &[i32], group: &[usize], color: i32) -> Vec<usize> {
    let mut m: Vec<(i32, usize)> = (0..group.len())
        .filter(|&r| all[2 * r] == color)
        .map(|r| (all[2 * r + 1], r))
        .collect();
    m.sort();
    m.iter().map(|&(_, r)| group[r]).collect()
}

/// MPI_Comm_split on an intercommunicator (MPI-3.1 §6.4.2): each group splits by
/// color, and the ranks of a color on both sides form a new intercommunicator;
/// a color present in one group only gets None there, as `UNDEFINED` does. The
/// leaders swap their groups' (color, key) lists, and one context pair is agreed
/// by the members of every new intercommunicator (they are disjoint).
fn split_inter(comm: &Comm, color: i32, key: i32) -> Result<Option<Comm>> {
    let call = "MPI_Comm_split";
    let remote = comm.remote.clone().expect("an intercommunicator");
    let local = local_of(comm);
    let here = colors_and_keys(local.coll(), color, key)?;
    let mut there = vec![0i32; 2 * remote.len()];
    let swap = local.coll();
    if comm.rank == 0 {
        exchange(
            comm.coll_ctx,
            remote[0],
            0,
            0,
            swap_tag(swap.tag),
            i32_bytes(&here),
            i32_bytes_mut(&mut there),
            call,
        )?;
    }
    bcast_bytes(swap, i32_bytes_mut(&mut there), 0)?;
    let group = members_of(&here, &comm.group, color);
    let peers = members_of(&there, &remote, color);
    let member = color != UNDEFINED && !peers.is_empty();
    let lc = local.coll();
    let tag = swap_tag(lc.tag);
    let members = inter_members(lc.clone(), 0, Some((remote[0], comm.coll_ctx, [0, 0], tag)));
    let ctx = agree::agree(call, members, Alloc::new(lc.ctx, lc.tag, !member))?;
    if !member {
        return Ok(None);
    }
    let me = comm.group[comm.rank as usize];
    let rank = group.iter().position(|&w| w == me).expect("member");
    Ok(Some(Comm {
        remote: Some(peers.into()),
        ..Comm::new_intra(ctx, group.into(), rank)
    }))
}

/// MPI_Comm_split_type with MPI_COMM_TYPE_SHARED: one communicator per shm domain
/// (ranks that share a /dev/shm region); `UNDEFINED` gets None. On an
/// intercommunicator, the ranks of one domain on both sides form an
/// intercommunicator (MPI-4 §7.4.2).
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
    let me = comm.group[comm.rank as usize];
    let mine = group.rank_of_world(me);
    let ctx = agree_intra("MPI_Comm_create", comm.coll(), mine.is_none())?;
    Ok(mine.map(|r| Comm::new_intra(ctx, group.arc(), r as usize)))
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
    let parent_ranks = group
        .world_ranks()
        .iter()
        .map(|w| {
            comm.group.iter().position(|x| x == w).map(|p| p as i32).ok_or_else(|| {
                Error::new(
                    ErrorClass::Group,
                    format!(
                        "MPI_Comm_create_group: world rank {w} of the group is not in the communicator"
                    ),
                )
            })
        })
        .collect::<Result<Arc<[i32]>>>()?;
    // The members agree among themselves on the parent's collective context,
    // with the caller's tag in a tag space of its own, each known by its parent
    // rank: agreements of other subgroups in flight at once never match theirs.
    let cc = CollCtx {
        ctx: comm.coll_ctx,
        rank: r as usize,
        group: group.arc(),
        tag: TAG_GROUP | tag,
        wire: Some(parent_ranks),
        far: None,
    };
    let alloc = Alloc::new(comm.coll_ctx, tag, false);
    let ctx = agree::agree("MPI_Comm_create_group", Members::Intra(cc), alloc)?;
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
    let lc = local.coll();
    let remote_end = peer.map(|p| {
        (
            p.world_rank(remote_leader),
            p.ctx,
            [p.rank, remote_leader],
            tag,
        )
    });
    let alloc = Alloc::new(lc.ctx, lc.tag, false);
    let ctx = agree::agree(call, inter_members(lc, leader, remote_end), alloc)?;
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
    let lc = local.coll();
    let tag = swap_tag(lc.tag);
    let members = inter_members(
        lc.clone(),
        0,
        Some((remote[0], inter.coll_ctx, [0, 0], tag)),
    );
    let ctx = agree::agree(call, members, Alloc::new(lc.ctx, lc.tag, false))?;
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
