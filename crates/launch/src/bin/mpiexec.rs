//! `mpiexec`: the same launcher as `mpirun`, under the Hydra name.

fn main() {
    vmpi_launch::main_for("mpiexec")
}
