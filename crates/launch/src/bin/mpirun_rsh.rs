//! `mpirun_rsh`: the same launcher as `mpirun`, under the MVAPICH2 name.

fn main() {
    vmpi_launch::main_for("mpirun_rsh")
}
