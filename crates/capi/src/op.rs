//! Reduction operations in C: the predefined `MPI_Op` handles (MPICH's values
//! 0x58000001.. mapped to `vmpi::sys::op::Op`), user operations (MPI_Op_create, handles
//! `0x98000000 | index` as MPICH's), MPI_Reduce_local, and the representation a
//! reduction works on ([`RedSpec`]):
//!
//! - `Direct`: a predefined type, or a contiguous derived one: the user's buffer.
//! - `Dense(kind)`: a predefined op on a non-contiguous type made of one element
//!   kind: the elements gathered into a dense array (`kind.size()` apart).
//! - `Packed`: a user op on a non-contiguous type: the packed bytes; the op unpacks
//!   them into temporaries with the type's layout, calls the user function with the
//!   ORIGINAL datatype handle, and packs the result back.

use crate::consts::*;
use crate::dtype::{check_count, get, out, Basic, Datatype};
use crate::err::{err, fail, R};
use crate::state::st;
use std::ffi::c_void;
use std::os::raw::c_int;
use vmpi::sys::coll::Reduction;
use vmpi::sys::op::Op;

pub const MPI_ERR_OP: c_int = 9;
pub const DYN_OP: u32 = 0x9800_0000;

/// `MPI_User_function` (MPI_Op_create).
pub type IntFn = unsafe extern "C" fn(*mut c_void, *mut c_void, *mut c_int, *mut MPI_Datatype);
/// `MPI_User_function_c` (MPI_Op_create_c): the count is an MPI_Count.
pub type LargeFn =
    unsafe extern "C" fn(*mut c_void, *mut c_void, *mut MPI_Count, *mut MPI_Datatype);

/// A user's reduction function, of either kind.
#[derive(Clone, Copy)]
pub enum UserFn {
    Int(IntFn),
    Large(LargeFn),
}

impl UserFn {
    /// The most elements one call may be given: an int function is called several
    /// times on a longer buffer (the reduction is elementwise, so that is the same).
    fn max_count(self) -> usize {
        match self {
            UserFn::Int(_) => c_int::MAX as usize,
            UserFn::Large(_) => MPI_Count::MAX as usize,
        }
    }

    /// # Safety
    /// `a` and `b` point at `n` elements of `dt` (n within [`max_count`]).
    unsafe fn call(self, a: *mut c_void, b: *mut c_void, n: usize, dt: &mut MPI_Datatype) {
        match self {
            UserFn::Int(f) => {
                let mut len = n as c_int;
                f(a, b, &mut len, dt)
            }
            UserFn::Large(f) => {
                let mut len = n as MPI_Count;
                f(a, b, &mut len, dt)
            }
        }
    }
}

pub struct OpObj {
    pub f: UserFn,
    pub commute: bool,
}

enum Resolved {
    Predef(Op),
    User(UserFn, bool),
}

