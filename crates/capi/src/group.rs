//! Process groups: MPI_Group_* (the set algebra of vmpi::sys::comm::Group),
//! MPI_Comm_group and MPI_Comm_remote_group. MPI_GROUP_EMPTY is predefined (it may
//! be freed: the handle becomes MPI_GROUP_NULL and the predefined group stays);
//! user groups live in `State::groups` (handles 0x88000000 | index).

use crate::consts::*;
use crate::dtype::out;
use crate::err::{err, fail, R};
use crate::state::st;
use std::os::raw::c_int;
use vmpi::sys::comm::Group;

pub const MPI_GROUP_NULL: MPI_Group = 0x08000000;
pub const MPI_GROUP_EMPTY: MPI_Group = 0x48000000;
pub const DYN_GROUP: u32 = 0x8800_0000;
pub const MPI_ERR_GROUP: c_int = 8;

/// The group behind `h`, or MPI_ERR_GROUP.
pub fn group(h: MPI_Group) -> R<Group> {
    if h == MPI_GROUP_EMPTY {
        return Ok(Group::empty());
    }
    if h == MPI_GROUP_NULL {
        return fail(MPI_ERR_GROUP, "null group (MPI_GROUP_NULL)");
    }
    st().groups
        .get(h)
        .cloned()
        .ok_or_else(|| err(MPI_ERR_GROUP, format!("invalid group {:#x}", h as u32)))
}

/// A handle for `g` (MPI_GROUP_EMPTY when it is empty, as MPICH does).
pub fn new_handle(g: Group) -> MPI_Group {
    if g.size() == 0 {
        return MPI_GROUP_EMPTY;
    }
    st().groups.insert(g)
}

/// This process's world rank.
fn me() -> R<usize> {
    st().world.map(|w| w.0).ok_or_else(|| {
        err(
            MPI_ERR_OTHER,
            "MPI is not initialized (or already finalized)",
        )
    })
}

unsafe fn ranks_arg<'a>(n: c_int, ranks: *const c_int, what: &str) -> R<&'a [c_int]> {
    if n < 0 {
        return fail(MPI_ERR_ARG, format!("invalid number of ranks {n}"));
    }
    if n > 0 && ranks.is_null() {
        return fail(MPI_ERR_ARG, format!("{what} is a null pointer"));
    }
    Ok(if n == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(ranks, n as usize)
    })
}

