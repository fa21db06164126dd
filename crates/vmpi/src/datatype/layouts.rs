//! Subarray and darray: built, as MPI-3.1 §4.1.3–4.1.4 defines them, from vector,
//! hvector, a one-block hindexed and resized (MPICH 4's construction, including its
//! per-dimension resizing in darray), then renamed so `contents` gives back the
//! caller's arguments.

use super::types::{fit, Datatype, Distrib, Kind, Order, DISTRIBUTE_DFLT_DARG};
use crate::error::{Error, ErrorClass, Result};

fn arg(msg: String) -> Error {
    Error::new(ErrorClass::Arg, msg)
}

/// Errors of the inner constructors are reported under the outer call's name.
fn under(call: &'static str) -> impl Fn(Error) -> Error {
    move |e| {
        let rest = e
            .message
            .split_once(": ")
            .map(|(_, r)| r)
            .unwrap_or(&e.message);
        Error::new(e.class, format!("{call}: {rest}"))
    }
}

/// Places `t` at byte displacement `disp` and gives the result lb 0 and extent `extent`.
fn place(t: &Datatype, disp: i64, extent: i64) -> Result<Datatype> {
    let shifted = Datatype::hindexed_block(1, &[disp], t)?;
    Datatype::resized(&shifted, 0, extent)
}

fn check_ndims(call: &str, n: usize, others: &[(&str, usize)]) -> Result<()> {
    if n == 0 {
        return Err(arg(format!("{call}: ndims 0 must be positive")));
    }
    for (what, len) in others {
        if *len != n {
            return Err(arg(format!(
                "{call}: {what} has {len} entries, expected ndims = {n}"
            )));
        }
    }
    Ok(())
}

impl Datatype {
    /// `MPI_Type_create_subarray`: the `subsizes` block at `starts` of a `sizes` array
    /// of `old`; lb 0 and extent the whole array.
    pub fn subarray(
        sizes: &[i64],
        subsizes: &[i64],
        starts: &[i64],
        order: Order,
        old: &Datatype,
    ) -> Result<Datatype> {
        let call = "MPI_Type_create_subarray";
        let n = sizes.len();
        check_ndims(
            call,
            n,
            &[
                ("array_of_subsizes", subsizes.len()),
                ("array_of_starts", starts.len()),
            ],
        )?;
        for i in 0..n {
            if sizes[i] <= 0 {
                return Err(arg(format!(
                    "{call}: array_of_sizes[{i}] = {} must be positive",
                    sizes[i]
                )));
            }
            if subsizes[i] < 0 || subsizes[i] > sizes[i] {
                return Err(arg(format!(
                    "{call}: array_of_subsizes[{i}] = {} is outside 0..={}",
                    subsizes[i], sizes[i]
                )));
            }
            if starts[i] < 0 || starts[i] > sizes[i] - subsizes[i] {
                return Err(arg(format!(
                    "{call}: array_of_starts[{i}] = {} is outside 0..={} (size {}, subsize {})",
                    starts[i],
                    sizes[i] - subsizes[i],
                    sizes[i],
                    subsizes[i]
                )));
            }
        }
        // Work fastest dimension first.
        let (mut sz, mut sub, mut st) = (sizes.to_vec(), subsizes.to_vec(), starts.to_vec());
        if order == Order::C {
            sz.reverse();
            sub.reverse();
            st.reverse();
        }
        let ext = old.extent() as i128;
        let e = under(call);
        let mut t = if n == 1 {
            Datatype::contiguous(sub[0], old).map_err(&e)?
        } else {
            Datatype::vector(sub[1], sub[0], sz[0], old).map_err(&e)?
        };
        let mut stride = sz[0] as i128 * ext;
        for i in 2..n {
            stride *= sz[i - 1] as i128;
            t = Datatype::hvector(sub[i], 1, fit(call, "stride", stride)?, &t).map_err(&e)?;
        }
        let mut disp = st[0] as i128;
        let mut span = 1i128;
        for i in 1..n {
            span *= sz[i - 1] as i128;
            disp += span * st[i] as i128;
        }
        let total: i128 = sz.iter().map(|&s| s as i128).product::<i128>() * ext;
        let t = place(
            &t,
            fit(call, "displacement", disp * ext)?,
            fit(call, "extent", total)?,
        )
        .map_err(&e)?;
        let mut ints = vec![n as i64];
        ints.extend_from_slice(sizes);
        ints.extend_from_slice(subsizes);
        ints.extend_from_slice(starts);
        ints.push(order.to_mpi());
        Ok(t.with_kind(Kind::Subarray(ints, old.clone())))
    }

