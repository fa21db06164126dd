//! MPI-4 sessions: MPI_Session_init/finalize, the process sets `mpi://WORLD` and
//! `mpi://SELF` (names matched without regard to case), MPI_Group_from_session_pset,
//! MPI_Comm_create_from_group and MPI_Intercomm_create_from_groups.
//!
//! Where vmpi departs from MPI-4: sessions and the world model share one
//! initialization of the runtime. The first MPI_Session_init initializes it when
//! MPI_Init has not (MPI_COMM_WORLD and MPI_COMM_SELF then exist internally and
//! name the same processes); MPI_Init after a session has started fails with
//! MPI_ERR_OTHER ("called twice"). When the last session is finalized and the
//! application never called MPI_Init, the runtime is finalized, after which
//! neither MPI_Init nor MPI_Session_init can start it again (MPI-4 allows both).
//! A session's error handler is used for MPI_Comm_create_from_group's new
//! communicator; errors of the session calls themselves go to MPI_COMM_WORLD's
//! handler (fatal by default).

use crate::consts::*;
use crate::dtype::out;
use crate::err::{err, fail, R};
use crate::state::st;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use vmpi::sys;
use vmpi::sys::comm::Group;

pub const MPI_SESSION_NULL: MPI_Session = 0x38000000;
pub const DYN_SESSION: u32 = 0xb800_0000;
pub const MPI_ERR_SESSION: c_int = 75;

pub struct SessionObj {
    pub errh: MPI_Errhandler,
    pub info: crate::info::InfoObj,
}

const PSETS: [&str; 2] = ["mpi://WORLD", "mpi://SELF"];

