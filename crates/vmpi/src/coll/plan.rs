//! The collective planner: the one place that decides how a call runs — through
//! the communicator's shared area, as a two-rank exchange posted straight to the
//! engine (`two_rank`), or as a schedule of the algorithm the table
//! ([`tuning`](super::tuning)) picks. [`plan`] is pure: its inputs are what every
//! rank of a call knows alike (the call and its sizes, the communicator's size and
//! shm domains, the area's state, the forced algorithms), so every rank decides
//! the same by construction, and a shortcut can never send one rank down another
//! path than its peers.
//!
//! Where a plan is carried out: the blocking front door (`coll::*_now`, reached
//! through `coll::entry`) runs [`Plan::Area`] and [`Plan::TwoRank`] at once, and
//! leaves [`Plan::Sched`] to the builders. A builder only builds schedules: it
//! asks for its algorithm with the facts of a call that can only be one
//! (nonblocking, [`AreaState::Absent`]), so nothing built as a schedule, the
//! area's own setup included, runs on the area.

use super::shm_area::{AreaKind, Limits};
use super::tuning::{self, Algo, Coll, Overrides, Sizes, SEGMENT_MAX};

/// A collective call as the planner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Barrier,
    Bcast {
        bytes: usize,
    },
    /// `blk`: every block has this many bytes and the root's blocks follow each
    /// other in rank order (MPI_Gather); None: a gatherv.
    Gather {
        blk: Option<usize>,
    },
    /// As for [`Call::Gather`].
    Scatter {
        blk: Option<usize>,
    },
    /// `blk`: equal blocks in rank order (MPI_Allgather); None: an allgatherv.
    Allgather {
        blk: Option<usize>,
    },
    Alltoall {
        blk: usize,
    },
    Alltoallv,
    Reduce {
        bytes: usize,
        commutes: bool,
    },
    Allreduce {
        bytes: usize,
        count: usize,
        commutes: bool,
    },
    ReduceScatter {
        commutes: bool,
    },
    Scan,
}

/// The communicator's shared collective area as a call finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AreaState {
    /// Not set up yet (the first blocking collective that may use it does that).
    Untried,
    /// There is none (or the call may not use it: nonblocking, intercommunicator).
    Absent,
    Ready(Limits),
}

/// What the planner knows of the communicator.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub ranks: usize,
    pub blocking: bool,
    pub area: AreaState,
    /// The communicator's shm domains as a partition of its ranks.
    pub domains: Option<&'a [Vec<usize>]>,
    pub forced: Overrides,
}

/// How a call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Through the communicator's shared area.
    Area,
    /// At most one message each way between two ranks, posted straight to the
    /// engine: the messages of the algorithm named, without a schedule.
    TwoRank(Algo),
    /// A schedule of this algorithm.
    Sched(Algo),
}

impl Plan {
    /// The algorithm whose messages the plan sends (None: the area).
    pub fn algo(self) -> Option<Algo> {
        match self {
            Plan::Area => None,
            Plan::TwoRank(a) | Plan::Sched(a) => Some(a),
        }
    }
}

impl Call {
    #[inline]
    fn coll(self) -> Coll {
        match self {
            Call::Barrier => Coll::Barrier,
            Call::Bcast { .. } => Coll::Bcast,
            Call::Gather { .. } => Coll::Gather,
            Call::Scatter { .. } => Coll::Scatter,
            Call::Allgather { .. } => Coll::Allgather,
            Call::Alltoall { .. } => Coll::Alltoall,
            Call::Alltoallv => Coll::Alltoallv,
            Call::Reduce { .. } => Coll::Reduce,
            Call::Allreduce { .. } => Coll::Allreduce,
            Call::ReduceScatter { .. } => Coll::ReduceScatter,
            Call::Scan => Coll::Scan,
        }
    }

    /// The algorithm `VMPI_*_ALGO` forces on this call.
    #[inline]
    fn forced(self, o: &Overrides) -> Algo {
        match self {
            Call::Barrier => o.barrier,
            Call::Bcast { .. } => o.bcast,
            Call::Reduce { .. } => o.reduce,
            Call::Allreduce { .. } => o.allreduce,
            Call::Alltoall { .. } => o.alltoall,
            _ => Algo::Auto,
        }
    }

