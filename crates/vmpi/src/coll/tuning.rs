//! The one table that picks each collective's algorithm from the message size and
//! the communicator size, and the runtime parameters that override it (read from
//! the environment at the first collective; docs/collectives.md lists them).
//!
//! | collective | rule (bytes = whole message unless said) | override |
//! |---|---|---|
//! | barrier | dissemination; two-level when the communicator spans several shm domains | `VMPI_BARRIER_ALGO=dissemination\|two_level` |
//! | bcast | binomial if bytes < 12 KiB or p < 8, else scatter_allgather; two-level across domains when bytes < 512 KiB | `VMPI_BCAST_ALGO=binomial\|scatter_allgather\|two_level` |
//! | reduce | binomial; two-level across domains (commutative ops) | `VMPI_REDUCE_ALGO=binomial\|two_level` |
//! | allreduce | recursive_doubling if bytes ≤ 2 KiB, the op does not commute, or count < pof2(p); else rabenseifner; two-level across domains when bytes ≤ 64 KiB (commutative ops); on 2 ranks rabenseifner's halves go in eager pieces up to 64 KiB | `VMPI_ALLREDUCE_ALGO=recursive_doubling\|rabenseifner\|ring\|two_level` |
//! | alltoall | bruck if block ≤ 256 B and p ≥ 8; scattered (every exchange posted at once) if p ≤ 8; else pairwise | `VMPI_ALLTOALL_ALGO=bruck\|scattered\|pairwise` |
//! | gather(v), scatter(v) | linear | — |
//! | allgather(v) | ring | — |
//! | alltoallv/w | all posted at once | — |
//! | reduce_scatter(_block) | pairwise (commutative), else reduce + scatterv | — |
//! | scan, exscan | recursive doubling | — |
//!
//! A forced algorithm that cannot run (rabenseifner or ring with a non-commutative
//! operation, two_level on a communicator inside one domain) falls back to the
//! table's choice for that call.
//!
//! Before this table: a blocking call on a communicator inside one shm domain
//! whose per-rank bytes fit the shared collective area's slot (a bcast on 3 or more
//! ranks: up to 1 MiB, in pieces) runs there (`shm_area`; `VMPI_COLL_SHM_SIZE`),
//! unless its `VMPI_*_ALGO` forces an algorithm. On two ranks, a blocking bcast,
//! reduce, allgather or alltoall above the area and [`SEGMENT_MAX`] goes straight to the
//! engine (`two_rank`), the same messages as the table's choice.

use crate::error::{Error, ErrorClass, Result};
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algo {
    Auto,
    Dissemination,
    Binomial,
    ScatterAllgather,
    RecursiveDoubling,
    Rabenseifner,
    Ring,
    Bruck,
    Pairwise,
    Scattered,
    TwoLevel,
}

#[derive(Debug, Clone, Copy)]
pub struct Overrides {
    pub barrier: Algo,
    pub bcast: Algo,
    pub reduce: Algo,
    pub allreduce: Algo,
    pub alltoall: Algo,
}

/// The runtime parameters this module reads, with their allowed values.
pub const PARAMS: &[(&str, &[(&str, Algo)])] = &[
    (
        "VMPI_BARRIER_ALGO",
        &[
            ("dissemination", Algo::Dissemination),
            ("two_level", Algo::TwoLevel),
        ],
    ),
    (
        "VMPI_BCAST_ALGO",
        &[
            ("binomial", Algo::Binomial),
            ("scatter_allgather", Algo::ScatterAllgather),
            ("two_level", Algo::TwoLevel),
        ],
    ),
    (
        "VMPI_REDUCE_ALGO",
        &[("binomial", Algo::Binomial), ("two_level", Algo::TwoLevel)],
    ),
    (
        "VMPI_ALLREDUCE_ALGO",
        &[
            ("recursive_doubling", Algo::RecursiveDoubling),
            ("rabenseifner", Algo::Rabenseifner),
            ("ring", Algo::Ring),
            ("two_level", Algo::TwoLevel),
        ],
    ),
    (
        "VMPI_ALLTOALL_ALGO",
        &[
            ("bruck", Algo::Bruck),
            ("pairwise", Algo::Pairwise),
            ("scattered", Algo::Scattered),
        ],
    ),
];

fn parse(get: &dyn Fn(&str) -> Option<String>) -> Result<Overrides> {
    let mut v = [Algo::Auto; 5];
    for (i, (name, allowed)) in PARAMS.iter().enumerate() {
        if let Some(val) = get(name) {
            let val = val.trim().to_ascii_lowercase();
            if val.is_empty() || val == "auto" {
                continue;
            }
            v[i] = allowed
                .iter()
                .find(|(n, _)| *n == val)
                .map(|(_, a)| *a)
                .ok_or_else(|| {
                    let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
                    Error::new(
                        ErrorClass::Arg,
                        format!("{name}={val}: expected auto|{}", names.join("|")),
                    )
                })?;
        }
    }
    Ok(Overrides {
        barrier: v[0],
        bcast: v[1],
        reduce: v[2],
        allreduce: v[3],
        alltoall: v[4],
    })
}

/// The overrides, read from the environment once.
pub fn overrides() -> Result<Overrides> {
    static O: OnceLock<std::result::Result<Overrides, Error>> = OnceLock::new();
    O.get_or_init(|| parse(&|n| std::env::var(n).ok())).clone()
}

