#!/usr/bin/env bash
# Install what the build and the test suite need and a fresh Debian 12 machine lacks.
# Idempotent: installs only what is missing; needs root for that.
#   install-deps.sh build   only what the build needs: hwloc (the library reads the
#                           machine's topology for CPU binding; the hwlocality crate
#                           links libhwloc found by pkg-config with hwloc's static
#                           dependencies, hence libudev-dev)
#   install-deps.sh         the build's, and the tests': MPICH (its Hydra launcher runs
#                           vmpi programs), parallel HDF5 for MPICH (an MPI-IO
#                           test), python3 (raw PMI clients), the multi-host
#                           tests' namespaces and sshd, Slurm and munge (a real cluster
#                           of namespaces), QEMU, busybox and cpio (the IVSHMEM VMs)
set -euo pipefail
need=()
pkg-config --exists 'hwloc >= 2.0.4' 2>/dev/null || need+=(libhwloc-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
ls /usr/lib/*/libudev.so >/dev/null 2>&1 || need+=(libudev-dev)
if [ "${1:-}" != build ]; then
    command -v mpiexec.mpich >/dev/null 2>&1 || need+=(mpich libmpich-dev)
    # MPI-IO (crates/capi/tests/capi_io.rs): parallel HDF5 built for MPICH, on vmpi
    [ -e /usr/include/hdf5/mpich/hdf5.h ] || need+=(libhdf5-mpich-dev)
    # rsmpi (crates/capi/tests/rsmpi.rs): bindgen needs clang and libclang
    command -v clang >/dev/null 2>&1 || need+=(clang)
    [ -e /usr/lib/llvm-14/lib/libclang.so ] || ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1 || need+=(libclang-dev)
    command -v python3 >/dev/null 2>&1 || need+=(python3)
    command -v gcc >/dev/null 2>&1 || need+=(gcc)
    command -v g++ >/dev/null 2>&1 || need+=(g++)
    command -v make >/dev/null 2>&1 || need+=(make)
    command -v pgrep >/dev/null 2>&1 || need+=(procps)
    # multi-host tests (crates/testsuite/tests/hosts.rs, scripts/vhosts.sh): hosts made
    # of namespaces, one reached through a real sshd
    command -v ip >/dev/null 2>&1 || need+=(iproute2)
    command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
    [ -x /usr/sbin/sshd ] || need+=(openssh-server)
    command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
    # Slurm tests (crates/testsuite/tests/slurm.rs on scripts/slurm-cluster.sh): a real
    # Slurm 22.05 cluster of namespaces; libpmix-dev gives Slurm's mpi/pmix plugin the
    # libpmix.so it loads (vmpi's PMIx client loads libpmix.so.2 of libpmix2).
    for p in slurmctld slurmd slurm-client munge libpmix-dev; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
    done
    # IVSHMEM tests (crates/testsuite/tests/vms.rs on scripts/vm/): QEMU VMs (TCG)
    command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
    [ -x /bin/busybox ] || need+=(busybox-static)
    command -v cpio >/dev/null 2>&1 || need+=(cpio)
fi
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${need[*]}; run as root or install them: apt-get install ${need[*]}" >&2
    exit 1
fi
echo "install-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# Keep the packages' scripts from starting system-wide services (munge, slurm, sshd):
# the tests start their own daemons with their own configuration.
made_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
fi
trap '[ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
