//! The one entry point of every collective, for the Rust API and the C ABI alike:
//! a call's arguments as contiguous bytes ([`Args`]; the front ends pack derived
//! datatypes first), [`run`] for blocking calls and [`start`] for nonblocking
//! ones. A blocking call goes to the planner's front door first ([`shortcut`]:
//! the shared area, set up there on the communicator's first call that may use
//! it, or the two-rank exchange); only where that declines is a schedule built
//! and run to completion. A nonblocking call is always a schedule, behind a
//! request. The front door and the builders check the arguments alike, so a
//! call fails the same whichever way it goes. On an intercommunicator there is
//! no front door: both forms are the schedules of [`super::inter`].

use super::{Raw, RawMut, Reduction, Sched};
use crate::comm::Comm;
use crate::error::Result;
use crate::p2p::ReqId;

/// A buffer with a block per rank: byte counts and displacements.
pub type Blocks<'a, T> = (T, &'a [usize], &'a [usize]);

/// A collective call's arguments. A send buffer of `None` is MPI_IN_PLACE where
/// the standard allows it; `call` names the MPI function for messages where one
/// variant serves several (v, w and packed forms).
///
/// `Copy`: the counts and the reduction are borrowed from the front end, so
/// arguments have no drop glue, and a blocking call that the front door takes
/// (a C MPI_Bcast on the area: a few hundred instructions) pays nothing for
/// them; a schedule copies what it keeps when it is built.
#[derive(Debug, Clone, Copy)]
pub enum Args<'a> {
    Barrier,
    Bcast {
        buf: RawMut,
        root: i32,
    },
    /// Equal blocks of `recv.len / size` bytes at the root.
    Gather {
        send: Option<Raw>,
        recv: Option<RawMut>,
        root: i32,
    },
    /// `equal`: every block has this many bytes and the root's blocks follow each
    /// other in rank order (then the shared area may take it).
    Gatherv {
        send: Option<Raw>,
        recv: Option<Blocks<'a, RawMut>>,
        root: i32,
        call: &'static str,
        equal: Option<usize>,
    },
    /// Equal blocks of `send.len / size` bytes from the root.
    Scatter {
        send: Option<Raw>,
        recv: Option<RawMut>,
        root: i32,
    },
    /// As for [`Args::Gatherv`].
    Scatterv {
        send: Option<Blocks<'a, Raw>>,
        recv: Option<RawMut>,
        root: i32,
        call: &'static str,
        equal: Option<usize>,
    },
    Allgather {
        send: Option<Raw>,
        recv: RawMut,
    },
    Allgatherv {
        send: Option<Raw>,
        recv: Blocks<'a, RawMut>,
        call: &'static str,
    },
    Alltoall {
        send: Option<Raw>,
        recv: RawMut,
    },
    /// MPI_Alltoallv and, on bytes, MPI_Alltoallw.
    Alltoallv {
        send: Option<Blocks<'a, Raw>>,
        recv: Blocks<'a, RawMut>,
        call: &'static str,
    },
    Reduce {
        red: &'a Reduction,
        send: Option<Raw>,
        recv: Option<RawMut>,
        root: i32,
    },
    Allreduce {
        red: &'a Reduction,
        send: Option<Raw>,
        recv: RawMut,
    },
    /// Byte counts per rank.
    ReduceScatter {
        red: &'a Reduction,
        send: Option<Raw>,
        recv: RawMut,
        counts: &'a [usize],
        call: &'static str,
    },
    Scan {
        red: &'a Reduction,
        send: Option<Raw>,
        recv: RawMut,
        exclusive: bool,
    },
}

impl Args<'_> {
    /// The MPI function these arguments are for (blocking form).
    pub fn call(&self) -> &'static str {
        match self {
            Args::Barrier => "MPI_Barrier",
            Args::Bcast { .. } => "MPI_Bcast",
            Args::Gather { .. } => "MPI_Gather",
            Args::Scatter { .. } => "MPI_Scatter",
            Args::Allgather { .. } => "MPI_Allgather",
            Args::Alltoall { .. } => "MPI_Alltoall",
            Args::Reduce { .. } => "MPI_Reduce",
            Args::Allreduce { .. } => "MPI_Allreduce",
            Args::Scan { exclusive, .. } => {
                if *exclusive {
                    "MPI_Exscan"
                } else {
                    "MPI_Scan"
                }
            }
            Args::Gatherv { call, .. }
            | Args::Scatterv { call, .. }
            | Args::Allgatherv { call, .. }
            | Args::Alltoallv { call, .. }
            | Args::ReduceScatter { call, .. } => call,
        }
    }
}

