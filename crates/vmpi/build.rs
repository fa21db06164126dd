//! Compiles the C helpers for `long double` reductions (Rust has no 80-bit float).
fn main() {
    println!("cargo:rerun-if-changed=src/op/longdouble.c");
    cc::Build::new()
        .file("src/op/longdouble.c")
        .opt_level(2)
        .compile("vmpi_longdouble");
}
