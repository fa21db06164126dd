//! Communicators as the layers below the API see them: a context id for
//! point-to-point traffic, one for collective traffic (so the two never match each
//! other), this rank's place, and the group as world ranks (plus the remote group
//! of an intercommunicator). Argument checks that depend on a communicator live
//! here too. Groups are in [`group`], context-id agreement in [`ctxid`], and the
//! collective constructors (dup, split, create, intercommunicators) in [`mgmt`].

pub mod agree;
pub mod ctxid;
pub mod group;
pub mod mgmt;

pub use group::{Compare, Group, UNDEFINED};

use crate::coll::shm_area::AreaCell;
use crate::coll::CollCtx;
use crate::error::{Error, ErrorClass, Result};
use crate::p2p::{ANY_SOURCE, ANY_TAG, PROC_NULL};
use crate::runtime;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

/// Tags of collective traffic on the collective context. Ordinary collectives use
/// their call's sequence number below bit 28; the local-group collectives of an
/// intercommunicator set bit 28; the leaders' exchanges of intercommunicator
/// constructors set bit 29 (with bit 28 and the call's sequence number for the
/// context agreement); create_group's agreement sets bit 30 beside the caller's
/// tag (0..=TAG_UB, below bit 30).
pub const SEQ_MASK: u32 = (1 << 28) - 1;
pub const TAG_INTER_LOCAL: i32 = 1 << 28;
pub const TAG_CONSTRUCT: i32 = 1 << 29;
pub const TAG_GROUP: i32 = 1 << 30;

/// State shared by every copy of one communicator handle.
#[derive(Debug, Default)]
pub struct Shared {
    /// Collective calls made so far (the next call's tag).
    seq: AtomicU32,
    /// The shm domains as a partition of this communicator's ranks.
    domains: OnceLock<Arc<Vec<Vec<usize>>>>,
    /// The shared collective area of its blocking collectives.
    area: Arc<AreaCell>,
}

/// The largest tag a user may use (MPI_TAG_UB; MPICH's value).
pub const TAG_UB: i32 = (1 << 30) - 1;

#[derive(Debug, Clone)]
pub struct Comm {
    pub ctx: u32,
    pub coll_ctx: u32,
    pub rank: i32,
    /// The (local) group as world ranks.
    pub group: Arc<[usize]>,
    /// An intercommunicator's remote group: point-to-point ranks name its members.
    pub remote: Option<Arc<[usize]>>,
    pub shared: Arc<Shared>,
}

impl Comm {
    /// MPI_COMM_WORLD: contexts 0 and 1.
    pub fn world(rank: usize, size: usize) -> Comm {
        Comm {
            ctx: 0,
            coll_ctx: 1,
            rank: rank as i32,
            group: (0..size).collect(),
            remote: None,
            shared: Arc::default(),
        }
    }

    /// MPI_COMM_SELF: contexts 2 and 3.
    pub fn self_comm(world_rank: usize) -> Comm {
        Comm {
            ctx: 2,
            coll_ctx: 3,
            rank: 0,
            group: Arc::from(vec![world_rank]),
            remote: None,
            shared: Arc::default(),
        }
    }

    /// An intracommunicator on a freshly agreed context pair.
    pub fn new_intra(ctx: u32, group: Arc<[usize]>, rank: usize) -> Comm {
        Comm {
            ctx,
            coll_ctx: ctx + 1,
            rank: rank as i32,
            group,
            remote: None,
            shared: Arc::default(),
        }
    }

    pub fn is_inter(&self) -> bool {
        self.remote.is_some()
    }

    /// How many ranks point-to-point can address (the remote group's size on an
    /// intercommunicator).
    pub fn peer_size(&self) -> i32 {
        self.remote.as_ref().map_or(self.group.len(), |r| r.len()) as i32
    }

    /// The next collective call's context: its tag carries the call's sequence
    /// number, so collectives in flight at once never match each other. On an
    /// intercommunicator this is its local group.
    pub fn coll(&self) -> CollCtx {
        let seq = self.shared.seq.fetch_add(1, Ordering::Relaxed) & SEQ_MASK;
        let tag = if self.is_inter() {
            TAG_INTER_LOCAL | seq as i32
        } else {
            seq as i32
        };
        CollCtx {
            ctx: self.coll_ctx,
            rank: self.rank as usize,
            group: self.group.clone(),
            tag,
            wire: None,
            far: None,
        }
    }

    /// Has a blocking collective tried to set up the shared area yet (Some), and
    /// with what result (Some(None): there is none, e.g. ranks in several shm
    /// domains)? The same answer on every rank at the same call.
    pub fn area_tried(&self) -> Option<Option<&crate::coll::shm_area::Area>> {
        self.shared.area.tried()
    }

