//! Windows that live in one /dev/shm file every rank maps (all ranks in one
//! shm domain, memory MPI allocates): the file's layout (a 128-byte block of
//! lock words per rank, then the segments), its creation, and the operations an
//! origin carries out on it by itself.

use super::memory::{self, Exposed};
use super::proto::Kind;
use super::target::combine;
use super::{Action, Buf};
use crate::comm::Comm;
use crate::datatype::Basic;
use crate::error::{Error, ErrorClass, Result};
use crate::op::Op;
use crate::runtime;
use crate::transport::region::{self, Region, RegionInfo};
use std::sync::Arc;

/// A window in one /dev/shm file that all its ranks map.
pub struct Direct {
    pub region: Arc<Region>,
    /// Each rank's (offset, size) in the file.
    pub segs: Vec<(usize, usize)>,
    /// Offset of rank 0's lock words: per rank a 128-byte block holding the
    /// accumulate lock (a u32) and, 64 bytes on, the passive-target lock (a
    /// u64: [`EXCL`] or a count of shared holders).
    pub locks: usize,
}

/// The passive-target lock word of a direct window held exclusively.
const EXCL: u64 = 1 << 63;

impl Direct {
    /// The memory of rank `t` this window exposes.
    pub fn exposed(&self, t: usize) -> Exposed {
        let (off, len) = self.segs[t];
        Exposed::Fixed {
            base: self.region.app_memory(off, len) as usize,
            size: len,
        }
    }

    /// Run `f` holding rank `t`'s accumulate lock.
    pub fn locked<R>(&self, t: usize, f: impl FnOnce() -> R) -> R {
        use std::sync::atomic::{AtomicU32, Ordering};
        let word: &AtomicU32 = self.region.view(self.locks + 128 * t);
        let mut spins = 0u32;
        while word
            .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        let r = f();
        word.store(0, Ordering::Release);
        r
    }

    fn lock_word(&self, t: usize) -> &std::sync::atomic::AtomicU64 {
        self.region.view(self.locks + 128 * t + 64)
    }