/// Run a blocking collective on `comm`.
///
/// # Safety
/// The buffers must be valid for their lengths (reads for inputs, writes for
/// outputs), inputs and outputs distinct but for MPI_IN_PLACE, until this returns.
pub unsafe fn run(comm: &Comm, args: Args<'_>) -> Result<()> {
    if comm.is_inter() {
        return super::run_blocking(super::inter::build(comm, args)?);
    }
    if let Some(done) = shortcut(comm, &args) {
        return done;
    }
    super::run_blocking(build(comm, args)?)
}

/// Start a nonblocking collective on `comm`; the request completes when it does.
///
/// # Safety
/// As for [`run`], until the request completes.
pub unsafe fn start(comm: &Comm, args: Args<'_>) -> Result<ReqId> {
    let s = if comm.is_inter() {
        super::inter::build(comm, args)?
    } else {
        build(comm, args)?
    };
    super::start_nonblocking(s)
}

/// The bytes of `r` (none for an empty buffer, whatever its pointer).
///
/// # Safety
/// As for [`run`].
unsafe fn input<'a>(r: Raw) -> &'a [u8] {
    if r.len == 0 {
        return &[];
    }
    // SAFETY: the caller's contract: valid for reads of `len` bytes.
    std::slice::from_raw_parts(r.ptr, r.len)
}

/// # Safety
/// As for [`run`]; `r` is not read or written through another path meanwhile.
unsafe fn output<'a>(r: RawMut) -> &'a mut [u8] {
    if r.len == 0 {
        return &mut [];
    }
    // SAFETY: the caller's contract: valid for writes of `len` bytes, and distinct
    // from every input.
    std::slice::from_raw_parts_mut(r.ptr, r.len)
}

/// The planner's front door alone: a blocking call that it sends past a schedule
/// (the shared area, two ranks) runs now; None: it needs a schedule ([`run`]
/// builds one). The only way onto the area: the communicator's first call here
/// that the area could take sets it up. A front end that packs derived
/// datatypes tries this first on contiguous buffers, before packing anything.
///
/// # Safety
/// As for [`run`].
#[inline]
pub unsafe fn shortcut(comm: &Comm, args: &Args<'_>) -> Option<Result<()>> {
    if comm.is_inter() {
        return None;
    }
    match args {
        Args::Barrier => super::barrier_now(comm),
        Args::Bcast { buf, root } => super::bcast_now(comm, output(*buf), *root),
        Args::Gather { send, recv, root } => super::gather_now(
            comm,
            "MPI_Gather",
            send.map(|s| input(s)),
            recv.map(|r| output(r)),
            *root,
        ),
        Args::Scatter { send, recv, root } => super::scatter_now(
            comm,
            "MPI_Scatter",
            send.map(|s| input(s)),
            recv.map(|r| output(r)),
            *root,
        ),
        Args::Allgather { send, recv } => {
            super::allgather_now(comm, "MPI_Allgather", send.map(|s| input(s)), output(*recv))
        }
        Args::Alltoall { send, recv } => {
            super::alltoall_now(comm, send.map(|s| input(s)), output(*recv))
        }
        Args::Reduce {
            red,
            send,
            recv,
            root,
        } => super::reduce_now(
            comm,
            red,
            send.map(|s| input(s)),
            recv.map(|r| output(r)),
            *root,
        ),
        Args::Allreduce { red, send, recv } => {
            super::allreduce_now(comm, red, send.map(|s| input(s)), output(*recv))
        }
        Args::Gatherv { .. } | Args::Scatterv { .. } | Args::Allgatherv { .. } => {
            equal_blocks(comm, args)
        }
        _ => None,
    }
}

