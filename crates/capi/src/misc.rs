//! Addresses, handle conversions (identity, as in MPICH), MPI_Dims_create,
//! MPI_Alloc_mem/Free_mem, and the exported special objects.

use crate::consts::*;
use crate::dtype::out;
use crate::err::{fail, R};
use std::ffi::c_void;
use std::os::raw::c_int;

// The special addresses MPICH exports as variables.
static mut UNWEIGHTED_DUMMY: c_int = 0x46618;
static mut WEIGHTS_EMPTY_DUMMY: c_int = 0x46618;
#[no_mangle]
pub static MPI_UNWEIGHTED: SyncPtr = SyncPtr(std::ptr::addr_of_mut!(UNWEIGHTED_DUMMY));
#[no_mangle]
pub static MPI_WEIGHTS_EMPTY: SyncPtr = SyncPtr(std::ptr::addr_of_mut!(WEIGHTS_EMPTY_DUMMY));
#[no_mangle]
pub static mut MPI_F_STATUS_IGNORE: *mut MPI_Fint = std::ptr::null_mut();
#[no_mangle]
pub static mut MPI_F_STATUSES_IGNORE: *mut MPI_Fint = std::ptr::null_mut();
#[no_mangle]
pub static mut MPI_F08_STATUS_IGNORE: *mut MPI_Status = std::ptr::null_mut();
#[no_mangle]
pub static mut MPI_F08_STATUSES_IGNORE: *mut MPI_Status = std::ptr::null_mut();
#[no_mangle]
pub static MPI_T_PVAR_ALL_HANDLES: SyncPtr = SyncPtr(usize::MAX as *mut c_int);

#[repr(transparent)]
pub struct SyncPtr(pub *mut c_int);
// SAFETY: a constant address nobody writes through.
unsafe impl Sync for SyncPtr {}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Get_address / PMPI_Get_address(location: *const c_void, address: *mut MPI_Aint) {
    *out(address, "address")? = location as MPI_Aint;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Address / PMPI_Address(location: *mut c_void, address: *mut MPI_Aint) {
    *out(address, "address")? = location as MPI_Aint;
    Ok(())
}}

mpi_plain! { fn MPI_Aint_add / PMPI_Aint_add(base: MPI_Aint, disp: MPI_Aint) -> MPI_Aint {
    base.wrapping_add(disp)
}}

mpi_plain! { fn MPI_Aint_diff / PMPI_Aint_diff(addr1: MPI_Aint, addr2: MPI_Aint) -> MPI_Aint {
    addr1.wrapping_sub(addr2)
}}

macro_rules! conv {
    ($($c2f:ident $pc2f:ident $f2c:ident $pf2c:ident),*) => {$(
        mpi_plain! { fn $c2f / $pc2f(h: c_int) -> MPI_Fint { h } }
        mpi_plain! { fn $f2c / $pf2c(h: MPI_Fint) -> c_int { h } }
    )*};
}
conv!(
    MPI_Comm_c2f PMPI_Comm_c2f MPI_Comm_f2c PMPI_Comm_f2c,
    MPI_Type_c2f PMPI_Type_c2f MPI_Type_f2c PMPI_Type_f2c,
    MPI_Group_c2f PMPI_Group_c2f MPI_Group_f2c PMPI_Group_f2c,
    MPI_Info_c2f PMPI_Info_c2f MPI_Info_f2c PMPI_Info_f2c,
    MPI_Request_c2f PMPI_Request_c2f MPI_Request_f2c PMPI_Request_f2c,
    MPI_Op_c2f PMPI_Op_c2f MPI_Op_f2c PMPI_Op_f2c,
    MPI_Errhandler_c2f PMPI_Errhandler_c2f MPI_Errhandler_f2c PMPI_Errhandler_f2c,
    MPI_Win_c2f PMPI_Win_c2f MPI_Win_f2c PMPI_Win_f2c,
    MPI_Message_c2f PMPI_Message_c2f MPI_Message_f2c PMPI_Message_f2c,
    MPI_Session_c2f PMPI_Session_c2f MPI_Session_f2c PMPI_Session_f2c
);

