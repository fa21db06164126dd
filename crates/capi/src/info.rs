//! Info objects: ordered (key, value) string pairs. MPI_INFO_ENV describes how the
//! process was started and cannot be changed.

use crate::consts::*;
use crate::dtype::out;
use crate::err::{fail, R};
use crate::state::st;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};

#[derive(Clone, Default)]
pub struct InfoObj {
    pub pairs: Vec<(String, String)>,
}

fn env_info() -> InfoObj {
    env_info_of(std::env::args().collect())
}

/// MPI_INFO_ENV's pairs for the command line `args` (program first).
fn env_info_of(args: Vec<String>) -> InfoObj {
    let mut pairs = Vec::new();
    if let Some(c) = args.first() {
        pairs.push(("command".to_string(), c.clone()));
    }
    if args.len() > 1 {
        pairs.push(("argv".to_string(), args[1..].join(" ")));
    }
    if let Some((_, n)) = st().world {
        pairs.push(("maxprocs".to_string(), n.to_string()));
    }
    if let Ok(d) = std::env::current_dir() {
        pairs.push(("wdir".to_string(), d.display().to_string()));
    }
    pairs.push((
        "thread_level".to_string(),
        "MPI_THREAD_MULTIPLE".to_string(),
    ));
    InfoObj { pairs }
}

/// A copy of the info object behind `h`, or MPI_ERR_INFO.
pub fn get(h: MPI_Info) -> R<InfoObj> {
    if h == MPI_INFO_ENV {
        return Ok(env_info());
    }
    match st().infos.get(h) {
        Some(i) => Ok(i.clone()),
        None if h == MPI_INFO_NULL => fail(MPI_ERR_INFO, "null info (MPI_INFO_NULL)"),
        None => fail(MPI_ERR_INFO, format!("invalid info object {:#x}", h as u32)),
    }
}

fn with_mut<T>(h: MPI_Info, f: impl FnOnce(&mut InfoObj) -> R<T>) -> R<T> {
    if h == MPI_INFO_ENV {
        return fail(MPI_ERR_INFO, "MPI_INFO_ENV cannot be changed");
    }
    let mut s = st();
    match s.infos.get_mut(h) {
        Some(i) => f(i),
        None if h == MPI_INFO_NULL => fail(MPI_ERR_INFO, "null info (MPI_INFO_NULL)"),
        None => fail(MPI_ERR_INFO, format!("invalid info object {:#x}", h as u32)),
    }
}

