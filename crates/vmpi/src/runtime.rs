//! The process-wide MPI state and its life: `init` (configuration, bootstrap,
//! evidence and probes, verdicts, channels, engine), `finalize`, and the one lock
//! every call takes. Also the blocking wait loop with its backoff.

use crate::bootstrap::{jobkey, Bootstrap};
use crate::config::{Config, AUTO_CMA_SPLIT_MIN};
use crate::error::{Error, ErrorClass, Result};
use crate::locality::{binding, probe, Channel, Cma, Evidence, Map, Policy, View};
use crate::p2p::backoff::Backoff;
use crate::p2p::engine::{Channels, PeerInfo};
use crate::p2p::{CmaSplit, Engine, ReqId, Status};
use crate::transport::{cma, ivshmem, shm, tcp};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Work that a layer above p2p advances from the progress loop (a nonblocking
/// collective's schedule). `advance` returns true once finished; it is then dropped.
pub trait Schedule: Send {
    fn advance(&mut self, engine: &mut Engine) -> Result<bool>;
}

/// A request made of two others (MPI_Isendrecv: a send and a receive; None, a
/// half done at once): the external request `whole` completes with the
/// receive's status once both halves have, which frees them.
pub struct Join {
    pub whole: ReqId,
    pub send: Option<ReqId>,
    pub recv: Option<ReqId>,
}

impl Schedule for Join {
    fn advance(&mut self, engine: &mut Engine) -> Result<bool> {
        for half in [self.send, self.recv].into_iter().flatten() {
            if !engine.is_complete(half)? {
                return Ok(false);
            }
        }
        if let Some(s) = self.send {
            engine.test(s)?;
        }
        let status = match self.recv {
            Some(r) => engine.test(r)?.unwrap_or_else(Status::empty),
            None => Status::empty(),
        };
        engine.complete_external(self.whole, status)?;
        Ok(true)
    }
}

/// A request made of any number of others (a nonblocking neighborhood
/// collective's sends and receives, a partitioned send once its partitions are
/// ready): the external request `whole` completes once every part has, which
/// frees them, with the empty status, or with the first part's status that
/// carries an error (a truncated receive).
pub struct JoinAll {
    pub whole: ReqId,
    pub parts: Vec<ReqId>,
}

impl Schedule for JoinAll {
    fn advance(&mut self, engine: &mut Engine) -> Result<bool> {
        for p in &self.parts {
            if !engine.is_complete(*p)? {
                return Ok(false);
            }
        }
        let mut status = Status::empty();
        for p in &self.parts {
            if let Some(s) = engine.test(*p)? {
                if s.error.is_some() && status.error.is_none() {
                    status = s;
                }
            }
        }
        engine.complete_external(self.whole, status)?;
        Ok(true)
    }
}

/// Everything an initialized rank holds.
pub struct Runtime {
    pub engine: Engine,
    /// Schedules in flight, advanced after every engine poll.
    pub schedules: Vec<Box<dyn Schedule>>,
    /// One-sided windows: their targets' services and origins' pending
    /// requests, advanced after every engine poll.
    pub rma: crate::rma::Windows,
    pub boot: Bootstrap,
    pub cfg: Config,
    pub map: Map,
    pub evidence: Vec<Evidence>,
    pub backoff: Backoff,
    /// This job's check value in shared-memory headers (job name and rank 0's
    /// probe word): regions of another job are refused.
    pub job_check: u64,
    /// The IVSHMEM slot the job's queues live in (kept until finalize, when the
    /// slot is given back).
    pub iv_slot: Option<ivshmem::Slot>,
}

static RT: Mutex<Option<Runtime>> = Mutex::new(None);
static PHASE: AtomicU8 = AtomicU8::new(UNINIT);
const UNINIT: u8 = 0;
const RUNNING: u8 = 1;
const FINALIZED: u8 = 2;

pub fn is_initialized() -> bool {
    PHASE.load(Ordering::Acquire) != UNINIT
}

pub fn is_finalized() -> bool {
    PHASE.load(Ordering::Acquire) == FINALIZED
}

fn lock() -> MutexGuard<'static, Option<Runtime>> {
    RT.lock().unwrap_or_else(|p| p.into_inner())
}

/// Run `f` on the runtime, or fail naming `call` if MPI is not running.
pub fn with<R>(call: &str, f: impl FnOnce(&mut Runtime) -> Result<R>) -> Result<R> {
    let mut g = lock();
    match g.as_mut() {
        Some(rt) => f(rt),
        None if is_finalized() => Err(Error::new(
            ErrorClass::Other,
            format!("{call}: called after MPI_Finalize"),
        )),
        None => Err(Error::new(
            ErrorClass::Other,
            format!("{call}: called before MPI_Init"),
        )),
    }
}

