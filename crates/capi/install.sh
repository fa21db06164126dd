#!/bin/sh
# Install vmpi's C interface and tools into PREFIX from a built target directory:
#   install.sh PREFIX [TARGET_DIR]   (TARGET_DIR defaults to target/release)
# Makes a relocatable tree: bin/ include/ lib/ (libmpi.so.12 and its MPICH names,
# libmpi.a, pkgconfig/vmpi.pc) share/doc/vmpi.
set -eu
prefix=${1:?usage: install.sh PREFIX [TARGET_DIR]}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${2:-$root/target/release}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)
[ -f "$target/libmpi.so" ] || { echo "install: $target/libmpi.so missing; run: make capi" >&2; exit 1; }
mkdir -p "$prefix/bin" "$prefix/include" "$prefix/lib/pkgconfig" "$prefix/share/doc/vmpi"
prefix=$(cd "$prefix" && pwd)

gen() { # lang var1 var2 default out
    sed -e "s|@LANG@|$1|g" -e "s|@VAR1@|$2|g" -e "s|@VAR2@|$3|g" -e "s|@DEFAULT@|$4|g" \
        -e "s|@ENVVARS@|$2 (or $3)|g" -e "s|@PREFIX@|$prefix|g" "$here/scripts/mpicc.in" > "$5"
    chmod 755 "$5"
}
gen C VMPI_CC MPICH_CC cc "$prefix/bin/mpicc"
gen C++ VMPI_CXX MPICH_CXX c++ "$prefix/bin/mpicxx"
ln -sf mpicxx "$prefix/bin/mpic++"
for b in mpirun mpiexec mpirun_rsh vmpi-proxy vmpi-info vmpi-admin; do
    if [ -f "$target/$b" ]; then
        install -m 755 "$target/$b" "$prefix/bin/$b"
    else
        echo "install: warning: $target/$b not built; skipped" >&2
    fi
done
install -m 644 "$here/include/mpi.h" "$prefix/include/mpi.h"
install -m 644 "$here/include/mpio.h" "$prefix/include/mpio.h"
install -m 755 "$target/libmpi.so" "$prefix/lib/libmpi.so.12"
for l in libmpi.so libmpich.so.12 libmpich.so; do ln -sf libmpi.so.12 "$prefix/lib/$l"; done
[ -f "$target/libmpi.a" ] && install -m 644 "$target/libmpi.a" "$prefix/lib/libmpi.a"
sed "s|@VERSION@|$version|" "$here/scripts/vmpi.pc.in" > "$prefix/lib/pkgconfig/vmpi.pc"
for d in "$root/README.md" "$root"/docs/*.md; do
    [ -f "$d" ] && install -m 644 "$d" "$prefix/share/doc/vmpi/"
done
echo "install: vmpi $version in $prefix"
