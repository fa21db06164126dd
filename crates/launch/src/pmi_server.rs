//! The PMI-1 server's logic: the job's key-value space, the barrier, and the answer to
//! each command. No sockets here: `handle` takes one parsed command from one rank and
//! says what to send to whom and what the job must do (abort, close the connection),
//! so the rules can be tested without processes.

use std::collections::HashMap;

use vmpi_pmi::wire::{Command, MAX_LINE};

pub const KVSNAME_MAX: usize = 256;
pub const KEYLEN_MAX: usize = 64;
pub const VALLEN_MAX: usize = 1024;

/// What the job must do after a command, beyond sending replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    None,
    /// `abort`: kill the job and exit with this code.
    Abort {
        code: i32,
        message: Option<String>,
    },
    /// `finalize`: after the ack is sent, close this rank's connection.
    Finalized,
    /// The barrier is complete and these keys were committed by it: caches of
    /// the key space (the proxies') must have them before the `barrier_out`
    /// replies reach the ranks.
    Fenced(Vec<(String, String)>),
}

/// The result of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Lines to send: (rank, reply).
    pub replies: Vec<(usize, Command)>,
    pub event: Event,
    /// Something worth a line on mpirun's stderr (unknown command, bad request).
    pub log: Option<String>,
}

impl Response {
    fn reply(rank: usize, c: Command) -> Response {
        Response {
            replies: vec![(rank, c)],
            event: Event::None,
            log: None,
        }
    }
    fn with_log(mut self, log: String) -> Response {
        self.log = Some(log);
        self
    }
}

/// The key-value space and barrier state of one job.
#[derive(Debug)]
pub struct Server {
    kvsname: String,
    size: usize,
    committed: HashMap<String, String>,
    pending: HashMap<String, String>,
    in_barrier: Vec<bool>,
    /// Ranks that sent `init` / `finalize`.
    inited: Vec<bool>,
    finalized: Vec<bool>,
    /// Unknown commands seen per rank; only the job's first few are logged, the
    /// rest are counted for [`Server::unknown_summary`].
    unknown: Vec<u64>,
    unknown_total: u64,
}

/// Unknown commands logged in a job (from all ranks together); the rest are
/// answered without a line and summed up once at the end.
const UNKNOWN_LOGGED: u64 = 3;

/// The reply to `get` from the committed keys `kvs` of job `kvsname` (mpirun's
/// server, and each proxy's cache of it).
pub fn answer_get(kvsname: &str, kvs: &HashMap<String, String>, c: &Command) -> Command {
    const R: &str = "get_result";
    if matches!(c.get("kvsname"), Some(k) if k != kvsname) {
        return fail(R, 1, "unknown_kvsname");
    }
    let Some(key) = c.get("key") else {
        return fail(R, 1, "get_needs_key");
    };
    match kvs.get(key) {
        // A reply line is limited too; a stored value always fits in practice
        // (value <= 1024 was checked at put, and put's line was <= MAX_LINE).
        Some(v) if v.len() + 40 <= MAX_LINE => Command::new(R).arg("rc", 0).arg("value", v),
        Some(_) => fail(R, 1, "value_too_long_for_reply"),
        None => fail(R, 1, "key_not_found"),
    }
}

fn fail(cmd: &str, rc: i32, msg: &str) -> Command {
    Command::new(cmd).arg("rc", rc).arg("msg", msg)
}

