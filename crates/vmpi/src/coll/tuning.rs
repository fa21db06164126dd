//! The one table that picks each collective's algorithm, as data ([`TABLE`]: per
//! collective, rules in order, the first whose conditions hold wins; [`CAN_RUN`]:
//! what an algorithm needs at all), and the `VMPI_*_ALGO` overrides that force one
//! (parsed once by `config`, installed at init). [`choose`] reads the table; the
//! planner ([`super::plan`]) is its only caller.
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
//! Before this table the planner offers a blocking call to the communicator's
//! shared collective area (`shm_area`; `VMPI_COLL_SHM_SIZE`) and, on two ranks,
//! to a straight exchange (`two_rank`) — see [`super::plan`].

pub use crate::config::{Algo, CollAlgos as Overrides};
use std::sync::OnceLock;

/// The collectives the table knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coll {
    Barrier,
    Bcast,
    Gather,
    Scatter,
    Allgather,
    /// `bytes`: one block.
    Alltoall,
    Alltoallv,
    Reduce,
    Allreduce,
    ReduceScatter,
    Scan,
}

/// A rule's condition: the operation commutes.
pub const COMMUTES: u8 = 1;
/// A rule's condition: the communicator spans several shm domains, some of them
/// with more than one rank (only then does a two-level algorithm differ from the
/// flat one).
pub const SPANS_DOMAINS: u8 = 2;
/// A rule's condition: at least as many elements as the largest power of two up
/// to the communicator size.
pub const COUNT_COVERS_RANKS: u8 = 4;

/// One line of the table: `algo`, when bytes ≤ `max_bytes`, `min_ranks` ≤ p ≤
/// `max_ranks` and every condition in `needs` holds.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub algo: Algo,
    pub max_bytes: usize,
    pub min_ranks: usize,
    pub max_ranks: usize,
    pub needs: u8,
}

const fn rule(algo: Algo) -> Rule {
    Rule {
        algo,
        max_bytes: usize::MAX,
        min_ranks: 0,
        max_ranks: usize::MAX,
        needs: 0,
    }
}

impl Rule {
    const fn bytes_at_most(mut self, b: usize) -> Rule {
        self.max_bytes = b;
        self
    }
    const fn ranks(mut self, min: usize, max: usize) -> Rule {
        self.min_ranks = min;
        self.max_ranks = max;
        self
    }
    const fn needs(mut self, n: u8) -> Rule {
        self.needs = n;
        self
    }
}

const KIB: usize = 1024;

/// The table. Each list ends with a rule that always holds.
pub const TABLE: &[(Coll, &[Rule])] = &[
    (
        Coll::Barrier,
        &[
            rule(Algo::TwoLevel).needs(SPANS_DOMAINS),
            rule(Algo::Dissemination),
        ],
    ),
    (
        Coll::Bcast,
        &[
            rule(Algo::TwoLevel)
                .needs(SPANS_DOMAINS)
                .bytes_at_most(512 * KIB - 1),
            rule(Algo::Binomial).bytes_at_most(12 * KIB - 1),
            rule(Algo::Binomial).ranks(0, 7),
            rule(Algo::ScatterAllgather),
        ],
    ),
    (Coll::Gather, &[rule(Algo::Linear)]),
    (Coll::Scatter, &[rule(Algo::Linear)]),
    (Coll::Allgather, &[rule(Algo::Ring)]),
    (
        Coll::Alltoall,
        &[
            rule(Algo::Bruck).bytes_at_most(256).ranks(8, usize::MAX),
            rule(Algo::Scattered).ranks(0, 8),
            rule(Algo::Pairwise),
        ],
    ),
    (Coll::Alltoallv, &[rule(Algo::Scattered)]),
    (
        Coll::Reduce,
        &[
            rule(Algo::TwoLevel).needs(COMMUTES | SPANS_DOMAINS),
            rule(Algo::Binomial),
        ],
    ),
    (
        Coll::Allreduce,
        &[
            rule(Algo::TwoLevel)
                .needs(COMMUTES | SPANS_DOMAINS)
                .bytes_at_most(64 * KIB),
            rule(Algo::RecursiveDoubling).bytes_at_most(2 * KIB),
            rule(Algo::Rabenseifner).needs(COMMUTES | COUNT_COVERS_RANKS),
            rule(Algo::RecursiveDoubling),
        ],
    ),
    (
        Coll::ReduceScatter,
        &[
            rule(Algo::Pairwise).needs(COMMUTES),
            rule(Algo::ReduceThenScatter),
        ],
    ),
    (Coll::Scan, &[rule(Algo::RecursiveDoubling)]),
];