fn session(h: MPI_Session) -> R<MPI_Errhandler> {
    if h == MPI_SESSION_NULL {
        return fail(MPI_ERR_SESSION, "null session (MPI_SESSION_NULL)");
    }
    st().sessions
        .get(h)
        .map(|s| s.errh)
        .ok_or_else(|| err(MPI_ERR_SESSION, format!("invalid session {:#x}", h as u32)))
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Session_init / PMPI_Session_init(info: MPI_Info, errhandler: MPI_Errhandler, session: *mut MPI_Session) {
    let o = out(session, "session")?;
    let i = if info == MPI_INFO_NULL { Default::default() } else { crate::info::get(info)? };
    if errhandler != MPI_ERRORS_ARE_FATAL && errhandler != MPI_ERRORS_RETURN && errhandler != MPI_ERRORS_ABORT
        && st().errhs.get(errhandler).is_none() {
        return fail(12 /* MPI_ERR_ARG */, format!("invalid error handler {:#x}", errhandler as u32));
    }
    if !sys::is_initialized() {
        crate::env::init("MPI_Session_init")?;
        st().session_owns_runtime = true;
    } else if sys::is_finalized() {
        return fail(MPI_ERR_OTHER, "MPI_Session_init after the runtime was finalized (vmpi cannot restart it)");
    }
    *o = st().sessions.insert(SessionObj { errh: errhandler, info: i });
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Session_finalize / PMPI_Session_finalize(session: *mut MPI_Session) {
    let h = out(session, "session")?;
    self::session(*h)?;
    let last = {
        let mut s = st();
        s.sessions.remove(*h);
        s.sessions.is_empty() && s.session_owns_runtime
    };
    *h = MPI_SESSION_NULL;
    if last {
        st().session_owns_runtime = false;
        crate::attr::delete_all(MPI_COMM_SELF)?;
        crate::req::drain_detached("MPI_Session_finalize")?;
        sys::finalize()?;
        let mut s = st();
        s.world = None;
        s.clear_comms();
    }
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Session_get_num_psets / PMPI_Session_get_num_psets(session: MPI_Session, info: MPI_Info, npset_names: *mut c_int) {
    let _ = info;
    self::session(session)?;
    *out(npset_names, "npset_names")? = PSETS.len() as c_int;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Session_get_nth_pset / PMPI_Session_get_nth_pset(session: MPI_Session, info: MPI_Info, n: c_int, pset_len: *mut c_int, pset_name: *mut c_char) {
    let _ = info;
    self::session(session)?;
    if n < 0 || n as usize >= PSETS.len() {
        return fail(12, format!("invalid process set index {n} ({} sets)", PSETS.len()));
    }
    let name = PSETS[n as usize].as_bytes();
    let len = out(pset_len, "pset_len")?;
    if *len == 0 {
        *len = name.len() as c_int + 1;
        return Ok(());
    }
    if pset_name.is_null() {
        return fail(12, "pset_name is a null pointer");
    }
    let k = name.len().min(*len as usize - 1);
    std::ptr::copy_nonoverlapping(name.as_ptr() as *const c_char, pset_name, k);
    *pset_name.add(k) = 0;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Session_get_info / PMPI_Session_get_info(session: MPI_Session, info_used: *mut MPI_Info) {
    self::session(session)?;
    let o = out(info_used, "info_used")?;
    let mut s = st();
    let mut i = s.sessions.get(session).map(|x| x.info.clone()).unwrap_or_default();
    if !i.pairs.iter().any(|(k, _)| k == "thread_level") {
        i.pairs.push(("thread_level".into(), "MPI_THREAD_MULTIPLE".into()));
    }
    *o = s.infos.insert(i);
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Session_get_pset_info / PMPI_Session_get_pset_info(session: MPI_Session, pset_name: *const c_char, info: *mut MPI_Info) {
    self::session(session)?;
    let g = pset(pset_name)?;
    let o = out(info, "info")?;
    *o = st().infos.insert(crate::info::InfoObj { pairs: vec![("mpi_size".into(), g.size().to_string())] });
    Ok(())
}}

unsafe fn pset(name: *const c_char) -> R<Group> {
    if name.is_null() {
        return fail(12, "pset_name is a null pointer");
    }
    let n = CStr::from_ptr(name).to_string_lossy();
    let (me, size) = st()
        .world
        .ok_or_else(|| err(MPI_ERR_OTHER, "the runtime is not initialized"))?;
    // Names are matched without regard to case: mpi://world is mpi://WORLD (newer
    // MPICH does the same; MPI_Session_get_nth_pset lists the upper-case names).
    match n.as_ref() {
        w if w.eq_ignore_ascii_case("mpi://WORLD") => Ok(Group::new((0..size).collect())?),
        s if s.eq_ignore_ascii_case("mpi://SELF") => Ok(Group::new(vec![me])?),
        other => fail(
            12,
            format!("unknown process set \"{other}\" (vmpi has mpi://WORLD and mpi://SELF)"),
        ),
    }
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Group_from_session_pset / PMPI_Group_from_session_pset(session: MPI_Session, pset_name: *const c_char, newgroup: *mut MPI_Group) {
    self::session(session)?;
    let g = pset(pset_name)?;
    *out(newgroup, "newgroup")? = crate::group::new_handle(g);
    Ok(())
}}

/// A tag for `stringtag`: the same string gives the same tag on every process.
fn tag_of(s: &[u8]) -> c_int {
    let mut h: u32 = 2166136261;
    for &b in s {
        h = (h ^ b as u32).wrapping_mul(16777619);
    }
    (h & 0x0fff_ffff) as c_int
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Comm_create_from_group / PMPI_Comm_create_from_group(group: MPI_Group, stringtag: *const c_char, info: MPI_Info, errhandler: MPI_Errhandler, newcomm: *mut MPI_Comm) {
    let g = crate::group::group(group)?;
    if stringtag.is_null() {
        return fail(12, "stringtag is a null pointer");
    }
    if info != MPI_INFO_NULL {
        crate::info::get(info)?;
    }
    let o = out(newcomm, "newcomm")?;
    let world = crate::state::comm(MPI_COMM_WORLD)?;
    if g.rank_of_world(world.rank as usize).is_none() {
        return fail(crate::group::MPI_ERR_GROUP, "the calling process is not in the group");
    }
    let c = vmpi::sys::comm::mgmt::create_group(&world, &g, tag_of(CStr::from_ptr(stringtag).to_bytes()))?;
    let h = crate::comm::register(MPI_COMM_WORLD, c);
    if errhandler != MPI_ERRHANDLER_NULL {
        st().comm_mut(h)?.errh = errhandler;
    }
    *o = h;
    Ok(())
}}

// MPI_Intercomm_create_from_groups: the local group's communicator and a peer
// communicator of both groups (the world ranks of both in ascending order, the
// same on each side) are made as MPI_Comm_create_from_group makes one, with
// tags from `stringtag`; the intercommunicator is then MPI_Intercomm_create's
// over them, and both helpers are freed.
mpi_fn! { MPI_COMM_WORLD => fn MPI_Intercomm_create_from_groups / PMPI_Intercomm_create_from_groups(local_group: MPI_Group, local_leader: c_int, remote_group: MPI_Group, remote_leader: c_int, stringtag: *const c_char, info: MPI_Info, errhandler: MPI_Errhandler, newintercomm: *mut MPI_Comm) {
    let lg = crate::group::group(local_group)?;
    let rg = crate::group::group(remote_group)?;
    if stringtag.is_null() {
        return fail(MPI_ERR_ARG, "stringtag is a null pointer");
    }
    if info != MPI_INFO_NULL {
        crate::info::get(info)?;
    }
    let o = out(newintercomm, "newintercomm")?;
    if local_leader < 0 || local_leader >= lg.size() {
        return fail(MPI_ERR_RANK, format!("invalid local_leader {local_leader} (local group size {})", lg.size()));
    }
    if remote_leader < 0 || remote_leader >= rg.size() {
        return fail(MPI_ERR_RANK, format!("invalid remote_leader {remote_leader} (remote group size {})", rg.size()));
    }
    let world = crate::state::comm(MPI_COMM_WORLD)?;
    if lg.rank_of_world(world.rank as usize).is_none() {
        return fail(crate::group::MPI_ERR_GROUP, "the calling process is not in local_group");
    }
    if lg.intersection(&rg).size() > 0 {
        return fail(crate::group::MPI_ERR_GROUP, "local_group and remote_group overlap");
    }
    let s = CStr::from_ptr(stringtag).to_bytes();
    let tag = tag_of(s);
    let peer_tag = tag_of(&[s, b"\0vmpi-intercomm-peer"].concat());
    let mut both: Vec<usize> = lg.world_ranks().iter().chain(rg.world_ranks()).copied().collect();
    both.sort_unstable();
    let union = Group::new(both)?;
    let remote_in_peer = union
        .rank_of_world(rg.world_ranks()[remote_leader as usize])
        .ok_or_else(|| err(MPI_ERR_INTERN, "the remote leader is not in the union"))?;
    let local = vmpi::sys::comm::mgmt::create_group(&world, &lg, tag)?;
    let peer = match vmpi::sys::comm::mgmt::create_group(&world, &union, peer_tag) {
        Ok(p) => p,
        Err(e) => {
            vmpi::sys::comm::mgmt::free(local);
            return Err(e.into());
        }
    };
    let r = vmpi::sys::comm::mgmt::intercomm_create(&local, local_leader, Some(&peer), remote_in_peer, tag);
    vmpi::sys::comm::mgmt::free(local);
    vmpi::sys::comm::mgmt::free(peer);
    let h = crate::comm::register(MPI_COMM_WORLD, r?);
    if errhandler != MPI_ERRHANDLER_NULL {
        st().comm_mut(h)?.errh = errhandler;
    }
    *o = h;
    Ok(())
}}

// ---- session error handlers -------------------------------------------------------
//
// `MPI_Session_errhandler_function` is `void (MPI_Session *, int *, ...)`: with
// MPI_Session an int, the same call as a communicator's handler, so session
// handlers live in the one table of user handlers (`st().errhs`).

mpi_fn! { MPI_COMM_WORLD => fn MPI_Session_create_errhandler / PMPI_Session_create_errhandler(session_errhandler_fn: Option<crate::err::CommErrFn>, errhandler: *mut MPI_Errhandler) {
    let Some(f) = session_errhandler_fn else {
        return fail(MPI_ERR_ARG, "the handler function is a null pointer");
    };
    let o = out(errhandler, "errhandler")?;
    *o = st().errhs.insert(f);
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Session_set_errhandler / PMPI_Session_set_errhandler(session: MPI_Session, errhandler: MPI_Errhandler) {
    self::session(session)?;
    crate::errh::check_errh(errhandler)?;
    if let Some(o) = st().sessions.get_mut(session) {
        o.errh = errhandler;
    }
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Session_get_errhandler / PMPI_Session_get_errhandler(session: MPI_Session, errhandler: *mut MPI_Errhandler) {
    let h = self::session(session)?;
    *out(errhandler, "errhandler")? = h;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Session_call_errhandler / PMPI_Session_call_errhandler(session: MPI_Session, errorcode: c_int) {
    let h = self::session(session)?;
    match h {
        MPI_ERRORS_RETURN | MPIR_ERRORS_THROW_EXCEPTIONS => Ok(()),
        MPI_ERRORS_ARE_FATAL | MPI_ERRORS_ABORT => {
            let args = format!("session={:#x}, errorcode={errorcode}", session as u32);
            let line = match crate::state::world_rank() {
                Some(r) => format!("vmpi: MPI_Session_call_errhandler({args}) on rank {r}: error code {errorcode} raised by the application"),
                None => format!("vmpi: MPI_Session_call_errhandler({args}): error code {errorcode} raised by the application"),
            };
            eprintln!("{line}");
            sys::abort(if errorcode > 0 && errorcode < 256 { errorcode } else { 1 }, &line)
        }
        _ => {
            let f = st().errhs.get(h).copied().ok_or_else(|| err(MPI_ERR_ARG, format!("invalid error handler {:#x}", h as u32)))?;
            let (mut s, mut code) = (session, errorcode);
            // SAFETY: a function the application registered with
            // MPI_Session_create_errhandler (or a communicator handler: the same call).
            f(&mut s, &mut code);
            Ok(())
        }
    }
}}
