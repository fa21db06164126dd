//! Collective operations in the Rust API: blocking methods on [`Communicator`] and
//! nonblocking `i*` methods on [`Scope`] (their requests complete like any other
//! and work with [`super::wait_all`]).
//!
//! MPI_IN_PLACE is explicit: a send argument of type [`Input`] is either
//! `Input::Buf(&data)` (or `(&data[..]).into()`) or `Input::InPlace`, where the
//! standard allows it (the receive buffer then holds this rank's input). Counts are
//! in elements of `T`; the v-variants take counts and displacements in elements.
//!
//! On an intercommunicator (MPI-3.1 §5.2.2) the root of a rooted call passes
//! [`crate::ROOT`], the rest of its group [`crate::PROC_NULL`] (no part: their
//! buffers are not touched), the other group the root's remote rank; blocks per
//! peer are one per remote rank, and `Input::InPlace` is refused. Scan and exscan
//! are not defined there (`ErrorClass::Comm`).
//!
//! Seam for derived datatypes: every entry point here turns typed slices into
//! contiguous byte ranges ([`crate::coll::Raw`]) before building the schedule. A
//! derived-datatype entry point (the C API's `MPI_Bcast(buf, count, dtype, ...)`)
//! packs a non-contiguous send buffer into a contiguous temporary, runs the same
//! builder on the temporary, and unpacks receive temporaries on completion (for
//! the `i*` forms: a schedule `Copy` step cannot unpack, so the request's
//! completion hook must); reductions take the element kind from the datatype's
//! single [`crate::datatype::Basic`].

use super::equivalence::{bytes, bytes_mut, Equivalence};
use super::request::{Request, Scope};
use super::Communicator;
use crate::coll::{self, Args, Raw, RawMut, Reduction};
use crate::comm::Comm;
use crate::error::{Error, ErrorClass, Result};
use crate::op::Op;

/// A collective's send argument: a buffer, or MPI_IN_PLACE.
#[derive(Debug)]
pub enum Input<'a, T> {
    Buf(&'a [T]),
    InPlace,
}

impl<T> Clone for Input<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Input<'_, T> {}

impl<'a, T> From<&'a [T]> for Input<'a, T> {
    fn from(s: &'a [T]) -> Self {
        Input::Buf(s)
    }
}
impl<'a, T> From<&'a Vec<T>> for Input<'a, T> {
    fn from(s: &'a Vec<T>) -> Self {
        Input::Buf(s)
    }
}

impl<'a, T: Equivalence> Input<'a, T> {
    fn raw(&self) -> Option<Raw> {
        self.bytes().map(Raw::of)
    }
    /// The buffer's bytes; None for MPI_IN_PLACE.
    fn bytes(&self) -> Option<&'a [u8]> {
        match *self {
            Input::Buf(s) => Some(bytes(s)),
            Input::InPlace => None,
        }
    }
}

/// Pair types for MINLOC / MAXLOC with C's layout (padding made explicit so the
/// values are plain bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DoubleInt {
    pub value: f64,
    pub index: i32,
    pub pad: i32,
}
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FloatInt {
    pub value: f32,
    pub index: i32,
}
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TwoInt {
    pub value: i32,
    pub index: i32,
}
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LongInt {
    pub value: i64,
    pub index: i32,
    pub pad: i32,
}
/// Complex numbers (MPI_C_FLOAT_COMPLEX / MPI_C_DOUBLE_COMPLEX).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Complex32 {
    pub re: f32,
    pub im: f32,
}
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Complex64 {
    pub re: f64,
    pub im: f64,
}

macro_rules! kind {
    ($($t:ty => $k:ident),*) => { $(
        // SAFETY: repr(C) structs of numbers with explicit padding fields: no
        // implicit padding, every bit pattern valid.
        unsafe impl Equivalence for $t {
            fn reduce_kind() -> Option<(crate::datatype::Basic, usize)> {
                Some((crate::datatype::Basic::$k, 1))
            }
        }
    )* };
}
kind!(DoubleInt => DoubleInt, FloatInt => FloatInt, TwoInt => TwoInt, LongInt => LongInt,
    Complex32 => ComplexF32, Complex64 => ComplexF64);

