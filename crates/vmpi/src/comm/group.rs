//! Process groups (MPI-3.1 §6.3): ordered lists of world ranks, with the set
//! operations and comparisons of the standard.

use crate::error::{Error, ErrorClass, Result};
use crate::p2p::PROC_NULL;
use std::sync::Arc;

/// MPI_UNDEFINED (MPICH's value).
pub const UNDEFINED: i32 = -32766;

/// Results of group and communicator comparisons (MPICH's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Compare {
    Ident = 0,
    Congruent = 1,
    Similar = 2,
    Unequal = 3,
}

/// An ordered set of processes, named by world rank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    ranks: Arc<[usize]>,
}

fn bad_rank(call: &str, r: i32, n: usize) -> Error {
    Error::new(
        ErrorClass::Rank,
        format!("{call}: invalid rank {r} (group size {n})"),
    )
}

impl Group {
    /// A group of these world ranks, in this order (no duplicates).
    pub fn new(ranks: Vec<usize>) -> Result<Group> {
        let mut s = ranks.clone();
        s.sort_unstable();
        if s.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::new(
                ErrorClass::Group,
                "a group may not name a process twice",
            ));
        }
        Ok(Group {
            ranks: ranks.into(),
        })
    }

    pub(crate) fn from_arc(ranks: Arc<[usize]>) -> Group {
        Group { ranks }
    }

    /// MPI_GROUP_EMPTY.
    pub fn empty() -> Group {
        Group {
            ranks: Arc::from(Vec::new()),
        }
    }

    pub fn size(&self) -> i32 {
        self.ranks.len() as i32
    }

    /// The world ranks in group order.
    pub fn world_ranks(&self) -> &[usize] {
        &self.ranks
    }

    pub(crate) fn arc(&self) -> Arc<[usize]> {
        self.ranks.clone()
    }

    /// The rank in this group of world rank `w`.
    pub fn rank_of_world(&self, w: usize) -> Option<i32> {
        self.ranks.iter().position(|&x| x == w).map(|p| p as i32)
    }

    fn check(&self, call: &str, r: i32) -> Result<usize> {
        if r < 0 || r >= self.size() {
            return Err(bad_rank(call, r, self.ranks.len()));
        }
        Ok(r as usize)
    }

    /// MPI_Group_incl: the members `ranks`, in that order.
    pub fn incl(&self, ranks: &[i32]) -> Result<Group> {
        let v = ranks
            .iter()
            .map(|&r| self.check("MPI_Group_incl", r).map(|i| self.ranks[i]))
            .collect::<Result<Vec<_>>>()?;
        Group::new(v)
            .map_err(|e| Error::new(ErrorClass::Rank, format!("MPI_Group_incl: {}", e.message)))
    }

    /// MPI_Group_excl: every member but `ranks`, in group order.
    pub fn excl(&self, ranks: &[i32]) -> Result<Group> {
        let mut drop = vec![false; self.ranks.len()];
        for &r in ranks {
            let i = self.check("MPI_Group_excl", r)?;
            if drop[i] {
                return Err(Error::new(
                    ErrorClass::Rank,
                    format!("MPI_Group_excl: rank {r} named twice"),
                ));
            }
            drop[i] = true;
        }
        Ok(Group {
            ranks: self
                .ranks
                .iter()
                .enumerate()
                .filter(|(i, _)| !drop[*i])
                .map(|(_, &w)| w)
                .collect(),
        })
    }

    fn expand(&self, call: &str, triples: &[(i32, i32, i32)]) -> Result<Vec<i32>> {
        let mut out = Vec::new();
        for &(first, last, stride) in triples {
            if stride == 0 {
                return Err(Error::new(ErrorClass::Arg, format!("{call}: stride 0")));
            }
            self.check(call, first)?;
            self.check(call, last)?;
            let mut r = first;
            while (stride > 0 && r <= last) || (stride < 0 && r >= last) {
                out.push(r);
                r += stride;
            }
        }
        Ok(out)
    }

    /// MPI_Group_range_incl: (first, last, stride) triplets.
    pub fn range_incl(&self, triples: &[(i32, i32, i32)]) -> Result<Group> {
        let r = self.expand("MPI_Group_range_incl", triples)?;
        self.incl(&r)
    }

    /// MPI_Group_range_excl.
    pub fn range_excl(&self, triples: &[(i32, i32, i32)]) -> Result<Group> {
        let r = self.expand("MPI_Group_range_excl", triples)?;
        self.excl(&r)
    }

    /// MPI_Group_union: this group's members, then the other's not in it.
    pub fn union(&self, other: &Group) -> Group {
        let mut v: Vec<usize> = self.ranks.to_vec();
        v.extend(other.ranks.iter().filter(|w| !self.ranks.contains(w)));
        Group { ranks: v.into() }
    }

    /// MPI_Group_intersection: members of both, in this group's order.
    pub fn intersection(&self, other: &Group) -> Group {
        Group {
            ranks: self
                .ranks
                .iter()
                .copied()
                .filter(|w| other.ranks.contains(w))
                .collect(),
        }
    }

    /// MPI_Group_difference: members of this group not in the other.
    pub fn difference(&self, other: &Group) -> Group {
        Group {
            ranks: self
                .ranks
                .iter()
                .copied()
                .filter(|w| !other.ranks.contains(w))
                .collect(),
        }
    }

    /// MPI_Group_translate_ranks: the rank in `other` of each of `ranks` (UNDEFINED
    /// when absent; PROC_NULL stays PROC_NULL).
    pub fn translate_ranks(&self, ranks: &[i32], other: &Group) -> Result<Vec<i32>> {
        ranks
            .iter()
            .map(|&r| {
                if r == PROC_NULL {
                    return Ok(PROC_NULL);
                }
                let i = self.check("MPI_Group_translate_ranks", r)?;
                Ok(other.rank_of_world(self.ranks[i]).unwrap_or(UNDEFINED))
            })
            .collect()
    }

    /// MPI_Group_compare: IDENT (same members, same order), SIMILAR (same members),
    /// else UNEQUAL.
    pub fn compare(&self, other: &Group) -> Compare {
        if self.ranks == other.ranks {
            return Compare::Ident;
        }
        let (mut a, mut b) = (self.ranks.to_vec(), other.ranks.to_vec());
        a.sort_unstable();
        b.sort_unstable();
        if a == b {
            Compare::Similar
        } else {
            Compare::Unequal
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(v: &[usize]) -> Group {
        Group::new(v.to_vec()).unwrap()
    }

    #[test]
    fn set_operations() {
        let a = g(&[0, 1, 2, 3, 4, 5]);
        assert_eq!(a.incl(&[4, 1]).unwrap().world_ranks(), &[4, 1]);
        assert_eq!(a.excl(&[0, 5, 2]).unwrap().world_ranks(), &[1, 3, 4]);
    }

    #[test]
    fn ranges_union_translate_compare() {
        let a = g(&[10, 11, 12, 13, 14, 15]);
        assert_eq!(
            a.range_incl(&[(0, 4, 2), (5, 3, -2)])
                .unwrap()
                .world_ranks(),
            &[10, 12, 14, 15, 13]
        );
        assert_eq!(
            a.range_excl(&[(1, 5, 2)]).unwrap().world_ranks(),
            &[10, 12, 14]
        );
        let b = g(&[13, 20, 10]);
        assert_eq!(a.union(&b).world_ranks(), &[10, 11, 12, 13, 14, 15, 20]);
        assert_eq!(a.intersection(&b).world_ranks(), &[10, 13]);
        assert_eq!(a.difference(&b).world_ranks(), &[11, 12, 14, 15]);
        assert_eq!(
            b.translate_ranks(&[0, 1, 2, PROC_NULL], &a).unwrap(),
            vec![3, UNDEFINED, 0, PROC_NULL]
        );
        assert_eq!(a.compare(&a.clone()), Compare::Ident);
        assert_eq!(g(&[1, 2]).compare(&g(&[2, 1])), Compare::Similar);
        assert_eq!(g(&[1, 2]).compare(&g(&[1, 3])), Compare::Unequal);
        assert_eq!(a.incl(&[6]).unwrap_err().class, ErrorClass::Rank);
        assert_eq!(a.incl(&[1, 1]).unwrap_err().class, ErrorClass::Rank);
        assert_eq!(a.excl(&[-1]).unwrap_err().class, ErrorClass::Rank);
        assert_eq!(
            a.range_incl(&[(0, 2, 0)]).unwrap_err().class,
            ErrorClass::Arg
        );
        assert_eq!(Group::new(vec![1, 1]).unwrap_err().class, ErrorClass::Group);
        assert_eq!(Group::empty().size(), 0);
    }
}