    /// `MPI_Type_create_darray`: the part of a `gsizes` array of `old` that process
    /// `rank` of `size` owns on a row-major `psizes` process grid; lb 0 and extent the
    /// whole array. `dargs[i]` is a block size or [`DISTRIBUTE_DFLT_DARG`].
    #[allow(clippy::too_many_arguments)]
    pub fn darray(
        size: i64,
        rank: i64,
        gsizes: &[i64],
        distribs: &[Distrib],
        dargs: &[i64],
        psizes: &[i64],
        order: Order,
        old: &Datatype,
    ) -> Result<Datatype> {
        let call = "MPI_Type_create_darray";
        let n = gsizes.len();
        if size <= 0 {
            return Err(arg(format!("{call}: size {size} must be positive")));
        }
        if rank < 0 || rank >= size {
            return Err(Error::new(
                ErrorClass::Rank,
                format!("{call}: rank {rank} is outside 0..{size}"),
            ));
        }
        check_ndims(
            call,
            n,
            &[
                ("array_of_distribs", distribs.len()),
                ("array_of_dargs", dargs.len()),
                ("array_of_psizes", psizes.len()),
            ],
        )?;
        let dflt = DISTRIBUTE_DFLT_DARG as i64;
        let mut procs: i128 = 1;
        for i in 0..n {
            if gsizes[i] <= 0 {
                return Err(arg(format!(
                    "{call}: array_of_gsizes[{i}] = {} must be positive",
                    gsizes[i]
                )));
            }
            if psizes[i] <= 0 {
                return Err(arg(format!(
                    "{call}: array_of_psizes[{i}] = {} must be positive",
                    psizes[i]
                )));
            }
            procs *= psizes[i] as i128;
            let d = dargs[i];
            match distribs[i] {
                Distrib::None if psizes[i] != 1 => {
                    return Err(arg(format!(
                        "{call}: array_of_psizes[{i}] = {} must be 1 for MPI_DISTRIBUTE_NONE",
                        psizes[i]
                    )));
                }
                Distrib::None => {}
                _ if d != dflt && d <= 0 => {
                    return Err(arg(format!(
                        "{call}: array_of_dargs[{i}] = {d} must be positive or MPI_DISTRIBUTE_DFLT_DARG"
                    )));
                }
                Distrib::Block
                    if d != dflt && (d as i128) * (psizes[i] as i128) < gsizes[i] as i128 =>
                {
                    return Err(arg(format!(
                        "{call}: array_of_dargs[{i}] = {d} times array_of_psizes[{i}] = {} does not cover array_of_gsizes[{i}] = {}",
                        psizes[i], gsizes[i]
                    )));
                }
                _ => {}
            }
        }
        if procs != size as i128 {
            return Err(arg(format!(
                "{call}: the product of array_of_psizes ({procs}) is not size {size}"
            )));
        }
        // Process coordinates: row-major whatever the array order.
        let mut coords = vec![0i64; n];
        let (mut left, mut r) = (size, rank);
        for i in 0..n {
            left /= psizes[i];
            coords[i] = r / left;
            r %= left;
        }
        // Work fastest dimension first.
        let (mut g, mut dist, mut da, mut ps) = (
            gsizes.to_vec(),
            distribs.to_vec(),
            dargs.to_vec(),
            psizes.to_vec(),
        );
        if order == Order::C {
            g.reverse();
            dist.reverse();
            da.reverse();
            ps.reverse();
            coords.reverse();
        }
        let e = under(call);
        let ext = old.extent() as i128;
        let mut t = old.clone();
        let mut offsets = vec![0i128; n];
        for i in 0..n {
            let row: i128 = g[..i].iter().map(|&x| x as i128).product::<i128>() * ext;
            let (nt, off) = match dist[i] {
                Distrib::Block => block(call, g[i], ps[i], coords[i], da[i], i, row, &t)?,
                Distrib::None => block(call, g[i], 1, 0, dflt, i, row, &t)?,
                Distrib::Cyclic => cyclic(call, g[i], ps[i], coords[i], da[i], i, row, &t)?,
            };
            // Each dimension's type spans its whole dimension (MPICH 4).
            let whole = fit(call, "extent", g[i] as i128 * t.extent() as i128)?;
            t = Datatype::resized(&nt, 0, whole).map_err(&e)?;
            offsets[i] = off;
        }
        let mut disp = offsets[0];
        let mut span = 1i128;
        for i in 1..n {
            span *= g[i - 1] as i128;
            disp += span * offsets[i];
        }
        let total: i128 = g.iter().map(|&s| s as i128).product::<i128>() * ext;
        let t = place(
            &t,
            fit(call, "displacement", disp * ext)?,
            fit(call, "extent", total)?,
        )
        .map_err(&e)?;
        let mut ints = vec![size, rank, n as i64];
        ints.extend_from_slice(gsizes);
        ints.extend(distribs.iter().map(|d| d.to_mpi()));
        ints.extend_from_slice(dargs);
        ints.extend_from_slice(psizes);
        ints.push(order.to_mpi());
        Ok(t.with_kind(Kind::Darray(ints, old.clone())))
    }
}

