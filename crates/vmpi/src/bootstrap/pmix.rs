//! PMIx client (`srun --mpi=pmix`, PRRTE): libpmix is loaded at run time with
//! `dlopen` (crate `libloading`), so the library builds and runs where libpmix is
//! not installed; only a rank that the environment puts under a PMIx server needs it.
//!
//! All of vmpi's PMIx FFI is in this module: the few types of `pmix_common.h` it
//! passes (sizes checked against OpenPMIx 4.2 at compile time, offsets in a test), the library
//! loader, and the calls PMIx_Init, PMIx_Put / Commit / Fence / Get, PMIx_Abort and
//! PMIx_Finalize.

use crate::error::{Error, Result};
use std::ffi::{c_char, c_int, CStr, CString};

/// Where libpmix is looked for, in order: the runtime package's soname (Debian's
/// `libpmix2`), then the development link (`libpmix-dev`).
pub const LIBRARY_NAMES: &[&str] = &["libpmix.so.2", "libpmix.so"];

const PMIX_MAX_NSLEN: usize = 255;
const PMIX_MAX_KEYLEN: usize = 511;
const PMIX_SUCCESS: c_int = 0;
const PMIX_ERR_NOT_FOUND: c_int = -46;
const PMIX_RANK_WILDCARD: u32 = u32::MAX - 1;
const PMIX_GLOBAL: u8 = 3;
const PMIX_BOOL: u16 = 1;
const PMIX_STRING: u16 = 3;
const PMIX_SIZE: u16 = 4;
const PMIX_UINT32: u16 = 14;
const PMIX_UINT64: u16 = 15;
const PMIX_JOB_SIZE: &[u8] = b"pmix.job.size\0";
const PMIX_COLLECT_DATA: &str = "pmix.collect";

/// `pmix_proc_t`.
#[repr(C)]
#[derive(Clone, Copy)]
struct Proc {
    nspace: [c_char; PMIX_MAX_NSLEN + 1],
    rank: u32,
}

/// The part of `pmix_value_t`'s union this client reads or writes; `_pad` gives the
/// union its real size (the largest members are 24 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
union ValueData {
    flag: bool,
    string: *mut c_char,
    size: usize,
    uint32: u32,
    uint64: u64,
    _pad: [u64; 3],
}

/// `pmix_value_t`.
#[repr(C)]
#[derive(Clone, Copy)]
struct Value {
    kind: u16,
    data: ValueData,
}

/// `pmix_info_t`.
#[repr(C)]
#[derive(Clone, Copy)]
struct Info {
    key: [c_char; PMIX_MAX_KEYLEN + 1],
    flags: u32,
    value: Value,
}

// The layouts of OpenPMIx 4.2 (x86_64 and aarch64 LP64), measured with its headers.
const _: () = assert!(std::mem::size_of::<Proc>() == 260);
const _: () = assert!(std::mem::size_of::<Value>() == 32);
const _: () = assert!(std::mem::size_of::<Info>() == 552);

type InitFn = unsafe extern "C" fn(*mut Proc, *mut Info, usize) -> c_int;
type FinalizeFn = unsafe extern "C" fn(*const Info, usize) -> c_int;
type AbortFn = unsafe extern "C" fn(c_int, *const c_char, *mut Proc, usize) -> c_int;
type PutFn = unsafe extern "C" fn(u8, *const c_char, *mut Value) -> c_int;
type CommitFn = unsafe extern "C" fn() -> c_int;
type FenceFn = unsafe extern "C" fn(*const Proc, usize, *const Info, usize) -> c_int;
type GetFn =
    unsafe extern "C" fn(*const Proc, *const c_char, *const Info, usize, *mut *mut Value) -> c_int;
type ValueDestructFn = unsafe extern "C" fn(*mut Value);
type ErrorStringFn = unsafe extern "C" fn(c_int) -> *const c_char;
type VersionFn = unsafe extern "C" fn() -> *const c_char;

/// libpmix's entry points. The library is never unloaded (PMIx runs threads of its
/// own until the process ends), so the function pointers stay valid.
pub struct Lib {
    /// Which file was loaded.
    pub name: &'static str,
    init: InitFn,
    finalize: FinalizeFn,
    abort: AbortFn,
    put: PutFn,
    commit: CommitFn,
    fence: FenceFn,
    get: GetFn,
    value_destruct: ValueDestructFn,
    error_string: ErrorStringFn,
    version: VersionFn,
}

