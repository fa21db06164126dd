//! `matching`: MPI matching and request semantics on any number of ranks (1 too,
//! also as a singleton without a launcher). Each check exits non-zero with a message
//! naming it; at the end every rank prints `matching rank R/N: ok, K checks`.
//!
//! Checked: self-sends (small, large, nonblocking), zero-byte messages, PROC_NULL,
//! argument errors (rank, tag) naming the call, cancel of an unmatched receive,
//! test / test_all / wait_any / wait_some, ANY_SOURCE + ANY_TAG, non-overtaking order
//! of many eager and rendezvous messages, probe / iprobe then a receive of the probed
//! size, truncation (error class Truncate, and the job goes on), ssend / issend.

use std::time::{Duration, Instant};
use vmpi::{Communicator, ErrorClass, Status, ANY_SOURCE, ANY_TAG, PROC_NULL};
use vmpi_testsuite::{announce_job, fail, key, message, verify, OrFail};

const PROG: &str = "matching";
const EAGER: usize = 16384;
const TAG_UB: i32 = (1 << 30) - 1;

struct T<'u> {
    w: &'u Communicator,
    rank: i32,
    size: i32,
    next: i32,
    prev: i32,
    checks: u32,
    section: &'static str,
}

impl T<'_> {
    fn ensure(&mut self, cond: bool, what: impl FnOnce() -> String) {
        if !cond {
            fail(PROG, self.rank, format!("[{}] {}", self.section, what()));
        }
        self.checks += 1;
    }
    fn ok<V, E: std::fmt::Display>(&self, r: Result<V, E>, ctx: &str) -> V {
        r.or_fail(PROG, self.rank, &format!("[{}] {ctx}", self.section))
    }
    fn status(&mut self, st: &Status, src: i32, tag: i32, count: usize, ctx: &str) {
        let st = *st;
        self.ensure(
            st.source == src
                && st.tag == tag
                && st.count == count
                && !st.cancelled
                && st.error.is_none(),
            || format!("{ctx}: status {st:?}, expected source {src} tag {tag} count {count}"),
        );
    }
    fn content(&mut self, buf: &[u8], k: u64, ctx: &str) {
        let r = verify(buf, k);
        self.ensure(r.is_ok(), || format!("{ctx}: {}", r.unwrap_err()));
    }
    fn error(
        &mut self,
        r: vmpi::Result<impl std::fmt::Debug>,
        class: ErrorClass,
        call: &str,
        ctx: &str,
    ) {
        match r {
            Ok(v) => self.ensure(false, || {
                format!("{ctx}: succeeded ({v:?}), expected a {class:?} error")
            }),
            Err(e) => self.ensure(e.class == class && e.message.contains(call), || {
                format!("{ctx}: error {e:?}, expected class {class:?} and a message naming {call}")
            }),
        }
    }
    fn barrier(&self) {
        self.ok(self.w.barrier(), "barrier");
    }
}

/// Send to self: small blocking (buffered eagerly), large nonblocking both ways,
/// issend to self.
fn self_sends(t: &mut T) {
    t.section = "self";
    let me = t.rank;
    let small = message(100, key(me, me, 1, 0));
    t.ok(t.w.send(&small, me, 1), "send 100 bytes to self");
    let mut got = vec![0u8; 100];
    let st = t.ok(t.w.recv(&mut got, me, 1), "recv from self");
    t.status(&st, me, 1, 100, "small self-send");
    t.content(&got, key(me, me, 1, 0), "small self-send");

    for (i, len) in [EAGER, EAGER + 1, 3 << 20].into_iter().enumerate() {
        let big = message(len, key(me, me, 2, i as u64));
        let mut got = vec![0u8; len];
        // Send posted before the receive, then the other way round.
        let sts = t.ok(
            vmpi::scope(|s| {
                let a = s.isend(t.w, &big, me, 2)?;
                let b = s.irecv(t.w, &mut got, me, 2)?;
                vmpi::wait_all(&mut [a, b])
            }),
            "isend+irecv to self",
        );
        t.status(
            &sts[1],
            me,
            2,
            len,
            &format!("{len}-byte self-send (send first)"),
        );
        t.content(&got, key(me, me, 2, i as u64), "self-send (send first)");
        got.fill(0);
        let sts = t.ok(
            vmpi::scope(|s| {
                let b = s.irecv(t.w, &mut got, ANY_SOURCE, ANY_TAG)?;
                let a = s.issend(t.w, &big, me, 3)?;
                vmpi::wait_all(&mut [b, a])
            }),
            "irecv+issend to self",
        );
        t.status(
            &sts[0],
            me,
            3,
            len,
            &format!("{len}-byte self-issend (receive first)"),
        );
        t.content(
            &got,
            key(me, me, 2, i as u64),
            "self-issend (receive first)",
        );
    }
}

