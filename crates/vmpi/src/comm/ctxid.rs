//! Context ids that every member of a new communicator agrees on (MPICH's scheme):
//! each process keeps a bitmap of free context pairs (pair i = point-to-point
//! context 2i, collective context 2i+1); the members AND their bitmaps together
//! (an allreduce-BAND over the parent's collective context) and all take the lowest
//! pair free everywhere. World holds pair 0 (contexts 0/1), self pair 1 (2/3).
//!
//! Allocation assumes one thread creates communicators at a time (MPI_THREAD_FUNNELED
//! or SERIALIZED); MPICH's multi-threaded retry protocol is not implemented.

use crate::error::{Error, ErrorClass, Result};
use std::sync::Mutex;

/// Number of 64-bit words in the mask: 2048 context pairs.
pub const WORDS: usize = 32;

static FREE: Mutex<Option<[u64; WORDS]>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut [u64; WORDS]) -> R) -> R {
    let mut g = FREE.lock().unwrap_or_else(|p| p.into_inner());
    let m = g.get_or_insert_with(|| {
        let mut m = [u64::MAX; WORDS];
        m[0] &= !0b11; // world and self
        m
    });
    f(m)
}

/// This process's free pairs.
pub fn local_mask() -> [u64; WORDS] {
    with(|m| *m)
}

/// Take the lowest pair free in `agreed` (the AND of every member's mask); returns
/// its point-to-point context.
pub fn take_lowest(agreed: &[u64; WORDS], call: &str) -> Result<u32> {
    for (w, &bits) in agreed.iter().enumerate() {
        if bits != 0 {
            let pair = w * 64 + bits.trailing_zeros() as usize;
            with(|m| m[w] &= !(1u64 << (pair % 64)));
            return Ok(2 * pair as u32);
        }
    }
    Err(Error::new(
        ErrorClass::Other,
        format!(
            "{call}: no context id is free on every member (too many communicators; free some)"
        ),
    ))
}

/// Give a pair back (its point-to-point context).
pub fn release(ctx: u32) {
    let pair = (ctx / 2) as usize;
    if pair >= 2 && pair < WORDS * 64 {
        with(|m| m[pair / 64] |= 1u64 << (pair % 64));
    }
}

pub fn mask_bytes(m: &mut [u64; WORDS]) -> &mut [u8] {
    // SAFETY: u64s are plain bytes.
    unsafe { std::slice::from_raw_parts_mut(m.as_mut_ptr().cast::<u8>(), WORDS * 8) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_common_pair() {
        let mut a = local_mask();
        assert_eq!(a[0] & 0b11, 0);
        a[0] &= !0b100; // pair 2 busy elsewhere
        let c = take_lowest(&a, "t").unwrap();
        assert_eq!(c, 6);
        assert_eq!(local_mask()[0] & 0b1000, 0);
        release(c);
        assert_ne!(local_mask()[0] & 0b1000, 0);
        assert!(take_lowest(&[0; WORDS], "t").is_err());
    }
}
