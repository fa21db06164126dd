//! Unexpected-message floods: thousands of messages reach rank 0 before it posts a
//! receive; it takes them in another tag order and checks every byte and the order
//! per (source, tag). With VMPI_UNEXPECTED_LIMIT the memory rank 0 uses stays bounded.

mod common;
use common::{Outcome, Spec};

/// Rank 0's report: (messages, peak RSS in KiB).
fn report(o: &Outcome, n: usize) -> (u64, u64) {
    o.assert_success();
    let l = o
        .lines_starting(&format!("flood rank 0/{n}: ok"))
        .first()
        .copied()
        .unwrap_or_else(|| panic!("no report of rank 0:\n{}", o.dump()));
    let field = |k: &str| -> u64 {
        l.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {k} in {l}"))
    };
    (field("messages="), field("peak_rss_kib="))
}

#[test]
fn flood_2() {
    let o = Spec::mpirun(2, "flood", &["3000", "2048", "4", "1M", "reverse"])
        .limit(60)
        .run();
    assert_eq!(report(&o, 2).0, 3004, "{}", o.dump());
}

#[test]
fn flood_4() {
    let o = Spec::mpirun(4, "flood", &["3000", "2048", "4", "1M", "reverse"])
        .limit(60)
        .run();
    assert_eq!(report(&o, 4).0, 3 * 3004, "{}", o.dump());
}

/// The flood (about 3 MiB of small messages per sender) is larger than the
/// unexpected limit, and rank 0 asks for the last tag first: the library must still
/// deliver (MPI's progress rule: a posted receive and a matching started send must
/// complete) while keeping rank 0's memory bounded.
#[test]
fn flood_unexpected_limit_1m_reverse_order() {
    let o = Spec::mpirun(2, "flood", &["3000", "2048", "4", "1M", "reverse"])
        .env("VMPI_UNEXPECTED_LIMIT", "1M")
        .limit(20)
        .run();
    let (n, rss) = report(&o, 2);
    assert_eq!(n, 3004);
    assert!(
        rss < 200 * 1024,
        "rank 0 peak RSS {rss} KiB with VMPI_UNEXPECTED_LIMIT=1M\n{}",
        o.dump()
    );
}

/// A large flood (about 120 MiB per sender, 3 senders) taken in arrival order: rank 0
/// stays far below the volume that passed through it.
#[test]
fn flood_unexpected_limit_1m_memory_bounded() {
    let o = Spec::mpirun(4, "flood", &["15000", "16K", "8", "1M", "fifo"])
        .env("VMPI_UNEXPECTED_LIMIT", "1M")
        .limit(90)
        .run();
    let (n, rss) = report(&o, 4);
    assert_eq!(n, 3 * 15008);
    assert!(
        rss < 200 * 1024,
        "rank 0 peak RSS {rss} KiB with VMPI_UNEXPECTED_LIMIT=1M\n{}",
        o.dump()
    );
}

/// The same flood over TCP (the socket's own buffers fill up instead of a ring).
#[test]
fn flood_2_tcp() {
    let o = Spec::mpirun(2, "flood", &["3000", "2048", "4", "1M", "reverse"])
        .env("MV2_USE_SHARED_MEM", "0")
        .limit(60)
        .run();
    assert_eq!(report(&o, 2).0, 3004, "{}", o.dump());
}
