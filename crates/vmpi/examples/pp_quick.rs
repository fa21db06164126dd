fn main() -> vmpi::Result<()> {
    let u = vmpi::init()?;
    let w = u.world();
    let me = w.rank();
    for &size in &[8usize, 65536, 262144, 1 << 20, 4 << 20] {
        let iters = if size >= 1 << 20 { 200 } else { 5000 };
        let mut buf: Vec<u8> = (0..size).map(|i| (i * 7 + me as usize) as u8).collect();
        for phase in 0..2 {
            w.barrier()?;
            let t0 = u.wtime();
            for _ in 0..iters {
                if me == 0 {
                    w.send(&buf, 1, 1)?;
                    w.recv(&mut buf, 1, 1)?;
                } else {
                    w.recv(&mut buf, 0, 1)?;
                    w.send(&buf, 0, 1)?;
                }
            }
            let t = u.wtime() - t0;
            if me == 0 && phase == 1 {
                println!(
                    "size {size:>8}: {:8.3} us  {:8.1} MB/s",
                    t / iters as f64 / 2.0 * 1e6,
                    size as f64 * iters as f64 * 2.0 / t / 1e6
                );
            }
        }
        // verify content survived round trips: rank 0's buffer now holds rank 1's echo of its own data
        if me == 0 && buf.iter().enumerate().any(|(i, &b)| b != (i * 7) as u8) {
            eprintln!("DATA MISMATCH at size {size}");
            std::process::exit(1);
        }
    }
    Ok(())
}
