//! Cross Memory Attach: single-copy reads from and writes to another process's
//! memory with `process_vm_readv` / `process_vm_writev`, and the probe that proves
//! both work against one given peer before any message relies on them.

use crate::error::{Error, Result};
use nix::errno::Errno;
use nix::sys::uio::{process_vm_readv, process_vm_writev, RemoteIoVec};
use nix::unistd::Pid;
use std::io::{IoSlice, IoSliceMut};
use std::sync::OnceLock;

/// The most bytes one `process_vm_readv` call is asked for; large reads are split so
/// one call never pins an unbounded number of pages.
const MAX_CHUNK: usize = 64 << 20;

/// Did a CMA call fail because the other process is gone? `ESRCH` from
/// `process_vm_readv` / `process_vm_writev` means there is no process with that pid
/// or it has no memory any more (it is exiting, or a zombie): the peer died; it is
/// not a CMA problem.
pub fn peer_gone(e: &Error) -> bool {
    e.errno() == Some(Errno::ESRCH as i32)
}

fn cma_error(call: &'static str, dir: &str, pid: i32, e: Errno) -> Error {
    let what = if e == Errno::ESRCH {
        "the process is gone (ESRCH)".to_string()
    } else {
        e.to_string()
    };
    Error::os(
        call,
        std::io::Error::from_raw_os_error(e as i32),
        format!("{call} {dir} pid {pid}: {what}"),
    )
}

/// Read `dst.len()` bytes from address `addr` of process `pid` into `dst`.
pub fn read_from(pid: i32, addr: u64, dst: &mut [u8]) -> Result<()> {
    let mut done = 0;
    while done < dst.len() {
        let want = (dst.len() - done).min(MAX_CHUNK);
        let remote = [RemoteIoVec {
            base: (addr as usize) + done,
            len: want,
        }];
        let mut local = [IoSliceMut::new(&mut dst[done..done + want])];
        let n = process_vm_readv(Pid::from_raw(pid), &mut local, &remote)
            .map_err(|e| cma_error("process_vm_readv", "from", pid, e))?;
        if n == 0 {
            return Err(Error::other(format!(
                "process_vm_readv from pid {pid} read nothing"
            )));
        }
        done += n;
    }
    Ok(())
}

/// Write `src` to address `addr` of process `pid`.
pub fn write_to(pid: i32, addr: u64, src: &[u8]) -> Result<()> {
    let mut done = 0;
    while done < src.len() {
        let want = (src.len() - done).min(MAX_CHUNK);
        let remote = [RemoteIoVec {
            base: (addr as usize) + done,
            len: want,
        }];
        let local = [IoSlice::new(&src[done..done + want])];
        let n = process_vm_writev(Pid::from_raw(pid), &local, &remote)
            .map_err(|e| cma_error("process_vm_writev", "to", pid, e))?;
        if n == 0 {
            return Err(Error::other(format!(
                "process_vm_writev to pid {pid} wrote nothing"
            )));
        }
        done += n;
    }
    Ok(())
}

/// This process's probe word: a random value at a fixed address, published to peers
/// so they can check that reading our memory really works.
pub fn probe_word() -> &'static [u8; 16] {
    static WORD: OnceLock<[u8; 16]> = OnceLock::new();
    WORD.get_or_init(|| {
        let mut w = [0u8; 16];
        let r = std::fs::read("/proc/sys/kernel/random/uuid").unwrap_or_default();
        for (i, b) in r.iter().enumerate() {
            w[i % 16] ^= *b;
        }
        w[..8].copy_from_slice(
            &(std::process::id() as u64 ^ crate::bootstrap::nanos()).to_le_bytes(),
        );
        w
    })
}

/// Allow any process of ours to read us under Yama's ptrace_scope=1 (the Debian and
/// Ubuntu default forbids reading non-descendants otherwise). Harmless where Yama is
/// absent.
pub fn allow_peers_to_read_us() {
    // SAFETY: prctl(PR_SET_PTRACER) takes integer arguments only.
    unsafe {
        libc::prctl(libc::PR_SET_PTRACER, libc::PR_SET_PTRACER_ANY, 0, 0, 0);
    }
}