    /// The table's inputs (bytes: the whole message, an alltoall's one block).
    fn sizes(self, f: &Facts) -> Sizes {
        let (bytes, count, commutes) = match self {
            Call::Bcast { bytes } => (bytes, 0, true),
            Call::Alltoall { blk } => (blk, 0, true),
            Call::Reduce { bytes, commutes } => (bytes, 0, commutes),
            Call::Allreduce {
                bytes,
                count,
                commutes,
            } => (bytes, count, commutes),
            Call::ReduceScatter { commutes } => (0, 0, commutes),
            _ => (0, 0, true),
        };
        Sizes {
            bytes,
            ranks: f.ranks,
            count,
            commutes,
            spans_domains: tuning::multi_domain(f.domains),
        }
    }

    /// The area operation of this call and the bytes each publishing rank puts in
    /// its slot; None: the area has no form of it.
    #[inline]
    fn area_use(self, n: usize) -> Option<(AreaKind, usize)> {
        Some(match self {
            Call::Barrier => (AreaKind::Barrier, 0),
            Call::Bcast { bytes } => (AreaKind::Bcast, bytes),
            Call::Gather { blk } => (AreaKind::Gather, blk?),
            Call::Scatter { blk } => (AreaKind::Scatter, (n - 1) * blk?),
            Call::Allgather { blk } => (AreaKind::Allgather, blk?),
            Call::Alltoall { blk } => (AreaKind::Alltoall, (n - 1) * blk),
            Call::Reduce { bytes, .. } => (AreaKind::Reduce, bytes),
            Call::Allreduce { bytes, .. } => (AreaKind::Allreduce, bytes),
            _ => return None,
        })
    }

    /// On two ranks, is `algo` at most one message each way whose size is the
    /// area's `bytes` (bcast and reduce binomial: one message; allgather, and
    /// alltoall but for Bruck: one block each way)?
    #[inline]
    fn one_message_each_way(self, algo: Algo) -> bool {
        match self {
            Call::Bcast { .. } | Call::Reduce { .. } => algo == Algo::Binomial,
            Call::Allgather { blk: Some(_) } => true,
            Call::Alltoall { .. } => algo != Algo::Bruck,
            _ => false,
        }
    }
}

/// Could the plan of `call` be the area? Then a builder must know the area's
/// state (setting it up on the communicator's first such call).
pub fn may_use_area(call: Call, forced: &Overrides) -> bool {
    call.area_use(2).is_some() && call.forced(forced) == Algo::Auto
}

/// The plan of `call` on a communicator described by `f`.
/// The first question of every plan, asked alone on the hot path: does a set-up
/// area with these limits take this blocking call (it has an area form that fits,
/// and no algorithm is forced on it)?
#[inline(always)]
pub fn area_takes(call: Call, ranks: usize, l: Limits, forced: &Overrides) -> bool {
    call.forced(forced) == Algo::Auto
        && call
            .area_use(ranks)
            .is_some_and(|(kind, bytes)| l.accepts(kind, bytes))
}