/// Zero-byte messages to self and around the ring, also into a zero-length buffer.
fn zero_bytes(t: &mut T) {
    t.section = "zero-byte";
    let (me, next, prev) = (t.rank, t.next, t.prev);
    let empty: [u8; 0] = [];
    t.ok(t.w.send(&empty, me, 4), "send 0 bytes to self");
    let mut nothing: [u8; 0] = [];
    let st = t.ok(t.w.recv(&mut nothing, me, 4), "recv 0 bytes from self");
    t.status(&st, me, 4, 0, "zero bytes from self");
    let mut some = [7u8; 8];
    let st = t.ok(
        t.w.sendrecv(&empty, next, 5, &mut some, prev, 5),
        "sendrecv 0 bytes",
    );
    t.status(
        &st,
        prev,
        5,
        0,
        "zero bytes around the ring into an 8-byte buffer",
    );
    t.ensure(some == [7u8; 8], || {
        format!("a zero-byte receive wrote into the buffer: {some:?}")
    });
}

/// PROC_NULL: sends and receives complete at once with the empty status.
fn proc_null(t: &mut T) {
    t.section = "PROC_NULL";
    t.ok(t.w.send(&[1u8, 2, 3], PROC_NULL, 0), "send to PROC_NULL");
    t.ok(t.w.ssend(&[1u8], PROC_NULL, 0), "ssend to PROC_NULL");
    let mut buf = [9u8; 4];
    let st = t.ok(t.w.recv(&mut buf, PROC_NULL, 0), "recv from PROC_NULL");
    t.ensure(
        st.source == PROC_NULL && st.tag == ANY_TAG && st.count == 0 && buf == [9u8; 4],
        || format!("recv from PROC_NULL: status {st:?}, buffer {buf:?}"),
    );
    let st = t.ok(t.w.probe(PROC_NULL, 3), "probe PROC_NULL");
    t.ensure(st.source == PROC_NULL && st.count == 0, || {
        format!("probe PROC_NULL: {st:?}")
    });
    let st = t.ok(t.w.iprobe(PROC_NULL, 3), "iprobe PROC_NULL");
    t.ensure(matches!(st, Some(s) if s.source == PROC_NULL), || {
        format!("iprobe PROC_NULL: {st:?}")
    });
    let st = t.ok(
        t.w.sendrecv(&[1u8; 10], PROC_NULL, 0, &mut buf, PROC_NULL, 0),
        "sendrecv PROC_NULL",
    );
    t.ensure(st.source == PROC_NULL && st.count == 0, || {
        format!("sendrecv PROC_NULL: {st:?}")
    });
    let data = [5u8; 32];
    let sts = t.ok(
        vmpi::scope(|s| {
            let a = s.isend(t.w, &data, PROC_NULL, 1)?;
            let b = s.irecv(t.w, &mut buf, PROC_NULL, 1)?;
            vmpi::wait_all(&mut [a, b])
        }),
        "isend/irecv PROC_NULL",
    );
    t.ensure(sts.len() == 2 && sts[1].source == PROC_NULL, || {
        format!("isend/irecv PROC_NULL: {sts:?}")
    });
}