    /// Take rank `t`'s passive-target lock if it is free (for `exclusive`).
    pub fn try_lock(&self, t: usize, exclusive: bool) -> bool {
        use std::sync::atomic::Ordering;
        let w = self.lock_word(t);
        let v = w.load(Ordering::Relaxed);
        if exclusive {
            v == 0
                && w.compare_exchange(0, EXCL, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
        } else {
            v & EXCL == 0
                && w.compare_exchange(v, v + 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
        }
    }

    pub fn unlock(&self, t: usize, exclusive: bool) {
        use std::sync::atomic::Ordering;
        let w = self.lock_word(t);
        if exclusive {
            w.store(0, Ordering::Release);
        } else {
            w.fetch_sub(1, Ordering::Release);
        }
    }

    /// Carry out one operation on rank `t`'s segment at window offset `addr`
    /// (`runs` of the target layout, `span` bytes), as `super::operate` checked
    /// it: copies, and accumulates under the segment's accumulate lock.
    ///
    /// # Safety
    /// The origin (and a result) buffer must be valid for its type map, as for
    /// `super::operate`.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn operate(
        &self,
        call: &str,
        t: i32,
        addr: u64,
        runs: &[(i64, usize)],
        span: usize,
        origin: Buf,
        action: &Action,
        elem: Option<Basic>,
        needs_origin: bool,
    ) -> Result<()> {
        let rg = self
            .exposed(t as usize)
            .resolve(addr, runs)
            .ok_or_else(|| {
                Error::new(
                    ErrorClass::RmaRange,
                    format!("{call}: the operation falls outside rank {t}'s window"),
                )
            })?;
        // One contiguous run on each side: one copy (or the reduction in place),
        // no staging buffer.
        if let ([(at, len)], true) = (rg.as_slice(), origin.dt.is_contiguous()) {
            let (at, len) = (*at, *len);
            let mine = origin.ptr.wrapping_offset(origin.dt.true_lb() as isize);
            match action {
                Action::Put if len == span => {
                    // SAFETY: `at..at+len` lies in rank t's segment (resolved); the
                    // origin holds `len` contiguous bytes (the caller's contract).
                    unsafe { std::ptr::copy(mine, at as *mut u8, len) };
                    return Ok(());
                }
                Action::Get if len == span => {
                    // SAFETY: as above, the other way.
                    unsafe { std::ptr::copy(at as *const u8, mine as *mut u8, len) };
                    return Ok(());
                }
                Action::Acc(op) if len == span && !matches!(op, Op::NoOp) => {
                    let basic = elem.expect("accumulates have an element kind");
                    return self.locked(t as usize, || {
                        // SAFETY: the origin's `len` contiguous bytes (the caller's
                        // contract), and rank t's segment, held under its
                        // accumulate lock, which every accumulator takes; MPI
                        // forbids other accesses to these bytes meanwhile.
                        let (src, dst) = unsafe {
                            (
                                std::slice::from_raw_parts(mine, len),
                                std::slice::from_raw_parts_mut(at as *mut u8, len),
                            )
                        };
                        crate::op::apply(op, basic, len / basic.size().max(1), src, dst)
                            .map_err(|e| Error::new(ErrorClass::Op, e.into_message()))
                    });
                }
                _ => {}
            }
        }
        match action {
            Action::Put => {
                let mut data = Vec::with_capacity(span);
                // SAFETY: the caller's contract for the origin buffer.
                unsafe { memory::load(origin.ptr, origin.count, origin.dt, false, &mut data) };
                // SAFETY: `rg` lies in rank t's segment of the mapped file (resolved).
                unsafe { memory::scatter(&rg, &data) };
            }
            Action::Get => {
                let mut data = Vec::with_capacity(span);
                // SAFETY: `rg` lies in rank t's segment of the mapped file (resolved).
                unsafe { memory::gather(&rg, &mut data) };
                // SAFETY: the caller's contract for the origin buffer.
                unsafe {
                    memory::store(&data, origin.ptr as *mut u8, origin.count, origin.dt, false)
                };
            }
            _ => {
                let mut data = Vec::with_capacity(2 * span);
                if needs_origin {
                    // SAFETY: the caller's contract for the origin buffer.
                    unsafe { memory::load(origin.ptr, origin.count, origin.dt, true, &mut data) };
                } else {
                    data.resize(span, 0);
                }
                if let Action::Cas(compare, _) = action {
                    // SAFETY: one element at `compare`, the caller's contract.
                    unsafe { memory::load(*compare, 1, origin.dt, true, &mut data) };
                }
                let op = match action {
                    Action::Acc(op) | Action::GetAcc(op, _) => Some(*op),
                    _ => None,
                };
                let kind = match action {
                    Action::Acc(_) => Kind::Acc,
                    Action::GetAcc(..) => Kind::GetAcc,
                    _ => Kind::Cas,
                };
                let basic = elem.expect("accumulates have an element kind");
                let old = self.locked(t as usize, || -> Result<Vec<u8>> {
                    let mut old = Vec::with_capacity(span);
                    // SAFETY: `rg` lies in rank t's segment of the mapped file.
                    unsafe { memory::gather(&rg, &mut old) };
                    if let Some(new) = combine(kind, op, basic, &data, &old)? {
                        // SAFETY: as above.
                        unsafe { memory::scatter(&rg, &new) };
                    }
                    Ok(old)
                })?;
                match action {
                    // SAFETY: the caller's contract for the result buffer.
                    Action::GetAcc(_, res) => unsafe {
                        memory::store(&old, res.ptr as *mut u8, res.count, res.dt, true)
                    },
                    // SAFETY: one element at `result`, the caller's contract.
                    Action::Cas(_, result) => unsafe {
                        memory::store(&old, *result, 1, origin.dt, true)
                    },
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

/// Whether every rank of `wcomm` is in one shm domain (the same answer on
/// every rank: it comes from the locality map all share).
pub fn one_domain(call: &str, wcomm: &Comm) -> Result<bool> {
    runtime::with(call, |rt| {
        let domain = &rt.map.domain_of[wcomm.group[0]];
        Ok(wcomm.group.iter().all(|w| domain.contains(w)))
    })
}

/// Map one /dev/shm file holding every rank's segment (collective; the ranks
/// share one shm domain): the header, a lock word per rank, the segments.
pub fn map_shared(call: &str, wcomm: &Comm, size: usize, noncontig: bool) -> Result<Direct> {
    let n = wcomm.size() as usize;
    let (dir, prefix, job_check) = runtime::with(call, |rt| {
        Ok((
            rt.cfg.shm_dir.clone(),
            crate::bootstrap::jobkey::shm_prefix(&rt.boot.kvsname),
            rt.job_check,
        ))
    })?;
    let sizes = super::allgather_words(wcomm, &[size as u64])?;
    let page = 4096usize;
    let locks = region::HEADER_BYTES.next_multiple_of(128);
    let first = (locks + 128 * n).next_multiple_of(page);
    let mut segs = Vec::with_capacity(n);
    let mut at = first;
    for w in &sizes {
        let s = w[0] as usize;
        if noncontig {
            at = at.next_multiple_of(page);
        }
        segs.push((at, s));
        at = at.checked_add(s).ok_or_else(|| {
            Error::new(
                ErrorClass::Size,
                format!("{call}: the segments' sizes overflow"),
            )
        })?;
    }
    let total = at.max(first + 1).next_multiple_of(page);
    let members: Vec<u32> = wcomm.group.iter().map(|&w| w as u32).collect();
    let path = dir.join(format!("{prefix}win-{}-{}", wcomm.group[0], wcomm.ctx));
    let mut ok = [1u8];
    let mut made = None;
    if wcomm.rank == 0 {
        match Region::create(
            &path,
            RegionInfo {
                size: total,
                job_check,
                unit: 0,
                members: members.clone(),
            },
        ) {
            Ok(r) => made = Some(r),
            Err(_) => ok[0] = 0,
        }
    }
    // SAFETY: `ok` outlives the blocking call.
    unsafe {
        crate::coll::run(
            wcomm,
            crate::coll::Args::Bcast {
                buf: crate::coll::RawMut {
                    ptr: ok.as_mut_ptr(),
                    len: 1,
                },
                root: 0,
            },
        )?
    };
    if ok[0] == 0 {
        return Err(Error::new(
            ErrorClass::NoMem,
            format!(
                "{call}: cannot create the shared segment file {} ({total} bytes)",
                path.display()
            ),
        ));
    }
    let r = match made {
        Some(r) => Ok(r),
        None => Region::attach(
            &path,
            job_check,
            &members,
            std::time::Duration::from_secs(10),
        ),
    };
    let good = r.is_ok();
    let mut all_ok = [u8::from(good)];
    let mut min = [0u8];
    // Everyone agrees that every rank mapped it, then the file goes.
    // SAFETY: buffers outlive the blocking call.
    unsafe {
        crate::coll::run(
            wcomm,
            crate::coll::Args::Allreduce {
                red: &crate::coll::Reduction::new(Op::Min, Some(crate::datatype::Basic::U8), 1)?,
                send: Some(crate::coll::Raw {
                    ptr: all_ok.as_ptr(),
                    len: 1,
                }),
                recv: crate::coll::RawMut {
                    ptr: min.as_mut_ptr(),
                    len: 1,
                },
            },
        )?
    };
    all_ok[0] = min[0];
    if wcomm.rank == 0 {
        region::unlink(&path);
    }
    match r {
        Ok(r) if all_ok[0] == 1 => {
            if r.len() < total {
                return Err(Error::intern(format!(
                    "{call}: shared segment file is short"
                )));
            }
            Ok(Direct {
                region: r,
                segs,
                locks,
            })
        }
        Ok(_) => Err(Error::new(
            ErrorClass::RmaShared,
            format!("{call}: another rank could not map the shared segment file"),
        )),
        Err(e) => Err(e.within(call)),
    }
}