/// One block-distributed dimension (`row`: bytes between neighbours in it): the
/// type and the first owned index.
#[allow(clippy::too_many_arguments)]
fn block(
    call: &'static str,
    g: i64,
    np: i64,
    coord: i64,
    darg: i64,
    dim: usize,
    row: i128,
    t: &Datatype,
) -> Result<(Datatype, i128)> {
    let blk = if darg == DISTRIBUTE_DFLT_DARG as i64 {
        (g + np - 1) / np
    } else {
        darg
    };
    let mine = (g as i128 - blk as i128 * coord as i128).clamp(0, blk as i128) as i64;
    let nt = if dim == 0 {
        Datatype::contiguous(mine, t)
    } else {
        Datatype::hvector(mine, 1, fit(call, "stride", row)?, t)
    }
    .map_err(under(call))?;
    let off = if mine == 0 {
        0
    } else {
        blk as i128 * coord as i128
    };
    Ok((nt, off))
}

/// One cyclic-distributed dimension: the type and the first owned index (0 in the
/// fastest dimension, whose offset is built into the type).
#[allow(clippy::too_many_arguments)]
fn cyclic(
    call: &'static str,
    g: i64,
    np: i64,
    coord: i64,
    darg: i64,
    dim: usize,
    row: i128,
    t: &Datatype,
) -> Result<(Datatype, i128)> {
    let e = under(call);
    let blk = if darg == DISTRIBUTE_DFLT_DARG as i64 {
        1
    } else {
        darg
    } as i128;
    let (g, np, coord) = (g as i128, np as i128, coord as i128);
    let first = coord * blk;
    let local = if g - 1 < first {
        0
    } else {
        let span = g - first;
        (span / (np * blk)) * blk + (span % (np * blk)).min(blk)
    };
    let (count, rem) = (local / blk, local % blk);
    let stride = np * blk * row;
    let s = fit(call, "stride", stride)?;
    let mut nt = Datatype::hvector(
        fit(call, "count", count)?,
        fit(call, "blocklength", blk)?,
        s,
        t,
    )
    .map_err(&e)?;
    if rem > 0 {
        let d = fit(call, "displacement", count * stride)?;
        nt = Datatype::structure(&[1, rem as i64], &[0, d], &[nt, t.clone()]).map_err(&e)?;
    }
    let mut off = coord * blk;
    if dim == 0 {
        let ext = row; // in the fastest dimension a row is one old element
        nt = place(
            &nt,
            fit(call, "displacement", off * ext)?,
            fit(call, "extent", ext * g)?,
        )
        .map_err(&e)?;
        off = 0;
    }
    if local == 0 {
        off = 0;
    }
    Ok((nt, off))
}