/// Bad ranks and tags: MPI_ERR_RANK / MPI_ERR_TAG naming the call.
fn bad_arguments(t: &mut T) {
    t.section = "arguments";
    let n = t.size;
    let b = [0u8; 4];
    let mut r = [0u8; 4];
    t.error(
        t.w.send(&b, n, 0),
        ErrorClass::Rank,
        "MPI_Send",
        "send to rank = size",
    );
    t.error(
        t.w.send(&b, -7, 0),
        ErrorClass::Rank,
        "MPI_Send",
        "send to rank -7",
    );
    t.error(
        t.w.send(&b, ANY_SOURCE, 0),
        ErrorClass::Rank,
        "MPI_Send",
        "send to ANY_SOURCE",
    );
    t.error(
        t.w.ssend(&b, n + 5, 0),
        ErrorClass::Rank,
        "MPI_Ssend",
        "ssend to a bad rank",
    );
    t.error(
        t.w.recv(&mut r, n, 0),
        ErrorClass::Rank,
        "MPI_Recv",
        "recv from rank = size",
    );
    t.error(
        t.w.recv(&mut r, -9, 0),
        ErrorClass::Rank,
        "MPI_Recv",
        "recv from rank -9",
    );
    t.error(
        t.w.send(&b, 0, -5),
        ErrorClass::Tag,
        "MPI_Send",
        "send with tag -5",
    );
    t.error(
        t.w.send(&b, 0, ANY_TAG),
        ErrorClass::Tag,
        "MPI_Send",
        "send with ANY_TAG",
    );
    t.error(
        t.w.send(&b, 0, TAG_UB + 1),
        ErrorClass::Tag,
        "MPI_Send",
        "send with tag TAG_UB+1",
    );
    t.error(
        t.w.recv(&mut r, 0, -5),
        ErrorClass::Tag,
        "MPI_Recv",
        "recv with tag -5",
    );
    t.error(
        t.w.probe(n, 0),
        ErrorClass::Rank,
        "MPI_Probe",
        "probe of a bad rank",
    );
    t.error(
        t.w.iprobe(0, -3),
        ErrorClass::Tag,
        "MPI_Iprobe",
        "iprobe with a bad tag",
    );
    t.error(
        t.w.sendrecv(&b, n, 0, &mut r, 0, 0),
        ErrorClass::Rank,
        "MPI_Sendrecv",
        "sendrecv to a bad rank",
    );
    t.error(
        t.w.sendrecv(&b, 0, 0, &mut r, 0, -4),
        ErrorClass::Tag,
        "MPI_Sendrecv",
        "sendrecv with a bad receive tag",
    );
    let w = t.w;
    let res: Vec<(vmpi::Result<()>, ErrorClass, &str)> = vmpi::scope(|s| {
        vec![
            (
                s.isend(w, &b, n, 0).map(|_| ()),
                ErrorClass::Rank,
                "MPI_Isend",
            ),
            (
                s.issend(w, &b, 0, -2).map(|_| ()),
                ErrorClass::Tag,
                "MPI_Issend",
            ),
            (
                s.irecv(w, &mut r, n + 1, 0).map(|_| ()),
                ErrorClass::Rank,
                "MPI_Irecv",
            ),
        ]
    });
    for (r, class, call) in res {
        t.error(r, class, call, &format!("{call} with a bad argument"));
    }
    // The largest legal tag works.
    let me = t.rank;
    t.ok(t.w.send(&b, me, TAG_UB), "send with tag TAG_UB to self");
    let st = t.ok(t.w.recv(&mut r, me, TAG_UB), "recv tag TAG_UB");
    t.status(&st, me, TAG_UB, 4, "tag TAG_UB");
}

