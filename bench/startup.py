#!/usr/bin/env python3
"""Start-up cost of vmpi against MPICH and Open MPI: the time from starting the
launcher to MPI_Init returning on every rank, to the first collective, and to the
launcher's exit, and the /dev/shm bytes the job holds while it runs.

Runs bench/programs/startup.c (built with each library's mpicc, as compare.py does)
RUNS times interleaved per rank count, and prints a Markdown table of medians and
bests (also written to OUT/summary.md, raw lines to OUT/raw.txt).

  bench/startup.py --np 2,8,64                      # one host (shared memory)
  bench/startup.py --scenario hosts --np 9 --runs 5 # three namespace hosts (root)

Scenarios as in compare.py: shm = one host, every library as it comes; hosts = ranks
round-robin over three hosts built from namespaces (scripts/vhosts.sh), each library
started by its own launcher through the ssh stand-in scripts/vhosts-ssh. In the
hosts scenario the /dev/shm column is rank 0's host only.
"""
import argparse
import datetime
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the programs' build, launchers and host arguments)


def shm_used():
    s = os.statvfs("/dev/shm")
    return (s.f_blocks - s.f_bfree) * s.f_frsize


def mib(n):
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n / 1024:.0f} KiB"


def command(lib, np, scenario):
    prog = os.path.join(compare.BUILD, lib, "startup")
    hosts = compare.host_args(lib, np) if scenario == "hosts" else []
    if lib == "vmpi":
        return [compare.MPIRUN, "-np", str(np)] + hosts + [prog]
    if lib == "mpich":
        return ["mpiexec.mpich", "-n", str(np), "-bind-to", "none"] + hosts + [prog]
    return ["mpirun.openmpi", "--allow-run-as-root", "--oversubscribe", "-n", str(np),
            "--bind-to", "none"] + hosts + [prog]


def one_run(lib, np, scenario, timeout):
    """A dict of the program's numbers plus the launcher's wall time, or an error string."""
    env = dict(os.environ)
    env["VMPI_BENCH_SHM_USED"] = str(shm_used())
    cmd = command(lib, np, scenario)
    t0 = time.time()
    env["VMPI_BENCH_T0"] = f"{t0:.6f}"
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout} s"
    wall = time.time() - t0
    line = next((l for l in p.stdout.splitlines() if l.startswith("startup ")), None)
    if p.returncode != 0 or line is None:
        return f"exit {p.returncode}: {(p.stderr or p.stdout).strip()[-300:]}"
    w = line.split()
    r = {w[i]: float(w[i + 1]) for i in range(3, len(w) - 1, 2)}
    r["wall"] = wall
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="shm", choices=["shm", "hosts"])
    ap.add_argument("--np", default="2,8", help="rank counts, e.g. 2,8,64")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--libs", default="vmpi,mpich,openmpi")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per run")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    nps = [int(x) for x in a.np.replace(" ", ",").split(",") if x]
    libs = compare.build([l for l in a.libs.split(",") if l], a.no_build)
    out = a.out or os.path.join(compare.ROOT, "results",
                                f"{datetime.datetime.now():%Y%m%d-%H%M%S}-startup-{a.scenario}")
    os.makedirs(out, exist_ok=True)
    if a.scenario == "hosts":
        compare.sh([compare.VHOSTS, "down"])
        compare.sh([compare.VHOSTS, "up", "3"])
    results = {}
    try:
        with open(os.path.join(out, "raw.txt"), "w") as raw:
            for np in nps:
                for run in range(a.runs):
                    for lib in libs:
                        r = one_run(lib, np, a.scenario, a.timeout)
                        results.setdefault((lib, np), []).append(r)
                        print(f"{lib} np {np} run {run}: {r}", file=raw, flush=True)
                        print(f"{lib} np {np} run {run}: {r}", file=sys.stderr)
    finally:
        if a.scenario == "hosts":
            compare.sh([compare.VHOSTS, "down"])
    md = [f"# Start-up, scenario `{a.scenario}` ({a.runs} interleaved runs; "
          f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%MZ}; "
          f"{os.cpu_count()} cores)\n",
          "Seconds from starting the launcher: median (best). /dev/shm: bytes per rank "
          "on rank 0's host while the job runs (median).\n",
          "| ranks | library | MPI_Init returned on every rank | first allreduce done | launcher exited | /dev/shm per rank | failed runs |",
          "|---|---|---|---|---|---|---|"]
    for np in nps:
        for lib in libs:
            rs = results.get((lib, np), [])
            ok = [r for r in rs if isinstance(r, dict)]
            bad = len(rs) - len(ok)
            if not ok:
                md.append(f"| {np} | {compare.NAMES[lib]} | - | - | - | - | {bad}: {rs[0] if rs else ''} |")
                continue

            def cell(k):
                v = [r[k] for r in ok]
                return f"{statistics.median(v):.3f} ({min(v):.3f})"
            per_rank = statistics.median(r["shm_bytes"] for r in ok) / (np if a.scenario == "shm" else -(-np // 3))
            md.append(f"| {np} | {compare.NAMES[lib]} | {cell('init_max')} | {cell('first_coll')} | "
                      f"{cell('wall')} | {mib(per_rank)} | {bad or ''} |")
    text = "\n".join(md) + "\n"
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(text)
    print(text)
    print(f"results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
