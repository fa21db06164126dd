//! The process-wide tables behind the C handles, under one lock (taken for short
//! moments: never across a blocking wait, never while a user callback runs, and
//! always before the runtime's lock when both are held).

use crate::consts::*;
use crate::err::{err, Handler, R};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::os::raw::c_int;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// Objects addressed by `prefix | index` handles; freed slots are reused.
pub struct Table<T> {
    prefix: u32,
    items: Vec<Option<T>>,
    free: Vec<usize>,
}

impl<T> Table<T> {
    pub fn new(prefix: u32) -> Self {
        Table {
            prefix,
            items: Vec::new(),
            free: Vec::new(),
        }
    }
    pub fn insert(&mut self, v: T) -> c_int {
        let i = match self.free.pop() {
            Some(i) => {
                self.items[i] = Some(v);
                i
            }
            None => {
                self.items.push(Some(v));
                self.items.len() - 1
            }
        };
        (self.prefix | i as u32) as c_int
    }
    fn index(&self, h: c_int) -> Option<usize> {
        let h = h as u32;
        (h & 0xfc00_0000 == self.prefix).then_some((h & 0x03ff_ffff) as usize)
    }
    pub fn get(&self, h: c_int) -> Option<&T> {
        self.index(h).and_then(|i| self.items.get(i)?.as_ref())
    }
    pub fn get_mut(&mut self, h: c_int) -> Option<&mut T> {
        self.index(h).and_then(|i| self.items.get_mut(i)?.as_mut())
    }
    pub fn remove(&mut self, h: c_int) -> Option<T> {
        let i = self.index(h)?;
        let v = self.items.get_mut(i)?.take()?;
        self.free.push(i);
        Some(v)
    }
    pub fn len(&self) -> usize {
        self.items.len() - self.free.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub struct CommObj {
    pub comm: vmpi::sys::comm::Comm,
    pub name: String,
    pub errh: MPI_Errhandler,
    /// keyval -> attribute value (a pointer-sized word of the application's), in
    /// the order of setting.
    pub attrs: crate::attr::Attrs,
}

pub struct State {
    /// (rank, size) of MPI_COMM_WORLD once MPI is initialized.
    pub world: Option<(usize, usize)>,
    /// Changed only through `insert_comm` / `remove_comm` / `clear_comms`, which
    /// invalidate the threads' cached lookups (`with_comm`).
    comms: HashMap<MPI_Comm, CommObj>,
    /// Handles of communicators an MPI_Comm_idup is still making: in the table
    /// (their attributes were copied at the call) but not usable until
    /// [`State::install_comm`].
    unready: HashSet<MPI_Comm>,
    pub next_comm: u32,
    pub reqs: Table<crate::req::ReqObj>,
    pub msgs: Table<crate::p2p::MsgObj>,
    pub infos: Table<crate::info::InfoObj>,
    pub errhs: Table<crate::err::CommErrFn>,
    pub keyvals: Table<crate::attr::Keyval>,
    /// Datatype attributes: datatype -> (keyval -> value), predefined types included.
    pub type_attrs: HashMap<MPI_Datatype, crate::attr::Attrs>,
    /// Engine requests nobody waits for (freed active requests, buffered sends),
    /// with the copy a buffered send reads from; reaped as they complete.
    pub detached: Vec<(vmpi::sys::p2p::ReqId, Option<Vec<u8>>)>,
    /// MPI_Comm_idup requests freed before completion: (engine request, handle,
    /// the communicator being made), installed as they complete.
    pub freed_idups: Vec<(
        vmpi::sys::p2p::ReqId,
        MPI_Comm,
        Box<vmpi::sys::comm::mgmt::PendingComm>,
    )>,
    pub bsend: crate::p2p::BsendBuf,
    pub user_classes: Vec<c_int>,
    /// user error code -> its class
    pub user_codes: HashMap<c_int, c_int>,
    pub err_strings: HashMap<c_int, String>,
    /// The largest class or code added (MPI_LASTUSEDCODE); MPI_ERR_LASTCODE until
    /// the first.
    pub last_code: c_int,
    pub type_names: HashMap<MPI_Datatype, String>,
    pub main_thread: Option<std::thread::ThreadId>,
    pub thread_level: c_int,
    // datatypes and ops (capi-dt)
    pub dtypes: Table<crate::dtype::DtObj>,
    pub ops: Table<crate::op::OpObj>,
    /// Unpacks (and temporaries) waiting for an engine request to complete.
    pub dt_fixups: HashMap<vmpi::sys::p2p::ReqId, crate::dtype::Fixup>,
    /// The MPI_Type_create_f90_* types: handle -> (combiner, p, r), one per
    /// distinct call (repeated calls give the same handle).
    pub f90_types: HashMap<MPI_Datatype, (c_int, c_int, c_int)>,
    // groups, topologies, sessions (capi-comm)
    pub groups: Table<vmpi::sys::comm::Group>,
    pub topos: HashMap<MPI_Comm, crate::topo::Topo>,
    pub comm_infos: HashMap<MPI_Comm, crate::info::InfoObj>,
    pub sessions: Table<crate::session::SessionObj>,
    /// The runtime was started by MPI_Session_init (finalized with the last session).
    pub session_owns_runtime: bool,
}

static ST: OnceLock<Mutex<State>> = OnceLock::new();

pub fn st() -> MutexGuard<'static, State> {
    ST.get_or_init(|| {
        Mutex::new(State {
            world: None,
            comms: HashMap::new(),
            unready: HashSet::new(),
            next_comm: 0,
            reqs: Table::new(DYN_REQUEST),
            msgs: Table::new(DYN_MESSAGE),
            infos: Table::new(DYN_INFO),
            errhs: Table::new(DYN_ERRH),
            keyvals: Table::new(DYN_KEYVAL),
            type_attrs: HashMap::new(),
            detached: Vec::new(),
            freed_idups: Vec::new(),
            bsend: Default::default(),
            user_classes: Vec::new(),
            user_codes: HashMap::new(),
            err_strings: HashMap::new(),
            last_code: MPI_ERR_LASTCODE,
            type_names: HashMap::new(),
            main_thread: None,
            thread_level: MPI_THREAD_MULTIPLE,
            // datatypes and ops (capi-dt)
            dtypes: Table::new(crate::dtype::DYN_DTYPE),
            ops: Table::new(crate::op::DYN_OP),
            dt_fixups: HashMap::new(),
            f90_types: HashMap::new(),
            // groups, topologies, sessions (capi-comm)
            groups: Table::new(crate::group::DYN_GROUP),
            topos: HashMap::new(),
            comm_infos: HashMap::new(),
            sessions: Table::new(crate::session::DYN_SESSION),
            session_owns_runtime: false,
        })
    })
    .lock()
    .unwrap_or_else(|p| p.into_inner())
}

pub fn world_rank() -> Option<usize> {
    st().world.map(|w| w.0)
}

/// The error handler that hears about errors on `comm` (MPI_COMM_WORLD's for a
/// bad or null communicator, fatal before MPI_Init).
pub fn errhandler_of(comm: MPI_Comm) -> Handler {
    let s = st();
    let (h, c) = match s.comm_obj(comm) {
        Some(o) => (o.errh, comm),
        None => match s.comm_obj(MPI_COMM_WORLD) {
            Some(o) => (o.errh, MPI_COMM_WORLD),
            None => (MPI_ERRORS_ARE_FATAL, MPI_COMM_WORLD),
        },
    };
    match h {
        MPI_ERRORS_RETURN | MPIR_ERRORS_THROW_EXCEPTIONS => Handler::Return,
        MPI_ERRORS_ARE_FATAL | MPI_ERRORS_ABORT => Handler::Fatal,
        _ => match s.errhs.get(h) {
            Some(f) => Handler::User(*f, c),
            None => Handler::Fatal,
        },
    }
}

impl State {
    /// The fixup of engine request `id`, taken out (no hashing while there are none).
    pub fn take_fixup(&mut self, id: vmpi::sys::p2p::ReqId) -> Option<crate::dtype::Fixup> {
        if self.dt_fixups.is_empty() {
            return None;
        }
        self.dt_fixups.remove(&id)
    }