/// Cancel an unmatched receive; a later message with its tag goes to the next one.
fn cancel(t: &mut T) {
    t.section = "cancel";
    let me = t.rank;
    let mut a = [0u8; 8];
    let (cancelled, st) = t.ok(
        vmpi::scope(|s| -> vmpi::Result<(bool, Status)> {
            let mut r = s.irecv(t.w, &mut a, me, 999)?;
            let c = r.cancel()?;
            let st = r.wait()?;
            Ok((c, st))
        }),
        "irecv + cancel",
    );
    t.ensure(cancelled && st.cancelled, || {
        format!("cancel of an unmatched irecv: cancel() = {cancelled}, status {st:?}")
    });
    t.ensure(a == [0u8; 8], || {
        "the cancelled receive wrote its buffer".into()
    });
    t.ok(t.w.send(&[42u8; 8], me, 999), "send after cancel");
    let mut b = [0u8; 8];
    let st = t.ok(t.w.recv(&mut b, me, 999), "recv after cancel");
    t.status(&st, me, 999, 8, "message after a cancelled receive");
    t.ensure(b == [42u8; 8] && a == [0u8; 8], || {
        "the message after the cancel went to the wrong buffer".into()
    });
    // Cancelling a completed receive does nothing.
    let mut c = [0u8; 1];
    t.ok(t.w.send(&[1u8], me, 998), "send");
    let (cancelled, st) = t.ok(
        vmpi::scope(|s| -> vmpi::Result<(bool, Status)> {
            let mut r = s.irecv(t.w, &mut c, me, 998)?;
            while r.test()?.is_none() {}
            let c = r.cancel()?;
            Ok((c, Status::empty()))
        }),
        "cancel after completion",
    );
    let _ = st;
    t.ensure(!cancelled, || {
        "cancel() of a completed receive returned true".into()
    });
}

/// test, test_all, wait_any, wait_some, on self-sends.
fn completion(t: &mut T) {
    t.section = "completion";
    let me = t.rank;
    let (mut a, mut b, mut c) = ([0u8; 4], [0u8; 4], [0u8; 4]);
    let (mut d, mut e) = ([0u8; 2], [0u8; 2]);
    let w = t.w;
    let r: vmpi::Result<Vec<String>> = vmpi::scope(|s| {
        let mut problems = Vec::new();
        let mut reqs = vec![
            s.irecv(w, &mut a, me, 21)?,
            s.irecv(w, &mut b, me, 22)?,
            s.irecv(w, &mut c, me, 23)?,
        ];
        for _ in 0..3 {
            if reqs[0].test()?.is_some() {
                problems.push("test() completed a receive nothing was sent to".to_string());
            }
        }
        if vmpi::test_all(&mut reqs)?.is_some() {
            problems.push("test_all() completed receives nothing was sent to".into());
        }
        w.send(&[22u8; 4], me, 22)?;
        match vmpi::wait_any(&mut reqs)? {
            Some((1, st)) if st.tag == 22 && st.count == 4 => {}
            other => problems.push(format!(
                "wait_any after a send to tag 22: {other:?}, expected index 1"
            )),
        }
        if !reqs[1].is_done() {
            problems.push("wait_any's request is not done".into());
        }
        w.send(&[21u8; 4], me, 21)?;
        w.send(&[23u8; 4], me, 23)?;
        // wait_some returns at least one; collect until both are done.
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let got = vmpi::wait_some(&mut reqs)?;
            if got.is_empty() {
                problems.push("wait_some returned nothing with requests pending".into());
                break;
            }
            for (i, st) in got {
                if st.tag != 21 + i as i32 {
                    problems.push(format!("wait_some: index {i} has tag {}", st.tag));
                }
                seen.push(i);
            }
        }
        seen.sort();
        if seen != [0, 2] {
            problems.push(format!("wait_some completed {seen:?}, expected [0, 2]"));
        }
        if vmpi::wait_any(&mut reqs)?.is_some() {
            problems.push("wait_any on all-done requests did not return None".into());
        }
        if vmpi::wait_some(&mut reqs)?.len() != 0 {
            problems.push("wait_some on all-done requests returned something".into());
        }
        // test() until a message arrives; test_all when everything can complete.
        let mut r2 = vec![s.irecv(w, &mut d, me, 24)?, s.irecv(w, &mut e, me, 25)?];
        w.send(&[24u8; 2], me, 24)?;
        w.send(&[25u8; 2], me, 25)?;
        let deadline = Instant::now() + Duration::from_secs(20);
        let sts = loop {
            if let Some(sts) = vmpi::test_all(&mut r2)? {
                break sts;
            }
            if Instant::now() > deadline {
                return Ok(vec!["test_all never completed two received messages".into()]);
            }
        };
        if sts.len() != 2 || sts[0].tag != 24 || sts[1].tag != 25 {
            problems.push(format!("test_all statuses {sts:?}"));
        }
        // A request already completed: waiting again is an error, not a hang.
        match reqs.remove(0).wait() {
            Err(e) if e.class == ErrorClass::Request => {}
            other => problems.push(format!("wait on a completed request: {other:?}")),
        }
        Ok(problems)
    });
    let problems = t.ok(r, "completion calls");
    t.ensure(problems.is_empty(), || problems.join("; "));
    t.ensure(a == [21; 4] && b == [22; 4] && c == [23; 4], || {
        format!("buffers {a:?} {b:?} {c:?}")
    });
}

