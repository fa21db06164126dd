//! Failure paths of a job under mpirun: a rank that segfaults, SIGINT/SIGTERM to
//! mpirun while the ranks hang, `--timeout`. Each must end within 10 s with the
//! documented exit code and message, and leave no rank process and no /dev/shm
//! entry (the harness checks both after every job).

mod common;
use common::Spec;
use std::time::{Duration, Instant};

fn crash(np: usize, victim: usize) {
    let o = Spec::mpirun(np, "crash", &[&victim.to_string()])
        .limit(30)
        .run();
    assert_eq!(
        o.code(),
        Some(128 + 11),
        "a rank killed by SIGSEGV: exit 139\n{}",
        o.dump()
    );
    assert!(
        o.elapsed < Duration::from_secs(10),
        "took {:?}\n{}",
        o.elapsed,
        o.dump()
    );
    assert!(
        o.stderr.contains(&format!("rank {victim} ")) && o.stderr.contains("SIGSEGV"),
        "stderr must name rank {victim} and SIGSEGV:\n{}",
        o.dump()
    );
}

#[test]
fn crash_of_rank_1_of_4() {
    crash(4, 1);
}

#[test]
fn crash_of_rank_0_of_2() {
    crash(2, 0);
}

#[test]
fn crash_of_last_rank_of_8() {
    crash(8, 7);
}

fn signal_while_hanging(sig: i32, code: i32, name: &str) {
    let mut job = Spec::mpirun(4, "hang", &[]).limit(30).start();
    job.wait_for_lines("hang rank", 4, 20);
    // The ranks are past the barrier, blocked in their receive.
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    job.signal(sig);
    let o = job.wait();
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "mpirun took {:?} after {name}\n{}",
        t.elapsed(),
        o.dump()
    );
    assert_eq!(
        o.code(),
        Some(code),
        "{name} to mpirun: exit {code}\n{}",
        o.dump()
    );
    assert!(
        o.stderr.contains(&format!("received {name}")),
        "{}",
        o.dump()
    );
}

#[test]
fn sigint_to_mpirun_ends_hanging_job() {
    signal_while_hanging(libc::SIGINT, 130, "SIGINT");
}

#[test]
fn sigterm_to_mpirun_ends_hanging_job() {
    signal_while_hanging(libc::SIGTERM, 143, "SIGTERM");
}

#[test]
fn timeout_ends_hanging_job() {
    let o = Spec::mpirun(4, "hang", &[])
        .opts(&["--timeout", "2"])
        .limit(30)
        .run();
    assert_eq!(o.code(), Some(124), "--timeout: exit 124\n{}", o.dump());
    assert!(
        o.stdout.matches("hang rank").count() == 4,
        "ranks got past init:\n{}",
        o.dump()
    );
    assert!(o.stderr.contains("timeout of 2 s"), "{}", o.dump());
    assert!(
        o.elapsed >= Duration::from_secs(2) && o.elapsed < Duration::from_secs(12),
        "took {:?}",
        o.elapsed
    );
}
