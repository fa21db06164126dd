//! Data exchange over every channel: ring and all-pairs on 2, 4 and 8 ranks over
//! shared memory with CMA, shared memory with pipelined copies (MV2_SMP_USE_CMA=0),
//! and TCP only (MV2_USE_SHARED_MEM=0); every byte checked by the ranks, and each
//! rank's report of the channel it used asserted here.

mod common;
use common::{rank_lines, Spec};

#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Defaults: shm, large messages by CMA.
    Cma,
    /// MV2_SMP_USE_CMA=0: shm, large messages by pipelined copy through the region.
    Copy,
    /// MV2_USE_SHARED_MEM=0: TCP for every pair.
    Tcp,
}

impl Mode {
    fn channel(self) -> &'static str {
        match self {
            Mode::Cma => "shm/cma",
            Mode::Copy => "shm/copy",
            Mode::Tcp => "tcp",
        }
    }
}

/// Iterations and largest message for a job of `np` ranks (8 ranks share 2 cores).
fn plan(np: usize, pattern: &str) -> (&'static str, &'static str) {
    match (np, pattern) {
        (2, "ring") => ("40", "8M"),
        (2, _) => ("20", "8M"),
        (4, "ring") => ("16", "8M"),
        (4, _) => ("8", "8M"),
        (_, "ring") => ("6", "8M"),
        _ => ("3", "8M"),
    }
}

fn exchange(np: usize, pattern: &str, mode: Mode) {
    let (iters, max) = plan(np, pattern);
    let seed = (np * 1000 + pattern.len() * 10 + mode as usize).to_string();
    let mut spec = Spec::mpirun(np, "exchange", &[pattern, iters, max, &seed]).limit(90);
    spec = match mode {
        Mode::Cma => spec,
        Mode::Copy => spec.env("MV2_SMP_USE_CMA", "0"),
        Mode::Tcp => spec.env("MV2_USE_SHARED_MEM", "0"),
    };
    let o = spec.run();
    o.assert_success();
    for line in rank_lines(&o, "exchange", np) {
        assert!(line.contains(": ok "), "{line}");
        assert!(line.contains("manager=PMI-1"), "{line}");
        let chans = line.split("channels=").nth(1).expect("channels=");
        let peers: Vec<&str> = chans.split(',').collect();
        assert_eq!(peers.len(), np - 1, "one channel per peer: {line}");
        for p in peers {
            let ch = p.split(':').nth(1).unwrap_or("");
            assert_eq!(
                ch,
                mode.channel(),
                "{mode:?}: wrong channel in {line:?} (a CMA failure here means the CMA probe \
                 failed on this machine; see the reason with VMPI_VERBOSE=1)\n{}",
                o.dump()
            );
        }
    }
}

macro_rules! cases {
    ($($name:ident: $np:expr, $pat:expr, $mode:expr;)*) => { $(
        #[test]
        fn $name() { exchange($np, $pat, $mode) }
    )* };
}

cases! {
    shm_cma_ring_2: 2, "ring", Mode::Cma;
    shm_cma_ring_4: 4, "ring", Mode::Cma;
    shm_cma_ring_8: 8, "ring", Mode::Cma;
    shm_cma_allpairs_2: 2, "allpairs", Mode::Cma;
    shm_cma_allpairs_4: 4, "allpairs", Mode::Cma;
    shm_cma_allpairs_8: 8, "allpairs", Mode::Cma;
    shm_copy_ring_2: 2, "ring", Mode::Copy;
    shm_copy_ring_4: 4, "ring", Mode::Copy;
    shm_copy_ring_8: 8, "ring", Mode::Copy;
    shm_copy_allpairs_2: 2, "allpairs", Mode::Copy;
    shm_copy_allpairs_4: 4, "allpairs", Mode::Copy;
    shm_copy_allpairs_8: 8, "allpairs", Mode::Copy;
    tcp_ring_2: 2, "ring", Mode::Tcp;
    tcp_ring_4: 4, "ring", Mode::Tcp;
    tcp_ring_8: 8, "ring", Mode::Tcp;
    tcp_allpairs_2: 2, "allpairs", Mode::Tcp;
    tcp_allpairs_4: 4, "allpairs", Mode::Tcp;
    tcp_allpairs_8: 8, "allpairs", Mode::Tcp;
}

/// The smallest shm queue (16 KiB): every large message wraps the ring many times,
/// by CMA's control packets and by pipelined copy.
#[test]
fn shm_small_ring_many_wraps() {
    for (cma, ch) in [("1", "shm/cma"), ("0", "shm/copy")] {
        let o = Spec::mpirun(4, "exchange", &["ring", "30", "1M", "77"])
            .env("VMPI_SHM_RING_SIZE", "16K")
            .env("MV2_SMP_USE_CMA", cma)
            .limit(90)
            .run();
        o.assert_success();
        for l in rank_lines(&o, "exchange", 4) {
            assert!(l.contains(&format!(":{ch}")), "{l}\n{}", o.dump());
        }
        let o = Spec::mpirun(3, "exchange", &["allpairs", "10", "256K", "78"])
            .env("VMPI_SHM_RING_SIZE", "16K")
            .env("MV2_SMP_USE_CMA", cma)
            .limit(90)
            .run();
        o.assert_success();
        rank_lines(&o, "exchange", 3);
    }
}

/// A world of one: the ring is a rank sending to itself.
#[test]
fn one_rank_ring_and_singleton() {
    let o = Spec::mpirun(1, "exchange", &["ring", "10", "8M", "5"]).run();
    o.assert_success();
    rank_lines(&o, "exchange", 1);
    let o = Spec::alone("exchange", &["ring", "10", "8M", "6"]).run();
    o.assert_success();
    let l = rank_lines(&o, "exchange", 1);
    assert!(l[0].contains("manager=singleton"), "{}", l[0]);
}

/// A larger eager threshold moves the eager/rendezvous boundary onto the 64 KiB
/// edge sizes the program mixes in (65535, 65536, 65537).
#[test]
fn shm_eager_size_64k() {
    let o = Spec::mpirun(4, "exchange", &["allpairs", "12", "1M", "64"])
        .env("MV2_SMP_EAGERSIZE", "64K")
        .limit(90)
        .run();
    o.assert_success();
    rank_lines(&o, "exchange", 4);
}
