//! Process topologies: Cartesian, graph and distributed graph communicators and
//! their queries. A topology communicator is an ordinary communicator (made by
//! split for Cartesian/graph: ranks beyond the topology's size get MPI_COMM_NULL;
//! by dup for distributed graphs) with its `Topo` in `State::topos`. `reorder` is
//! accepted and ignored (ranks keep their order, which MPI allows); `MPI_Cart_map`
//! and `MPI_Graph_map` say the same. Dup copies the topology.

use crate::consts::*;
use crate::dtype::out;
use crate::err::{err, fail, R};
use crate::state::st;
use std::os::raw::c_int;
use vmpi::sys::comm::mgmt;

pub const MPI_GRAPH: c_int = 1;
pub const MPI_CART: c_int = 2;
pub const MPI_DIST_GRAPH: c_int = 3;
pub const MPI_ERR_TOPOLOGY: c_int = 10;

#[derive(Clone, Debug)]
pub enum Topo {
    Cart {
        dims: Vec<i32>,
        periods: Vec<bool>,
    },
    Graph {
        index: Vec<i32>,
        edges: Vec<i32>,
    },
    Dist {
        sources: Vec<i32>,
        sw: Vec<i32>,
        dests: Vec<i32>,
        dw: Vec<i32>,
        weighted: bool,
    },
}

pub fn topo(comm: MPI_Comm) -> R<Option<Topo>> {
    let s = st();
    s.comm(comm)?;
    Ok(s.topos.get(&comm).cloned())
}

fn cart(comm: MPI_Comm) -> R<(Vec<i32>, Vec<bool>, i32)> {
    let r = crate::state::comm(comm)?.rank;
    match topo(comm)? {
        Some(Topo::Cart { dims, periods }) => Ok((dims, periods, r)),
        _ => fail(MPI_ERR_TOPOLOGY, "not a Cartesian communicator"),
    }
}

fn graph(comm: MPI_Comm) -> R<(Vec<i32>, Vec<i32>)> {
    match topo(comm)? {
        Some(Topo::Graph { index, edges }) => Ok((index, edges)),
        _ => fail(MPI_ERR_TOPOLOGY, "not a graph communicator"),
    }
}

pub fn coords_of(dims: &[i32], mut rank: i32) -> Vec<i32> {
    let mut c = vec![0; dims.len()];
    for i in (0..dims.len()).rev() {
        c[i] = rank % dims[i];
        rank /= dims[i];
    }
    c
}

/// The rank at `coords` (wrapped in periodic dimensions), None when outside.
pub fn rank_of(dims: &[i32], periods: &[bool], coords: &[i32]) -> Option<i32> {
    let mut r = 0i32;
    for i in 0..dims.len() {
        let mut c = coords[i];
        if periods[i] {
            c = c.rem_euclid(dims[i]);
        } else if c < 0 || c >= dims[i] {
            return None;
        }
        r = r * dims[i] + c;
    }
    Some(r)
}

/// The (source, dest) of a shift along `dir` by `disp`.
pub fn shift(dims: &[i32], periods: &[bool], rank: i32, dir: usize, disp: i32) -> (i32, i32) {
    let c = coords_of(dims, rank);
    let at = |d: i32| {
        let mut x = c.clone();
        x[dir] += d;
        rank_of(dims, periods, &x).unwrap_or(MPI_PROC_NULL)
    };
    (at(-disp), at(disp))
}

/// Make the topology communicator of the first `n` ranks of `comm`.
unsafe fn make(comm: MPI_Comm, n: i32, t: Topo, newcomm: *mut MPI_Comm) -> R<()> {
    let c = crate::comm::check(comm)?;
    let o = out(newcomm, "newcomm")?;
    if n > c.size() {
        return fail(
            MPI_ERR_ARG,
            format!(
                "the topology has {n} processes, the communicator only {}",
                c.size()
            ),
        );
    }
    let color = if c.rank < n { 0 } else { MPI_UNDEFINED };
    *o = match mgmt::split(&c, color, c.rank)? {
        Some(nc) => {
            let h = crate::comm::register(comm, nc);
            st().topos.insert(h, t);
            h
        }
        None => MPI_COMM_NULL,
    };
    Ok(())
}