impl DoubleInt {
    pub fn new(value: f64, index: i32) -> Self {
        DoubleInt {
            value,
            index,
            pad: 0,
        }
    }
}
impl LongInt {
    pub fn new(value: i64, index: i32) -> Self {
        LongInt {
            value,
            index,
            pad: 0,
        }
    }
}

/// A user operation on values of `T`: `f(in, inout)` computes inout = in op inout
/// element-wise (MPI_Op_create). Non-commutative operations are applied in
/// canonical rank order.
pub fn user_op<T: Equivalence>(
    commute: bool,
    f: impl Fn(&[T], &mut [T]) + Send + Sync + 'static,
) -> Op {
    Op::user(commute, move |a: &[u8], b: &mut [u8], n: usize| {
        let sz = std::mem::size_of::<T>();
        if a.len() < n * sz || b.len() < n * sz {
            return Err(Error::new(
                ErrorClass::Buffer,
                "user operation: short buffer",
            ));
        }
        // Copy into aligned values (schedule scratch is aligned, but user buffers
        // of a different type may not be).
        let mut x: Vec<T> = Vec::with_capacity(n);
        let mut y: Vec<T> = Vec::with_capacity(n);
        // SAFETY: T is plain (Equivalence): any bytes are valid values; capacity n.
        unsafe {
            std::ptr::copy_nonoverlapping(a.as_ptr(), x.as_mut_ptr().cast::<u8>(), n * sz);
            std::ptr::copy_nonoverlapping(b.as_ptr(), y.as_mut_ptr().cast::<u8>(), n * sz);
            x.set_len(n);
            y.set_len(n);
        }
        f(&x, &mut y);
        b[..n * sz].copy_from_slice(bytes(&y));
        Ok(())
    })
}

fn red<T: Equivalence>(op: &Op) -> Result<Reduction> {
    Reduction::new(
        op.clone(),
        T::reduce_kind().map(|k| k.0),
        std::mem::size_of::<T>().max(1),
    )
}

fn elems<T>(v: &[usize]) -> Vec<usize> {
    v.iter().map(|c| c * std::mem::size_of::<T>()).collect()
}

/// Each collective's arguments as bytes ([`coll::Args`]), shared by the blocking
/// and nonblocking forms; the core validates them. `Args` only borrow: where the
/// bytes need counts of their own or a [`Reduction`], the builder keeps them and
/// hands the arguments to `run`, whose result it returns.
mod build {
    use super::*;

    fn out<T: Equivalence>(r: &mut [T]) -> RawMut {
        RawMut::of(bytes_mut(r))
    }

