//! OSU-style collective latency (not a test): `mpirun -np N coll_bench [op ...]`
//! with op in bcast allreduce alltoall barrier allgather reduce; sizes 4 B..1 MiB.
//! Prints `# Size Avg Latency(us)` per operation (average over ranks of the mean).

use vmpi::{Input, Op};

fn main() -> vmpi::Result<()> {
    let u = vmpi::init()?;
    let w = u.world();
    let (me, p) = (w.rank(), w.size() as usize);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ops: Vec<&str> = if args.is_empty() {
        vec![
            "bcast",
            "allreduce",
            "alltoall",
            "barrier",
            "allgather",
            "reduce",
        ]
    } else {
        args.iter().map(|s| s.as_str()).collect()
    };
    for op in ops {
        if me == 0 {
            println!("# OSU-style {op} latency, {p} ranks\n# Size Avg Latency(us)");
        }
        let sizes: Vec<usize> = if op == "barrier" {
            vec![0]
        } else {
            (2..=20).map(|k| 1usize << k).collect()
        };
        for size in sizes {
            let (iters, warm) = if size > 65536 { (20, 2) } else { (200, 10) };
            let n = (size / 4).max(1);
            let a = vec![
                1f32;
                n * if op == "alltoall" || op == "allgather" {
                    p
                } else {
                    1
                }
            ];
            let mut b = vec![0f32; a.len().max(n * p)];
            let mut t = 0.0;
            for i in 0..iters + warm {
                w.barrier()?;
                let t0 = u.wtime();
                match op {
                    "bcast" => w.bcast(&mut b[..n], 0)?,
                    "allreduce" => w.allreduce(Input::Buf(&a[..n]), &mut b[..n], &Op::Sum)?,
                    "reduce" => w.reduce(
                        Input::Buf(&a[..n]),
                        if me == 0 { Some(&mut b[..n]) } else { None },
                        &Op::Sum,
                        0,
                    )?,
                    "alltoall" => w.alltoall(Input::Buf(&a[..n * p]), &mut b[..n * p])?,
                    "allgather" => w.allgather(Input::Buf(&a[..n]), &mut b[..n * p])?,
                    "barrier" => w.barrier()?,
                    _ => panic!("unknown op {op}"),
                }
                if i >= warm {
                    t += u.wtime() - t0;
                }
            }
            let mut avg = [0f64];
            w.reduce(
                Input::Buf(&[t * 1e6 / iters as f64]),
                if me == 0 { Some(&mut avg) } else { None },
                &Op::Sum,
                0,
            )?;
            if me == 0 {
                println!(
                    "{:<10}{:>12.2}",
                    if op == "barrier" { 0 } else { size },
                    avg[0] / p as f64
                );
            }
        }
    }
    Ok(())
}
