#!/usr/bin/env bash
# Install what the test suite needs and a fresh Debian 12 machine lacks: MPICH (its
# Hydra launcher runs vmpi programs in a test), python3 (the launcher tests speak
# raw PMI with it), Slurm and munge (the Slurm tests). Idempotent: installs only what
# is missing; needs root for that.
set -euo pipefail
need=()
command -v mpiexec.mpich >/dev/null 2>&1 || need+=(mpich libmpich-dev)
# rsmpi (crates/capi/tests/rsmpi.rs): bindgen needs clang and libclang
command -v clang >/dev/null 2>&1 || need+=(clang)
[ -e /usr/lib/llvm-14/lib/libclang.so ] || ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1 || need+=(libclang-dev)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v pgrep >/dev/null 2>&1 || need+=(procps)
# The Slurm tests (crates/testsuite/tests/slurm.rs on scripts/slurm-cluster.sh): a real
# Slurm 22.05 cluster of namespaces; libpmix-dev gives Slurm's mpi/pmix plugin the
# libpmix.so it loads (vmpi's PMIx client loads libpmix.so.2 of libpmix2, a dependency).
for p in slurmctld slurmd slurm-client munge libpmix-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${need[*]}; run as root or install them: apt-get install ${need[*]}" >&2
    exit 1
fi
echo "install-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# Keep the packages' scripts from starting system-wide munge and slurm services: the
# tests start their own daemons with their own configuration.
made_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
fi
trap '[ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
