#!/usr/bin/env python3
"""IVSHMEM against virtio-net TCP between two QEMU VMs on this machine.

Boots two VMs (scripts/vm/vms.sh; `make vm-programs` first) sharing one
ivshmem-plain device, runs the static vmpi-p2p-bench with one rank in each VM,
once over the device and once with MV2_VIRT_USE_IVSHMEM=0 (TCP through the
virtio-net cards and the host bridge), interleaved RUNS times, and prints the
median of each size and IVSHMEM's gain: TCP latency / IVSHMEM latency, IVSHMEM
bandwidth / TCP bandwidth (above 1: IVSHMEM better).

Under TCG (no KVM on this machine) both paths are emulated, so absolute numbers
say little about real VMs; the ratio says how much the channel saves.

    bench/vms.py [--runs 3] [--test latency,bw] [--max 1M]
Needs root (tap devices, a bridge).
"""
import argparse
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VMS = os.path.join(ROOT, "scripts", "vm", "vms.sh")
RSH = os.path.join(ROOT, "scripts", "vm", "vm-rsh")
MPIRUN = os.path.join(ROOT, "target", "release", "mpirun")
DEV = "/dev/shm/vmpi-bench-ivshmem"


def run(test, mx, ivshmem):
    env = dict(os.environ, VMPI_PROXY="/test/vmpi-proxy", MPIEXEC_TIMEOUT="300")
    if not ivshmem:
        env["MV2_VIRT_USE_IVSHMEM"] = "0"
    cmd = [MPIRUN, "-launcher-exec", RSH, "-np", "2", "-hosts", "10.203.0.11,10.203.0.12",
           "/test/vmpi-p2p-bench", "--test", test, "--min", "0" if test == "latency" else "1",
           "--max", mx]
    o = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if o.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: {o.stdout}{o.stderr}")
    out = {}
    for line in o.stdout.splitlines():
        f = line.split()
        if len(f) == 2 and f[0].isdigit():
            out[int(f[0])] = float(f[1])
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", "3")))
    p.add_argument("--test", default="latency,bw")
    p.add_argument("--max", default="1M")
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/vms.py needs root (it boots VMs on a bridge)")
    subprocess.run([VMS, "down"], check=True)
    if os.path.exists(DEV):
        os.remove(DEV)
    env = dict(os.environ, VMS_PAYLOAD=os.path.join(ROOT, "target", "vm", "payload"))
    subprocess.run([VMS, "up", "2", f"{DEV}:32M"], check=True, env=env)
    try:
        for test in a.test.split(","):
            res = {True: {}, False: {}}
            for _ in range(a.runs):
                for iv in (True, False):
                    for size, v in run(test, a.max, iv).items():
                        res[iv].setdefault(size, []).append(v)
            unit = "us" if test == "latency" else "MB/s"
            print(f"\n{test} between two VMs ({unit}, median of {a.runs}), one rank per VM")
            print(f"{'size':>9} {'ivshmem':>10} {'tcp':>10} {'gain':>8}")
            for size in sorted(res[True]):
                iv = statistics.median(res[True][size])
                tcp = statistics.median(res[False].get(size, [float("nan")]))
                gain = tcp / iv if test == "latency" else iv / tcp
                print(f"{size:>9} {iv:>10.2f} {tcp:>10.2f} {gain:>7.1f}x")
    finally:
        subprocess.run([VMS, "down"])
        if os.path.exists(DEV):
            os.remove(DEV)


if __name__ == "__main__":
    main()
