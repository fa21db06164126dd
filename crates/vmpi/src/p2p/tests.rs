//! The progress engine in an in-process job ([`crate::harness`]): property tests
//! of matching (wildcards, posted before or after arrival, MPI's non-overtaking
//! order), of the protocols (eager, rendezvous by pipelined copy or CMA, split
//! CMA) under tight credit and small inboxes, and unit tests of synchronous
//! sends, truncation, probes and cancellation.

// Tests index several per-rank vectors by rank.
#![allow(clippy::needless_range_loop)]

use super::buffers::{RecvBuf, SendBuf};
use super::*;
use crate::error::ErrorClass;
use crate::harness::{Job, Opts};
use proptest::prelude::*;

const CTX: u32 = 4;

/// Message `k` from `src`: its first 8 bytes say who and which, the rest is a
/// pattern of both.
fn payload(src: usize, k: usize, len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len).map(|i| (src * 131 + k * 7 + i) as u8).collect();
    let id = ((src as u64) << 32 | k as u64).to_le_bytes();
    let m = len.min(8);
    v[..m].copy_from_slice(&id[..m]);
    v
}

#[derive(Debug, Clone)]
struct Msg {
    src: usize,
    dst: usize,
    tag: i32,
    len: usize,
}

fn msg_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..64,
        3 => 64usize..20_000,
        2 => 20_000usize..200_000,
    ]
}

fn msgs(n: usize) -> impl Strategy<Value = Vec<Msg>> {
    proptest::collection::vec((0..n, 0..n, 0i32..3, msg_len()), 1..40).prop_map(|v| {
        v.into_iter()
            .map(|(src, dst, tag, len)| Msg { src, dst, tag, len })
            .collect()
    })
}

/// Options that vary the protocols: CMA or pipelined copy, small or default
/// eager limits and credit, small inboxes (back-pressure), split CMA pulls.
fn job_opts() -> impl Strategy<Value = (bool, usize, usize, u64, usize)> {
    (
        any::<bool>(),
        prop_oneof![Just(1024usize), Just(16 * 1024)],
        prop_oneof![Just(16 * 1024usize), Just(256 * 1024)],
        prop_oneof![Just(16 * 1024u64), Just(64 * 1024)],
        prop_oneof![Just(0usize), Just(32 * 1024)],
    )
}

fn make_job(n: usize, o: (bool, usize, usize, u64, usize)) -> Job {
    let (cma, eager, unexpected_limit, cap, cma_split) = o;
    Job::new(Opts {
        cma,
        eager,
        unexpected_limit,
        cap,
        cma_split,
        ..Opts::new(n)
    })
}