/// What an algorithm needs to run at all, where it needs something: a forced
/// algorithm whose needs do not hold falls back to the table.
pub const CAN_RUN: &[(Coll, Algo, u8)] = &[
    (Coll::Barrier, Algo::TwoLevel, SPANS_DOMAINS),
    (Coll::Bcast, Algo::TwoLevel, SPANS_DOMAINS),
    (Coll::Reduce, Algo::TwoLevel, COMMUTES | SPANS_DOMAINS),
    (Coll::Allreduce, Algo::TwoLevel, COMMUTES | SPANS_DOMAINS),
    (Coll::Allreduce, Algo::Rabenseifner, COMMUTES),
    (Coll::Allreduce, Algo::Ring, COMMUTES),
];

/// What the table's conditions look at, the same on every rank of a call.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub bytes: usize,
    pub ranks: usize,
    /// Elements of a reduction (0 otherwise).
    pub count: usize,
    pub commutes: bool,
    pub spans_domains: bool,
}

fn pof2(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        1 << (usize::BITS - 1 - n.leading_zeros())
    }
}

fn holds(needs: u8, s: &Sizes) -> bool {
    (needs & COMMUTES == 0 || s.commutes)
        && (needs & SPANS_DOMAINS == 0 || s.spans_domains)
        && (needs & COUNT_COVERS_RANKS == 0 || s.count >= pof2(s.ranks))
}

/// The algorithm of a call of `coll`: `forced` when it is not `Auto` and can run,
/// else the first rule of the table that holds.
pub fn choose(coll: Coll, forced: Algo, s: &Sizes) -> Algo {
    if forced != Algo::Auto {
        let needs = CAN_RUN
            .iter()
            .find(|(c, a, _)| *c == coll && *a == forced)
            .map_or(0, |x| x.2);
        if holds(needs, s) {
            return forced;
        }
    }
    let rules = TABLE
        .iter()
        .find(|(c, _)| *c == coll)
        .map(|(_, r)| *r)
        .expect("every collective is in the table");
    rules
        .iter()
        .find(|r| {
            s.bytes <= r.max_bytes
                && (r.min_ranks..=r.max_ranks).contains(&s.ranks)
                && holds(r.needs, s)
        })
        .expect("every list ends with a rule that always holds")
        .algo
}

/// Does this partition of a communicator span several shm domains with some
/// sharing a domain (see [`SPANS_DOMAINS`])?
pub fn multi_domain(domains: Option<&[Vec<usize>]>) -> bool {
    domains.is_some_and(|d| d.len() > 1 && d.iter().any(|x| x.len() > 1))
}

static INSTALLED: OnceLock<Overrides> = OnceLock::new();

/// Install the job's overrides (from `Config::coll_algos`, at init).
pub fn install(o: Overrides) {
    let _ = INSTALLED.set(o);
}

/// The installed overrides (none forced before init: the unit tests).
#[inline]
pub fn overrides() -> Overrides {
    INSTALLED.get().copied().unwrap_or_default()
}

/// Messages up to this size are cut into eager-sized pieces by the schedules
/// (`sched::Segments`); larger ones go whole by rendezvous (one CMA pull;
/// docs/collectives.md, "Medium messages are cut into eager pieces").
pub const SEGMENT_MAX: usize = 32 * 1024;

