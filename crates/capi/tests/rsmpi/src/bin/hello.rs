//! rsmpi's hello: rank and size of the world.
use mpi::traits::*;

fn main() {
    let universe = mpi::initialize().unwrap();
    let world = universe.world();
    println!("hello from rank {} of {}", world.rank(), world.size());
    let (v, s) = mpi::environment::library_version()
        .map(|v| (v, 0))
        .unwrap_or((String::new(), 1));
    assert_eq!(s, 0);
    assert!(v.starts_with("vmpi"), "{v}");
}