fn resolve(h: MPI_Op) -> R<Resolved> {
    Ok(Resolved::Predef(match h as u32 {
        0x58000001 => Op::Max,
        0x58000002 => Op::Min,
        0x58000003 => Op::Sum,
        0x58000004 => Op::Prod,
        0x58000005 => Op::Land,
        0x58000006 => Op::Band,
        0x58000007 => Op::Lor,
        0x58000008 => Op::Bor,
        0x58000009 => Op::Lxor,
        0x5800000a => Op::Bxor,
        0x5800000b => Op::MinLoc,
        0x5800000c => Op::MaxLoc,
        0x5800000d => Op::Replace,
        0x5800000e => Op::NoOp,
        _ => {
            if h == 0x18000000 {
                return fail(MPI_ERR_OP, "null operation (MPI_OP_NULL)");
            }
            return match st().ops.get(h) {
                Some(o) => Ok(Resolved::User(o.f, o.commute)),
                None => fail(MPI_ERR_OP, format!("invalid operation {:#x}", h as u32)),
            };
        }
    }))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rep {
    Direct,
    Dense(Basic),
    Packed,
}

/// How one reduction call sees its buffers.
#[derive(Clone)]
pub struct RedSpec {
    pub red: Reduction,
    pub rep: Rep,
    pub t: std::borrow::Cow<'static, Datatype>,
    /// Bytes of one datatype element in the representation.
    pub elem: usize,
}

/// The reduction of `op` on `dt` (committed), or MPI_ERR_OP / MPI_ERR_TYPE.
pub fn spec(op: MPI_Op, dt: MPI_Datatype) -> R<RedSpec> {
    let t = crate::dtype::for_comm_cow(dt)?;
    let direct = t.basic_kind().is_some() || t.is_contiguous();
    let elem_direct = if t.basic_kind().is_some() {
        t.extent()
    } else {
        t.size()
    } as usize;
    match resolve(op)? {
        Resolved::Predef(o) => {
            let Some((k, units)) = t.reduce_kind() else {
                return fail(
                    MPI_ERR_OP,
                    format!(
                        "{} is not defined on datatype {:#x} (not made of one predefined type)",
                        o.name(),
                        dt as u32
                    ),
                );
            };
            o.check(k).map_err(|e| err(MPI_ERR_OP, e.into_message()))?;
            let rep = if direct { Rep::Direct } else { Rep::Dense(k) };
            let elem = if direct {
                elem_direct
            } else {
                units * k.size()
            };
            let red = Reduction::new(o, Some(k), k.size())?;
            Ok(RedSpec { red, rep, t, elem })
        }
        Resolved::User(f, commute) => {
            let rep = if direct { Rep::Direct } else { Rep::Packed };
            let elem = if direct {
                elem_direct
            } else {
                t.size() as usize
            };
            if elem == 0 {
                return fail(MPI_ERR_TYPE, "reduction on a zero-sized datatype");
            }
            let tt = t.clone();
            let uop = Op::user(commute, move |a: &[u8], b: &mut [u8], n: usize| {
                // Chunks of at most what the function's count type holds.
                let mut at = 0;
                while at < n {
                    let k = (n - at).min(f.max_count());
                    let r = at * elem..(at + k) * elem;
                    call_user(f, dt, &tt, rep, &a[r.clone()], &mut b[r], k);
                    at += k;
                }
                Ok(())
            });
            let red = Reduction::new(uop, None, elem)?;
            Ok(RedSpec { red, rep, t, elem })
        }
    }
}

fn call_user(
    f: UserFn,
    mut dt: MPI_Datatype,
    t: &Datatype,
    rep: Rep,
    a: &[u8],
    b: &mut [u8],
    n: usize,
) {
    if n == 0 {
        return;
    }
    // SAFETY: the user function reads n elements of dt at the pointers we give it.
    unsafe {
        match rep {
            Rep::Packed => {
                let span = (n - 1) * t.extent() as usize + t.true_extent() as usize;
                let mut x = vec![0u8; span];
                let mut y = vec![0u8; span];
                let bx = x.as_mut_ptr().wrapping_offset(-t.true_lb() as isize);
                let by = y.as_mut_ptr().wrapping_offset(-t.true_lb() as isize);
                t.unpack_range(a, 0, bx, n);
                t.unpack_range(b, 0, by, n);
                f.call(bx as *mut c_void, by as *mut c_void, n, &mut dt);
                t.pack_range(by, n, 0, b);
            }
            _ => {
                let off = -t.true_lb() as isize;
                f.call(
                    a.as_ptr().wrapping_offset(off) as *mut c_void,
                    b.as_mut_ptr().wrapping_offset(off) as *mut c_void,
                    n,
                    &mut dt,
                );
            }
        }
    }
}

impl RedSpec {
    /// Bytes of `n` elements in the representation.
    pub fn bytes(&self, n: usize) -> usize {
        n * self.elem
    }
    /// The user's buffer as one run, for `Direct`.
    pub fn direct_ptr(&self, buf: *const u8) -> *const u8 {
        buf.wrapping_offset(self.t.true_lb() as isize)
    }
    /// `n` elements at `buf` in the representation (a copy).
    pub unsafe fn load(&self, buf: *const u8, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; self.bytes(n)];
        match self.rep {
            Rep::Direct => {
                std::ptr::copy_nonoverlapping(self.direct_ptr(buf), v.as_mut_ptr(), v.len())
            }
            Rep::Packed => {
                self.t.pack_range(buf, n, 0, &mut v);
            }
            Rep::Dense(_) => {
                let mut at = 0;
                self.t.for_each_elems(n, |off, b, k| {
                    let len = k * b.size();
                    std::ptr::copy_nonoverlapping(
                        buf.offset(off as isize),
                        v.as_mut_ptr().add(at),
                        len,
                    );
                    at += len;
                });
            }
        }
        v
    }
    /// Store the representation of `n` elements back into the user's buffer.
    pub unsafe fn store(&self, data: &[u8], buf: *mut u8, n: usize) {
        match self.rep {
            Rep::Direct => std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.direct_ptr(buf) as *mut u8,
                data.len().min(self.bytes(n)),
            ),
            Rep::Packed => {
                self.t.unpack_range(data, 0, buf, n);
            }
            Rep::Dense(_) => {
                let mut at = 0;
                self.t.for_each_elems(n, |off, b, k| {
                    let len = k * b.size();
                    std::ptr::copy_nonoverlapping(
                        data.as_ptr().add(at),
                        buf.offset(off as isize),
                        len,
                    );
                    at += len;
                });
            }
        }
    }
}