impl Runtime {
    /// One progress pass: the engine, then every schedule in flight.
    pub fn progress(&mut self) -> Result<bool> {
        let mut did = self.engine.progress()?;
        did |= self.rma.progress(&mut self.engine)?;
        let mut i = 0;
        while i < self.schedules.len() {
            if self.schedules[i].advance(&mut self.engine)? {
                self.schedules.swap_remove(i);
                did = true;
            } else {
                i += 1;
            }
        }
        Ok(did)
    }
}

/// Wait for `req` to complete, polling and backing off; frees it.
pub fn wait(req: ReqId) -> Result<Status> {
    post_and_wait("MPI_Wait", |_| Ok(req)).map(|(_, st)| st)
}

/// Post an operation with `post`, then wait for the request it made to complete,
/// polling and backing off; frees it. The post and the first polls share one
/// acquisition of the runtime lock, so an operation that completes at once (an
/// eager send, a receive whose message is here) takes the lock once: on this
/// path a locked instruction right after a store into a peer's queue waits for the
/// store to reach the peer, and is the largest cost of a small message.
pub fn post_and_wait(
    call: &str,
    post: impl FnOnce(&mut Runtime) -> Result<ReqId>,
) -> Result<(ReqId, Status)> {
    let mut post = Some(post);
    let mut req = None;
    let mut done = None;
    progress_until(call, |rt| {
        let id = match req {
            Some(id) => id,
            None => *req.insert((post.take().expect("posted once"))(rt)?),
        };
        done = rt.engine.test(id)?.map(|st| (id, st));
        Ok(done.is_some())
    })?;
    Ok(done.expect("complete"))
}

/// Progress passes one waiter makes per acquisition of the runtime lock.
const POLLS_PER_LOCK: usize = 64;

/// Poll until `cond` holds (checked under the lock after each progress pass; up to
/// [`POLLS_PER_LOCK`] passes per acquisition of the lock).
pub fn progress_until(
    call: &str,
    mut cond: impl FnMut(&mut Runtime) -> Result<bool>,
) -> Result<()> {
    let mut backoff = None;
    loop {
        let done = with(call, |rt| {
            let b = backoff.get_or_insert(rt.backoff);
            if cond(rt)? {
                return Ok(true);
            }
            for _ in 0..POLLS_PER_LOCK {
                if rt.progress()? {
                    if cond(rt)? {
                        return Ok(true);
                    }
                    b.reset();
                } else if b.spin() {
                    break;
                }
            }
            Ok(false)
        })?;
        if done {
            return Ok(());
        }
        if let Some(b) = backoff.as_mut() {
            if b.oversubscribed() || b.spin() {
                std::thread::yield_now();
            }
        }
    }
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if let Ok(v) = std::fs::read("/proc/sys/kernel/random/uuid") {
        b.copy_from_slice(&jobkey::fnv64(&v).to_le_bytes());
    }
    u64::from_le_bytes(b) ^ crate::bootstrap::nanos().rotate_left(17) ^ std::process::id() as u64
        | 1
}

/// Initialize MPI for this process.
pub fn init() -> Result<()> {
    if PHASE
        .compare_exchange(UNINIT, RUNNING, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err(Error::new(
            ErrorClass::Other,
            if is_finalized() {
                "MPI_Init: called after MPI_Finalize"
            } else {
                "MPI_Init: MPI is already initialized"
            },
        ));
    }
    match setup() {
        Ok(rt) => {
            *lock() = Some(rt);
            Ok(())
        }
        Err(e) => {
            PHASE.store(UNINIT, Ordering::Release);
            Err(e)
        }
    }
}