mpi_fn! { MPI_COMM_WORLD => fn MPI_Status_c2f / PMPI_Status_c2f(c_status: *const MPI_Status, f_status: *mut MPI_Fint) {
    if c_status.is_null() || c_status as usize == STATUS_IGNORE || f_status.is_null() {
        return fail(MPI_ERR_ARG, "a status is a null pointer or MPI_STATUS_IGNORE");
    }
    std::ptr::copy_nonoverlapping(c_status as *const MPI_Fint, f_status, 5);
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Status_f2c / PMPI_Status_f2c(f_status: *const MPI_Fint, c_status: *mut MPI_Status) {
    if c_status.is_null() || f_status.is_null() {
        return fail(MPI_ERR_ARG, "a status is a null pointer");
    }
    std::ptr::copy_nonoverlapping(f_status, c_status as *mut MPI_Fint, 5);
    Ok(())
}}

/// The Fortran 2008 status (`MPI_F08_status`) has the C status's five words in
/// the same order, as in MPICH: every conversion between it, the C status and
/// the Fortran `INTEGER` array is a copy of five `MPI_Fint`s.
unsafe fn copy_status(from: *const MPI_Fint, to: *mut MPI_Fint, ignore_ok: bool) -> R<()> {
    if from.is_null() || to.is_null() || (!ignore_ok && from as usize == STATUS_IGNORE) {
        return fail(
            MPI_ERR_ARG,
            "a status is a null pointer or MPI_STATUS_IGNORE",
        );
    }
    // SAFETY: both point at five MPI_Fint of the caller's (MPI's rule).
    std::ptr::copy_nonoverlapping(from, to, 5);
    Ok(())
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Status_f082c / PMPI_Status_f082c(f08_status: *const MPI_Status, c_status: *mut MPI_Status) {
    copy_status(f08_status as *const MPI_Fint, c_status as *mut MPI_Fint, true)
}}
mpi_fn! { MPI_COMM_WORLD => fn MPI_Status_c2f08 / PMPI_Status_c2f08(c_status: *const MPI_Status, f08_status: *mut MPI_Status) {
    copy_status(c_status as *const MPI_Fint, f08_status as *mut MPI_Fint, false)
}}
mpi_fn! { MPI_COMM_WORLD => fn MPI_Status_f082f / PMPI_Status_f082f(f08_status: *const MPI_Status, f_status: *mut MPI_Fint) {
    copy_status(f08_status as *const MPI_Fint, f_status, true)
}}
mpi_fn! { MPI_COMM_WORLD => fn MPI_Status_f2f08 / PMPI_Status_f2f08(f_status: *const MPI_Fint, f08_status: *mut MPI_Status) {
    copy_status(f_status, f08_status as *mut MPI_Fint, true)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Alloc_mem / PMPI_Alloc_mem(size: MPI_Aint, info: MPI_Info, baseptr: *mut c_void) {
    let _ = info;
    if size < 0 {
        return fail(MPI_ERR_ARG, format!("invalid size {size}"));
    }
    if baseptr.is_null() {
        return fail(MPI_ERR_ARG, "baseptr is a null pointer");
    }
    let p = libc::malloc((size as usize).max(1));
    if p.is_null() {
        return fail(34, format!("cannot allocate {size} bytes"));
    }
    *(baseptr as *mut *mut c_void) = p;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Free_mem / PMPI_Free_mem(base: *mut c_void) {
    libc::free(base);
    Ok(())
}}

/// The most balanced way to write `n` as a product of `k` factors, largest first:
/// the smallest spread (largest - smallest factor), then the largest smallest
/// factor, then the lexicographically smallest. These rules give MPICH's answers
/// (checked against MPICH 4.0 for every n up to 2000 in 1 to 5 dimensions, and with
/// fixed entries): 72 in 2 is 9x8, 360 in 3 is 10x6x6 (not 9x8x5). An exhaustive
/// search over the non-increasing factorizations, cut where the spread can only
/// grow past the best one found.
fn balanced(n: i64, k: usize) -> Vec<i64> {
    type Key = (i64, i64, Vec<i64>);
    fn key(f: &[i64]) -> Key {
        let (hi, lo) = (f[0], f[f.len() - 1]);
        (hi - lo, -lo, f.to_vec())
    }
    /// Is `d` to the `k` at least `rest`?
    fn reaches(d: i64, k: usize, rest: i64) -> bool {
        let mut p: i64 = 1;
        for _ in 0..k {
            p = p.saturating_mul(d);
            if p >= rest {
                return true;
            }
        }
        p >= rest
    }
    /// The largest r with r to the k at most `rest` (k >= 1).
    fn kth_root(rest: i64, k: usize) -> i64 {
        let mut r = ((rest as f64).powf(1.0 / k as f64).round() as i64).max(1);
        while r > 1 && reaches(r, k, rest.saturating_add(1)) {
            r -= 1;
        }
        while !reaches(r + 1, k, rest.saturating_add(1)) {
            r += 1;
        }
        r
    }
    /// `divs`: the divisors of n, largest first.
    fn search(
        divs: &[i64],
        rest: i64,
        k: usize,
        maxd: i64,
        cur: &mut Vec<i64>,
        best: &mut Option<Key>,
    ) {
        if k == 0 {
            if rest == 1 {
                let c = key(cur);
                if best.as_ref().is_none_or(|b| c < *b) {
                    *best = Some(c);
                }
            }
            return;
        }
        // Factors only get smaller from here: once the spread passes the best's,
        // nothing below can win. The smallest factor left is at most the k-th
        // root of `rest`.
        let hi = cur.first().copied();
        if let (Some(b), Some(hi)) = (best.as_ref(), hi) {
            if hi - kth_root(rest, k) > b.0 {
                return;
            }
        }
        // Candidates for the largest factor left: from the k-th root of `rest` up,
        // so that balanced answers come first and bound the rest of the search.
        let lo = divs.partition_point(|&d| d > maxd.min(rest));
        let hi_end = divs.partition_point(|&d| reaches(d, k, rest));
        for &d in divs[lo..hi_end].iter().rev() {
            if rest % d != 0 {
                continue;
            }
            if let (Some(b), Some(top)) = (best.as_ref(), hi) {
                if top - d > b.0 {
                    continue;
                }
            }
            cur.push(d);
            search(divs, rest / d, k - 1, d, cur, best);
            cur.pop();
        }
    }
    let mut divs: Vec<i64> = Vec::new();
    let mut f = 1;
    while f * f <= n {
        if n % f == 0 {
            divs.push(f);
            if f * f != n {
                divs.push(n / f);
            }
        }
        f += 1;
    }
    divs.sort_unstable_by(|a, b| b.cmp(a));
    let mut best = None;
    search(&divs, n, k, n, &mut Vec::with_capacity(k), &mut best);
    best.map(|b| b.2).expect("n >= 1 has a factorization")
}

/// Split `nnodes` over `ndims` dimensions as evenly as possible, keeping the
/// nonzero entries the caller fixed; sizes in non-increasing order.
pub fn dims_create(nnodes: i64, dims: &mut [c_int]) -> R<()> {
    let mut fixed = 1i64;
    let mut free = 0;
    for &d in dims.iter() {
        if d < 0 {
            return fail(MPI_ERR_DIMS, format!("invalid dimension {d}"));
        }
        if d > 0 {
            fixed = fixed.saturating_mul(d as i64);
        } else {
            free += 1;
        }
    }
    if free == 0 {
        if fixed != nnodes {
            return fail(
                MPI_ERR_DIMS,
                format!("the fixed dimensions multiply to {fixed}, not {nnodes}"),
            );
        }
        return Ok(());
    }
    if nnodes == 0 {
        // MPICH 4.0 loops forever here.
        return fail(
            MPI_ERR_ARG,
            "no grid of 0 nodes has a free dimension (nnodes must be positive)",
        );
    }
    if fixed == 0 || nnodes % fixed != 0 {
        return fail(
            MPI_ERR_DIMS,
            format!("{nnodes} nodes cannot be divided by the fixed dimensions ({fixed})"),
        );
    }
    let sizes = balanced(nnodes / fixed, free);
    let mut it = sizes.into_iter();
    for d in dims.iter_mut() {
        if *d == 0 {
            *d = it.next().expect("one per free dimension") as c_int;
        }
    }
    Ok(())
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Dims_create / PMPI_Dims_create(nnodes: c_int, ndims: c_int, dims: *mut c_int) {
    if nnodes < 0 {
        return fail(MPI_ERR_ARG, format!("invalid number of nodes {nnodes}"));
    }
    if ndims < 0 {
        return fail(MPI_ERR_DIMS, format!("invalid number of dimensions {ndims}"));
    }
    if ndims == 0 {
        return Ok(());
    }
    if dims.is_null() {
        return fail(MPI_ERR_ARG, "dims is a null pointer");
    }
    dims_create(nnodes as i64, std::slice::from_raw_parts_mut(dims, ndims as usize))
}}

#[cfg(test)]
mod tests {
    #[test]
    fn dims() {
        let mut d = [0, 0];
        super::dims_create(6, &mut d).unwrap();
        assert_eq!(d, [3, 2]);
        let mut d = [0, 0, 0];
        super::dims_create(8, &mut d).unwrap();
        assert_eq!(d, [2, 2, 2]);
        let mut d = [0, 3, 0];
        super::dims_create(12, &mut d).unwrap();
        assert_eq!(d, [2, 3, 2]);
        let mut d = [0, 5];
        assert!(super::dims_create(12, &mut d).is_err());
        // MPICH's answers (the conformance suite's cases).
        for (n, k, want) in [
            (72, 2, vec![9, 8]),
            (24, 3, vec![4, 3, 2]),
            (16, 4, vec![2, 2, 2, 2]),
            (7, 2, vec![7, 1]),
            (360, 3, vec![10, 6, 6]),
            (360, 4, vec![6, 5, 4, 3]),
            (1024, 3, vec![16, 8, 8]),
            (1, 3, vec![1, 1, 1]),
        ] {
            let mut d = vec![0; k];
            super::dims_create(n, &mut d).unwrap();
            assert_eq!(d, want, "{n} in {k}");
        }
        let mut d = [0, 3, 0];
        super::dims_create(36, &mut d).unwrap();
        assert_eq!(d, [4, 3, 3]);
    }
}