fn op_create(f: Option<UserFn>, commute: c_int, op: *mut MPI_Op) -> R<()> {
    // SAFETY: `op` is the caller's output argument, checked for null by `out`.
    let o = unsafe { out(op, "op")? };
    let Some(f) = f else {
        return fail(MPI_ERR_ARG, "user_fn is a null pointer");
    };
    *o = st().ops.insert(OpObj {
        f,
        commute: commute != 0,
    });
    Ok(())
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Op_create / PMPI_Op_create(user_fn: Option<IntFn>, commute: c_int, op: *mut MPI_Op) {
    op_create(user_fn.map(UserFn::Int), commute, op)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Op_create_c / PMPI_Op_create_c(user_fn: Option<LargeFn>, commute: c_int, op: *mut MPI_Op) {
    op_create(user_fn.map(UserFn::Large), commute, op)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Op_free / PMPI_Op_free(op: *mut MPI_Op) {
    let p = out(op, "op")?;
    resolve(*p)?;
    if st().ops.remove(*p).is_none() {
        return fail(MPI_ERR_OP, format!("predefined operation {:#x} cannot be freed", *p as u32));
    }
    *p = 0x18000000; // MPI_OP_NULL
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Op_commutative / PMPI_Op_commutative(op: MPI_Op, commute: *mut c_int) {
    let c = match resolve(op)? {
        Resolved::Predef(_) => true, // MPICH: every predefined op
        Resolved::User(_, c) => c,
    };
    *out(commute, "commute")? = c as c_int;
    Ok(())
}}

/// MPI_Reduce_local(_c).
unsafe fn reduce_local(
    inbuf: *const c_void,
    inoutbuf: *mut c_void,
    count: MPI_Count,
    datatype: MPI_Datatype,
    op: MPI_Op,
) -> R<()> {
    let n = check_count(count)?;
    get(datatype)?;
    let s = spec(op, datatype)?;
    if n == 0 {
        return Ok(());
    }
    if inbuf.is_null() || inoutbuf.is_null() {
        return fail(MPI_ERR_BUFFER, "null buffer with a nonzero count");
    }
    if inbuf as usize == usize::MAX || inoutbuf as usize == usize::MAX {
        return fail(
            MPI_ERR_BUFFER,
            "MPI_IN_PLACE is not allowed in MPI_Reduce_local",
        );
    }
    s.t.packed_size(n, "MPI_Reduce_local")?;
    let a = s.load(inbuf as *const u8, n);
    let mut b = s.load(inoutbuf as *const u8, n);
    s.red.run(&a, &mut b)?;
    s.store(&b, inoutbuf as *mut u8, n);
    Ok(())
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Reduce_local / PMPI_Reduce_local(inbuf: *const c_void, inoutbuf: *mut c_void, count: c_int, datatype: MPI_Datatype, op: MPI_Op) {
    reduce_local(inbuf, inoutbuf, count.into(), datatype, op)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Reduce_local_c / PMPI_Reduce_local_c(inbuf: *const c_void, inoutbuf: *mut c_void, count: MPI_Count, datatype: MPI_Datatype, op: MPI_Op) {
    reduce_local(inbuf, inoutbuf, count, datatype, op)
}}

/// A predefined operation (one-sided accumulates take no other, MPI-3.1
/// §11.3.4), or MPI_ERR_OP.
pub fn predefined_only(h: MPI_Op) -> R<Op> {
    match resolve(h)? {
        Resolved::Predef(o) => Ok(o),
        Resolved::User(..) => fail(
            MPI_ERR_OP,
            "user-defined operations are not allowed in one-sided accumulates",
        ),
    }
}