impl Lib {
    /// Load the first of `names` that opens and has every entry point.
    pub fn load(names: &[&'static str]) -> Result<Lib> {
        let mut tried = Vec::new();
        for &name in names {
            // SAFETY: loading libpmix runs its ELF constructors, which only set up
            // its own state; RTLD_GLOBAL lets the MCA plugins it dlopens find its
            // symbols, RTLD_NOW reports a missing dependency here and not at a call.
            let lib = match unsafe {
                libloading::os::unix::Library::open(Some(name), libc::RTLD_NOW | libc::RTLD_GLOBAL)
            } {
                Ok(l) => l,
                Err(e) => {
                    tried.push(format!("{name}: {e}"));
                    continue;
                }
            };
            match Lib::resolve(&lib, name) {
                Ok(l) => {
                    // Never unloaded: the pointers in `l` point into it.
                    std::mem::forget(lib);
                    return Ok(l);
                }
                Err(e) => tried.push(format!("{name}: {e}")),
            }
        }
        Err(Error::other(format!(
            "MPI_Init: the environment names a PMIx server (PMIX_NAMESPACE is set, e.g. \
             srun --mpi=pmix) but libpmix cannot be loaded ({}); install it (Debian: \
             apt-get install libpmix2) or start the job with srun --mpi=pmi2",
            tried.join("; ")
        )))
    }

    fn resolve(lib: &libloading::os::unix::Library, name: &'static str) -> Result<Lib> {
        fn sym<T: Copy>(lib: &libloading::os::unix::Library, s: &[u8]) -> Result<T> {
            // SAFETY: each `T` below is the C prototype of the symbol it names, as
            // declared in OpenPMIx's pmix.h / pmix_common.h (4.x, stable since 2.0).
            unsafe { lib.get::<T>(s) }.map(|f| *f).map_err(|e| {
                Error::other(format!(
                    "no symbol {}: {e}",
                    String::from_utf8_lossy(&s[..s.len() - 1])
                ))
            })
        }
        Ok(Lib {
            name,
            init: sym(lib, b"PMIx_Init\0")?,
            finalize: sym(lib, b"PMIx_Finalize\0")?,
            abort: sym(lib, b"PMIx_Abort\0")?,
            put: sym(lib, b"PMIx_Put\0")?,
            commit: sym(lib, b"PMIx_Commit\0")?,
            fence: sym(lib, b"PMIx_Fence\0")?,
            get: sym(lib, b"PMIx_Get\0")?,
            value_destruct: sym(lib, b"PMIx_Value_destruct\0")?,
            error_string: sym(lib, b"PMIx_Error_string\0")?,
            version: sym(lib, b"PMIx_Get_version\0")?,
        })
    }

    /// The library's version string (`OpenPMIx 4.2.2 ...`).
    pub fn version(&self) -> String {
        // SAFETY: PMIx_Get_version takes nothing and returns a pointer to a static
        // NUL-terminated string (or NULL, checked), valid for the library's life.
        unsafe {
            let p = (self.version)();
            if p.is_null() {
                String::new()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        }
    }

    fn error(&self, call: &str, rc: c_int) -> Error {
        // SAFETY: PMIx_Error_string maps a status to a static NUL-terminated string
        // (NULL checked); any integer is a valid argument.
        let text = unsafe {
            let p = (self.error_string)(rc);
            if p.is_null() {
                String::new()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        Error::other(format!("PMIx: {call} failed: {text} ({rc})"))
    }
}

fn c_string(what: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::intern(format!("PMIx: {what} {s:?} contains NUL")))
}

/// A connection to the PMIx server of this rank's node.
pub struct Client {
    lib: Lib,
    me: Proc,
    pub rank: usize,
    pub size: usize,
    /// The namespace (`slurm.pmix.<job>.<step>` under Slurm), used as the kvsname.
    pub kvsname: String,
    done: bool,
}

impl Client {
    /// Load libpmix, PMIx_Init, and read the job size (PMIX_JOB_SIZE).
    pub fn init() -> Result<Client> {
        Client::init_with(LIBRARY_NAMES)
    }

    pub fn init_with(names: &[&'static str]) -> Result<Client> {
        let lib = Lib::load(names)?;
        let mut me = Proc {
            nspace: [0; PMIX_MAX_NSLEN + 1],
            rank: 0,
        };
        // SAFETY: `me` is a valid, writable pmix_proc_t that PMIx_Init fills; no
        // info array is passed (NULL, 0).
        let rc = unsafe { (lib.init)(&mut me, std::ptr::null_mut(), 0) };
        if rc != PMIX_SUCCESS {
            return Err(lib.error("PMIx_Init", rc));
        }
        // The namespace is NUL-terminated inside its array (PMIx guarantees it; the
        // last byte is forced to NUL anyway).
        me.nspace[PMIX_MAX_NSLEN] = 0;
        let kvsname = me
            .nspace
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8 as char)
            .collect::<String>();
        let mut c = Client {
            lib,
            me,
            rank: me.rank as usize,
            size: 0,
            kvsname,
            done: false,
        };
        let job = Proc {
            rank: PMIX_RANK_WILDCARD,
            ..c.me
        };
        let key = CStr::from_bytes_with_nul(PMIX_JOB_SIZE).expect("NUL-terminated");
        c.size = match c.get_raw(&job, key)? {
            Some(Got::Int(n)) if n > 0 => n as usize,
            other => {
                return Err(Error::other(format!(
                    "MPI_Init: PMIx gave no usable job size (PMIX_JOB_SIZE: {})",
                    other.map_or("not found".into(), |g| g.describe())
                )))
            }
        };
        if c.rank >= c.size {
            return Err(Error::other(format!(
                "MPI_Init: PMIx rank {} is not below the job size {}",
                c.rank, c.size
            )));
        }
        Ok(c)
    }

    /// The loaded library and its version, for messages.
    pub fn library(&self) -> String {
        let v = self.lib.version();
        let short = v.split(" (").next().unwrap_or(&v);
        format!("{short} from {}", self.lib.name)
    }

    pub fn put(&mut self, key: &str, value: &str) -> Result<()> {
        let k = c_string("key", key)?;
        let v = c_string("value", value)?;
        let mut val = Value {
            kind: PMIX_STRING,
            data: ValueData { _pad: [0; 3] },
        };
        val.data.string = v.as_ptr() as *mut c_char;
        // SAFETY: key and value are NUL-terminated strings alive across the call;
        // PMIx_Put copies the value (it does not keep or free the pointer).
        let rc = unsafe { (self.lib.put)(PMIX_GLOBAL, k.as_ptr(), &mut val) };
        if rc != PMIX_SUCCESS {
            return Err(self.lib.error("PMIx_Put", rc));
        }
        Ok(())
    }

    /// Commit our puts and wait for every rank of the namespace, collecting the data
    /// (so the gets after it are local).
    pub fn fence(&mut self) -> Result<()> {
        // SAFETY: PMIx_Commit takes no arguments.
        let rc = unsafe { (self.lib.commit)() };
        if rc != PMIX_SUCCESS {
            return Err(self.lib.error("PMIx_Commit", rc));
        }
        let mut info = Info {
            key: [0; PMIX_MAX_KEYLEN + 1],
            flags: 0,
            value: Value {
                kind: PMIX_BOOL,
                data: ValueData { _pad: [0; 3] },
            },
        };
        for (d, s) in info.key.iter_mut().zip(PMIX_COLLECT_DATA.bytes()) {
            *d = s as c_char;
        }
        info.value.data.flag = true;
        // SAFETY: NULL procs with nprocs 0 means every proc of our namespace; `info`
        // is one valid pmix_info_t (NUL-terminated key, a bool value) alive across
        // this blocking call.
        let rc = unsafe { (self.lib.fence)(std::ptr::null(), 0, &info, 1) };
        if rc != PMIX_SUCCESS {
            return Err(self.lib.error("PMIx_Fence", rc));
        }
        Ok(())
    }

    /// The string `key` that rank `src` put, None if it put none.
    pub fn get(&mut self, src: usize, key: &str) -> Result<Option<String>> {
        let k = c_string("key", key)?;
        let p = Proc {
            rank: src as u32,
            ..self.me
        };
        match self.get_raw(&p, &k)? {
            None => Ok(None),
            Some(Got::Str(s)) => Ok(Some(s)),
            Some(other) => Err(Error::other(format!(
                "PMIx: {key} of rank {src} is {}, not a string",
                other.describe()
            ))),
        }
    }

    fn get_raw(&self, p: &Proc, key: &CStr) -> Result<Option<Got>> {
        let mut out: *mut Value = std::ptr::null_mut();
        // SAFETY: `p` and `key` are valid for the call; no info array; PMIx_Get
        // stores a pointer to a value it allocated in `out` on success.
        let rc = unsafe { (self.lib.get)(p, key.as_ptr(), std::ptr::null(), 0, &mut out) };
        if rc == PMIX_ERR_NOT_FOUND {
            return Ok(None);
        }
        if rc != PMIX_SUCCESS {
            return Err(self.lib.error("PMIx_Get", rc));
        }
        if out.is_null() {
            return Ok(None);
        }
        // SAFETY: on success `out` points to a pmix_value_t owned by us; its `kind`
        // says which union member is valid (a string is NUL-terminated or NULL).
        // PMIx_Value_destruct frees what the value holds and free() the value itself,
        // as PMIX_VALUE_RELEASE does; `out` is not used afterwards.
        let got = unsafe {
            let v = &*out;
            let got = match v.kind {
                PMIX_STRING if v.data.string.is_null() => Got::Str(String::new()),
                PMIX_STRING => {
                    Got::Str(CStr::from_ptr(v.data.string).to_string_lossy().into_owned())
                }
                PMIX_UINT32 => Got::Int(v.data.uint32 as u64),
                PMIX_UINT64 => Got::Int(v.data.uint64),
                PMIX_SIZE => Got::Int(v.data.size as u64),
                k => Got::Other(k),
            };
            (self.lib.value_destruct)(out);
            libc::free(out.cast());
            got
        };
        Ok(Some(got))
    }

    /// PMIx_Abort for the whole namespace; the server ends the job. The message goes
    /// to stderr first (Slurm does not print it).
    pub fn abort(&mut self, code: i32, msg: &str) -> Result<()> {
        eprintln!("vmpi: rank {}: MPI_Abort({code}): {msg}", self.rank);
        let m = c_string("message", &msg.replace('\0', " "))?;
        // SAFETY: `m` is NUL-terminated and alive across the call; NULL procs with
        // nprocs 0 means every proc of our namespace.
        let rc = unsafe { (self.lib.abort)(code, m.as_ptr(), std::ptr::null_mut(), 0) };
        if rc != PMIX_SUCCESS {
            eprintln!("vmpi: {}", self.lib.error("PMIx_Abort", rc));
        }
        std::thread::sleep(std::time::Duration::from_secs(10));
        std::process::exit(code)
    }

    pub fn finalize(&mut self) -> Result<()> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        // SAFETY: no info array (NULL, 0); called once, after every other call.
        let rc = unsafe { (self.lib.finalize)(std::ptr::null(), 0) };
        if rc != PMIX_SUCCESS {
            return Err(self.lib.error("PMIx_Finalize", rc));
        }
        Ok(())
    }
}

/// A value PMIx_Get returned.
enum Got {
    Str(String),
    Int(u64),
    Other(u16),
}

impl Got {
    fn describe(&self) -> String {
        match self {
            Got::Str(s) => format!("the string {s:?}"),
            Got::Int(n) => format!("the number {n}"),
            Got::Other(t) => format!("a value of PMIx type {t}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_openpmix_4() {
        let v = Value {
            kind: 0,
            data: ValueData { _pad: [0; 3] },
        };
        let base = std::ptr::addr_of!(v) as usize;
        assert_eq!(std::ptr::addr_of!(v.data) as usize - base, 8);
        let i = Info {
            key: [0; PMIX_MAX_KEYLEN + 1],
            flags: 0,
            value: v,
        };
        let base = std::ptr::addr_of!(i) as usize;
        assert_eq!(std::ptr::addr_of!(i.flags) as usize - base, 512);
        assert_eq!(std::ptr::addr_of!(i.value) as usize - base, 520);
    }

    #[test]
    fn a_missing_library_is_a_clear_error() {
        let e = Lib::load(&["libvmpi-no-such-pmix.so.9"]).err().unwrap();
        let m = e.to_string();
        assert!(m.contains("libvmpi-no-such-pmix.so.9"), "{m}");
        assert!(
            m.contains("PMIX_NAMESPACE") && m.contains("libpmix2"),
            "{m}"
        );
        let e = Client::init_with(&["libvmpi-no-such-pmix.so.9"])
            .err()
            .unwrap();
        assert!(e.to_string().contains("cannot be loaded"), "{e}");
    }

    #[test]
    fn a_library_without_pmix_is_rejected() {
        // libc opens but has no PMIx_Init.
        let e = Lib::load(&["libc.so.6"]).err().unwrap();
        assert!(e.to_string().contains("no symbol PMIx_Init"), "{e}");
    }

    /// Where libpmix is installed (Debian: libpmix2, pulled in by libpmix-dev and
    /// slurm's PMIx plugin), every entry point resolves.
    #[test]
    fn loads_libpmix_where_installed() {
        match Lib::load(LIBRARY_NAMES) {
            Ok(l) => assert!(l.version().contains("PMIx"), "{}", l.version()),
            Err(e) => eprintln!("libpmix not installed here, not loaded: {e}"),
        }
    }
}