fn setup() -> Result<Runtime> {
    let (cfg, warnings) = Config::from_env()?;
    crate::coll::tuning::install(cfg.coll_algos);
    let mut boot = Bootstrap::init()?;
    let (me, n) = (boot.rank, boot.size);
    if me == 0 {
        for w in &warnings {
            eprintln!("vmpi: warning: {w}");
        }
    }
    cma::allow_peers_to_read_us();
    let word = cma::probe_word();
    // Bind before the affinity mask goes into the card: Map::cores_on_kernel then
    // counts the cores the ranks really run on (pinned one per core: spin; several
    // pinned to one core by MV2_CPU_MAPPING: yield).
    let bound = binding::system::bind(&cfg.binding)?;
    let mut ev = Evidence::gather();
    ev.cma_addr = word.as_ptr() as u64;
    ev.cma_word = *word;
    let mut tcp = if n > 1 {
        Some(tcp::TcpTransport::new(
            me,
            n,
            &cfg.tcp_if,
            cfg.launcher_addr,
        )?)
    } else {
        None
    };
    if let Some(t) = &tcp {
        ev.tcp = t.card();
    }
    // IVSHMEM: a slot of every device this VM has, our nonce in it; a device
    // that cannot be used stops MPI_Init, or with VMPI_IVSHMEM_FALLBACK=tcp means
    // TCP between the VMs, with the reason.
    let mut iv_slots = Vec::new();
    if cfg.use_shared_mem && n > 1 {
        let key = jobkey::fnv64(boot.kvsname.as_bytes()) | 1;
        let joined = ivshmem::join_all(cfg.use_ivshmem, cfg.ivshmem_device.as_deref(), key)
            .and_then(|slots| {
                let mut cards = Vec::with_capacity(slots.len());
                for s in &slots {
                    let nonce = random_u64();
                    s.write_nonce(me, nonce)?;
                    cards.push(crate::locality::IvCard {
                        uuid: s.device().uuid,
                        slot: s.index as u32,
                        nonce,
                        room: s.rings().1 as u64,
                    });
                }
                Ok((slots, cards))
            });
        match joined {
            Ok((slots, cards)) => (iv_slots, ev.iv) = (slots, cards),
            Err(e) if cfg.ivshmem_fallback_tcp => ev.iv_err = e.message.clone(),
            Err(e) => {
                return Err(Error::new(
                    e.class,
                    format!("MPI_Init: {} (or set VMPI_IVSHMEM_FALLBACK=tcp)", e.message),
                ))
            }
        }
    }
    // Our /dev/shm probe file; removed after everyone has looked.
    let mut probe_file = None;
    if cfg.use_shared_mem && n > 1 {
        ev.shm_nonce = random_u64();
        let path = probe::probe_path(&cfg.shm_dir, &boot.kvsname, me, ev.shm_nonce);
        probe::write_probe(&path, ev.shm_nonce)?;
        probe_file = Some(path);
    }
    let result = exchange(&cfg, &mut boot, ev, me, n, &iv_slots);
    if let Some(p) = probe_file {
        let _ = std::fs::remove_file(p);
    }
    let (evidence, views) = result?;
    if let Some(t) = binding::show_table(cfg.binding.show, &bound.decision, &evidence, me) {
        use std::io::Write;
        print!("{t}");
        let _ = std::io::stdout().flush();
    }
    if let Some(w) = binding::shared_kernel_warning(&bound.decision, &bound.launch, &evidence, me) {
        eprintln!("{w}");
    }
    let policy = Policy {
        use_shared_mem: cfg.use_shared_mem,
        cont_use_ipc: cfg.cont_use_ipc,
        smp_use_cma: cfg.smp_use_cma,
        domain_split: cfg.domain_split,
        use_ivshmem: cfg.use_ivshmem != Some(false),
    };
    let map = Map::decide(policy, &evidence, &views);
    let job_check = jobkey::fnv64(boot.kvsname.as_bytes())
        ^ u64::from_le_bytes(evidence[0].cma_word[..8].try_into().expect("8 bytes"));

    let domain = &map.domain_of[me];
    let shm = if domain.len() > 1 {
        let leader = domain[0];
        let path = cfg.shm_dir.join(format!(
            "{}region-{leader}-{:x}",
            jobkey::shm_prefix(&boot.kvsname),
            evidence[leader].shm_nonce
        ));
        let cap = if me == leader {
            shm::choose_inbox_cap(
                domain.len(),
                shm::free_bytes(&cfg.shm_dir)?,
                cfg.shm_ring_size,
                &cfg.shm_dir,
            )?
        } else {
            0
        };
        Some(shm::ShmTransport::join(
            &path, domain, me, n, job_check, cap,
        )?)
    } else {
        None
    };
    // The job's IVSHMEM queues: ranks whose nonces all saw each other in one
    // region, laid out the same way by each of them in their slot.
    let iv_dom = &map.iv_domain_of[me];
    let mut iv_slot = None;
    let mut ivshmem = None;
    if iv_dom.len() > 1 {
        let uuid = map.iv_region.expect("an IVSHMEM domain has a region");
        let slot = iv_slots
            .into_iter()
            .find(|s| s.device().uuid == uuid)
            .expect("a member joined the region");
        let (base, room) = slot.rings();
        let cap = shm::cap_in(iv_dom.len(), room).expect("decide checked the fit");
        let idx = iv_dom.iter().position(|&r| r == me).expect("member");
        ivshmem = Some(shm::ShmTransport::over(
            slot.device().region(),
            base,
            cap,
            iv_dom,
            idx,
            n,
            "IVSHMEM",
        ));
        iv_slot = Some(slot);
    }
    let verdicts = &map.verdicts[me];
    if !cfg.ivshmem_fallback_tcp {
        if let Some(v) = verdicts
            .iter()
            .find(|v| v.channel == Channel::Tcp && v.reason.contains("IVSHMEM slot is too small"))
        {
            return Err(Error::other(format!(
                "MPI_Init: {} (or set VMPI_IVSHMEM_FALLBACK=tcp)",
                v.reason
            )));
        }
    }
    if verdicts.iter().any(|v| v.channel == Channel::Tcp) {
        let t = tcp.as_mut().expect("tcp exists when n > 1");
        t.set_job_check(job_check);
        t.set_peers(
            (0..n)
                .map(|r| {
                    (verdicts[r].channel == Channel::Tcp).then(|| tcp::PeerAddr {
                        card: evidence[r].tcp.clone(),
                        same_netns: evidence[me].same_ns(&evidence[r], "net"),
                    })
                })
                .collect(),
        );
    } else {
        tcp = None;
    }
    let peers = (0..n)
        .map(|r| PeerInfo {
            channel: verdicts[r].channel,
            cma: verdicts[r].channel == Channel::Shm && verdicts[r].cma == Cma::Works,
            cma_in: verdicts[r].channel == Channel::Shm && map.verdicts[r][me].cma == Cma::Works,
            pid: evidence[r].pid as i32,
        })
        .collect();
    let (ranks_here, cores) = (
        Map::ranks_on_kernel(&evidence, me),
        Map::cores_on_kernel(&evidence, me),
    );
    // Oversubscribed, a split rendezvous waits for a sender that may not be
    // running: 4 ranks on 2 cores, scatter 128-512 KiB and alltoall 128 KiB-1 MiB
    // ran 10-30% faster with the receiver copying everything. A receiver with more
    // to pull (a gather root) still shares the work with its idle senders.
    let cma_split = match cfg.cma_split_min {
        Some(n) => CmaSplit { idle: n, busy: n },
        None => CmaSplit {
            idle: if ranks_here > cores {
                0
            } else {
                AUTO_CMA_SPLIT_MIN
            },
            busy: AUTO_CMA_SPLIT_MIN,
        },
    };
    let engine = Engine::new(
        me,
        peers,
        Channels { shm, ivshmem, tcp },
        cfg.smp_eager_size,
        cfg.tcp_eager_size,
        cfg.unexpected_limit,
        cma_split,
        cfg.cma_min,
    );
    let backoff = Backoff::policy(cfg.yield_mode, ranks_here, cores);
    if cfg.verbose && me == 0 {
        eprint!("{}", describe(&map, &evidence));
    }
    Ok(Runtime {
        engine,
        schedules: Vec::new(),
        rma: Default::default(),
        boot,
        cfg,
        job_check,
        map,
        evidence,
        backoff,
        iv_slot,
    })
}

