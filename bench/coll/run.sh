#!/bin/sh
# Collective latency of vmpi beside MPICH and Open MPI, interleaved, minimum of R runs:
#   bench/coll/run.sh [R=3] [NPS="2 4"]      (from the repository root)
# Builds coll_bench (cargo, release) and osu_coll.c with mpicc.mpich / mpicc.openmpi,
# then prints one table per rank count (bench/coll/compare.py). MPICH busy-polls when
# ranks outnumber cores, so it runs only where NP <= nproc (set MPICH_ALWAYS=1 to force).
set -e
R=${1:-3}
NPS=${NPS:-"2 4"}
OUT=${OUT:-target/coll-bench}
mkdir -p "$OUT"
[ -n "$COLL_BENCH" ] || cargo build --release -q -p vmpi-testsuite -p vmpi-launch --bins
mpicc.mpich -O2 -o "$OUT/osu_mpich" bench/coll/osu_coll.c
mpicc.openmpi -O2 -o "$OUT/osu_ompi" bench/coll/osu_coll.c
CORES=$(nproc)
for np in $NPS; do
  for r in $(seq 1 "$R"); do
    target/release/mpirun -np "$np" "${COLL_BENCH:-target/release/coll_bench}" > "$OUT/vmpi.$np.$r"
    if [ "$np" -le "$CORES" ] || [ -n "$MPICH_ALWAYS" ]; then
      mpiexec.mpich -n "$np" "$OUT/osu_mpich" > "$OUT/mpich.$np.$r"
    fi
    mpirun.openmpi --allow-run-as-root --oversubscribe -np "$np" "$OUT/osu_ompi" > "$OUT/ompi.$np.$r"
  done
done
python3 bench/coll/compare.py "$OUT" $NPS