/// The plan of `call` on a communicator described by `f`.
pub fn plan(call: Call, f: &Facts) -> Plan {
    if let (true, AreaState::Ready(l)) = (f.blocking, f.area) {
        if area_takes(call, f.ranks, l, &f.forced) {
            return Plan::Area;
        }
    }
    let algo = tuning::choose(call.coll(), call.forced(&f.forced), &call.sizes(f));
    // Two ranks: a message too large for the area and for the schedules' pieces
    // (above SEGMENT_MAX a schedule sends it whole too) goes straight to the
    // engine, once the area is known not to take it.
    if let (true, Some((kind, bytes))) = (f.blocking, call.area_use(f.ranks)) {
        let declined = match f.area {
            AreaState::Ready(l) => !l.accepts(kind, bytes),
            AreaState::Absent => true,
            AreaState::Untried => false,
        };
        if declined && f.ranks == 2 && bytes > SEGMENT_MAX && call.one_message_each_way(algo) {
            return Plan::TwoRank(algo);
        }
    }
    Plan::Sched(algo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(ranks: usize, area: AreaState) -> Facts<'static> {
        Facts {
            ranks,
            blocking: true,
            area,
            domains: None,
            forced: Overrides::default(),
        }
    }

    fn limits(n: usize, slot: usize) -> AreaState {
        AreaState::Ready(Limits {
            n,
            slot,
            auto_slot: true,
        })
    }

    #[test]
    fn small_blocking_calls_take_the_area() {
        let f = facts(4, limits(4, 4096));
        assert_eq!(
            plan(
                Call::Allreduce {
                    bytes: 8,
                    count: 1,
                    commutes: true
                },
                &f
            ),
            Plan::Area
        );
        assert_eq!(plan(Call::Barrier, &f), Plan::Area);
        assert_eq!(plan(Call::Gather { blk: Some(64) }, &f), Plan::Area);
        // gatherv has no area form; alltoall publishes (n - 1) blocks.
        assert_eq!(
            plan(Call::Gather { blk: None }, &f),
            Plan::Sched(Algo::Linear)
        );
        assert_eq!(
            plan(Call::Alltoall { blk: 2048 }, &f),
            Plan::Sched(Algo::Scattered)
        );
        // Nonblocking calls never do, nor calls before the area is set up.
        let nb = Facts {
            blocking: false,
            ..f
        };
        assert_eq!(plan(Call::Barrier, &nb), Plan::Sched(Algo::Dissemination));
        let untried = facts(4, AreaState::Untried);
        assert_eq!(
            plan(Call::Barrier, &untried),
            Plan::Sched(Algo::Dissemination)
        );
    }

    #[test]
    fn a_forced_algorithm_keeps_calls_off_the_area() {
        let mut f = facts(4, limits(4, 4096));
        f.forced.bcast = Algo::ScatterAllgather;
        assert_eq!(
            plan(Call::Bcast { bytes: 8 }, &f),
            Plan::Sched(Algo::ScatterAllgather)
        );
        // Gather has no override: still the area.
        assert_eq!(plan(Call::Gather { blk: Some(8) }, &f), Plan::Area);
    }

    #[test]
    fn two_ranks_go_straight_to_the_engine_above_the_area() {
        let f = facts(2, limits(2, 64 << 10));
        // The area takes up to 32 KiB on two ranks; above, one message each way.
        assert_eq!(plan(Call::Bcast { bytes: 32 << 10 }, &f), Plan::Area);
        assert_eq!(
            plan(Call::Bcast { bytes: 40 << 10 }, &f),
            Plan::TwoRank(Algo::Binomial)
        );
        assert_eq!(
            plan(Call::Alltoall { blk: 1 << 20 }, &f),
            Plan::TwoRank(Algo::Scattered)
        );
        assert_eq!(
            plan(Call::Allgather { blk: None }, &f),
            Plan::Sched(Algo::Ring)
        );
        // An allreduce is not one message each way.
        assert_eq!(
            plan(
                Call::Allreduce {
                    bytes: 1 << 20,
                    count: 1 << 17,
                    commutes: true
                },
                &f
            ),
            Plan::Sched(Algo::Rabenseifner)
        );
        // Not before the area is known, nor up to SEGMENT_MAX without one.
        assert_eq!(
            plan(
                Call::Bcast { bytes: 40 << 10 },
                &facts(2, AreaState::Untried)
            ),
            Plan::Sched(Algo::Binomial)
        );
        assert_eq!(
            plan(
                Call::Bcast { bytes: SEGMENT_MAX },
                &facts(2, AreaState::Absent)
            ),
            Plan::Sched(Algo::Binomial)
        );
        // Forced off the area, a two-rank bcast the area would take stays a schedule.
        let mut forced = f;
        forced.forced.bcast = Algo::Binomial;
        assert_eq!(
            plan(Call::Bcast { bytes: 16 << 10 }, &forced),
            Plan::Sched(Algo::Binomial)
        );
    }

    #[test]
    fn domains_pick_two_level() {
        let d = vec![vec![0, 1], vec![2, 3]];
        let f = Facts {
            domains: Some(&d),
            ..facts(4, AreaState::Absent)
        };
        assert_eq!(plan(Call::Barrier, &f), Plan::Sched(Algo::TwoLevel));
        assert_eq!(
            plan(
                Call::Reduce {
                    bytes: 8,
                    commutes: false
                },
                &f
            ),
            Plan::Sched(Algo::Binomial)
        );
    }
}
