// The shared library answers to the MPICH ABI's soname, so binaries linked against
// MPICH's libmpi.so.12 / libmpich.so.12 load it.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmpi.so.12");
    println!("cargo:rerun-if-changed=build.rs");
}