unsafe fn triples(n: c_int, ranges: *const [c_int; 3]) -> R<Vec<(i32, i32, i32)>> {
    if n < 0 {
        return fail(MPI_ERR_ARG, format!("invalid number of ranges {n}"));
    }
    if n > 0 && ranges.is_null() {
        return fail(MPI_ERR_ARG, "ranges is a null pointer");
    }
    let s: &[[c_int; 3]] = if n == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(ranges, n as usize)
    };
    Ok(s.iter().map(|t| (t[0], t[1], t[2])).collect())
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Group_size / PMPI_Group_size(group: MPI_Group, size: *mut c_int) {
    let g = self::group(group)?;
    *out(size, "size")? = g.size();
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Group_rank / PMPI_Group_rank(group: MPI_Group, rank: *mut c_int) {
    let g = self::group(group)?;
    let r = out(rank, "rank")?;
    *r = g.rank_of_world(me()?).unwrap_or(MPI_UNDEFINED);
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Group_translate_ranks / PMPI_Group_translate_ranks(group1: MPI_Group, n: c_int, ranks1: *const c_int, group2: MPI_Group, ranks2: *mut c_int) {
    let (a, b) = (group(group1)?, group(group2)?);
    let r = ranks_arg(n, ranks1, "ranks1")?;
    if n > 0 && ranks2.is_null() {
        return fail(MPI_ERR_ARG, "ranks2 is a null pointer");
    }
    let t = a.translate_ranks(r, &b)?;
    for (i, v) in t.into_iter().enumerate() {
        *ranks2.add(i) = v;
    }
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Group_compare / PMPI_Group_compare(group1: MPI_Group, group2: MPI_Group, result: *mut c_int) {
    let (a, b) = (group(group1)?, group(group2)?);
    *out(result, "result")? = a.compare(&b) as c_int;
    Ok(())
}}

fn binop(
    g1: MPI_Group,
    g2: MPI_Group,
    newgroup: *mut MPI_Group,
    f: fn(&Group, &Group) -> Group,
) -> R<()> {
    let (a, b) = (group(g1)?, group(g2)?);
    // SAFETY: the caller's output pointer, checked for null.
    let o = unsafe { out(newgroup, "newgroup")? };
    *o = new_handle(f(&a, &b));
    Ok(())
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Group_union / PMPI_Group_union(group1: MPI_Group, group2: MPI_Group, newgroup: *mut MPI_Group) {
    binop(group1, group2, newgroup, Group::union)
}}
mpi_fn! { MPI_COMM_WORLD => fn MPI_Group_intersection / PMPI_Group_intersection(group1: MPI_Group, group2: MPI_Group, newgroup: *mut MPI_Group) {
    binop(group1, group2, newgroup, Group::intersection)
}}
mpi_fn! { MPI_COMM_WORLD => fn MPI_Group_difference / PMPI_Group_difference(group1: MPI_Group, group2: MPI_Group, newgroup: *mut MPI_Group) {
    binop(group1, group2, newgroup, Group::difference)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Group_incl / PMPI_Group_incl(group: MPI_Group, n: c_int, ranks: *const c_int, newgroup: *mut MPI_Group) {
    let g = self::group(group)?;
    let r = ranks_arg(n, ranks, "ranks")?;
    let o = out(newgroup, "newgroup")?;
    *o = new_handle(g.incl(r)?);
    Ok(())
}}
mpi_fn! { MPI_COMM_WORLD => fn MPI_Group_excl / PMPI_Group_excl(group: MPI_Group, n: c_int, ranks: *const c_int, newgroup: *mut MPI_Group) {
    let g = self::group(group)?;
    let r = ranks_arg(n, ranks, "ranks")?;
    let o = out(newgroup, "newgroup")?;
    *o = new_handle(g.excl(r)?);
    Ok(())
}}
mpi_fn! { MPI_COMM_WORLD => fn MPI_Group_range_incl / PMPI_Group_range_incl(group: MPI_Group, n: c_int, ranges: *const [c_int; 3], newgroup: *mut MPI_Group) {
    let g = self::group(group)?;
    let t = triples(n, ranges)?;
    let o = out(newgroup, "newgroup")?;
    *o = new_handle(g.range_incl(&t)?);
    Ok(())
}}
mpi_fn! { MPI_COMM_WORLD => fn MPI_Group_range_excl / PMPI_Group_range_excl(group: MPI_Group, n: c_int, ranges: *const [c_int; 3], newgroup: *mut MPI_Group) {
    let g = self::group(group)?;
    let t = triples(n, ranges)?;
    let o = out(newgroup, "newgroup")?;
    *o = new_handle(g.range_excl(&t)?);
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Group_free / PMPI_Group_free(group: *mut MPI_Group) {
    let h = out(group, "group")?;
    self::group(*h)?;
    if *h != MPI_GROUP_EMPTY {
        st().groups.remove(*h);
    }
    *h = MPI_GROUP_NULL;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Comm_group / PMPI_Comm_group(comm: MPI_Comm, group: *mut MPI_Group) {
    let c = crate::state::comm(comm)?;
    let o = out(group, "group")?;
    *o = new_handle(c.group());
    Ok(())
}}

mpi_fn! { comm => fn MPI_Comm_remote_group / PMPI_Comm_remote_group(comm: MPI_Comm, group: *mut MPI_Group) {
    let c = crate::state::comm(comm)?;
    let Some(r) = c.remote.clone() else {
        return fail(MPI_ERR_COMM, "not an intercommunicator");
    };
    let o = out(group, "group")?;
    *o = new_handle(Group::new(r.to_vec())?);
    Ok(())
}}