    /// Count a collective call that runs without a [`CollCtx`] (through the area,
    /// or posted straight to the engine), so the tags of later calls stay the same
    /// on every rank; the call's tag.
    pub fn skip_call(&self) -> i32 {
        // MPI orders a communicator's collective calls, so nobody else moves the
        // counter now: a plain load and store, no locked instruction (which would
        // wait for the area's last store to reach the peers).
        let seq = &self.shared.seq;
        let now = seq.load(Ordering::Relaxed);
        seq.store(now.wrapping_add(1), Ordering::Relaxed);
        debug_assert!(!self.is_inter(), "skip_call on an intercommunicator");
        (now & SEQ_MASK) as i32
    }

    /// Set the shared collective area up, if no blocking collective has tried
    /// yet: a collective step (schedules on the next call's context), which
    /// every rank takes at the same blocking call, the communicator's first that
    /// the area may take. The area, or None where there is none.
    pub fn set_up_area(&self) -> Result<Option<&crate::coll::shm_area::Area>> {
        match self.shared.area.tried() {
            Some(a) => Ok(a),
            None => self.shared.area.get(&self.coll()),
        }
    }

    /// Calls that need an intracommunicator (windows, communicator creation
    /// from a group, topologies; collectives take both kinds).
    pub fn check_intra(&self, call: &str) -> Result<()> {
        if self.is_inter() {
            return Err(Error::new(
                ErrorClass::Comm,
                format!("{call}: not supported on an intercommunicator; merge it first (intercomm_merge)"),
            ));
        }
        Ok(())
    }

    /// The shm domains of this communicator as a partition of its ranks (each
    /// domain's ranks ascending, domains ordered by their lowest rank).
    pub fn domains(&self) -> Result<Arc<Vec<Vec<usize>>>> {
        if let Some(d) = self.shared.domains.get() {
            return Ok(d.clone());
        }
        let domain_of = runtime::with("domains", |rt| Ok(rt.map.domain_of.clone()))?;
        let d = Arc::new(partition(&self.group, |w| {
            domain_of[w].first().copied().unwrap_or(w)
        }));
        Ok(self.shared.domains.get_or_init(|| d).clone())
    }

    /// The local group.
    pub fn group(&self) -> Group {
        Group::from_arc(self.group.clone())
    }

    pub fn size(&self) -> i32 {
        self.group.len() as i32
    }

    /// The world rank of communicator rank `r` (checked by the caller); on an
    /// intercommunicator, of remote rank `r`.
    pub fn world_rank(&self, r: i32) -> usize {
        match &self.remote {
            Some(rem) => rem[r as usize],
            None => self.group[r as usize],
        }
    }

    /// A destination: a rank of this communicator or PROC_NULL.
    pub fn check_dest(&self, call: &str, dest: i32) -> Result<()> {
        if dest == PROC_NULL || (0..self.peer_size()).contains(&dest) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorClass::Rank,
                format!(
                    "{call}: invalid rank {dest} ({} size {})",
                    if self.is_inter() {
                        "remote group"
                    } else {
                        "communicator"
                    },
                    self.peer_size()
                ),
            ))
        }
    }

    /// A source: a rank, ANY_SOURCE or PROC_NULL.
    pub fn check_source(&self, call: &str, src: i32) -> Result<()> {
        if src == ANY_SOURCE {
            Ok(())
        } else {
            self.check_dest(call, src).map_err(|e| {
                Error::new(
                    e.class,
                    e.message.replace("invalid rank", "invalid source rank"),
                )
            })
        }
    }

    /// A tag to send with: 0..=TAG_UB.
    pub fn check_send_tag(call: &str, tag: i32) -> Result<()> {
        if (0..=TAG_UB).contains(&tag) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorClass::Tag,
                format!("{call}: invalid tag {tag} (must be 0..={TAG_UB})"),
            ))
        }
    }

    /// A tag to receive with: 0..=TAG_UB or ANY_TAG.
    pub fn check_recv_tag(call: &str, tag: i32) -> Result<()> {
        if tag == ANY_TAG {
            Ok(())
        } else {
            Comm::check_send_tag(call, tag)
        }
    }
}

/// Group the ranks 0..group.len() by `key(world rank)`: domains in order of their
/// lowest rank, ranks ascending within each.
pub fn partition(group: &[usize], key: impl Fn(usize) -> usize) -> Vec<Vec<usize>> {
    let mut keys: Vec<usize> = Vec::new();
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (r, &w) in group.iter().enumerate() {
        let k = key(w);
        match keys.iter().position(|&x| x == k) {
            Some(i) => out[i].push(r),
            None => {
                keys.push(k);
                out.push(vec![r]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn partition_by_domain() {
        // world ranks 5,1,4,0 with domains {0,1} and {4,5}
        let d = super::partition(&[5, 1, 4, 0], |w| if w < 4 { 0 } else { 4 });
        assert_eq!(d, vec![vec![0, 2], vec![1, 3]]);
    }
}