/// Why a CMA probe failed: `code` is short and safe to publish
/// (`process_vm_readv:EPERM`, `process_vm_writev:EFAULT`, `mismatch`), `text` is
/// the whole reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeError {
    pub code: String,
    pub text: String,
}

/// Read the peer's probe word at `addr`, compare it with `expect`, then write the
/// same bytes back with `process_vm_writev`: large messages use both calls (the
/// receiver reads, the sender of a split message writes), and a seccomp profile
/// may allow one and not the other. Ok(()) means CMA works to that peer.
pub fn probe(pid: i32, addr: u64, expect: &[u8; 16]) -> std::result::Result<(), ProbeError> {
    let fail = |call: &str, e: nix::errno::Errno| ProbeError {
        code: format!("{call}:{e:?}"),
        text: format!("{call} of pid {pid}: {e:?} ({})", e.desc()),
    };
    let mut got = [0u8; 16];
    let remote = [RemoteIoVec {
        base: addr as usize,
        len: 16,
    }];
    match process_vm_readv(
        Pid::from_raw(pid),
        &mut [IoSliceMut::new(&mut got)],
        &remote,
    ) {
        Ok(16) => {}
        Ok(n) => {
            return Err(ProbeError {
                code: "process_vm_readv:short".into(),
                text: format!("process_vm_readv of pid {pid}: read {n} of 16 bytes"),
            })
        }
        Err(e) => return Err(fail("process_vm_readv", e)),
    }
    if &got != expect {
        return Err(ProbeError {
            code: "mismatch".into(),
            text: "read another process's memory (pid reused or different PID namespace)".into(),
        });
    }
    // The same bytes back: the peer's word does not change.
    match process_vm_writev(Pid::from_raw(pid), &[IoSlice::new(expect)], &remote) {
        Ok(16) => Ok(()),
        Ok(n) => Err(ProbeError {
            code: "process_vm_writev:short".into(),
            text: format!("process_vm_writev of pid {pid}: wrote {n} of 16 bytes"),
        }),
        Err(e) => Err(fail("process_vm_writev", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_memory() {
        let src: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let mut dst = vec![0u8; src.len()];
        read_from(std::process::id() as i32, src.as_ptr() as u64, &mut dst).unwrap();
        assert_eq!(src, dst);
        let mut back = vec![0u8; src.len()];
        write_to(std::process::id() as i32, back.as_mut_ptr() as u64, &src).unwrap();
        assert_eq!(src, back);
        let w = probe_word();
        assert!(probe(std::process::id() as i32, w.as_ptr() as u64, w).is_ok());
        let e = probe(std::process::id() as i32, w.as_ptr() as u64, &[0; 16]).unwrap_err();
        assert_eq!(e.code, "mismatch");
        // A pid that does not exist: the errno is kept.
        let e = probe(i32::MAX, w.as_ptr() as u64, w).unwrap_err();
        assert_eq!(e.code, "process_vm_readv:ESRCH", "{e:?}");
        assert!(
            e.text.contains("ESRCH") && e.text.contains("No such process"),
            "{e:?}"
        );
    }

    #[test]
    fn a_dead_peer_is_told_apart() {
        // A child that has exited and been reaped: its pid names no process.
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id() as i32;
        c.wait().unwrap();
        let mut dst = [0u8; 16];
        let e = read_from(pid, 4096, &mut dst).unwrap_err();
        assert!(peer_gone(&e), "{}", e.message);
        let e = write_to(pid, 4096, &dst).unwrap_err();
        assert!(peer_gone(&e), "{}", e.message);
        let os = std::error::Error::source(&e).expect("the errno is the source");
        let os = os.downcast_ref::<std::io::Error>().unwrap();
        assert_eq!(os.raw_os_error(), Some(Errno::ESRCH as i32));
        // A bad address in a live process is something else.
        let e = read_from(std::process::id() as i32, 8, &mut dst).unwrap_err();
        assert!(!peer_gone(&e), "{}", e.message);
    }
}
