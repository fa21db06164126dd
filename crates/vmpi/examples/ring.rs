//! The demo job: every rank reports the channel it uses to each peer (rank 0 prints
//! the matrix), a token goes around the ring, and the ranks compute pi together.
//!
//! `mpirun -np 4 target/release/examples/ring`

fn main() -> vmpi::Result<()> {
    let universe = vmpi::init()?;
    let world = universe.world();
    let (rank, size) = (world.rank(), world.size());

    // Each rank sends rank 0 one line per peer: "a -> b: channel (reason)".
    let mut lines = String::new();
    for peer in 0..size {
        if peer != rank {
            let c = universe.channel_to(peer as usize)?;
            let large = c
                .large
                .map(|l| format!(", large messages: {l}"))
                .unwrap_or_default();
            lines += &format!(
                "  rank {rank} -> rank {peer}: {} ({}{large})\n",
                c.channel, c.reason
            );
        }
    }
    if rank == 0 {
        println!(
            "vmpi ring demo: {size} ranks, started by {}",
            universe.process_manager()?
        );
        print!("{lines}");
        for _ in 1..size {
            let st = world.probe(vmpi::ANY_SOURCE, 1)?;
            let mut buf = vec![0u8; st.count];
            world.recv(&mut buf, st.source, 1)?;
            print!("{}", String::from_utf8_lossy(&buf));
        }
    } else {
        world.send(lines.as_bytes(), 0, 1)?;
    }

    // A token around the ring: each rank adds its rank.
    let next = (rank + 1) % size;
    let prev = (rank + size - 1) % size;
    let mut token = [0i64];
    if size > 1 {
        if rank == 0 {
            world.send(&[0i64], next, 2)?;
            world.recv(&mut token, prev, 2)?;
            println!(
                "token after one lap: {} (expected {})",
                token[0],
                (size as i64 - 1) * size as i64 / 2
            );
        } else {
            world.recv(&mut token, prev, 2)?;
            world.send(&[token[0] + rank as i64], next, 2)?;
        }
    }

    // pi by the midpoint rule, each rank a stride of the intervals, summed at rank 0.
    let n = 10_000_000u64;
    let h = 1.0 / n as f64;
    let part: f64 = (rank as u64..n)
        .step_by(size as usize)
        .map(|i| 4.0 / (1.0 + ((i as f64 + 0.5) * h).powi(2)))
        .sum::<f64>()
        * h;
    if rank == 0 {
        let mut pi = part;
        for _ in 1..size {
            let mut x = [0f64];
            world.recv(&mut x, vmpi::ANY_SOURCE, 3)?;
            pi += x[0];
        }
        println!(
            "pi ~ {pi:.12} (error {:.2e})",
            (pi - std::f64::consts::PI).abs()
        );
    } else {
        world.send(&[part], 0, 3)?;
    }
    world.barrier()?;
    Ok(())
}