/// Messages up to this size are cut into eager-sized pieces by the schedules
/// (`sched::Segments`); larger ones go whole by rendezvous (one CMA pull).
/// Measured: pieces win up to 32 KiB; a whole 64-128 KiB bcast between two ranks
/// is 1.5-1.9x faster as one CMA pull.
pub const SEGMENT_MAX: usize = 32 * 1024;

/// [`SEGMENT_MAX`] for a two-rank allreduce by Rabenseifner, where both ranks
/// send and receive a half at once: whole, the two CMA pulls run at the same
/// time; in pieces, both rings stream. Measured at 128 KiB (64 KiB halves):
/// 38.0 vs 47.8 and 36.4 vs 45.2 us (medians of 7 and 15 interleaved runs).
pub const SEGMENT_MAX_EXCHANGE: usize = 64 * 1024;

fn pof2(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        1 << (usize::BITS - 1 - n.leading_zeros())
    }
}

/// Does this communicator span several shm domains with some sharing a domain
/// (only then does a two-level algorithm differ from the flat one)?
pub fn multi_domain(domains: Option<&[Vec<usize>]>) -> bool {
    domains.is_some_and(|d| d.len() > 1 && d.iter().any(|x| x.len() > 1))
}

pub fn barrier(o: &Overrides, domains: Option<&[Vec<usize>]>) -> Algo {
    match o.barrier {
        Algo::Dissemination => Algo::Dissemination,
        _ if multi_domain(domains) => Algo::TwoLevel,
        _ => Algo::Dissemination,
    }
}

pub fn bcast(o: &Overrides, bytes: usize, p: usize, domains: Option<&[Vec<usize>]>) -> Algo {
    match o.bcast {
        Algo::TwoLevel if multi_domain(domains) => return Algo::TwoLevel,
        Algo::Binomial | Algo::ScatterAllgather => return o.bcast,
        _ => {}
    }
    if o.bcast == Algo::Auto && multi_domain(domains) && bytes < 512 * 1024 {
        Algo::TwoLevel
    } else if bytes < 12 * 1024 || p < 8 {
        Algo::Binomial
    } else {
        Algo::ScatterAllgather
    }
}

pub fn reduce(o: &Overrides, commute: bool, domains: Option<&[Vec<usize>]>) -> Algo {
    if commute && multi_domain(domains) && matches!(o.reduce, Algo::Auto | Algo::TwoLevel) {
        Algo::TwoLevel
    } else {
        Algo::Binomial
    }
}

pub fn allreduce(
    o: &Overrides,
    bytes: usize,
    count: usize,
    p: usize,
    commute: bool,
    domains: Option<&[Vec<usize>]>,
) -> Algo {
    match o.allreduce {
        Algo::RecursiveDoubling => return Algo::RecursiveDoubling,
        Algo::Rabenseifner | Algo::Ring if commute => return o.allreduce,
        Algo::TwoLevel if commute && multi_domain(domains) => return Algo::TwoLevel,
        _ => {}
    }
    if o.allreduce == Algo::Auto && commute && multi_domain(domains) && bytes <= 64 * 1024 {
        Algo::TwoLevel
    } else if bytes <= 2048 || !commute || count < pof2(p) {
        Algo::RecursiveDoubling
    } else {
        Algo::Rabenseifner
    }
}

pub fn alltoall(o: &Overrides, block: usize, p: usize) -> Algo {
    match o.alltoall {
        Algo::Bruck | Algo::Pairwise | Algo::Scattered => o.alltoall,
        _ if block <= 256 && p >= 8 => Algo::Bruck,
        _ if p <= 8 => Algo::Scattered,
        _ => Algo::Pairwise,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_table() {
        let o =
            parse(&|n| (n == "VMPI_BCAST_ALGO").then(|| "Scatter_Allgather".to_string())).unwrap();
        assert_eq!(o.bcast, Algo::ScatterAllgather);
        assert_eq!(bcast(&o, 4, 2, None), Algo::ScatterAllgather);
        let e = parse(&|n| (n == "VMPI_ALLREDUCE_ALGO").then(|| "fast".to_string())).unwrap_err();
        assert!(
            e.message.contains("VMPI_ALLREDUCE_ALGO=fast") && e.message.contains("rabenseifner")
        );
        let a = parse(&|_| None).unwrap();
        assert_eq!(allreduce(&a, 8, 2, 4, true, None), Algo::RecursiveDoubling);
        assert_eq!(
            allreduce(&a, 1 << 20, 1 << 17, 4, true, None),
            Algo::Rabenseifner
        );
        assert_eq!(
            allreduce(&a, 1 << 20, 1 << 17, 4, false, None),
            Algo::RecursiveDoubling
        );
        let d = vec![vec![0, 1], vec![2, 3]];
        assert_eq!(allreduce(&a, 8, 1, 4, true, Some(&d)), Algo::TwoLevel);
        assert_eq!(bcast(&a, 8, 4, Some(&d)), Algo::TwoLevel);
        let singles = vec![vec![0], vec![1]];
        assert_eq!(barrier(&a, Some(&singles)), Algo::Dissemination);
        assert_eq!(alltoall(&a, 8, 9), Algo::Bruck);
        assert_eq!(alltoall(&a, 8, 4), Algo::Scattered);
        assert_eq!(alltoall(&a, 1 << 20, 16), Algo::Pairwise);
    }
}