unsafe fn key_arg(key: *const c_char) -> R<String> {
    if key.is_null() {
        return fail(MPI_ERR_INFO_KEY, "key is a null pointer");
    }
    let k = CStr::from_ptr(key).to_string_lossy().into_owned();
    if k.is_empty() || k.len() > MPI_MAX_INFO_KEY {
        return fail(
            MPI_ERR_INFO_KEY,
            format!(
                "invalid key of length {} (must be 1..={MPI_MAX_INFO_KEY})",
                k.len()
            ),
        );
    }
    Ok(k)
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Info_create / PMPI_Info_create(info: *mut MPI_Info) {
    let o = out(info, "info")?;
    *o = st().infos.insert(InfoObj::default());
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Info_set / PMPI_Info_set(info: MPI_Info, key: *const c_char, value: *const c_char) {
    let k = key_arg(key)?;
    if value.is_null() {
        return fail(MPI_ERR_INFO_VALUE, "value is a null pointer");
    }
    let v = CStr::from_ptr(value).to_string_lossy().into_owned();
    if v.is_empty() || v.len() > MPI_MAX_INFO_VAL {
        return fail(MPI_ERR_INFO_VALUE, format!("invalid value of length {} (must be 1..={MPI_MAX_INFO_VAL})", v.len()));
    }
    with_mut(info, |i| {
        match i.pairs.iter_mut().find(|(a, _)| *a == k) {
            Some(p) => p.1 = v,
            None => i.pairs.push((k, v)),
        }
        Ok(())
    })
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Info_delete / PMPI_Info_delete(info: MPI_Info, key: *const c_char) {
    let k = key_arg(key)?;
    with_mut(info, |i| match i.pairs.iter().position(|(a, _)| *a == k) {
        Some(p) => {
            i.pairs.remove(p);
            Ok(())
        }
        None => fail(MPI_ERR_INFO_NOKEY, format!("no key \"{k}\"")),
    })
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Info_get / PMPI_Info_get(info: MPI_Info, key: *const c_char, valuelen: c_int, value: *mut c_char, flag: *mut c_int) {
    let k = key_arg(key)?;
    if valuelen < 0 {
        return fail(MPI_ERR_ARG, format!("invalid valuelen {valuelen}"));
    }
    let i = get(info)?;
    let f = out(flag, "flag")?;
    match i.pairs.iter().find(|(a, _)| *a == k) {
        Some((_, v)) => {
            if value.is_null() {
                return fail(MPI_ERR_ARG, "value is a null pointer");
            }
            // Up to valuelen characters and the terminating null.
            let n = v.len().min(valuelen as usize);
            std::ptr::copy_nonoverlapping(v.as_ptr() as *const c_char, value, n);
            *value.add(n) = 0;
            *f = 1;
        }
        None => *f = 0,
    }
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Info_get_valuelen / PMPI_Info_get_valuelen(info: MPI_Info, key: *const c_char, valuelen: *mut c_int, flag: *mut c_int) {
    let k = key_arg(key)?;
    let i = get(info)?;
    let f = out(flag, "flag")?;
    match i.pairs.iter().find(|(a, _)| *a == k) {
        Some((_, v)) => {
            *out(valuelen, "valuelen")? = v.len() as c_int;
            *f = 1;
        }
        None => *f = 0,
    }
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Info_get_nkeys / PMPI_Info_get_nkeys(info: MPI_Info, nkeys: *mut c_int) {
    let i = get(info)?;
    *out(nkeys, "nkeys")? = i.pairs.len() as c_int;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Info_get_nthkey / PMPI_Info_get_nthkey(info: MPI_Info, n: c_int, key: *mut c_char) {
    let i = get(info)?;
    if n < 0 || n as usize >= i.pairs.len() {
        return fail(MPI_ERR_ARG, format!("invalid key index {n} (the object has {} keys)", i.pairs.len()));
    }
    if key.is_null() {
        return fail(MPI_ERR_ARG, "key is a null pointer");
    }
    let k = &i.pairs[n as usize].0;
    std::ptr::copy_nonoverlapping(k.as_ptr() as *const c_char, key, k.len());
    *key.add(k.len()) = 0;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Info_dup / PMPI_Info_dup(info: MPI_Info, newinfo: *mut MPI_Info) {
    let i = get(info)?;
    let o = out(newinfo, "newinfo")?;
    *o = st().infos.insert(i);
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Info_free / PMPI_Info_free(info: *mut MPI_Info) {
    let h = out(info, "info")?;
    if *h == MPI_INFO_ENV {
        return fail(MPI_ERR_INFO, "MPI_INFO_ENV cannot be freed");
    }
    match st().infos.remove(*h) {
        Some(_) => {
            *h = MPI_INFO_NULL;
            Ok(())
        }
        None => fail(MPI_ERR_INFO, format!("invalid info object {:#x}", *h as u32)),
    }
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Info_create_env / PMPI_Info_create_env(argc: c_int, argv: *mut *mut c_char, info: *mut MPI_Info) {
    let o = out(info, "info")?;
    // MPI-4.0 §10.4: the argc and argv of main, when the application has them
    // (may be 0 and NULL); the process's own command line otherwise.
    let args = if argc > 0 && !argv.is_null() {
        (0..argc as usize)
            .map(|k| *argv.add(k))
            .take_while(|p| !p.is_null())
            .map(|p| CStr::from_ptr(p).to_string_lossy().into_owned())
            .collect()
    } else {
        std::env::args().collect()
    };
    let i = env_info_of(args); // takes the state lock itself
    *o = st().infos.insert(i);
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Info_get_string / PMPI_Info_get_string(info: MPI_Info, key: *const c_char, buflen: *mut c_int, value: *mut c_char, flag: *mut c_int) {
    let k = key_arg(key)?;
    let i = get(info)?;
    let f = out(flag, "flag")?;
    let b = out(buflen, "buflen")?;
    if *b < 0 {
        return fail(MPI_ERR_ARG, format!("invalid buflen {}", *b));
    }
    let Some((_, v)) = i.pairs.iter().find(|(a, _)| *a == k) else {
        *f = 0;
        return Ok(());
    };
    // MPI-4.0 §10: up to buflen - 1 characters and a null are written; buflen
    // becomes the value's length plus one (so 0 asks for the size only).
    let full = c_int::try_from(v.len() + 1)
        .or_else(|_| fail(MPI_ERR_INFO_VALUE, "the value is longer than an int can say"))?;
    if *b > 0 {
        if value.is_null() {
            return fail(MPI_ERR_ARG, "value is a null pointer");
        }
        let n = v.len().min(*b as usize - 1);
        std::ptr::copy_nonoverlapping(v.as_ptr() as *const c_char, value, n);
        *value.add(n) = 0;
    }
    *b = full;
    *f = 1;
    Ok(())
}}
