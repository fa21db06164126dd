//! How a rank waits: spin while work may arrive any moment; yield the core when this
//! kernel runs more ranks than we have cores (or when told to), so oversubscribed
//! jobs stay fast: the rank that has work gets the core.

use crate::config::YieldMode;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    idle: u32,
    yield_after: u32,
}

impl Backoff {
    /// `ranks_here`: ranks on this kernel; `cpus`: cores this rank may use.
    pub fn policy(mode: YieldMode, ranks_here: usize, cpus: usize) -> Backoff {
        let yield_after = match mode {
            YieldMode::Always => 1,
            YieldMode::Never => u32::MAX,
            YieldMode::Auto if ranks_here > cpus => 8,
            // Every rank has a core: spin; yield only after a long idle stretch, so a
            // rank waiting for a slow peer does not starve the launcher or the OS.
            YieldMode::Auto => 1 << 16,
        };
        Backoff {
            idle: 0,
            yield_after,
        }
    }

    pub fn reset(&mut self) {
        self.idle = 0;
    }

    /// Nothing happened in the last poll: wait a little.
    pub fn idle(&mut self) {
        if self.spin() {
            std::thread::yield_now();
        }
    }

    /// Nothing happened: spin once, or return true when it is time to give the
    /// core away (the caller releases its locks first, then calls `idle`).
    pub fn spin(&mut self) -> bool {
        self.idle = self.idle.saturating_add(1);
        if self.idle >= self.yield_after {
            return true;
        }
        std::hint::spin_loop();
        false
    }

    pub fn oversubscribed(&self) -> bool {
        self.yield_after <= 8
    }
}