    /// The communicator behind `h`, or MPI_ERR_COMM.
    pub fn comm(&self, h: MPI_Comm) -> R<&CommObj> {
        if self.world.is_none() {
            return Err(err(
                MPI_ERR_OTHER,
                "MPI is not initialized (or already finalized)",
            ));
        }
        if h == MPI_COMM_NULL {
            return Err(err(MPI_ERR_COMM, "null communicator (MPI_COMM_NULL)"));
        }
        if !self.unready.is_empty() && self.unready.contains(&h) {
            return Err(err(
                MPI_ERR_COMM,
                format!(
                    "communicator {:#x} is still being made by MPI_Comm_idup: complete its request first",
                    h as u32
                ),
            ));
        }
        self.comms.get(&h).ok_or_else(|| {
            err(
                MPI_ERR_COMM,
                format!("invalid communicator {:#x}", h as u32),
            )
        })
    }
    pub fn comm_mut(&mut self, h: MPI_Comm) -> R<&mut CommObj> {
        self.comm(h)?;
        Ok(self.comms.get_mut(&h).expect("checked"))
    }
    pub fn comm_obj(&self, h: MPI_Comm) -> Option<&CommObj> {
        self.comms.get(&h)
    }
    pub fn insert_comm(&mut self, h: MPI_Comm, o: CommObj) {
        COMMS_GEN.fetch_add(1, Ordering::Release);
        self.comms.insert(h, o);
    }
    pub fn remove_comm(&mut self, h: MPI_Comm) -> Option<CommObj> {
        COMMS_GEN.fetch_add(1, Ordering::Release);
        forget_cached_comm();
        self.unready.remove(&h);
        self.comms.remove(&h)
    }
    /// Mark `h` as being made by MPI_Comm_idup (see `unready`).
    pub fn set_unready(&mut self, h: MPI_Comm) {
        self.unready.insert(h);
    }
    /// The communicator an MPI_Comm_idup made for `h`: usable from now on.
    pub fn install_comm(&mut self, h: MPI_Comm, c: vmpi::sys::comm::Comm) {
        COMMS_GEN.fetch_add(1, Ordering::Release);
        self.unready.remove(&h);
        if let Some(o) = self.comms.get_mut(&h) {
            o.comm = c;
        }
    }
    pub fn clear_comms(&mut self) {
        COMMS_GEN.fetch_add(1, Ordering::Release);
        forget_cached_comm();
        self.unready.clear();
        self.comms.clear();
    }
}

/// Bumped (under the state lock) whenever a handle enters or leaves the
/// communicator table: a thread's cached lookup is good while it is unchanged.
static COMMS_GEN: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The communicator this thread looked up last: handle, table generation then,
    /// and the core communicator.
    static LAST_COMM: RefCell<Option<(MPI_Comm, u64, vmpi::sys::comm::Comm)>> =
        const { RefCell::new(None) };
}