/// Every other rank sends to rank 0, which receives with ANY_SOURCE and ANY_TAG.
fn any_source(t: &mut T) {
    t.section = "ANY_SOURCE";
    let (me, n) = (t.rank, t.size);
    if me == 0 {
        let mut seen = vec![false; n as usize];
        for _ in 1..n {
            let mut buf = vec![0u8; 64 + 1000 * n as usize];
            let st = t.ok(
                t.w.recv(&mut buf, ANY_SOURCE, ANY_TAG),
                "recv ANY_SOURCE/ANY_TAG",
            );
            let src = st.source;
            t.ensure((1..n).contains(&src) && !seen[src as usize], || {
                format!("source {src} unexpected or twice")
            });
            seen[src as usize] = true;
            t.status(
                &st,
                src,
                100 + src,
                1000 * src as usize,
                "ANY_SOURCE message",
            );
            t.content(&buf[..st.count], key(src, 0, 0, 7), "ANY_SOURCE message");
        }
    } else {
        let m = message(1000 * me as usize, key(me, 0, 0, 7));
        t.ok(t.w.send(&m, 0, 100 + me), "send to rank 0");
    }
    t.barrier();
}

/// Many messages with the same source and tag arrive in the order sent, eager and
/// rendezvous mixed; half are received with ANY_TAG, some with ANY_SOURCE.
fn order(t: &mut T) {
    t.section = "non-overtaking";
    let (me, next, prev) = (t.rank, t.next, t.prev);
    const M: usize = 120;
    let len = |i: usize| match i % 10 {
        3 => EAGER,
        4 => EAGER + 1,
        7 => 100_000 + i,
        9 if i % 40 == 9 => (2 << 20) + i,
        _ => (i * 37) % 500,
    };
    let outs: Vec<Vec<u8>> = (0..M)
        .map(|i| message(len(i), key(me, next, 50, i as u64)))
        .collect();
    let w = t.w;
    let r = vmpi::scope(|s| -> vmpi::Result<Vec<String>> {
        let mut sends = Vec::new();
        for (i, m) in outs.iter().enumerate() {
            sends.push(s.isend(w, m, next, 60)?);
            if i % 30 == 29 {
                // Some progress in between: part of the stream is matched late.
                let _ = vmpi::test_all(&mut sends)?;
            }
        }
        let mut problems = Vec::new();
        for i in 0..M {
            let want = len(i);
            let mut buf = vec![0u8; want + 3];
            let (src, tag) = match (i % 2, i % 3, t.size > 2) {
                (1, 0, false) => (ANY_SOURCE, ANY_TAG),
                (1, _, _) => (prev, ANY_TAG),
                _ => (prev, 60),
            };
            let st = w.recv(&mut buf, src, tag)?;
            if st.source != prev || st.tag != 60 || st.count != want {
                problems.push(format!(
                    "message {i}: status {st:?}, expected {want} bytes from {prev}"
                ));
                break;
            }
            if let Err(e) = verify(&buf[..want], key(prev, me, 50, i as u64)) {
                problems.push(format!(
                    "message {i} ({want} bytes) out of order or corrupt: {e}"
                ));
                break;
            }
        }
        vmpi::wait_all(&mut sends)?;
        Ok(problems)
    });
    let problems = t.ok(r, "ordered stream");
    t.ensure(problems.is_empty(), || problems.join("; "));
    t.barrier();
}