/// [`SEGMENT_MAX`] for a two-rank allreduce by Rabenseifner, where both ranks
/// send and receive a half at once: whole, the two CMA pulls run at the same
/// time; in pieces, both rings stream (measured: docs/collectives.md).
pub const SEGMENT_MAX_EXCHANGE: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(bytes: usize, ranks: usize, count: usize, commutes: bool, spans: bool) -> Sizes {
        Sizes {
            bytes,
            ranks,
            count,
            commutes,
            spans_domains: spans,
        }
    }

    #[test]
    fn the_table_as_documented() {
        use Algo::*;
        let a = Auto;
        let c = |coll, s: Sizes| choose(coll, a, &s);
        assert_eq!(
            c(Coll::Allreduce, sizes(8, 4, 2, true, false)),
            RecursiveDoubling
        );
        assert_eq!(
            c(Coll::Allreduce, sizes(1 << 20, 4, 1 << 17, true, false)),
            Rabenseifner
        );
        assert_eq!(
            c(Coll::Allreduce, sizes(1 << 20, 4, 1 << 17, false, false)),
            RecursiveDoubling
        );
        assert_eq!(
            c(Coll::Allreduce, sizes(4096, 8, 4, true, false)),
            RecursiveDoubling
        );
        assert_eq!(c(Coll::Allreduce, sizes(8, 4, 1, true, true)), TwoLevel);
        assert_eq!(
            c(Coll::Allreduce, sizes(65537, 4, 1, true, true)),
            RecursiveDoubling
        );
        assert_eq!(c(Coll::Bcast, sizes(8, 4, 0, true, true)), TwoLevel);
        assert_eq!(c(Coll::Bcast, sizes(512 << 10, 4, 0, true, true)), Binomial);
        assert_eq!(
            c(Coll::Bcast, sizes(512 << 10, 8, 0, true, true)),
            ScatterAllgather
        );
        assert_eq!(
            c(Coll::Bcast, sizes(12 << 10, 8, 0, true, false)),
            ScatterAllgather
        );
        assert_eq!(c(Coll::Barrier, sizes(0, 2, 0, true, false)), Dissemination);
        assert_eq!(c(Coll::Barrier, sizes(0, 4, 0, true, true)), TwoLevel);
        assert_eq!(c(Coll::Alltoall, sizes(8, 9, 0, true, false)), Bruck);
        assert_eq!(c(Coll::Alltoall, sizes(8, 4, 0, true, false)), Scattered);
        assert_eq!(
            c(Coll::Alltoall, sizes(1 << 20, 16, 0, true, false)),
            Pairwise
        );
        assert_eq!(c(Coll::Reduce, sizes(8, 4, 1, false, true)), Binomial);
        assert_eq!(
            c(Coll::ReduceScatter, sizes(8, 4, 1, false, false)),
            ReduceThenScatter
        );
    }

    #[test]
    fn forced_algorithms_run_where_they_can() {
        use Algo::*;
        let s = sizes(4, 2, 1, true, false);
        assert_eq!(choose(Coll::Bcast, ScatterAllgather, &s), ScatterAllgather);
        // Rabenseifner needs a commutative operation; two-level needs domains.
        let nc = sizes(1 << 20, 4, 1 << 17, false, false);
        assert_eq!(
            choose(Coll::Allreduce, Rabenseifner, &nc),
            RecursiveDoubling
        );
        assert_eq!(choose(Coll::Allreduce, TwoLevel, &s), RecursiveDoubling);
        assert_eq!(choose(Coll::Barrier, TwoLevel, &s), Dissemination);
        // Forced two-level ignores the table's size limit.
        assert_eq!(
            choose(
                Coll::Allreduce,
                TwoLevel,
                &sizes(1 << 20, 4, 1 << 17, true, true)
            ),
            TwoLevel
        );
    }

    #[test]
    fn every_rule_list_ends_with_a_catch_all() {
        for (coll, rules) in TABLE {
            let last = rules.last().unwrap();
            assert!(
                last.max_bytes == usize::MAX
                    && last.min_ranks == 0
                    && last.max_ranks == usize::MAX
                    && last.needs == 0,
                "{coll:?}"
            );
        }
    }
}