/// Send every message and receive each with `pattern(msg)`, posting the receives
/// of the first `early` messages before any send; returns, per receive in the
/// order posted at each rank, (status, bytes received).
fn exchange(
    job: &mut Job,
    msgs: &[Msg],
    early: usize,
    pattern: impl Fn(&Msg) -> Pattern,
) -> Vec<Vec<(Status, Vec<u8>)>> {
    let n = job.size();
    let sends: Vec<Vec<u8>> = msgs
        .iter()
        .enumerate()
        .map(|(k, m)| payload(m.src, k, m.len))
        .collect();
    let cap = msgs.iter().map(|m| m.len).max().unwrap_or(0);
    // Receives at each rank, in posting order: (message index it is posted for, buffer).
    let mut bufs: Vec<Vec<Vec<u8>>> = vec![Vec::new(); n];
    let mut order: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (k, m) in msgs.iter().enumerate() {
        bufs[m.dst].push(vec![0u8; cap]);
        order[m.dst].push(k);
    }
    let mut recv_ids: Vec<Vec<Option<ReqId>>> = order.iter().map(|o| vec![None; o.len()]).collect();
    let mut post = |job: &mut Job, bufs: &mut Vec<Vec<Vec<u8>>>, dst: usize, i: usize| {
        let k = order[dst][i];
        let b = &mut bufs[dst][i];
        // SAFETY: `bufs` outlives every request (the test waits for all of them).
        let id = unsafe {
            job.engines[dst]
                .irecv(RecvBuf::new(b.as_mut_ptr(), b.len()), pattern(&msgs[k]))
                .unwrap()
        };
        recv_ids[dst][i] = Some(id);
    };
    let mut posted = 0;
    for (dst, o) in order.clone().iter().enumerate() {
        for i in 0..o.len() {
            if o[i] < early {
                post(job, &mut bufs, dst, i);
                posted += 1;
            }
        }
    }
    let mut send_ids = Vec::new();
    for (k, m) in msgs.iter().enumerate() {
        // SAFETY: `sends` outlives every request.
        let id = unsafe {
            job.engines[m.src]
                .isend(
                    SendBuf::new(sends[k].as_ptr(), sends[k].len()),
                    m.dst,
                    CTX,
                    m.src as i32,
                    m.tag,
                    SendMode::Standard,
                )
                .unwrap()
        };
        send_ids.push((m.src, id));
        // Let some traffic move between sends.
        if k % 3 == 0 {
            job.progress().unwrap();
        }
    }
    for (dst, o) in order.clone().iter().enumerate() {
        for i in 0..o.len() {
            if o[i] >= early {
                post(job, &mut bufs, dst, i);
                posted += 1;
            }
        }
    }
    assert_eq!(posted, msgs.len());
    let mut got: Vec<Vec<Option<Status>>> = order.iter().map(|o| vec![None; o.len()]).collect();
    job.run_until(|engines| {
        let mut all = true;
        for dst in 0..n {
            for i in 0..recv_ids[dst].len() {
                if got[dst][i].is_none() {
                    match engines[dst].test(recv_ids[dst][i].unwrap())? {
                        Some(st) => got[dst][i] = Some(st),
                        None => all = false,
                    }
                }
            }
        }
        Ok(all)
    })
    .unwrap();
    job.wait_all(send_ids).unwrap();
    got.into_iter()
        .zip(bufs)
        .map(|(g, b)| {
            g.into_iter()
                .zip(b)
                .map(|(st, buf)| {
                    let st = st.unwrap();
                    let bytes = buf[..st.count].to_vec();
                    (st, bytes)
                })
                .collect()
        })
        .collect()
}