/// Drop this thread's cached communicator (a freed one would otherwise keep its
/// shared collective area mapped until the thread's next lookup; other threads'
/// caches let go at theirs).
fn forget_cached_comm() {
    // try_with: nothing to forget once the thread's locals are gone.
    let _ = LAST_COMM.try_with(|last| {
        if let Ok(mut l) = last.try_borrow_mut() {
            *l = None;
        }
    });
}

/// Run `f` on the core communicator behind `h`. The communicator a thread used
/// last is kept in a thread-local cache, so the common case (the same
/// communicator again) takes no lock, hashes nothing and clones nothing: each of
/// those is a locked instruction or more, and a locked instruction right after a
/// collective stored its flag in shared memory waits for that store to reach the
/// peer. A nested call (from a user function inside `f`) on another
/// communicator uses a clone instead of the cache.
/// A bad handle is MPI_ERR_COMM naming `call`.
pub fn with_comm<T>(
    call: &str,
    h: MPI_Comm,
    f: impl FnOnce(&vmpi::sys::comm::Comm) -> R<T>,
) -> R<T> {
    let lookup = || comm(h).map_err(|e| err(e.code, format!("{call}: {}", e.msg)));
    let mut f = Some(f);
    let mut run = |c: &vmpi::sys::comm::Comm| (f.take().expect("called once"))(c);
    let cached = LAST_COMM.try_with(|last| {
        // Read before the table: a change after it makes the entry stale, never
        // wrongly fresh.
        let gen = COMMS_GEN.load(Ordering::Acquire);
        if let Ok(l) = last.try_borrow() {
            if let Some((lh, lgen, c)) = l.as_ref() {
                if *lh == h && *lgen == gen {
                    return run(c);
                }
            }
        }
        let c = lookup()?;
        match last.try_borrow_mut() {
            Ok(mut l) => {
                *l = Some((h, gen, c));
                drop(l);
                let l = last.borrow();
                run(&l.as_ref().expect("just stored").2)
            }
            Err(_) => run(&c),
        }
    });
    match cached {
        Ok(r) => r,
        // The thread's locals are being torn down: look up and clone.
        Err(_) => run(&lookup()?),
    }
}

/// A clone of the core communicator behind `h`.
pub fn comm(h: MPI_Comm) -> R<vmpi::sys::comm::Comm> {
    Ok(st().comm(h)?.comm.clone())
}