/// Publish our card, read everyone's, probe the peers, publish what we found, and
/// read everyone's findings.
fn exchange(
    cfg: &Config,
    boot: &mut Bootstrap,
    ev: Evidence,
    me: usize,
    n: usize,
    iv_slots: &[ivshmem::Slot],
) -> Result<(Vec<Evidence>, Vec<View>)> {
    boot.put(&format!("vmpi-card-{me}"), &ev.encode())?;
    boot.fence()?;
    let mut evidence = Vec::with_capacity(n);
    for r in 0..n {
        if r == me {
            evidence.push(ev.clone());
            continue;
        }
        let card = boot
            .get(&format!("vmpi-card-{r}"))?
            .ok_or_else(|| Error::other(format!("MPI_Init: rank {r} published no card")))?;
        evidence.push(Evidence::decode(&card, r)?);
    }
    // IVSHMEM: in the region the job uses, whose nonces can this rank read back?
    let region = crate::locality::iv_region(&evidence);
    let mine = region.and_then(|u| iv_slots.iter().find(|s| s.device().uuid == u));
    let iv_seen = (0..n)
        .map(|r| {
            match (
                mine,
                region.and_then(|u| crate::locality::iv_card(&evidence[r], &u)),
            ) {
                (Some(s), Some(c)) => {
                    c.slot as usize == s.index && c.nonce != 0 && s.nonce(r) == c.nonce
                }
                _ => false,
            }
        })
        .collect();
    let mut view = View {
        shm_seen: vec![false; n],
        cma: vec![None; n],
        iv_seen,
        cma_code: String::new(),
    };
    for r in 0..n {
        if r == me {
            view.shm_seen[r] = true;
            continue;
        }
        let e = &evidence[r];
        view.shm_seen[r] = cfg.use_shared_mem
            && e.shm_nonce != 0
            && ev.same_kernel(e)
            && probe::sees(
                &probe::probe_path(&cfg.shm_dir, &boot.kvsname, r, e.shm_nonce),
                e.shm_nonce,
            );
        view.cma[r] = if !view.shm_seen[r] {
            Some("not a shm peer".into())
        } else if !cfg.smp_use_cma {
            Some("MV2_SMP_USE_CMA=0".into())
        } else if !ev.same_ns(e, "pid") {
            Some("different PID namespace".into())
        } else {
            match cma::probe(e.pid as i32, e.cma_addr, &e.cma_word) {
                Ok(()) => None,
                Err(f) => {
                    if view.cma_code.is_empty() {
                        view.cma_code = f.code;
                    }
                    Some(f.text)
                }
            }
        };
    }
    let chunks = chunk(&view.encode());
    for (i, c) in chunks.iter().enumerate() {
        boot.put(&format!("vmpi-view-{me}-{i}"), c)?;
    }
    boot.fence()?;
    let mut views = Vec::with_capacity(n);
    for r in 0..n {
        if r == me {
            views.push(view.clone());
            continue;
        }
        let mut s = String::new();
        for i in 0..chunks.len() {
            s += &boot
                .get(&format!("vmpi-view-{r}-{i}"))?
                .ok_or_else(|| Error::other(format!("MPI_Init: rank {r} published no view")))?;
        }
        views.push(
            View::decode(&s, n)
                .ok_or_else(|| Error::other(format!("MPI_Init: rank {r} published a bad view")))?,
        );
    }
    Ok((evidence, views))
}