impl Server {
    /// A server for `size` ranks; `mapping` becomes `PMI_process_mapping` (visible
    /// from the start, as under Hydra and Slurm) unless it is too long for a value.
    /// The keys committed so far (what a new cache of the key space starts with).
    pub fn committed(&self) -> Vec<(String, String)> {
        self.committed
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub fn new(kvsname: &str, size: usize, mapping: Option<String>) -> Server {
        let mut committed = HashMap::new();
        if let Some(m) = mapping {
            committed.insert("PMI_process_mapping".to_string(), m);
        }
        Server {
            kvsname: kvsname.to_string(),
            size,
            committed,
            pending: HashMap::new(),
            in_barrier: vec![false; size],
            inited: vec![false; size],
            finalized: vec![false; size],
            unknown: vec![0; size],
            unknown_total: 0,
        }
    }

    /// One line summing up the unknown commands beyond those logged, `None` if
    /// every one was logged: how many, and from which ranks (the busiest first).
    pub fn unknown_summary(&self) -> Option<String> {
        let total = self.unknown_total;
        if total <= UNKNOWN_LOGGED {
            return None;
        }
        let mut by: Vec<(usize, u64)> = (0..self.size)
            .filter(|&r| self.unknown[r] > 0)
            .map(|r| (r, self.unknown[r]))
            .collect();
        by.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut who: Vec<String> = by
            .iter()
            .take(4)
            .map(|(r, n)| format!("rank {r}: {n}"))
            .collect();
        if by.len() > 4 {
            who.push(format!("{} more ranks", by.len() - 4));
        }
        Some(format!(
            "{total} unknown PMI commands in all ({}); the first {UNKNOWN_LOGGED} were logged",
            who.join(", ")
        ))
    }

    /// How many ranks are waiting in the current barrier.
    pub fn waiting_in_barrier(&self) -> usize {
        self.in_barrier.iter().filter(|&&b| b).count()
    }

    pub fn is_in_barrier(&self, rank: usize) -> bool {
        self.in_barrier[rank]
    }

    /// Did this rank start PMI (MPI_Init) and never say `finalize`? A rank that then
    /// exits leaves the others waiting for it.
    pub fn left_without_finalize(&self, rank: usize) -> bool {
        self.inited[rank] && !self.finalized[rank]
    }

    /// Did this rank say `finalize`?
    pub fn finalized(&self, rank: usize) -> bool {
        self.finalized[rank]
    }

    /// Stop expecting `finalize` from a rank whose connection was closed for bad input.
    pub fn disown(&mut self, rank: usize) {
        self.inited[rank] = false;
    }

    fn check_kvsname(&self, c: &Command, reply: &str) -> Option<Command> {
        match c.get("kvsname") {
            Some(k) if k != self.kvsname => Some(fail(reply, 1, "unknown_kvsname")),
            _ => None,
        }
    }

    /// Answers one command from `rank`.
    pub fn handle(&mut self, rank: usize, c: &Command) -> Response {
        match c.cmd.as_str() {
            "init" => {
                let v = c.get("pmi_version").unwrap_or("1");
                let reply = Command::new("response_to_init");
                if v != "1" {
                    return Response::reply(
                        rank,
                        reply
                            .arg("rc", -1)
                            .arg("pmi_version", 1)
                            .arg("pmi_subversion", 1)
                            .arg("msg", "only_pmi_version_1_is_served"),
                    )
                    .with_log(format!(
                        "rank {rank} asked for PMI version {v}; only PMI-1 is served"
                    ));
                }
                self.inited[rank] = true;
                Response::reply(
                    rank,
                    reply
                        .arg("rc", 0)
                        .arg("pmi_version", 1)
                        .arg("pmi_subversion", 1),
                )
            }
            "get_maxes" => Response::reply(
                rank,
                Command::new("maxes")
                    .arg("rc", 0)
                    .arg("kvsname_max", KVSNAME_MAX)
                    .arg("keylen_max", KEYLEN_MAX)
                    .arg("vallen_max", VALLEN_MAX),
            ),
            "get_appnum" => {
                Response::reply(rank, Command::new("appnum").arg("rc", 0).arg("appnum", 0))
            }
            "get_universe_size" => Response::reply(
                rank,
                Command::new("universe_size")
                    .arg("rc", 0)
                    .arg("size", self.size),
            ),
            "get_my_kvsname" => Response::reply(
                rank,
                Command::new("my_kvsname")
                    .arg("rc", 0)
                    .arg("kvsname", &self.kvsname),
            ),
            "put" => Response::reply(rank, self.put(c)),
            "get" => Response::reply(rank, self.get(c)),
            "barrier_in" => self.barrier_in(rank),
            "finalize" => {
                self.finalized[rank] = true;
                Response {
                    replies: vec![(rank, Command::new("finalize_ack").arg("rc", 0))],
                    event: Event::Finalized,
                    log: None,
                }
            }
            "abort" => {
                let (code, log) = match c.get_int("exitcode") {
                    Ok(n) if (0..=255).contains(&n) => (n as i32, None),
                    Ok(n) => (
                        1,
                        Some(format!(
                            "rank {rank}: abort exitcode={n} is outside 0..=255; exiting with 1"
                        )),
                    ),
                    Err(e) => (1, Some(format!("rank {rank}: {e}; exiting with 1"))),
                };
                // MPICH 4 sends `message`, older clients `error_msg` or `msg`.
                let message = c
                    .get("message")
                    .or_else(|| c.get("error_msg"))
                    .or_else(|| c.get("msg"))
                    .map(str::to_string);
                Response {
                    replies: Vec::new(),
                    event: Event::Abort { code, message },
                    log,
                }
            }
            other => {
                let r = Response::reply(
                    rank,
                    fail(&format!("{other}_result"), -1, "unknown_command"),
                );
                self.unknown[rank] = self.unknown[rank].saturating_add(1);
                self.unknown_total = self.unknown_total.saturating_add(1);
                match self.unknown_total {
                    n if n < UNKNOWN_LOGGED => {
                        r.with_log(format!("rank {rank} sent unknown PMI command {other:?}"))
                    }
                    UNKNOWN_LOGGED => r.with_log(format!(
                        "rank {rank} sent unknown PMI command {other:?}; further unknown commands are not logged, only counted"
                    )),
                    _ => r,
                }
            }
        }
    }

    fn put(&mut self, c: &Command) -> Command {
        const R: &str = "put_result";
        if let Some(e) = self.check_kvsname(c, R) {
            return e;
        }
        let (Some(key), Some(value)) = (c.get("key"), c.get("value")) else {
            return fail(R, 1, "put_needs_key_and_value");
        };
        if key.is_empty() || key.len() > KEYLEN_MAX {
            return fail(R, 1, "key_too_long_or_empty");
        }
        if value.len() > VALLEN_MAX {
            return fail(R, 1, "value_too_long");
        }
        let existing = self.pending.get(key).or_else(|| self.committed.get(key));
        match existing {
            Some(v) if v != value => fail(R, 1, "duplicate_key_with_different_value"),
            Some(_) => Command::new(R).arg("rc", 0),
            None => {
                self.pending.insert(key.to_string(), value.to_string());
                Command::new(R).arg("rc", 0)
            }
        }
    }

    fn get(&self, c: &Command) -> Command {
        answer_get(&self.kvsname, &self.committed, c)
    }

    fn barrier_in(&mut self, rank: usize) -> Response {
        if self.in_barrier[rank] {
            return Response::reply(rank, fail("barrier_out", 1, "already_in_barrier"))
                .with_log(format!("rank {rank} entered the barrier twice"));
        }
        self.in_barrier[rank] = true;
        if self.waiting_in_barrier() < self.size {
            return Response {
                replies: Vec::new(),
                event: Event::None,
                log: None,
            };
        }
        let new: Vec<(String, String)> = self.pending.drain().collect();
        self.committed.extend(new.iter().cloned());
        self.in_barrier.iter_mut().for_each(|b| *b = false);
        Response {
            replies: (0..self.size)
                .map(|r| (r, Command::new("barrier_out").arg("rc", 0)))
                .collect(),
            event: Event::Fenced(new),
            log: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> Command {
        Command::parse(s).unwrap()
    }

    fn one(r: Response) -> String {
        assert_eq!(r.replies.len(), 1, "{r:?}");
        r.replies[0].1.encode().unwrap()
    }

    #[test]
    fn handshake_replies() {
        let mut s = Server::new("kvs_1", 4, Some("(vector,(0,1,4))".into()));
        assert_eq!(
            one(s.handle(0, &cmd("cmd=init pmi_version=1 pmi_subversion=1"))),
            "cmd=response_to_init rc=0 pmi_version=1 pmi_subversion=1\n"
        );
        assert_eq!(
            one(s.handle(0, &cmd("cmd=get_maxes"))),
            "cmd=maxes rc=0 kvsname_max=256 keylen_max=64 vallen_max=1024\n"
        );
        assert_eq!(
            one(s.handle(0, &cmd("cmd=get_appnum"))),
            "cmd=appnum rc=0 appnum=0\n"
        );
        assert_eq!(
            one(s.handle(0, &cmd("cmd=get_universe_size"))),
            "cmd=universe_size rc=0 size=4\n"
        );
        assert_eq!(
            one(s.handle(0, &cmd("cmd=get_my_kvsname"))),
            "cmd=my_kvsname rc=0 kvsname=kvs_1\n"
        );
        assert_eq!(
            one(s.handle(0, &cmd("cmd=get kvsname=kvs_1 key=PMI_process_mapping"))),
            "cmd=get_result rc=0 value=(vector,(0,1,4))\n"
        );
        let r = s.handle(0, &cmd("cmd=init pmi_version=2"));
        assert!(one(r).contains("rc=-1"));
    }

    #[test]
    fn puts_visible_only_after_barrier() {
        let mut s = Server::new("k", 2, None);
        assert_eq!(
            one(s.handle(0, &cmd("cmd=put kvsname=k key=a value=1"))),
            "cmd=put_result rc=0\n"
        );
        assert_eq!(
            one(s.handle(0, &cmd("cmd=get kvsname=k key=a"))),
            "cmd=get_result rc=1 msg=key_not_found\n"
        );
        assert!(s.handle(0, &cmd("cmd=barrier_in")).replies.is_empty());
        assert_eq!(s.waiting_in_barrier(), 1);
        assert!(one(s.handle(0, &cmd("cmd=barrier_in"))).contains("already_in_barrier"));
        let r = s.handle(1, &cmd("cmd=barrier_in"));
        assert_eq!(r.replies.len(), 2);
        assert_eq!(s.waiting_in_barrier(), 0);
        assert_eq!(
            one(s.handle(1, &cmd("cmd=get kvsname=k key=a"))),
            "cmd=get_result rc=0 value=1\n"
        );
    }

    #[test]
    fn put_rules() {
        let mut s = Server::new("k", 1, None);
        assert!(one(s.handle(0, &cmd("cmd=put kvsname=k key=a value=1"))).contains("rc=0"));
        assert!(one(s.handle(0, &cmd("cmd=put kvsname=k key=a value=1"))).contains("rc=0"));
        assert!(one(s.handle(0, &cmd("cmd=put kvsname=k key=a value=2")))
            .contains("rc=1 msg=duplicate_key"));
        assert!(
            one(s.handle(0, &cmd("cmd=put kvsname=other key=b value=2")))
                .contains("unknown_kvsname")
        );
        assert!(one(s.handle(0, &cmd("cmd=put kvsname=k key=b"))).contains("rc=1"));
        let long = Command::new("put")
            .arg("key", "big")
            .arg("value", "v".repeat(VALLEN_MAX + 1));
        assert!(one(s.handle(0, &long)).contains("value_too_long"));
        let key = "k".repeat(KEYLEN_MAX + 1);
        assert!(
            one(s.handle(0, &Command::new("put").arg("key", key).arg("value", 1))).contains("rc=1")
        );
    }

    #[test]
    fn finalize_abort_unknown() {
        let mut s = Server::new("k", 1, None);
        let r = s.handle(0, &cmd("cmd=finalize"));
        assert_eq!(r.event, Event::Finalized);
        assert_eq!(one(r), "cmd=finalize_ack rc=0\n");
        let r = s.handle(0, &cmd("cmd=abort exitcode=7"));
        assert!(r.replies.is_empty());
        assert_eq!(
            r.event,
            Event::Abort {
                code: 7,
                message: None
            }
        );
        let r = s.handle(0, &cmd("cmd=abort"));
        assert_eq!(
            r.event,
            Event::Abort {
                code: 1,
                message: None
            }
        );
        assert!(r.log.unwrap().contains("exitcode"));
        let r = s.handle(0, &cmd("cmd=frobnicate x=1"));
        assert!(r.log.is_some());
        assert_eq!(one(r), "cmd=frobnicate_result rc=-1 msg=unknown_command\n");
    }

    #[test]
    fn unknown_commands_are_logged_a_few_times_then_summed_up() {
        let mut s = Server::new("k", 8, None);
        assert_eq!(s.unknown_summary(), None);
        let mut logged = 0;
        for i in 0..100_000usize {
            let r = s.handle(i % 6, &cmd("cmd=frobnicate"));
            assert_eq!(r.replies.len(), 1, "every one is still answered");
            logged += r.log.is_some() as usize;
        }
        assert_eq!(logged, 3);
        let sum = s.unknown_summary().unwrap();
        assert!(
            sum.starts_with("100000 unknown PMI commands in all"),
            "{sum}"
        );
        assert!(
            sum.contains("rank 0: 16667") && sum.contains("2 more ranks"),
            "{sum}"
        );
    }

    #[test]
    fn abort_message_keys() {
        let mut s = Server::new("k", 1, None);
        for key in ["message", "error_msg", "msg"] {
            let r = s.handle(0, &cmd(&format!("cmd=abort exitcode=3 {key}=why\\ not")));
            assert_eq!(
                r.event,
                Event::Abort {
                    code: 3,
                    message: Some("why not".into())
                },
                "{key}"
            );
        }
    }
}