    pub fn bcast<T: Equivalence>(buf: &mut [T], root: i32) -> Result<Args<'static>> {
        Ok(Args::Bcast {
            buf: out(buf),
            root,
        })
    }
    pub fn gather<T: Equivalence>(
        send: Input<T>,
        recv: Option<&mut [T]>,
        root: i32,
    ) -> Result<Args<'static>> {
        Ok(Args::Gather {
            send: send.raw(),
            recv: recv.map(out),
            root,
        })
    }
    pub fn gatherv<T: Equivalence, R>(
        send: Input<T>,
        recv: Option<(&mut [T], &[usize], &[usize])>,
        root: i32,
        run: impl FnOnce(Args<'_>) -> Result<R>,
    ) -> Result<R> {
        let recv = recv.map(|(b, cn, d)| (out(b), elems::<T>(cn), elems::<T>(d)));
        run(Args::Gatherv {
            send: send.raw(),
            recv: recv.as_ref().map(|(b, cn, d)| (*b, &cn[..], &d[..])),
            root,
            call: "MPI_Gatherv",
            equal: None,
        })
    }
    pub fn scatter<T: Equivalence>(
        send: Option<&[T]>,
        recv: Option<&mut [T]>,
        root: i32,
    ) -> Result<Args<'static>> {
        Ok(Args::Scatter {
            send: send.map(|s| Raw::of(bytes(s))),
            recv: recv.map(out),
            root,
        })
    }
    pub fn scatterv<T: Equivalence, R>(
        send: Option<(&[T], &[usize], &[usize])>,
        recv: Option<&mut [T]>,
        root: i32,
        run: impl FnOnce(Args<'_>) -> Result<R>,
    ) -> Result<R> {
        let send = send.map(|(b, cn, d)| (Raw::of(bytes(b)), elems::<T>(cn), elems::<T>(d)));
        run(Args::Scatterv {
            send: send.as_ref().map(|(b, cn, d)| (*b, &cn[..], &d[..])),
            recv: recv.map(out),
            root,
            call: "MPI_Scatterv",
            equal: None,
        })
    }
    pub fn allgather<T: Equivalence>(send: Input<T>, recv: &mut [T]) -> Result<Args<'static>> {
        Ok(Args::Allgather {
            send: send.raw(),
            recv: out(recv),
        })
    }
    pub fn allgatherv<T: Equivalence, R>(
        send: Input<T>,
        recv: &mut [T],
        counts: &[usize],
        displs: &[usize],
        run: impl FnOnce(Args<'_>) -> Result<R>,
    ) -> Result<R> {
        let (cn, d) = (elems::<T>(counts), elems::<T>(displs));
        run(Args::Allgatherv {
            send: send.raw(),
            recv: (out(recv), &cn, &d),
            call: "MPI_Allgatherv",
        })
    }
    pub fn alltoall<T: Equivalence>(send: Input<T>, recv: &mut [T]) -> Result<Args<'static>> {
        Ok(Args::Alltoall {
            send: send.raw(),
            recv: out(recv),
        })
    }
    pub fn alltoallv<T: Equivalence, R>(
        send: Input<T>,
        sc: &[usize],
        sd: &[usize],
        recv: &mut [T],
        rc: &[usize],
        rd: &[usize],
        run: impl FnOnce(Args<'_>) -> Result<R>,
    ) -> Result<R> {
        let (sc, sd) = (elems::<T>(sc), elems::<T>(sd));
        let (rc, rd) = (elems::<T>(rc), elems::<T>(rd));
        run(Args::Alltoallv {
            send: send.raw().map(|r| (r, &sc[..], &sd[..])),
            recv: (out(recv), &rc, &rd),
            call: "MPI_Alltoallv",
        })
    }
    pub fn alltoallw<'a>(
        send: Input<u8>,
        sc: &'a [usize],
        sd: &'a [usize],
        recv: &mut [u8],
        rc: &'a [usize],
        rd: &'a [usize],
    ) -> Result<Args<'a>> {
        Ok(Args::Alltoallv {
            send: send.raw().map(|r| (r, sc, sd)),
            recv: (RawMut::of(recv), rc, rd),
            call: "MPI_Alltoallw",
        })
    }
    pub fn reduce<T: Equivalence, R>(
        send: Input<T>,
        recv: Option<&mut [T]>,
        op: &Op,
        root: i32,
        run: impl FnOnce(Args<'_>) -> Result<R>,
    ) -> Result<R> {
        run(Args::Reduce {
            red: &red::<T>(op)?,
            send: send.raw(),
            recv: recv.map(out),
            root,
        })
    }
    pub fn allreduce<T: Equivalence, R>(
        send: Input<T>,
        recv: &mut [T],
        op: &Op,
        run: impl FnOnce(Args<'_>) -> Result<R>,
    ) -> Result<R> {
        run(Args::Allreduce {
            red: &red::<T>(op)?,
            send: send.raw(),
            recv: out(recv),
        })
    }
    pub fn reduce_scatter<T: Equivalence, R>(
        send: Input<T>,
        recv: &mut [T],
        counts: &[usize],
        op: &Op,
        run: impl FnOnce(Args<'_>) -> Result<R>,
    ) -> Result<R> {
        run(Args::ReduceScatter {
            red: &red::<T>(op)?,
            send: send.raw(),
            recv: out(recv),
            counts: &elems::<T>(counts),
            call: "MPI_Reduce_scatter",
        })
    }
    pub fn reduce_scatter_block<T: Equivalence, R>(
        c: &Comm,
        send: Input<T>,
        recv: &mut [T],
        op: &Op,
        run: impl FnOnce(Args<'_>) -> Result<R>,
    ) -> Result<R> {
        let n = c.group.len();
        let block = match send {
            Input::InPlace => recv.len() / n,
            Input::Buf(s) => s.len() / n,
        } * std::mem::size_of::<T>();
        run(Args::ReduceScatter {
            red: &red::<T>(op)?,
            send: send.raw(),
            recv: out(recv),
            counts: &vec![block; n],
            call: "MPI_Reduce_scatter_block",
        })
    }
    pub fn scan<T: Equivalence, R>(
        send: Input<T>,
        recv: &mut [T],
        op: &Op,
        exclusive: bool,
        run: impl FnOnce(Args<'_>) -> Result<R>,
    ) -> Result<R> {
        run(Args::Scan {
            red: &red::<T>(op)?,
            send: send.raw(),
            recv: out(recv),
            exclusive,
        })
    }
}

/// Blocking collectives (MPI-3.1 §5). All ranks call them in the same order.
impl Communicator {
    /// Broadcast `buf` from `root` (MPI_Bcast).
    pub fn bcast<T: Equivalence>(&self, buf: &mut [T], root: i32) -> Result<()> {
        // SAFETY: the buffers are borrowed across the blocking run.
        unsafe { coll::run(&self.comm, build::bcast(buf, root)?) }
    }
    /// Gather equal blocks at `root` (MPI_Gather); `recv` only at the root (size ×
    /// block); `Input::InPlace` at the root means its block is already in `recv`.
    pub fn gather<T: Equivalence>(
        &self,
        send: Input<T>,
        recv: Option<&mut [T]>,
        root: i32,
    ) -> Result<()> {
        // SAFETY: as above.
        unsafe { coll::run(&self.comm, build::gather(send, recv, root)?) }
    }
    /// MPI_Gatherv: `recv` at the root with per-rank counts and displacements.
    pub fn gatherv<T: Equivalence>(
        &self,
        send: Input<T>,
        recv: Option<(&mut [T], &[usize], &[usize])>,
        root: i32,
    ) -> Result<()> {
        // SAFETY: as above.
        build::gatherv(send, recv, root, |a| unsafe { coll::run(&self.comm, a) })
    }
    /// MPI_Scatter: `send` at the root (size × block); `recv` None at the root is
    /// MPI_IN_PLACE (the root keeps its block in `send`).
    pub fn scatter<T: Equivalence>(
        &self,
        send: Option<&[T]>,
        recv: Option<&mut [T]>,
        root: i32,
    ) -> Result<()> {
        // SAFETY: as above.
        unsafe { coll::run(&self.comm, build::scatter(send, recv, root)?) }
    }
    /// MPI_Scatterv.
    pub fn scatterv<T: Equivalence>(
        &self,
        send: Option<(&[T], &[usize], &[usize])>,
        recv: Option<&mut [T]>,
        root: i32,
    ) -> Result<()> {
        // SAFETY: as above.
        build::scatterv(send, recv, root, |a| unsafe { coll::run(&self.comm, a) })
    }
    /// MPI_Allgather (`InPlace`: this rank's block is already in `recv`).
    pub fn allgather<T: Equivalence>(&self, send: Input<T>, recv: &mut [T]) -> Result<()> {
        // SAFETY: as above.
        unsafe { coll::run(&self.comm, build::allgather(send, recv)?) }
    }
    /// MPI_Allgatherv.
    pub fn allgatherv<T: Equivalence>(
        &self,
        send: Input<T>,
        recv: &mut [T],
        counts: &[usize],
        displs: &[usize],
    ) -> Result<()> {
        // SAFETY: as above.
        build::allgatherv(send, recv, counts, displs, |a| unsafe {
            coll::run(&self.comm, a)
        })
    }
    /// MPI_Alltoall (`InPlace`: the data to send is in `recv`).
    pub fn alltoall<T: Equivalence>(&self, send: Input<T>, recv: &mut [T]) -> Result<()> {
        // SAFETY: as above.
        unsafe { coll::run(&self.comm, build::alltoall(send, recv)?) }
    }
    /// MPI_Alltoallv (`InPlace`: send layout = receive layout, data in `recv`).
    #[allow(clippy::too_many_arguments)]
    pub fn alltoallv<T: Equivalence>(
        &self,
        send: Input<T>,
        scounts: &[usize],
        sdispls: &[usize],
        recv: &mut [T],
        rcounts: &[usize],
        rdispls: &[usize],
    ) -> Result<()> {
        // SAFETY: as above.
        build::alltoallv(send, scounts, sdispls, recv, rcounts, rdispls, |a| unsafe {
            coll::run(&self.comm, a)
        })
    }
    /// MPI_Alltoallw on bytes: counts and displacements in bytes per peer.
    #[allow(clippy::too_many_arguments)]
    pub fn alltoallw(
        &self,
        send: Input<u8>,
        scounts: &[usize],
        sdispls: &[usize],
        recv: &mut [u8],
        rcounts: &[usize],
        rdispls: &[usize],
    ) -> Result<()> {
        // SAFETY: as above.
        unsafe {
            coll::run(
                &self.comm,
                build::alltoallw(send, scounts, sdispls, recv, rcounts, rdispls)?,
            )
        }
    }
    /// MPI_Reduce to `root` (`recv` only at the root; `InPlace` only at the root).
    pub fn reduce<T: Equivalence>(
        &self,
        send: Input<T>,
        recv: Option<&mut [T]>,
        op: &Op,
        root: i32,
    ) -> Result<()> {
        // SAFETY: as above.
        build::reduce(send, recv, op, root, |a| unsafe {
            coll::run(&self.comm, a)
        })
    }
    /// MPI_Allreduce (`InPlace`: the input is in `recv`).
    pub fn allreduce<T: Equivalence>(&self, send: Input<T>, recv: &mut [T], op: &Op) -> Result<()> {
        // SAFETY: as above.
        build::allreduce(send, recv, op, |a| unsafe { coll::run(&self.comm, a) })
    }
    /// MPI_Reduce_scatter: rank i gets `counts[i]` elements of the reduction
    /// (`InPlace`: the whole input is in `recv`, the result lands at its start).
    pub fn reduce_scatter<T: Equivalence>(
        &self,
        send: Input<T>,
        recv: &mut [T],
        counts: &[usize],
        op: &Op,
    ) -> Result<()> {
        // SAFETY: as above.
        build::reduce_scatter(send, recv, counts, op, |a| unsafe {
            coll::run(&self.comm, a)
        })
    }
    /// MPI_Reduce_scatter_block: blocks of `send.len() / size` (in place:
    /// `recv.len() / size`) elements.
    pub fn reduce_scatter_block<T: Equivalence>(
        &self,
        send: Input<T>,
        recv: &mut [T],
        op: &Op,
    ) -> Result<()> {
        // SAFETY: as above.
        build::reduce_scatter_block(&self.comm, send, recv, op, |a| unsafe {
            coll::run(&self.comm, a)
        })
    }
    /// MPI_Scan (inclusive prefix reduction).
    pub fn scan<T: Equivalence>(&self, send: Input<T>, recv: &mut [T], op: &Op) -> Result<()> {
        // SAFETY: as above.
        build::scan(send, recv, op, false, |a| unsafe {
            coll::run(&self.comm, a)
        })
    }
    /// MPI_Exscan (exclusive; rank 0's `recv` is left as it was).
    pub fn exscan<T: Equivalence>(&self, send: Input<T>, recv: &mut [T], op: &Op) -> Result<()> {
        // SAFETY: as above.
        build::scan(send, recv, op, true, |a| unsafe {
            coll::run(&self.comm, a)
        })
    }
}

/// Nonblocking collectives (MPI-3.1 §5.12): started in a scope that outlives
/// their buffers; complete with `wait`, `test` or [`super::wait_all`].
impl<'a> Scope<'a> {
    /// # Safety
    /// The buffers of `args` are borrowed for 'a (the scope waits before 'a ends).
    unsafe fn coll(&self, comm: &Comm, args: Args, call: &'static str) -> Result<Request<'a>> {
        let id = coll::start(comm, args)?;
        Ok(self.track(Some(id), call))
    }
    pub fn ibarrier(&self, c: &Communicator) -> Result<Request<'a>> {
        // SAFETY: no buffers.
        unsafe { self.coll(&c.comm, Args::Barrier, "MPI_Ibarrier") }
    }
    pub fn ibcast<T: Equivalence>(
        &self,
        c: &Communicator,
        buf: &'a mut [T],
        root: i32,
    ) -> Result<Request<'a>> {
        // SAFETY: the buffers are borrowed for 'a; the scope waits before 'a ends.
        unsafe { self.coll(&c.comm, build::bcast(buf, root)?, "MPI_Ibcast") }
    }
    pub fn igather<T: Equivalence>(
        &self,
        c: &Communicator,
        send: Input<'a, T>,
        recv: Option<&'a mut [T]>,
        root: i32,
    ) -> Result<Request<'a>> {
        // SAFETY: as above.
        unsafe { self.coll(&c.comm, build::gather(send, recv, root)?, "MPI_Igather") }
    }
    pub fn igatherv<T: Equivalence>(
        &self,
        c: &Communicator,
        send: Input<'a, T>,
        recv: Option<(&'a mut [T], &[usize], &[usize])>,
        root: i32,
    ) -> Result<Request<'a>> {
        // SAFETY: as above (counts are copied into the schedule).
        build::gatherv(send, recv, root, |a| unsafe {
            self.coll(&c.comm, a, "MPI_Igatherv")
        })
    }
    pub fn iscatter<T: Equivalence>(
        &self,
        c: &Communicator,
        send: Option<&'a [T]>,
        recv: Option<&'a mut [T]>,
        root: i32,
    ) -> Result<Request<'a>> {
        // SAFETY: as above.
        unsafe { self.coll(&c.comm, build::scatter(send, recv, root)?, "MPI_Iscatter") }
    }
    pub fn iscatterv<T: Equivalence>(
        &self,
        c: &Communicator,
        send: Option<(&'a [T], &[usize], &[usize])>,
        recv: Option<&'a mut [T]>,
        root: i32,
    ) -> Result<Request<'a>> {
        // SAFETY: as above.
        build::scatterv(send, recv, root, |a| unsafe {
            self.coll(&c.comm, a, "MPI_Iscatterv")
        })
    }
    pub fn iallgather<T: Equivalence>(
        &self,
        c: &Communicator,
        send: Input<'a, T>,
        recv: &'a mut [T],
    ) -> Result<Request<'a>> {
        // SAFETY: as above.
        unsafe { self.coll(&c.comm, build::allgather(send, recv)?, "MPI_Iallgather") }
    }
    pub fn iallgatherv<T: Equivalence>(
        &self,
        c: &Communicator,
        send: Input<'a, T>,
        recv: &'a mut [T],
        counts: &[usize],
        displs: &[usize],
    ) -> Result<Request<'a>> {
        // SAFETY: as above.
        build::allgatherv(send, recv, counts, displs, |a| unsafe {
            self.coll(&c.comm, a, "MPI_Iallgatherv")
        })
    }
    pub fn ialltoall<T: Equivalence>(
        &self,
        c: &Communicator,
        send: Input<'a, T>,
        recv: &'a mut [T],
    ) -> Result<Request<'a>> {
        // SAFETY: as above.
        unsafe { self.coll(&c.comm, build::alltoall(send, recv)?, "MPI_Ialltoall") }
    }
    #[allow(clippy::too_many_arguments)]
    pub fn ialltoallv<T: Equivalence>(
        &self,
        c: &Communicator,
        send: Input<'a, T>,
        scounts: &[usize],
        sdispls: &[usize],
        recv: &'a mut [T],
        rcounts: &[usize],
        rdispls: &[usize],
    ) -> Result<Request<'a>> {
        // SAFETY: as above.
        build::alltoallv(send, scounts, sdispls, recv, rcounts, rdispls, |a| unsafe {
            self.coll(&c.comm, a, "MPI_Ialltoallv")
        })
    }
    #[allow(clippy::too_many_arguments)]
    pub fn ialltoallw(
        &self,
        c: &Communicator,
        send: Input<'a, u8>,
        scounts: &[usize],
        sdispls: &[usize],
        recv: &'a mut [u8],
        rcounts: &[usize],
        rdispls: &[usize],
    ) -> Result<Request<'a>> {
        // SAFETY: as above.
        unsafe {
            self.coll(
                &c.comm,
                build::alltoallw(send, scounts, sdispls, recv, rcounts, rdispls)?,
                "MPI_Ialltoallw",
            )
        }
    }
    pub fn ireduce<T: Equivalence>(
        &self,
        c: &Communicator,
        send: Input<'a, T>,
        recv: Option<&'a mut [T]>,
        op: &Op,
        root: i32,
    ) -> Result<Request<'a>> {
        // SAFETY: as above.
        build::reduce(send, recv, op, root, |a| unsafe {
            self.coll(&c.comm, a, "MPI_Ireduce")
        })
    }
    pub fn iallreduce<T: Equivalence>(
        &self,
        c: &Communicator,
        send: Input<'a, T>,
        recv: &'a mut [T],
        op: &Op,
    ) -> Result<Request<'a>> {
        // SAFETY: as above.
        build::allreduce(send, recv, op, |a| unsafe {
            self.coll(&c.comm, a, "MPI_Iallreduce")
        })
    }
    pub fn ireduce_scatter<T: Equivalence>(
        &self,
        c: &Communicator,
        send: Input<'a, T>,
        recv: &'a mut [T],
        counts: &[usize],
        op: &Op,
    ) -> Result<Request<'a>> {
        // SAFETY: as above.
        build::reduce_scatter(send, recv, counts, op, |a| unsafe {
            self.coll(&c.comm, a, "MPI_Ireduce_scatter")
        })
    }
    pub fn ireduce_scatter_block<T: Equivalence>(
        &self,
        c: &Communicator,
        send: Input<'a, T>,
        recv: &'a mut [T],
        op: &Op,
    ) -> Result<Request<'a>> {
        // SAFETY: as above.
        build::reduce_scatter_block(&c.comm, send, recv, op, |a| unsafe {
            self.coll(&c.comm, a, "MPI_Ireduce_scatter_block")
        })
    }
    pub fn iscan<T: Equivalence>(
        &self,
        c: &Communicator,
        send: Input<'a, T>,
        recv: &'a mut [T],
        op: &Op,
    ) -> Result<Request<'a>> {
        // SAFETY: as above.
        build::scan(send, recv, op, false, |a| unsafe {
            self.coll(&c.comm, a, "MPI_Iscan")
        })
    }
    pub fn iexscan<T: Equivalence>(
        &self,
        c: &Communicator,
        send: Input<'a, T>,
        recv: &'a mut [T],
        op: &Op,
    ) -> Result<Request<'a>> {
        // SAFETY: as above.
        build::scan(send, recv, op, true, |a| unsafe {
            self.coll(&c.comm, a, "MPI_Iexscan")
        })
    }
}
