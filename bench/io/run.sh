#!/usr/bin/env bash
# vmpi vs MPICH (ROMIO) vs Open MPI (OMPIO) on bench/io/io_bench.c.
#   bench/io/run.sh [DIR (default /tmp)] [NP list (default "2 4")] [program args after DIR]
# Needs an installed vmpi tree in $VMPI (default target/io-bench-prefix, made here
# with `make install NO_BUILD=1`), mpicc.mpich and mpicc.openmpi.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=${1:-/tmp}
nps=${2:-"2 4"}
shift $(( $# > 2 ? 2 : $# ))
out=$root/target/io-bench
vmpi=${VMPI:-$root/target/io-bench-prefix}
mkdir -p "$out"
[ -x "$vmpi/bin/mpicc" ] || make -C "$root" install PREFIX="$vmpi" NO_BUILD=1 >/dev/null
"$vmpi/bin/mpicc" -O2 -o "$out/io_bench-vmpi" "$here/io_bench.c"
mpicc.mpich -O2 -o "$out/io_bench-mpich" "$here/io_bench.c"
mpicc.openmpi -O2 -o "$out/io_bench-openmpi" "$here/io_bench.c"
for np in $nps; do
    echo "== np $np, $dir"
    echo "-- vmpi"
    LD_LIBRARY_PATH=$vmpi/lib "$vmpi/bin/mpirun" -np "$np" "$out/io_bench-vmpi" "$dir" "$@"
    echo "-- MPICH"
    mpiexec.mpich -n "$np" "$out/io_bench-mpich" "$dir" "$@"
    echo "-- Open MPI"
    mpirun.openmpi --allow-run-as-root --oversubscribe -np "$np" "$out/io_bench-openmpi" "$dir" "$@"
done