unsafe fn ints<'a>(p: *const c_int, n: usize, what: &str) -> R<&'a [c_int]> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return fail(MPI_ERR_ARG, format!("{what} is a null pointer"));
    }
    Ok(std::slice::from_raw_parts(p, n))
}

unsafe fn put_ints(p: *mut c_int, v: &[i32], what: &str) -> R<()> {
    if v.is_empty() {
        return Ok(());
    }
    if p.is_null() {
        return fail(MPI_ERR_ARG, format!("{what} is a null pointer"));
    }
    std::ptr::copy_nonoverlapping(v.as_ptr(), p, v.len());
    Ok(())
}

fn check_dims(dims: &[i32]) -> R<i32> {
    let mut n = 1i64;
    for &d in dims {
        if d <= 0 {
            return fail(MPI_ERR_DIMS, format!("invalid dimension size {d}"));
        }
        n *= d as i64;
        if n > i32::MAX as i64 {
            return fail(MPI_ERR_DIMS, "the grid is too large");
        }
    }
    Ok(n as i32)
}

mpi_fn! { comm_old => fn MPI_Cart_create / PMPI_Cart_create(comm_old: MPI_Comm, ndims: c_int, dims: *const c_int, periods: *const c_int, reorder: c_int, comm_cart: *mut MPI_Comm) {
    let _ = reorder;
    crate::comm::check(comm_old)?;
    if ndims < 0 {
        return fail(MPI_ERR_DIMS, format!("invalid number of dimensions {ndims}"));
    }
    let d = ints(dims, ndims as usize, "dims")?.to_vec();
    let p: Vec<bool> = ints(periods, ndims as usize, "periods")?.iter().map(|&x| x != 0).collect();
    let n = check_dims(&d)?;
    make(comm_old, n, Topo::Cart { dims: d, periods: p }, comm_cart)
}}