/// Split a long value into PMI-sized pieces (every rank's view has the same length,
/// so all ranks agree on the number of pieces).
fn chunk(s: &str) -> Vec<String> {
    s.as_bytes()
        .chunks(crate::bootstrap::MAX_VALUE)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

/// The channel matrix as text: one line per ordered pair, with the reason.
pub fn describe(map: &Map, ev: &[Evidence]) -> String {
    let n = ev.len();
    let mut s = String::new();
    for a in 0..n {
        for b in 0..n {
            if a == b {
                continue;
            }
            let v = &map.verdicts[a][b];
            // verdicts[a][b].cma is a's probe of b: whether a may pull (and b
            // write into a for a split copy) the large messages that b sends a.
            let large = match (&v.channel, &v.cma) {
                (Channel::Shm, Cma::Works) => {
                    format!(" large {b} -> {a}: CMA (rank {a} reads rank {b}'s memory)")
                }
                (Channel::Shm, Cma::Unavailable(why)) => {
                    format!(" large {b} -> {a}: pipelined copy ({why})")
                }
                (Channel::Ivshmem, _) => {
                    format!(" large {b} -> {a}: pipelined copy (no CMA between VMs)")
                }
                _ => String::new(),
            };
            s += &format!(
                "vmpi: rank {a} ({}) -> rank {b} ({}): {} [{}]{large}\n",
                ev[a].hostname,
                ev[b].hostname,
                v.channel.name(),
                v.reason
            );
        }
    }
    s
}

/// Finalize MPI: drain what we still owe peers, meet everyone, close channels.
pub fn finalize() -> Result<()> {
    progress_until("MPI_Finalize", |rt| Ok(!rt.engine.has_backlog()))?;
    let mut g = lock();
    let mut rt = g
        .take()
        .ok_or_else(|| Error::new(ErrorClass::Other, "MPI_Finalize: MPI is not initialized"))?;
    PHASE.store(FINALIZED, Ordering::Release);
    drop(g);
    rt.boot.fence()?;
    if let Some(t) = rt.engine.channels_mut().tcp.as_mut() {
        t.shutdown();
    }
    let r = rt.boot.finalize();
    // The IVSHMEM slot is given back once the job is done with the queues in it.
    drop(rt.iv_slot.take());
    r
}

/// Kill the whole job (MPI_Abort).
pub fn abort(code: i32, msg: &str) -> ! {
    let mut g = lock();
    if let Some(rt) = g.as_mut() {
        let _ = rt.boot.abort(code, msg);
    }
    eprintln!("vmpi: abort({code}): {msg}");
    std::process::exit(code)
}