/// What each receive got, as message indices (read from the first 8 bytes; a
/// message shorter than that is identified by its status and length).
fn check_order(msgs: &[Msg], got: &[Vec<(Status, Vec<u8>)>]) -> Result<(), TestCaseError> {
    let n = got.len();
    for dst in 0..n {
        // Per source: the messages it sent here, in send order.
        let mut expect: Vec<std::collections::VecDeque<usize>> = vec![Default::default(); n];
        for (k, m) in msgs.iter().enumerate() {
            if m.dst == dst {
                expect[m.src].push_back(k);
            }
        }
        for (st, bytes) in &got[dst] {
            prop_assert!(st.error.is_none(), "receive failed: {:?}", st);
            let src = st.source as usize;
            let k = expect[src].pop_front().expect("a message no one sent");
            prop_assert_eq!(st.tag, msgs[k].tag);
            prop_assert_eq!(
                bytes,
                &payload(src, k, msgs[k].len),
                "message {} from {}",
                k,
                src
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// ANY_SOURCE / ANY_TAG receives see each sender's messages in the order sent,
    /// whether posted before or after the messages arrive.
    #[test]
    fn wildcard_receives_keep_each_senders_order(n in 1usize..5, msgs in msgs(4),
                                                 early in 0usize..40, o in job_opts()) {
        let msgs: Vec<Msg> = msgs.into_iter().map(|m| Msg { src: m.src % n, dst: m.dst % n, ..m }).collect();
        let mut job = make_job(n, o);
        let got = exchange(&mut job, &msgs, early, |_| Pattern { ctx: CTX, src: ANY_SOURCE, tag: ANY_TAG });
        check_order(&msgs, &got)?;
    }

    /// Receives naming source and tag, posted in the order of the messages they
    /// are for, get exactly those messages.
    #[test]
    fn specific_receives_get_their_messages(n in 1usize..5, msgs in msgs(4),
                                            early in 0usize..40, o in job_opts()) {
        let msgs: Vec<Msg> = msgs.into_iter().map(|m| Msg { src: m.src % n, dst: m.dst % n, ..m }).collect();
        let mut job = make_job(n, o);
        let got = exchange(&mut job, &msgs, early, |m| Pattern { ctx: CTX, src: m.src as i32, tag: m.tag });
        check_order(&msgs, &got)?;
    }
}

fn two(cma: bool) -> Job {
    Job::new(Opts {
        cma,
        ..Opts::new(2)
    })
}

/// A synchronous send completes only once its receive has matched, eager or not.
#[test]
fn synchronous_send_waits_for_the_match() {
    for (cma, len) in [(true, 8), (false, 8), (true, 100_000), (false, 100_000)] {
        let mut job = two(cma);
        let data = vec![5u8; len];
        let mut into = vec![0u8; len];
        // SAFETY: both buffers outlive the requests.
        let s = unsafe {
            job.engines[0]
                .isend(
                    SendBuf::new(data.as_ptr(), len),
                    1,
                    CTX,
                    0,
                    9,
                    SendMode::Synchronous,
                )
                .unwrap()
        };
        for _ in 0..1000 {
            job.progress().unwrap();
        }
        assert!(
            job.engines[0].peek_status(s).unwrap().is_none(),
            "completed before a receive"
        );
        // SAFETY: as above.
        let r = unsafe {
            job.engines[1]
                .irecv(
                    RecvBuf::new(into.as_mut_ptr(), len),
                    Pattern {
                        ctx: CTX,
                        src: 0,
                        tag: 9,
                    },
                )
                .unwrap()
        };
        job.wait_all(vec![(0, s), (1, r)]).unwrap();
        assert_eq!(into, data);
    }
}

/// A message larger than the receive buffer: the receive reports truncation with
/// the buffer full, and the sender completes.
#[test]
fn truncation_is_reported() {
    for (cma, len) in [(true, 100), (false, 100), (true, 300_000), (false, 300_000)] {
        let mut job = two(cma);
        let data = payload(0, 0, len);
        let mut into = vec![0u8; len / 2];
        // SAFETY: both buffers outlive the requests.
        let (s, r) = unsafe {
            (
                job.engines[0]
                    .isend(
                        SendBuf::new(data.as_ptr(), len),
                        1,
                        CTX,
                        0,
                        1,
                        SendMode::Standard,
                    )
                    .unwrap(),
                job.engines[1]
                    .irecv(
                        RecvBuf::new(into.as_mut_ptr(), into.len()),
                        Pattern {
                            ctx: CTX,
                            src: 0,
                            tag: 1,
                        },
                    )
                    .unwrap(),
            )
        };
        let (mut sd, mut rs) = (false, None);
        job.run_until(|e| {
            sd = sd || e[0].test(s)?.is_some();
            if rs.is_none() {
                rs = e[1].test(r)?;
            }
            Ok(sd && rs.is_some())
        })
        .unwrap();
        let st = rs.unwrap();
        assert_eq!(st.error, Some(ErrorClass::Truncate), "len {len}: {st:?}");
        assert_eq!(into[..], data[..len / 2]);
    }
}

/// Probes see an arrived message without taking it; a matched probe's message is
/// received by `imrecv` even when a receive for the same pattern is posted first.
#[test]
fn probes_and_matched_receives() {
    let mut job = two(true);
    let a = payload(0, 1, 30);
    let b = payload(0, 2, 50_000);
    // SAFETY: the buffers outlive the requests.
    let sends = unsafe {
        [
            job.engines[0]
                .isend(
                    SendBuf::new(a.as_ptr(), a.len()),
                    1,
                    CTX,
                    0,
                    3,
                    SendMode::Standard,
                )
                .unwrap(),
            job.engines[0]
                .isend(
                    SendBuf::new(b.as_ptr(), b.len()),
                    1,
                    CTX,
                    0,
                    3,
                    SendMode::Standard,
                )
                .unwrap(),
        ]
    };
    let pat = Pattern {
        ctx: CTX,
        src: ANY_SOURCE,
        tag: 3,
    };
    let mut st = None;
    job.run_until(|e| {
        st = e[1].iprobe(&pat)?;
        Ok(st.is_some())
    })
    .unwrap();
    assert_eq!(st.unwrap().count, 30, "the probe sees the first message");
    let (msg, mst) = job.engines[1].improbe(&pat).unwrap().expect("still there");
    assert_eq!(mst.count, 30);
    // A receive posted now gets the second message, not the probed one.
    let mut second = vec![0u8; 50_000];
    let mut first = vec![0u8; 30];
    // SAFETY: as above.
    let (r2, r1) = unsafe {
        (
            job.engines[1]
                .irecv(RecvBuf::new(second.as_mut_ptr(), second.len()), pat)
                .unwrap(),
            job.engines[1]
                .imrecv(RecvBuf::new(first.as_mut_ptr(), first.len()), msg)
                .unwrap(),
        )
    };
    let left = vec![(0, sends[0]), (0, sends[1]), (1, r1), (1, r2)];
    job.wait_all(left).unwrap();
    assert_eq!(first, a);
    assert_eq!(second, b);
}

/// A posted receive can be cancelled until it matches; a later message then
/// goes to the next receive.
#[test]
fn cancelled_receive_matches_nothing() {
    let mut job = two(false);
    let mut x = vec![0u8; 8];
    let mut y = vec![0u8; 8];
    let pat = Pattern {
        ctx: CTX,
        src: 0,
        tag: 0,
    };
    // SAFETY: the buffers outlive the requests.
    let r1 = unsafe {
        job.engines[1]
            .irecv(RecvBuf::new(x.as_mut_ptr(), 8), pat)
            .unwrap()
    };
    assert!(job.engines[1].cancel(r1).unwrap());
    let st = job.engines[1]
        .test(r1)
        .unwrap()
        .expect("a cancelled receive is complete");
    assert!(st.cancelled);
    let data = payload(0, 0, 8);
    // SAFETY: as above.
    let (s, r2) = unsafe {
        (
            job.engines[0]
                .isend(
                    SendBuf::new(data.as_ptr(), 8),
                    1,
                    CTX,
                    0,
                    0,
                    SendMode::Standard,
                )
                .unwrap(),
            job.engines[1]
                .irecv(RecvBuf::new(y.as_mut_ptr(), 8), pat)
                .unwrap(),
        )
    };
    job.wait_all(vec![(0, s), (1, r2)]).unwrap();
    assert_eq!(y, data);
    assert_eq!(x, [0u8; 8]);
}

/// Credit: a receiver that posts nothing holds at most its unexpected limit of
/// one sender's eager bytes; beyond the credit, messages go by rendezvous and
/// complete only once matched, still in order.
#[test]
fn credit_bounds_unexpected_bytes() {
    let limit = 16 * 1024;
    let mut job = Job::new(Opts {
        unexpected_limit: limit,
        eager: 1024,
        ..Opts::new(2)
    });
    let msgs: Vec<Vec<u8>> = (0..100).map(|k| payload(0, k, 1000)).collect();
    // SAFETY: the buffers outlive the requests.
    let sends: Vec<ReqId> = msgs
        .iter()
        .map(|m| unsafe {
            job.engines[0]
                .isend(
                    SendBuf::new(m.as_ptr(), m.len()),
                    1,
                    CTX,
                    0,
                    0,
                    SendMode::Standard,
                )
                .unwrap()
        })
        .collect();
    for _ in 0..2000 {
        job.progress().unwrap();
    }
    let done = sends
        .iter()
        .filter(|&&s| job.engines[0].is_complete(s).unwrap())
        .count();
    assert!(
        done * 1000 <= limit,
        "{done} eager sends completed beyond {limit} bytes of credit"
    );
    let mut into: Vec<Vec<u8>> = vec![vec![0u8; 1000]; 100];
    let pat = Pattern {
        ctx: CTX,
        src: 0,
        tag: 0,
    };
    // SAFETY: as above.
    let recvs: Vec<ReqId> = into
        .iter_mut()
        .map(|b| unsafe {
            job.engines[1]
                .irecv(RecvBuf::new(b.as_mut_ptr(), b.len()), pat)
                .unwrap()
        })
        .collect();
    let left: Vec<(usize, ReqId)> = sends
        .iter()
        .map(|&s| (0, s))
        .chain(recvs.iter().map(|&r| (1, r)))
        .collect();
    job.wait_all(left).unwrap();
    assert_eq!(into, msgs);
}
