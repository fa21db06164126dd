//! Communicators as the layers below the API see them: a context id for
//! point-to-point traffic, one for collective traffic (so the two never match each
//! other), this rank's place, and the group as world ranks. Argument checks that
//! depend on a communicator live here too.

use crate::error::{Error, ErrorClass, Result};
use crate::p2p::{ANY_SOURCE, ANY_TAG, PROC_NULL};
use std::sync::Arc;

/// The largest tag a user may use (MPI_TAG_UB; MPICH's value).
pub const TAG_UB: i32 = (1 << 30) - 1;

#[derive(Debug, Clone)]
pub struct Comm {
    pub ctx: u32,
    pub coll_ctx: u32,
    pub rank: i32,
    pub group: Arc<[usize]>,
}

impl Comm {
    /// MPI_COMM_WORLD: contexts 0 and 1.
    pub fn world(rank: usize, size: usize) -> Comm {
        Comm {
            ctx: 0,
            coll_ctx: 1,
            rank: rank as i32,
            group: (0..size).collect(),
        }
    }

    /// MPI_COMM_SELF: contexts 2 and 3.
    pub fn self_comm(world_rank: usize) -> Comm {
        Comm {
            ctx: 2,
            coll_ctx: 3,
            rank: 0,
            group: Arc::from(vec![world_rank]),
        }
    }

    pub fn size(&self) -> i32 {
        self.group.len() as i32
    }

    /// The world rank of communicator rank `r` (checked by the caller).
    pub fn world_rank(&self, r: i32) -> usize {
        self.group[r as usize]
    }

    /// A destination: a rank of this communicator or PROC_NULL.
    pub fn check_dest(&self, call: &str, dest: i32) -> Result<()> {
        if dest == PROC_NULL || (0..self.size()).contains(&dest) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorClass::Rank,
                format!(
                    "{call}: invalid rank {dest} (communicator size {})",
                    self.size()
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