/// [`shortcut`] for the v-forms whose blocks are equal and in rank order: the
/// calls without v, on the same bytes (out of line: the hot path's match stays
/// small).
///
/// # Safety
/// As for [`run`].
#[inline(never)]
unsafe fn equal_blocks(comm: &Comm, args: &Args<'_>) -> Option<Result<()>> {
    match args {
        Args::Gatherv {
            send,
            recv,
            root,
            call,
            equal: Some(blk),
        } => {
            let recv = match recv {
                Some((b, c, d)) => match in_rank_order(call, comm, b.len, c, d, *blk) {
                    Ok(off) => Some(output(RawMut {
                        ptr: b.ptr.wrapping_add(off),
                        len: c.len() * blk,
                    })),
                    Err(e) => return Some(Err(e)),
                },
                None => None,
            };
            super::gather_now(comm, call, send.map(|s| input(s)), recv, *root)
        }
        Args::Scatterv {
            send,
            recv,
            root,
            call,
            equal: Some(blk),
        } => {
            let send = match send {
                Some((b, c, d)) => match in_rank_order(call, comm, b.len, c, d, *blk) {
                    Ok(off) => Some(input(Raw {
                        ptr: b.ptr.wrapping_add(off),
                        len: c.len() * blk,
                    })),
                    Err(e) => return Some(Err(e)),
                },
                None => None,
            };
            super::scatter_now(comm, call, send, recv.map(|r| output(r)), *root)
        }
        Args::Allgatherv {
            send,
            recv: (b, c, d),
            call,
        } => {
            // Equal blocks: an allgather. Decided from the counts alone, which every
            // rank shares; the displacements are this rank's own layout (MPI lets
            // them differ between ranks), so blocks not in rank order from the
            // start go through a temporary here, never down another path.
            let n = comm.size() as usize;
            let blk = c.first().copied().unwrap_or(0);
            if c.len() != n || d.len() != n || c.iter().any(|&x| x != blk) {
                return None;
            }
            let in_order = d.iter().enumerate().all(|(i, &x)| x == i * blk) && n * blk <= b.len;
            if in_order {
                let recv = output(RawMut {
                    ptr: b.ptr,
                    len: n * blk,
                });
                return super::allgather_now(comm, call, send.map(|s| input(s)), recv);
            }
            if d.iter()
                .any(|&x| x.checked_add(blk).is_none_or(|e| e > b.len))
            {
                return Some(Err(crate::error::Error::new(
                    crate::error::ErrorClass::Arg,
                    format!("{call}: a block's displacement lies beyond the receive buffer"),
                )));
            }
            let all = output(RawMut {
                ptr: b.ptr,
                len: b.len,
            });
            let mut tmp = vec![0u8; n * blk];
            let me = comm.rank as usize;
            if send.is_none() {
                tmp[me * blk..(me + 1) * blk].copy_from_slice(&all[d[me]..d[me] + blk]);
            }
            let r = super::allgather_now(comm, call, send.map(|s| input(s)), &mut tmp)?;
            if r.is_ok() {
                for (i, &at) in d.iter().enumerate() {
                    all[at..at + blk].copy_from_slice(&tmp[i * blk..(i + 1) * blk]);
                }
            }
            Some(r)
        }
        _ => None,
    }
}

/// Where the blocks of `blk` bytes, one per rank of `comm`, that a front end
/// promised (`equal` of [`Args::Gatherv`], [`Args::Scatterv`]) lie one after
/// the other in a buffer of `len` bytes: the offset of the first.
fn in_rank_order(
    call: &str,
    comm: &Comm,
    len: usize,
    counts: &[usize],
    displs: &[usize],
    blk: usize,
) -> Result<usize> {
    let at = displs.first().copied().unwrap_or(0);
    let n = comm.size() as usize;
    if counts.len() == n
        && displs.len() == n
        && counts.iter().all(|&c| c == blk)
        && displs.iter().enumerate().all(|(i, &d)| d == at + i * blk)
        && at + n * blk <= len
    {
        return Ok(at);
    }
    Err(crate::error::Error::intern(format!(
        "{call}: blocks said to be equal and in rank order are not"
    )))
}

/// The schedule of a call.
///
/// # Safety
/// As for [`run`], until the schedule completes.
unsafe fn build(comm: &Comm, args: Args<'_>) -> Result<Sched> {
    let cc = comm.coll();
    let domains = || comm.domains();
    match args {
        Args::Barrier => super::barrier_sched(cc, Some(&domains()?)),
        Args::Bcast { buf, root } => super::bcast(cc, buf, root, Some(&domains()?)),
        Args::Gather { send, recv, root } => super::gather(cc, send, recv, root),
        Args::Gatherv {
            send,
            recv,
            root,
            call,
            equal,
        } => super::gatherv_blocks(cc, send, recv, root, call, equal),
        Args::Scatter { send, recv, root } => super::scatter(cc, send, recv, root),
        Args::Scatterv {
            send,
            recv,
            root,
            call,
            equal,
        } => super::scatterv_blocks(cc, send, recv, root, call, equal),
        Args::Allgather { send, recv } => super::allgather(cc, send, recv),
        Args::Allgatherv { send, recv, call } => {
            super::allgatherv(cc, send, recv.0, recv.1, recv.2, call)
        }
        Args::Alltoall { send, recv } => super::alltoall(cc, send, recv),
        Args::Alltoallv { send, recv, call } => super::alltoallv(cc, send, recv, call),
        Args::Reduce {
            red,
            send,
            recv,
            root,
        } => super::reduce(cc, red.clone(), send, recv, root, Some(&domains()?)),
        Args::Allreduce { red, send, recv } => {
            super::allreduce(cc, red.clone(), send, recv, Some(&domains()?))
        }
        Args::ReduceScatter {
            red,
            send,
            recv,
            counts,
            call,
        } => super::reduce_scatter(cc, red.clone(), send, recv, counts, call),
        Args::Scan {
            red,
            send,
            recv,
            exclusive,
        } => super::scan(cc, red.clone(), send, recv, exclusive),
    }
}
