#!/usr/bin/env bash
# What `make bench` needs beyond the test suite (scripts/install-deps.sh): the peers
# (MPICH and Open MPI with their compiler wrappers) and matplotlib for the plots.
# Kept apart so that `make test` stays lean. Idempotent; needs root to install.
set -euo pipefail
need=()
command -v mpicc.mpich >/dev/null 2>&1 || need+=(mpich libmpich-dev)
command -v mpicc.openmpi >/dev/null 2>&1 || need+=(openmpi-bin libopenmpi-dev)
/usr/bin/python3 -c 'import matplotlib' >/dev/null 2>&1 || need+=(python3-matplotlib)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v make >/dev/null 2>&1 || need+=(make)
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-bench-deps: missing packages: ${need[*]}; run as root or install them: apt-get install ${need[*]}" >&2
    exit 1
fi
echo "install-bench-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