/// probe / iprobe report the size; a receive of exactly that size follows.
fn probe(t: &mut T) {
    t.section = "probe";
    let (me, next, prev) = (t.rank, t.next, t.prev);
    let sizes = [0usize, 1, 777, EAGER, EAGER + 1, 1 << 20];
    let outs: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &l)| message(l, key(me, next, 70, i as u64)))
        .collect();
    let w = t.w;
    let r = vmpi::scope(|s| -> vmpi::Result<Vec<String>> {
        let mut sends = Vec::new();
        for (i, m) in outs.iter().enumerate() {
            sends.push(s.isend(w, m, next, 70 + i as i32)?);
        }
        let mut problems = Vec::new();
        // Probe in reverse tag order, alternating probe and iprobe.
        for i in (0..sizes.len()).rev() {
            let tag = 70 + i as i32;
            let st = if i % 2 == 0 {
                w.probe(prev, tag)?
            } else {
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    if let Some(st) = w.iprobe(ANY_SOURCE, tag)? {
                        break st;
                    }
                    if Instant::now() > deadline {
                        return Ok(vec![format!("iprobe never saw tag {tag}")]);
                    }
                }
            };
            if st.source != prev || st.tag != tag || st.count != sizes[i] {
                problems.push(format!(
                    "probe of tag {tag}: {st:?}, expected {} bytes from {prev}",
                    sizes[i]
                ));
                continue;
            }
            // Probing again sees the same message.
            let again = w.probe(ANY_SOURCE, tag)?;
            if again != st {
                problems.push(format!("second probe of tag {tag}: {again:?} != {st:?}"));
            }
            let mut buf = vec![0u8; st.count];
            let got = w.recv(&mut buf, st.source, st.tag)?;
            if got.count != st.count {
                problems.push(format!("recv after probe of tag {tag}: {got:?}"));
            }
            if let Err(e) = verify(&buf, key(prev, me, 70, i as u64)) {
                problems.push(format!("message of tag {tag}: {e}"));
            }
        }
        if w.iprobe(ANY_SOURCE, ANY_TAG)?.is_some() && t.size == 1 {
            problems.push("iprobe found a message after all were received".into());
        }
        vmpi::wait_all(&mut sends)?;
        Ok(problems)
    });
    let problems = t.ok(r, "probe");
    t.ensure(problems.is_empty(), || problems.join("; "));
    t.barrier();
}

/// A message larger than the receive buffer: a Truncate error, the buffer holds the
/// first bytes, the sender completes, and the job goes on.
fn truncation(t: &mut T) {
    t.section = "truncation";
    let (me, next, prev) = (t.rank, t.next, t.prev);
    for (i, &(len, cap)) in [(100usize, 50usize), (EAGER + 100, 1000), (1 << 20, EAGER)]
        .iter()
        .enumerate()
    {
        let tag = 80 + i as i32;
        let m = message(len, key(me, next, 80, i as u64));
        let mut small = vec![0u8; cap];
        let w = t.w;
        let (send, recv) = vmpi::scope(|s| {
            let sreq = s.isend(w, &m, next, tag);
            let recv = w.recv(&mut small, prev, tag);
            let send = sreq.and_then(|r| r.wait());
            (send, recv)
        });
        match &recv {
            Err(e) if e.class == ErrorClass::Truncate && e.message.contains("MPI_Recv") => t.checks += 1,
            other => t.ensure(false, || {
                format!("{len}-byte message into a {cap}-byte buffer: {other:?}, expected a Truncate error naming MPI_Recv")
            }),
        }
        t.ensure(send.is_ok(), || {
            format!("the sender of a truncated {len}-byte message got {send:?}")
        });
        let r = verify(&small, key(prev, me, 80, i as u64));
        t.ensure(r.is_ok(), || {
            format!(
                "truncated {len}-byte message: first {cap} bytes: {}",
                r.clone().unwrap_err()
            )
        });
        // The job goes on: the next message on the same pair arrives intact.
        let after = message(300, key(me, next, 81, i as u64));
        let mut buf = vec![0u8; 300];
        let st = t.ok(
            t.w.sendrecv(&after, next, tag, &mut buf, prev, tag),
            "sendrecv after truncation",
        );
        t.status(&st, prev, tag, 300, "message after a truncation");
        t.content(
            &buf,
            key(prev, me, 81, i as u64),
            "message after a truncation",
        );
    }
    // irecv reports it through wait as well.
    let m = message(64, key(me, next, 82, 0));
    let mut small = [0u8; 16];
    let w = t.w;
    let r = vmpi::scope(|s| {
        let rr = s.irecv(w, &mut small, prev, 82).and_then(|r| {
            s.isend(w, &m, next, 82)?.wait()?;
            r.wait()
        });
        rr
    });
    match r {
        Err(e) if e.class == ErrorClass::Truncate && e.message.contains("MPI_Irecv") => {
            t.checks += 1
        }
        other => t.ensure(false, || {
            format!("irecv of 64 bytes into 16: {other:?}, expected Truncate naming MPI_Irecv")
        }),
    }
    t.barrier();
}

