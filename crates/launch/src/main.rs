//! `mpirun`: starts an MPI job (see `vmpi_launch` and docs/launcher.md).

fn main() {
    vmpi_launch::main_for("mpirun")
}
