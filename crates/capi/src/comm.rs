//! Communicators: the queries (rank, size, compare, names, inter tests) and
//! management: dup (with attribute copy callbacks, the error handler, the
//! topology and the info hints carried over), split, split_type, create,
//! create_group, free (attribute delete callbacks first), intercommunicators
//! (create, merge) and info hints. New communicators get handles
//! `DYN_COMM | State::next_comm` and inherit the parent's error handler, as in
//! MPICH. Point-to-point on them (intercommunicators included) goes through p2p.rs
//! unchanged: `state::comm()` hands it the core `Comm`, whose `remote` group
//! addresses an intercommunicator's peers.
//!
//! Info hints: a communicator keeps the hints set on it (MPI_Comm_set_info,
//! MPI_Comm_dup_with_info) and MPI_Comm_dup carries them over, but for the
//! assertions of MPI-4 §7.4.4 (`mpi_assert_no_any_tag`, `mpi_assert_no_any_source`,
//! `mpi_assert_exact_length`, `mpi_assert_allow_overtaking`), which hold for one
//! communicator only. MPI_Comm_get_info reports those four always, "true" or
//! "false" (a value is true when it is "true" or reads as a nonzero number, as
//! MPICH parses it; false when never set), then the other hints. MPICH reports
//! only the hints it knows; vmpi uses none yet and gives every hint back.
//!
//! MPI_Comm_idup is nonblocking: the handle is made (and the attributes copied)
//! at the call, the context agreement runs in the progress engine, and the
//! handle becomes usable when its request completes (`req.rs` installs the
//! communicator); used before that, it is MPI_ERR_COMM with a message.

use crate::consts::*;
use crate::dtype::{copy_name, out};
use crate::err::{fail, R};
use crate::info::InfoObj;
use crate::state::{self, st, CommObj};
use std::os::raw::{c_char, c_int};
use vmpi::sys::comm::{mgmt, Comm};