mpi_fn! { comm => fn MPI_Cartdim_get / PMPI_Cartdim_get(comm: MPI_Comm, ndims: *mut c_int) {
    let (d, _, _) = cart(comm)?;
    *out(ndims, "ndims")? = d.len() as c_int;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Cart_get / PMPI_Cart_get(comm: MPI_Comm, maxdims: c_int, dims: *mut c_int, periods: *mut c_int, coords: *mut c_int) {
    let (d, p, r) = cart(comm)?;
    if maxdims < d.len() as c_int {
        return fail(MPI_ERR_ARG, format!("maxdims {maxdims} is less than the {} dimensions", d.len()));
    }
    put_ints(dims, &d, "dims")?;
    put_ints(periods, &p.iter().map(|&x| x as i32).collect::<Vec<_>>(), "periods")?;
    put_ints(coords, &coords_of(&d, r), "coords")
}}

mpi_fn! { comm => fn MPI_Cart_rank / PMPI_Cart_rank(comm: MPI_Comm, coords: *const c_int, rank: *mut c_int) {
    let (d, p, _) = cart(comm)?;
    let c = ints(coords, d.len(), "coords")?;
    for i in 0..d.len() {
        if !p[i] && (c[i] < 0 || c[i] >= d[i]) {
            return fail(MPI_ERR_ARG, format!("coordinate {} of dimension {i} is outside 0..{}", c[i], d[i]));
        }
    }
    *out(rank, "rank")? = rank_of(&d, &p, c).expect("checked");
    Ok(())
}}

mpi_fn! { comm => fn MPI_Cart_coords / PMPI_Cart_coords(comm: MPI_Comm, rank: c_int, maxdims: c_int, coords: *mut c_int) {
    let (d, _, _) = cart(comm)?;
    let n: i32 = d.iter().product();
    if rank < 0 || rank >= n {
        return fail(MPI_ERR_RANK, format!("invalid rank {rank} (communicator size {n})"));
    }
    if maxdims < d.len() as c_int {
        return fail(MPI_ERR_ARG, format!("maxdims {maxdims} is less than the {} dimensions", d.len()));
    }
    put_ints(coords, &coords_of(&d, rank), "coords")
}}

mpi_fn! { comm => fn MPI_Cart_shift / PMPI_Cart_shift(comm: MPI_Comm, direction: c_int, disp: c_int, rank_source: *mut c_int, rank_dest: *mut c_int) {
    let (d, p, r) = cart(comm)?;
    if direction < 0 || direction as usize >= d.len() {
        return fail(MPI_ERR_ARG, format!("invalid direction {direction} ({} dimensions)", d.len()));
    }
    let (s, t) = shift(&d, &p, r, direction as usize, disp);
    *out(rank_source, "rank_source")? = s;
    *out(rank_dest, "rank_dest")? = t;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Cart_sub / PMPI_Cart_sub(comm: MPI_Comm, remain_dims: *const c_int, newcomm: *mut MPI_Comm) {
    let (d, p, r) = cart(comm)?;
    let keep: Vec<bool> = ints(remain_dims, d.len(), "remain_dims")?.iter().map(|&x| x != 0).collect();
    let o = out(newcomm, "newcomm")?;
    let c = crate::comm::check(comm)?;
    let co = coords_of(&d, r);
    let mut color = 0;
    for i in 0..d.len() {
        if !keep[i] {
            color = color * d[i] + co[i];
        }
    }
    let nc = mgmt::split(&c, color, r)?.expect("a color");
    let h = crate::comm::register(comm, nc);
    let t = Topo::Cart {
        dims: (0..d.len()).filter(|&i| keep[i]).map(|i| d[i]).collect(),
        periods: (0..d.len()).filter(|&i| keep[i]).map(|i| p[i]).collect(),
    };
    st().topos.insert(h, t);
    *o = h;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Cart_map / PMPI_Cart_map(comm: MPI_Comm, ndims: c_int, dims: *const c_int, periods: *const c_int, newrank: *mut c_int) {
    let c = crate::comm::check(comm)?;
    if ndims < 0 {
        return fail(MPI_ERR_DIMS, format!("invalid number of dimensions {ndims}"));
    }
    let d = ints(dims, ndims as usize, "dims")?;
    ints(periods, ndims as usize, "periods")?;
    let n = check_dims(d)?;
    if n > c.size() {
        return fail(MPI_ERR_ARG, format!("the grid has {n} processes, the communicator only {}", c.size()));
    }
    *out(newrank, "newrank")? = if c.rank < n { c.rank } else { MPI_UNDEFINED };
    Ok(())
}}

fn check_graph(nnodes: c_int, index: &[i32], edges: &[i32]) -> R<()> {
    let mut prev = 0;
    for &x in index {
        if x < prev {
            return fail(MPI_ERR_ARG, "index must be non-decreasing");
        }
        prev = x;
    }
    for &e in edges {
        if e < 0 || e >= nnodes {
            return fail(
                MPI_ERR_ARG,
                format!("edge to {e} is outside the {nnodes} nodes"),
            );
        }
    }
    Ok(())
}

unsafe fn graph_args(
    nnodes: c_int,
    index: *const c_int,
    edges: *const c_int,
) -> R<(Vec<i32>, Vec<i32>)> {
    if nnodes < 0 {
        return fail(MPI_ERR_ARG, format!("invalid number of nodes {nnodes}"));
    }
    let ix = ints(index, nnodes as usize, "index")?.to_vec();
    let ne = ix.last().copied().unwrap_or(0);
    if ne < 0 {
        return fail(MPI_ERR_ARG, "negative edge count");
    }
    let ed = ints(edges, ne as usize, "edges")?.to_vec();
    check_graph(nnodes, &ix, &ed)?;
    Ok((ix, ed))
}

mpi_fn! { comm_old => fn MPI_Graph_create / PMPI_Graph_create(comm_old: MPI_Comm, nnodes: c_int, index: *const c_int, edges: *const c_int, reorder: c_int, comm_graph: *mut MPI_Comm) {
    let _ = reorder;
    crate::comm::check(comm_old)?;
    let (ix, ed) = graph_args(nnodes, index, edges)?;
    make(comm_old, nnodes, Topo::Graph { index: ix, edges: ed }, comm_graph)
}}

mpi_fn! { comm => fn MPI_Graphdims_get / PMPI_Graphdims_get(comm: MPI_Comm, nnodes: *mut c_int, nedges: *mut c_int) {
    let (ix, ed) = graph(comm)?;
    *out(nnodes, "nnodes")? = ix.len() as c_int;
    *out(nedges, "nedges")? = ed.len() as c_int;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Graph_get / PMPI_Graph_get(comm: MPI_Comm, maxindex: c_int, maxedges: c_int, index: *mut c_int, edges: *mut c_int) {
    let (ix, ed) = graph(comm)?;
    put_ints(index, &ix[..ix.len().min(maxindex.max(0) as usize)], "index")?;
    put_ints(edges, &ed[..ed.len().min(maxedges.max(0) as usize)], "edges")
}}

fn graph_nbrs(ix: &[i32], ed: &[i32], rank: c_int) -> R<Vec<i32>> {
    if rank < 0 || rank as usize >= ix.len() {
        return fail(
            MPI_ERR_RANK,
            format!("invalid rank {rank} (graph of {} nodes)", ix.len()),
        );
    }
    let lo = if rank == 0 { 0 } else { ix[rank as usize - 1] } as usize;
    Ok(ed[lo..ix[rank as usize] as usize].to_vec())
}

mpi_fn! { comm => fn MPI_Graph_neighbors_count / PMPI_Graph_neighbors_count(comm: MPI_Comm, rank: c_int, nneighbors: *mut c_int) {
    let (ix, ed) = graph(comm)?;
    *out(nneighbors, "nneighbors")? = graph_nbrs(&ix, &ed, rank)?.len() as c_int;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Graph_neighbors / PMPI_Graph_neighbors(comm: MPI_Comm, rank: c_int, maxneighbors: c_int, neighbors: *mut c_int) {
    let (ix, ed) = graph(comm)?;
    let n = graph_nbrs(&ix, &ed, rank)?;
    put_ints(neighbors, &n[..n.len().min(maxneighbors.max(0) as usize)], "neighbors")
}}

mpi_fn! { comm => fn MPI_Graph_map / PMPI_Graph_map(comm: MPI_Comm, nnodes: c_int, index: *const c_int, edges: *const c_int, newrank: *mut c_int) {
    let c = crate::comm::check(comm)?;
    graph_args(nnodes, index, edges)?;
    if nnodes > c.size() {
        return fail(MPI_ERR_ARG, format!("the graph has {nnodes} nodes, the communicator only {}", c.size()));
    }
    *out(newrank, "newrank")? = if c.rank < nnodes { c.rank } else { MPI_UNDEFINED };
    Ok(())
}}

fn unweighted(p: *const c_int) -> bool {
    std::ptr::eq(p, crate::misc::MPI_UNWEIGHTED.0)
}

/// The weights argument: None for MPI_UNWEIGHTED.
unsafe fn weights(p: *const c_int, n: usize, what: &str) -> R<Option<Vec<i32>>> {
    if unweighted(p) {
        return Ok(None);
    }
    if std::ptr::eq(p, crate::misc::MPI_WEIGHTS_EMPTY.0) || n == 0 {
        return Ok(Some(vec![0; n]));
    }
    Ok(Some(ints(p, n, what)?.to_vec()))
}

unsafe fn register_dist(comm_old: MPI_Comm, t: Topo, newcomm: *mut MPI_Comm) -> R<()> {
    let c = crate::comm::check(comm_old)?;
    let o = out(newcomm, "comm_dist_graph")?;
    let h = crate::comm::register(comm_old, mgmt::dup(&c)?);
    st().topos.insert(h, t);
    *o = h;
    Ok(())
}

mpi_fn! { comm_old => fn MPI_Dist_graph_create_adjacent / PMPI_Dist_graph_create_adjacent(comm_old: MPI_Comm, indegree: c_int, sources: *const c_int, sourceweights: *const c_int, outdegree: c_int, destinations: *const c_int, destweights: *const c_int, info: MPI_Info, reorder: c_int, comm_dist_graph: *mut MPI_Comm) {
    let _ = reorder;
    let c = crate::comm::check(comm_old)?;
    if info != MPI_INFO_NULL {
        crate::info::get(info)?;
    }
    if indegree < 0 || outdegree < 0 {
        return fail(MPI_ERR_ARG, format!("invalid degree (indegree {indegree}, outdegree {outdegree})"));
    }
    let s = ints(sources, indegree as usize, "sources")?.to_vec();
    let d = ints(destinations, outdegree as usize, "destinations")?.to_vec();
    for &x in s.iter().chain(d.iter()) {
        if x < 0 || x >= c.size() {
            return fail(MPI_ERR_RANK, format!("invalid neighbor rank {x} (communicator size {})", c.size()));
        }
    }
    let sw = weights(sourceweights, s.len(), "sourceweights")?;
    let dw = weights(destweights, d.len(), "destweights")?;
    let weighted = sw.is_some() || dw.is_some();
    let t = Topo::Dist {
        sw: sw.unwrap_or_else(|| vec![1; s.len()]),
        dw: dw.unwrap_or_else(|| vec![1; d.len()]),
        sources: s,
        dests: d,
        weighted,
    };
    register_dist(comm_old, t, comm_dist_graph)
}}

mpi_fn! { comm_old => fn MPI_Dist_graph_create / PMPI_Dist_graph_create(comm_old: MPI_Comm, n: c_int, sources: *const c_int, degrees: *const c_int, destinations: *const c_int, weights: *const c_int, info: MPI_Info, reorder: c_int, comm_dist_graph: *mut MPI_Comm) {
    let _ = reorder;
    let c = crate::comm::check(comm_old)?;
    c.check_intra("MPI_Dist_graph_create")?;
    if info != MPI_INFO_NULL {
        crate::info::get(info)?;
    }
    if n < 0 {
        return fail(MPI_ERR_ARG, format!("invalid number of source nodes {n}"));
    }
    let src = ints(sources, n as usize, "sources")?;
    let deg = ints(degrees, n as usize, "degrees")?;
    let total: i64 = deg.iter().map(|&x| x as i64).sum();
    if deg.iter().any(|&x| x < 0) {
        return fail(MPI_ERR_ARG, "negative degree");
    }
    let dst = ints(destinations, total as usize, "destinations")?;
    let w = self::weights(weights, total as usize, "weights")?;
    let weighted = w.is_some();
    // This process's edges as (source, destination, weight) triples.
    let mut mine: Vec<i32> = Vec::with_capacity(3 * total as usize);
    let mut k = 0;
    for i in 0..n as usize {
        for _ in 0..deg[i] {
            for x in [src[i], dst[k]] {
                if x < 0 || x >= c.size() {
                    return fail(MPI_ERR_RANK, format!("invalid node {x} (communicator size {})", c.size()));
                }
            }
            mine.extend([src[i], dst[k], w.as_ref().map_or(1, |w| w[k])]);
            k += 1;
        }
    }
    // Every process learns every edge; each keeps those that touch it, in the
    // order of (giving rank, position), so both ends list parallel edges alike.
    let all = crate::neighbor::allgather_ints(&c, "MPI_Dist_graph_create", &mine)?;
    let me = c.rank;
    let (mut s, mut sw, mut d, mut dw) = (vec![], vec![], vec![], vec![]);
    for e in all.iter().flat_map(|v| v.chunks_exact(3)) {
        if e[1] == me {
            s.push(e[0]);
            sw.push(e[2]);
        }
        if e[0] == me {
            d.push(e[1]);
            dw.push(e[2]);
        }
    }
    let t = Topo::Dist { sources: s, sw, dests: d, dw, weighted };
    register_dist(comm_old, t, comm_dist_graph)
}}

fn dist(comm: MPI_Comm) -> R<(Vec<i32>, Vec<i32>, Vec<i32>, Vec<i32>, bool)> {
    match topo(comm)? {
        Some(Topo::Dist {
            sources,
            sw,
            dests,
            dw,
            weighted,
        }) => Ok((sources, sw, dests, dw, weighted)),
        _ => fail(MPI_ERR_TOPOLOGY, "not a distributed graph communicator"),
    }
}

mpi_fn! { comm => fn MPI_Dist_graph_neighbors_count / PMPI_Dist_graph_neighbors_count(comm: MPI_Comm, indegree: *mut c_int, outdegree: *mut c_int, weighted: *mut c_int) {
    let (s, _, d, _, w) = dist(comm)?;
    *out(indegree, "indegree")? = s.len() as c_int;
    *out(outdegree, "outdegree")? = d.len() as c_int;
    *out(weighted, "weighted")? = w as c_int;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Dist_graph_neighbors / PMPI_Dist_graph_neighbors(comm: MPI_Comm, maxindegree: c_int, sources: *mut c_int, sourceweights: *mut c_int, maxoutdegree: c_int, destinations: *mut c_int, destweights: *mut c_int) {
    let (s, sw, d, dw, w) = dist(comm)?;
    let ni = s.len().min(maxindegree.max(0) as usize);
    let no = d.len().min(maxoutdegree.max(0) as usize);
    put_ints(sources, &s[..ni], "sources")?;
    put_ints(destinations, &d[..no], "destinations")?;
    if w {
        if !unweighted(sourceweights) {
            put_ints(sourceweights, &sw[..ni], "sourceweights")?;
        }
        if !unweighted(destweights) {
            put_ints(destweights, &dw[..no], "destweights")?;
        }
    }
    Ok(())
}}

mpi_fn! { comm => fn MPI_Topo_test / PMPI_Topo_test(comm: MPI_Comm, status: *mut c_int) {
    let t = topo(comm)?;
    *out(status, "status")? = match t {
        None => MPI_UNDEFINED,
        Some(Topo::Cart { .. }) => MPI_CART,
        Some(Topo::Graph { .. }) => MPI_GRAPH,
        Some(Topo::Dist { .. }) => MPI_DIST_GRAPH,
    };
    Ok(())
}}

/// The in- and out-neighbors of this process on a topology communicator.
pub fn neighbors(comm: MPI_Comm) -> R<(Vec<i32>, Vec<i32>, bool)> {
    let r = crate::state::comm(comm)?.rank;
    match topo(comm)? {
        Some(Topo::Cart { dims, periods }) => {
            let mut v = Vec::new();
            for d in 0..dims.len() {
                let (s, t) = shift(&dims, &periods, r, d, 1);
                v.push(s);
                v.push(t);
            }
            Ok((v.clone(), v, true))
        }
        Some(Topo::Graph { index, edges }) => {
            let v = graph_nbrs(&index, &edges, r)?;
            Ok((v.clone(), v, false))
        }
        Some(Topo::Dist { sources, dests, .. }) => Ok((sources, dests, false)),
        None => Err(err(MPI_ERR_TOPOLOGY, "the communicator has no topology")),
    }
}
