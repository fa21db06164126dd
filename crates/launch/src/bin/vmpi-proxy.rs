//! `vmpi-proxy`: mpirun's agent on one host (see `vmpi_launch::proxy`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(vmpi_launch::proxy::main_proxy(&args))
}
