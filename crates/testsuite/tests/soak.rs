//! The soak (issue 17): about 36 s each of random point-to-point traffic on 4 ranks
//! over shared memory, over TCP, and over both at once with the smallest shm queues,
//! every byte and the per-(source, tag) order checked by the ranks (`soak`). The
//! harness runs one job at a time, so the three take about 2 minutes in all; each
//! prints its message and byte counts for the CI log.

mod common;
use common::{Outcome, Spec};

/// Seconds of traffic per test.
const SECONDS: &str = "36";
/// Hard limit per job: a hang fails the test instead of blocking CI (the program's
/// own watchdog fails a round stuck for a minute before this).
const LIMIT: u64 = 150;
/// Fewest messages a 36 s soak must deliver: 4 ranks on 2 cores moved 2700 to 5000
/// a second on every channel (100 000 to 180 000 in 36 s) while another build ran
/// beside them, so only a stall or a collapse of throughput fails this, not a busy
/// machine.
const MIN_MESSAGES: u64 = 5_000;

/// Rank 0's report: (messages, bytes, rounds, channels), printed for the CI log.
fn report(name: &str, o: &Outcome) -> (u64, u64, u64, String) {
    o.assert_success();
    let l = o
        .lines_starting("soak rank 0/4: ok ")
        .first()
        .copied()
        .unwrap_or_else(|| panic!("no report of rank 0:\n{}", o.dump()));
    let field = |k: &str| -> &str {
        l.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .unwrap_or_else(|| panic!("no {k} in {l}"))
    };
    let num = |k: &str| -> u64 {
        field(k)
            .parse()
            .unwrap_or_else(|_| panic!("{k} not a number in {l}"))
    };
    let (messages, bytes, rounds) = (num("messages="), num("bytes="), num("rounds="));
    eprintln!(
        "soak {name}: {messages} messages, {bytes} bytes ({:.1} GiB), {rounds} rounds in {:.1?}; {l}",
        bytes as f64 / (1u64 << 30) as f64,
        o.elapsed
    );
    assert!(
        messages > MIN_MESSAGES,
        "soak {name}: only {messages} messages in {SECONDS} s\n{}",
        o.dump()
    );
    (messages, bytes, rounds, field("channels=").to_string())
}

#[test]
fn soak_shm() {
    let o = Spec::mpirun(4, "soak", &[SECONDS, "1701"])
        .limit(LIMIT)
        .run();
    let (.., ch) = report("shm", &o);
    assert!(
        ch.split(',').all(|p| p.contains(":shm/")),
        "expected shm to every peer: {ch}"
    );
}

#[test]
fn soak_tcp() {
    let o = Spec::mpirun(4, "soak", &[SECONDS, "1702"])
        .env("MV2_USE_SHARED_MEM", "0")
        .limit(LIMIT)
        .run();
    let (.., ch) = report("tcp", &o);
    assert_eq!(ch, "1:tcp,2:tcp,3:tcp", "expected TCP to every peer");
}

/// Ranks 0-1 and 2-3 share memory, the pairs across use TCP; 16 KiB shm queues make
/// every large message wrap its ring many times and fill it (back-pressure).
#[test]
fn soak_mixed_small_rings() {
    let o = Spec::mpirun(4, "soak", &[SECONDS, "1703"])
        .env("VMPI_SHM_DOMAIN_SPLIT", "2")
        .env("VMPI_SHM_RING_SIZE", "16K")
        .limit(LIMIT)
        .run();
    let (.., ch) = report("mixed", &o);
    let mut peers = ch.split(',');
    assert!(
        peers.next().is_some_and(|p| p.starts_with("1:shm/")) && peers.all(|p| p.ends_with(":tcp")),
        "expected shm to rank 1 and TCP to ranks 2, 3 from rank 0: {ch}"
    );
}
