//! Communicator management in the Rust API: groups, dup, split (also by shared
//! memory), create, create_group, compare, intercommunicators, free.

use super::Communicator;
use crate::comm::{mgmt, Compare, Group};
use crate::error::Result;

impl Communicator {
    /// This communicator's (local) group.
    pub fn group(&self) -> Group {
        self.comm.group()
    }

    /// A new communicator with the same group and its own matching space
    /// (MPI_Comm_dup). Collective.
    pub fn dup(&self) -> Result<Communicator> {
        mgmt::dup(&self.comm).map(Communicator::from_comm)
    }

    /// MPI_Comm_split: ranks with equal `color` form a communicator ordered by
    /// (`key`, old rank); `color == vmpi::UNDEFINED` gets None. Collective.
    pub fn split(&self, color: i32, key: i32) -> Result<Option<Communicator>> {
        Ok(mgmt::split(&self.comm, color, key)?.map(Communicator::from_comm))
    }

    /// MPI_Comm_split_type(MPI_COMM_TYPE_SHARED): the ranks sharing this rank's
    /// shared-memory domain. Collective.
    pub fn split_shared(&self, key: i32) -> Result<Communicator> {
        Ok(Communicator::from_comm(
            mgmt::split_type(&self.comm, mgmt::COMM_TYPE_SHARED, key)?
                .expect("shared split always has a color"),
        ))
    }

    /// MPI_Comm_split_type with an explicit type (`COMM_TYPE_SHARED` or `UNDEFINED`).
    pub fn split_type(&self, split_type: i32, key: i32) -> Result<Option<Communicator>> {
        Ok(mgmt::split_type(&self.comm, split_type, key)?.map(Communicator::from_comm))
    }

    /// MPI_Comm_create: every rank calls; members of `group` get Some.
    pub fn create(&self, group: &Group) -> Result<Option<Communicator>> {
        Ok(mgmt::create(&self.comm, group)?.map(Communicator::from_comm))
    }

    /// MPI_Comm_create_group: only the members of `group` call it.
    pub fn create_group(&self, group: &Group, tag: i32) -> Result<Communicator> {
        mgmt::create_group(&self.comm, group, tag).map(Communicator::from_comm)
    }

    /// MPI_Comm_compare.
    pub fn compare(&self, other: &Communicator) -> Compare {
        mgmt::compare(&self.comm, &other.comm)
    }

    /// MPI_Intercomm_create: this (local) communicator and the group led by
    /// `remote_leader` of `peer` (needed at the local leader only).
    pub fn intercomm_create(
        &self,
        local_leader: i32,
        peer: Option<&Communicator>,
        remote_leader: i32,
        tag: i32,
    ) -> Result<Communicator> {
        mgmt::intercomm_create(
            &self.comm,
            local_leader,
            peer.map(|p| &p.comm),
            remote_leader,
            tag,
        )
        .map(Communicator::from_comm)
    }

    /// MPI_Intercomm_merge: the group passing `high = false` comes first.
    pub fn intercomm_merge(&self, high: bool) -> Result<Communicator> {
        mgmt::intercomm_merge(&self.comm, high).map(Communicator::from_comm)
    }

    pub fn is_inter(&self) -> bool {
        self.comm.is_inter()
    }

    /// The remote group's size (intercommunicators; 0 otherwise).
    pub fn remote_size(&self) -> i32 {
        self.comm.remote.as_ref().map_or(0, |r| r.len() as i32)
    }

    /// The remote group (intercommunicators).
    pub fn remote_group(&self) -> Option<Group> {
        self.comm.remote.clone().map(Group::from_arc)
    }

    /// The communicator as the comm and coll layers see it (tests drive the
    /// collective builders directly, e.g. with a fake domain partition).
    #[doc(hidden)]
    pub fn raw_comm(&self) -> &crate::comm::Comm {
        &self.comm
    }

    /// MPI_Comm_free: release the context ids (no operation may be pending on it;
    /// world and self are never freed).
    pub fn free(self) {
        mgmt::free(self.comm)
    }
}
