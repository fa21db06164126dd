#!/bin/sh
# Pin this rank to one core, then run the program: rank r goes to core r (mod the
# number of cores). The rank comes from the launcher's environment: PMI_RANK (vmpi's
# mpirun, MPICH Hydra), OMPI_COMM_WORLD_RANK (Open MPI) or PMIX_RANK.
#   target/release/mpirun -np 2 bench/p2p/pin.sh target/release/vmpi-p2p-bench
rank=${PMI_RANK:-${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-}}}
if [ -z "$rank" ]; then
    echo "pin.sh: no PMI_RANK/OMPI_COMM_WORLD_RANK/PMIX_RANK; running unpinned" >&2
    exec "$@"
fi
ncores=$(nproc --all 2>/dev/null || echo 1)
exec taskset -c $((rank % ncores)) "$@"