mpi_fn! { comm => fn MPI_Comm_rank / PMPI_Comm_rank(comm: MPI_Comm, rank: *mut c_int) {
    let r = st().comm(comm)?.comm.rank;
    *out(rank, "rank")? = r;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Comm_size / PMPI_Comm_size(comm: MPI_Comm, size: *mut c_int) {
    let n = st().comm(comm)?.comm.size();
    *out(size, "size")? = n;
    Ok(())
}}

mpi_fn! { comm1 => fn MPI_Comm_compare / PMPI_Comm_compare(comm1: MPI_Comm, comm2: MPI_Comm, result: *mut c_int) {
    let s = st();
    let a = s.comm(comm1)?.comm.clone();
    let b = s.comm(comm2)?.comm.clone();
    drop(s);
    *out(result, "result")? = if comm1 == comm2 {
        MPI_IDENT
    } else {
        mgmt::compare(&a, &b) as c_int
    };
    Ok(())
}}

mpi_fn! { comm => fn MPI_Comm_get_name / PMPI_Comm_get_name(comm: MPI_Comm, comm_name: *mut c_char, resultlen: *mut c_int) {
    let name = st().comm(comm)?.name.clone();
    if comm_name.is_null() {
        return fail(MPI_ERR_ARG, "comm_name is a null pointer");
    }
    copy_name(&name, comm_name, resultlen);
    Ok(())
}}

mpi_fn! { comm => fn MPI_Comm_set_name / PMPI_Comm_set_name(comm: MPI_Comm, comm_name: *const c_char) {
    if comm_name.is_null() {
        return fail(MPI_ERR_ARG, "comm_name is a null pointer");
    }
    let n = std::ffi::CStr::from_ptr(comm_name).to_string_lossy().into_owned();
    st().comm_mut(comm)?.name = n;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Comm_test_inter / PMPI_Comm_test_inter(comm: MPI_Comm, flag: *mut c_int) {
    let inter = st().comm(comm)?.comm.is_inter();
    *out(flag, "flag")? = inter as c_int;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Comm_remote_size / PMPI_Comm_remote_size(comm: MPI_Comm, size: *mut c_int) {
    let c = check(comm)?;
    // MPICH answers an intracommunicator's own size rather than an error.
    *out(size, "size")? = c.peer_size();
    Ok(())
}}

/// For the argument checks of the calls on a communicator.
pub fn check(comm: MPI_Comm) -> R<Comm> {
    state::comm(comm)
}

/// Register a new communicator made from `parent`: its error handler is inherited.
pub fn register(parent: MPI_Comm, c: Comm) -> MPI_Comm {
    let mut s = st();
    let errh = s.comm_obj(parent).map_or(MPI_ERRORS_ARE_FATAL, |o| o.errh);
    let h = (DYN_COMM | s.next_comm) as MPI_Comm;
    s.next_comm += 1;
    s.insert_comm(
        h,
        CommObj {
            comm: c,
            name: String::new(),
            errh,
            attrs: Default::default(),
        },
    );
    h
}

/// Register `c` (if any) and write its handle (MPI_COMM_NULL for None).
unsafe fn put(parent: MPI_Comm, c: Option<Comm>, newcomm: *mut MPI_Comm) -> R<MPI_Comm> {
    let o = out(newcomm, "newcomm")?;
    *o = match c {
        Some(c) => register(parent, c),
        None => MPI_COMM_NULL,
    };
    Ok(*o)
}

/// Drop a communicator's handle and give its context back (no callbacks).
pub fn unregister(h: MPI_Comm) {
    let mut s = st();
    if let Some(o) = s.remove_comm(h) {
        s.topos.remove(&h);
        s.comm_infos.remove(&h);
        drop(s);
        mgmt::free(o.comm);
    }
}

/// The communicator assertions (MPI-4 §7.4.4), in the order MPICH reports them.
const ASSERTIONS: [&str; 4] = [
    "mpi_assert_no_any_tag",
    "mpi_assert_no_any_source",
    "mpi_assert_exact_length",
    "mpi_assert_allow_overtaking",
];

/// An assertion's value as MPICH reads it: "true", or a number that C's `atoi`
/// reads as nonzero ("1", "-1", " 2x"); anything else is false.
fn assertion_holds(v: &str) -> bool {
    if v == "true" {
        return true;
    }
    let t = v.trim_start();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    digits
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .any(|c| c != '0')
}

/// The hints `info` gives a communicator: assertions normalized to "true" /
/// "false".
fn hints_of(info: InfoObj) -> InfoObj {
    InfoObj {
        pairs: info
            .pairs
            .into_iter()
            .map(|(k, v)| {
                if ASSERTIONS.contains(&k.as_str()) {
                    let b = assertion_holds(&v);
                    (k, if b { "true" } else { "false" }.to_string())
                } else {
                    (k, v)
                }
            })
            .collect(),
    }
}

/// MPI_Comm_dup's work: the new communicator with attributes (copy callbacks),
/// topology and info hints of the old (the assertions excepted); `info` replaces
/// the hints (MPI_Comm_dup_with_info).
pub fn dup(comm: MPI_Comm, info: Option<InfoObj>) -> R<MPI_Comm> {
    let c = check(comm)?;
    let n = mgmt::dup(&c)?;
    adopt(comm, register(comm, n), info)
}

/// Give the new handle `h` what a duplicate of `comm` carries over: topology,
/// info hints (`info` where given) and attributes (copy callbacks).
fn adopt(comm: MPI_Comm, h: MPI_Comm, info: Option<InfoObj>) -> R<MPI_Comm> {
    carry_over(comm, h, info);
    if let Err(e) = crate::attr::copy_all(comm, h) {
        let _ = crate::attr::delete_all(h);
        unregister(h);
        return Err(e);
    }
    Ok(h)
}

/// Topology and info hints of `comm` onto the new handle `h` (the MPI-4
/// assertions hold for one communicator only: not carried over).
fn carry_over(comm: MPI_Comm, h: MPI_Comm, info: Option<InfoObj>) {
    let mut s = st();
    if let Some(t) = s.topos.get(&comm).cloned() {
        s.topos.insert(h, t);
    }
    let i = match info {
        Some(i) => hints_of(i),
        None => {
            let mut i = s.comm_infos.get(&comm).cloned().unwrap_or_default();
            i.pairs.retain(|(k, _)| !ASSERTIONS.contains(&k.as_str()));
            i
        }
    };
    if !i.pairs.is_empty() {
        s.comm_infos.insert(h, i);
    }
}

mpi_fn! { comm => fn MPI_Comm_dup / PMPI_Comm_dup(comm: MPI_Comm, newcomm: *mut MPI_Comm) {
    let o = out(newcomm, "newcomm")?;
    // On an error (a copy callback's) no communicator is left: MPI_COMM_NULL, as
    // in MPICH.
    *o = MPI_COMM_NULL;
    *o = dup(comm, None)?;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Comm_dup_with_info / PMPI_Comm_dup_with_info(comm: MPI_Comm, info: MPI_Info, newcomm: *mut MPI_Comm) {
    // MPI_INFO_NULL: no hints (the old communicator's are not carried over).
    let i = if info == MPI_INFO_NULL { InfoObj::default() } else { crate::info::get(info)? };
    let o = out(newcomm, "newcomm")?;
    *o = MPI_COMM_NULL;
    *o = dup(comm, Some(i))?;
    Ok(())
}}

/// MPI_Comm_idup(_with_info): `info` None carries the parent's hints over.
unsafe fn idup(
    comm: MPI_Comm,
    info: Option<InfoObj>,
    newcomm: *mut MPI_Comm,
    request: *mut MPI_Request,
) -> R<()> {
    let o = out(newcomm, "newcomm")?;
    let r = out(request, "request")?;
    let c = check(comm)?;
    let pending = mgmt::idup(&c)?;
    // The parent stands in for the new communicator until the request
    // completes; the handle refuses every use meanwhile.
    let h = register(comm, c);
    if let Err(e) = adopt_stand_in(comm, h, info) {
        // The other members' agreement goes on: this one runs to its end too,
        // and its pair is given back then.
        st().freed_idups
            .push((pending.request(), MPI_COMM_NULL, Box::new(pending)));
        return Err(e);
    }
    let mut s = st();
    s.set_unready(h);
    let id = pending.request();
    *r = s.reqs.insert(crate::req::ReqObj {
        kind: crate::req::Kind::NewComm {
            id,
            handle: h,
            pending: Box::new(pending),
        },
        comm,
        recv: false,
    });
    *o = h;
    Ok(())
}

mpi_fn! { comm => fn MPI_Comm_idup / PMPI_Comm_idup(comm: MPI_Comm, newcomm: *mut MPI_Comm, request: *mut MPI_Request) {
    idup(comm, None, newcomm, request)
}}

mpi_fn! { comm => fn MPI_Comm_idup_with_info / PMPI_Comm_idup_with_info(comm: MPI_Comm, info: MPI_Info, newcomm: *mut MPI_Comm, request: *mut MPI_Request) {
    // As MPI_Comm_dup_with_info: MPI_INFO_NULL gives no hints.
    let i = if info == MPI_INFO_NULL { InfoObj::default() } else { crate::info::get(info)? };
    idup(comm, Some(i), newcomm, request)
}}

/// [`adopt`] for an idup's handle `h`, whose communicator is the parent
/// standing in: on failure the handle goes without giving back a context.
fn adopt_stand_in(comm: MPI_Comm, h: MPI_Comm, info: Option<InfoObj>) -> R<()> {
    carry_over(comm, h, info);
    if let Err(e) = crate::attr::copy_all(comm, h) {
        let _ = crate::attr::delete_all(h);
        let mut s = st();
        s.remove_comm(h);
        s.topos.remove(&h);
        s.comm_infos.remove(&h);
        return Err(e);
    }
    Ok(())
}

/// Install the communicator a completed MPI_Comm_idup made for `h`; on failure
/// the handle goes (its attributes deleted) and the error is returned. With
/// `h` MPI_COMM_NULL (the call failed after the agreement started) the new
/// communicator is freed at once.
pub fn finish_idup(h: MPI_Comm, pending: mgmt::PendingComm) -> R<()> {
    if h == MPI_COMM_NULL {
        if let Ok(c) = pending.finish() {
            mgmt::free(c);
        }
        return Ok(());
    }
    match pending.finish() {
        Ok(c) => {
            st().install_comm(h, c);
            Ok(())
        }
        Err(e) => {
            // The stand-in (the parent) is made usable for the delete callbacks,
            // then dropped without giving back its context (the parent's).
            let stand_in = st().comm_obj(h).map(|o| o.comm.clone());
            if let Some(c) = stand_in {
                st().install_comm(h, c);
                let _ = crate::attr::delete_all(h);
            }
            let mut s = st();
            s.remove_comm(h);
            s.topos.remove(&h);
            s.comm_infos.remove(&h);
            Err(e.into())
        }
    }
}

mpi_fn! { comm => fn MPI_Comm_split / PMPI_Comm_split(comm: MPI_Comm, color: c_int, key: c_int, newcomm: *mut MPI_Comm) {
    let c = check(comm)?;
    out(newcomm, "newcomm")?;
    let n = mgmt::split(&c, color, key)?;
    put(comm, n, newcomm)?;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Comm_split_type / PMPI_Comm_split_type(comm: MPI_Comm, split_type: c_int, key: c_int, info: MPI_Info, newcomm: *mut MPI_Comm) {
    let c = check(comm)?;
    if info != MPI_INFO_NULL {
        crate::info::get(info)?;
    }
    out(newcomm, "newcomm")?;
    let n = mgmt::split_type(&c, split_type, key)?;
    put(comm, n, newcomm)?;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Comm_create / PMPI_Comm_create(comm: MPI_Comm, group: MPI_Group, newcomm: *mut MPI_Comm) {
    let c = check(comm)?;
    let g = crate::group::group(group)?;
    out(newcomm, "newcomm")?;
    let n = mgmt::create(&c, &g)?;
    put(comm, n, newcomm)?;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Comm_create_group / PMPI_Comm_create_group(comm: MPI_Comm, group: MPI_Group, tag: c_int, newcomm: *mut MPI_Comm) {
    let c = check(comm)?;
    let g = crate::group::group(group)?;
    out(newcomm, "newcomm")?;
    let me = c.group[c.rank as usize];
    if g.rank_of_world(me).is_none() {
        // MPICH: a caller outside the group gets MPI_COMM_NULL.
        put(comm, None, newcomm)?;
        return Ok(());
    }
    let n = mgmt::create_group(&c, &g, tag)?;
    put(comm, Some(n), newcomm)?;
    Ok(())
}}

mpi_fn! { if comm.is_null() { MPI_COMM_WORLD } else { *comm } => fn MPI_Comm_free / PMPI_Comm_free(comm: *mut MPI_Comm) {
    let h = out(comm, "comm")?;
    check(*h)?;
    if *h == MPI_COMM_WORLD || *h == MPI_COMM_SELF {
        return fail(MPI_ERR_COMM, format!("{} cannot be freed", if *h == MPI_COMM_WORLD { "MPI_COMM_WORLD" } else { "MPI_COMM_SELF" }));
    }
    crate::attr::delete_all(*h)?;
    unregister(*h);
    *h = MPI_COMM_NULL;
    Ok(())
}}

mpi_fn! { local_comm => fn MPI_Intercomm_create / PMPI_Intercomm_create(local_comm: MPI_Comm, local_leader: c_int, peer_comm: MPI_Comm, remote_leader: c_int, tag: c_int, newintercomm: *mut MPI_Comm) {
    let l = check(local_comm)?;
    out(newintercomm, "newintercomm")?;
    // The peer communicator matters at the local leader only (MPI's rule).
    let peer = if l.rank == local_leader { Some(check(peer_comm)?) } else { None };
    let n = mgmt::intercomm_create(&l, local_leader, peer.as_ref(), remote_leader, tag)?;
    put(local_comm, Some(n), newintercomm)?;
    Ok(())
}}

mpi_fn! { intercomm => fn MPI_Intercomm_merge / PMPI_Intercomm_merge(intercomm: MPI_Comm, high: c_int, newintracomm: *mut MPI_Comm) {
    let c = check(intercomm)?;
    if !c.is_inter() {
        return fail(MPI_ERR_COMM, "not an intercommunicator");
    }
    out(newintracomm, "newintracomm")?;
    let n = mgmt::intercomm_merge(&c, high != 0)?;
    put(intercomm, Some(n), newintracomm)?;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Comm_set_info / PMPI_Comm_set_info(comm: MPI_Comm, info: MPI_Info) {
    check(comm)?;
    let i = hints_of(crate::info::get(info)?);
    let mut s = st();
    let cur = s.comm_infos.entry(comm).or_default();
    for (k, v) in i.pairs {
        match cur.pairs.iter_mut().find(|(ck, _)| *ck == k) {
            Some(p) => p.1 = v,
            None => cur.pairs.push((k, v)),
        }
    }
    Ok(())
}}

mpi_fn! { comm => fn MPI_Comm_get_info / PMPI_Comm_get_info(comm: MPI_Comm, info_used: *mut MPI_Info) {
    check(comm)?;
    let o = out(info_used, "info_used")?;
    let mut s = st();
    let set = s.comm_infos.get(&comm).cloned().unwrap_or_default();
    let mut pairs: Vec<(String, String)> = ASSERTIONS
        .iter()
        .map(|a| {
            let v = set.pairs.iter().find(|(k, _)| k == a).map_or("false", |(_, v)| v.as_str());
            (a.to_string(), v.to_string())
        })
        .collect();
    pairs.extend(set.pairs.into_iter().filter(|(k, _)| !ASSERTIONS.contains(&k.as_str())));
    *o = s.infos.insert(InfoObj { pairs });
    Ok(())
}}

// Two calls of the dynamic-process family that programs (and rsmpi's
// initialization) make without spawning anything.

mpi_fn! { MPI_COMM_WORLD => fn MPI_Comm_get_parent / PMPI_Comm_get_parent(parent: *mut MPI_Comm) {
    // vmpi has no MPI_Comm_spawn: no process has a parent.
    st().comm(MPI_COMM_WORLD)?;
    *out(parent, "parent")? = MPI_COMM_NULL;
    Ok(())
}}

mpi_fn! { if comm.is_null() { MPI_COMM_WORLD } else { *comm } => fn MPI_Comm_disconnect / PMPI_Comm_disconnect(comm: *mut MPI_Comm) {
    // Point-to-point completes through requests the caller waits for; what is
    // left is MPI_Comm_free's work.
    let h = out(comm, "comm")?;
    check(*h)?;
    if *h == MPI_COMM_WORLD || *h == MPI_COMM_SELF {
        return fail(MPI_ERR_COMM, "MPI_COMM_WORLD and MPI_COMM_SELF cannot be disconnected");
    }
    crate::attr::delete_all(*h)?;
    unregister(*h);
    *h = MPI_COMM_NULL;
    Ok(())
}}

#[cfg(test)]
mod tests {
    #[test]
    fn assertion_values_read_as_mpich_reads_them() {
        for v in ["true", "1", "2", "-1", " 3", "+7", "12abc"] {
            assert!(super::assertion_holds(v), "{v:?}");
        }
        for v in [
            "false", "TRUE", "True", " true", "true ", "yes", "0", "", "-0", "abc",
        ] {
            assert!(!super::assertion_holds(v), "{v:?}");
        }
    }
}
