//! Point-to-point: a ring of send/receive, then a dup'd and split communicator.
use mpi::traits::*;

fn main() {
    let universe = mpi::initialize().unwrap();
    let world = universe.world();
    let (rank, size) = (world.rank(), world.size());
    let next = world.process_at_rank((rank + 1) % size);
    let prev = world.process_at_rank((rank + size - 1) % size);
    let (msg, _status): (i32, _) = mpi::point_to_point::send_receive(&(rank * 10), &next, &prev);
    assert_eq!(msg, ((rank + size - 1) % size) * 10);
    if rank == 0 && size > 1 {
        world.process_at_rank(1).send(&[1.5f64, 2.5][..]);
    } else if rank == 1 {
        let (v, st) = world.process_at_rank(0).receive_vec::<f64>();
        assert_eq!(v, vec![1.5, 2.5]);
        assert_eq!(st.source_rank(), 0);
    }
    let dup = world.duplicate();
    let split = dup
        .split_by_color(mpi::topology::Color::with_value(rank % 2))
        .unwrap();
    assert_eq!(split.size(), (size + 1 - rank % 2) / 2);
    println!(
        "ring rank {rank} of {size}: got {msg}, split size {}",
        split.size()
    );
}