/// ssend / issend complete only once the receive has matched (small and large).
fn synchronous(t: &mut T) {
    t.section = "ssend";
    let (me, next, prev) = (t.rank, t.next, t.prev);
    for (i, len) in [10usize, 100_000].into_iter().enumerate() {
        let m = message(len, key(me, next, 90, i as u64));
        let mut buf = vec![0u8; len];
        let w = t.w;
        let r = vmpi::scope(|s| -> vmpi::Result<Option<String>> {
            let mut sreq = s.issend(w, &m, next, 90)?;
            // The receiver waits for our go, so the issend cannot complete yet.
            for _ in 0..50 {
                if sreq.test()?.is_some() {
                    return Ok(Some(format!(
                        "issend of {len} bytes completed before the receive was posted"
                    )));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            w.send(&[1u8], next, 91)?;
            let mut go = [0u8];
            w.recv(&mut go, prev, 91)?;
            let st = w.recv(&mut buf, prev, 90)?;
            sreq.wait()?;
            if st.count != len || st.source != prev {
                return Ok(Some(format!("issend message status {st:?}")));
            }
            Ok(None)
        });
        let p = t.ok(r, "issend");
        t.ensure(p.is_none(), || p.unwrap());
        t.content(&buf, key(prev, me, 90, i as u64), "issend message");
    }
    // Blocking ssend: half of the ranks send first (with 1 rank, to itself via issend
    // above only: a blocking ssend to self would deadlock by definition).
    if t.size > 1 {
        let m = message(5000, key(me, next, 92, 0));
        let mut buf = vec![0u8; 5000];
        if me % 2 == 0 {
            t.ok(t.w.ssend(&m, next, 92), "ssend");
            t.ok(t.w.recv(&mut buf, prev, 92), "recv after ssend");
        } else {
            t.ok(t.w.recv(&mut buf, prev, 92), "recv before ssend");
            t.ok(t.w.ssend(&m, next, 92), "ssend");
        }
        t.content(&buf, key(prev, me, 92, 0), "ssend message");
    }
    t.barrier();
}

fn main() {
    let universe = vmpi::init().or_fail(PROG, -1, "vmpi::init");
    let w = universe.world();
    let (rank, size) = (w.rank(), w.size());
    announce_job(rank);
    let mut t = T {
        w,
        rank,
        size,
        next: (rank + 1) % size,
        prev: (rank + size - 1) % size,
        checks: 0,
        section: "start",
    };
    self_sends(&mut t);
    zero_bytes(&mut t);
    proc_null(&mut t);
    bad_arguments(&mut t);
    cancel(&mut t);
    completion(&mut t);
    t.barrier();
    any_source(&mut t);
    order(&mut t);
    probe(&mut t);
    truncation(&mut t);
    synchronous(&mut t);
    println!(
        "matching rank {rank}/{size}: ok, {} checks, manager={}",
        t.checks,
        universe.process_manager().unwrap_or("?")
    );
    universe.finalize().or_fail(PROG, rank, "finalize");
}
