#!/usr/bin/env python3
"""vmpi against MPICH and Open MPI with the OSU-style programs of bench/programs.

Builds the programs three times (our mpicc from an installed tree, Debian's
mpicc.mpich and mpicc.openmpi), runs every (benchmark, ranks) with each library in
turn, RUNS times interleaved (vmpi MPICH OpenMPI vmpi MPICH OpenMPI ...), keeps the
best value per size (lowest latency, highest bandwidth: the minimum of a series, as
the seed-004 baseline does), and writes into OUT (default results/<date>-<scenario>/):

  raw/<bench>-np<N>-<lib>-<run>.txt   every run's output (.err beside it if any)
  setup.txt, runs.log                 command lines; the load before every run
  summary.md                          one table per benchmark: best of runs per size,
                                      ratio vmpi / best peer (best and medians), and
                                      where vmpi's median is worse, the one-sided
                                      Mann-Whitney p that it is behind beyond noise
  plots/<bench>-np<N>.png             the same as a plot (matplotlib)
  best.json, median.json              the tables as data: best and median of runs
  behind.json                         the cells behind beyond noise (p < 0.05)

  bench/compare.py                       # what `make bench` runs
  bench/compare.py --scenario tcp        # vmpi MV2_USE_SHARED_MEM=0 vs the peers' TCP paths
  bench/compare.py --runs 5 --np 2 --sizes 1:64K --benchmarks latency,allreduce
  bench/compare.py --summarize results/<dir>   # tables and plots again, no runs
  bench/compare.py --self-test                 # check the significance test

Scenarios: shm = every library as it comes (shared memory). tcp = vmpi with
MV2_USE_SHARED_MEM=0, MPICH (ch4:ucx) with UCX_TLS=tcp,self, Open MPI with
--mca pml ob1 --mca btl tcp,self. hosts = ranks on different hosts built from
namespaces (scripts/vhosts.sh, brought up and down by this script; root only),
each library started by its own launcher through the same ssh stand-in
(scripts/vhosts-ssh): vmpi's mpirun -launcher-exec, MPICH's Hydra -launcher-exec,
Open MPI's plm_rsh_agent; every library as it comes (TCP between the hosts).
Add one in SCENARIOS below.

Oversubscription (ranks > cores): nobody is pinned, and MPICH, which busy-polls and
then takes milliseconds per message, runs with --capped-iters iterations (marked in
the tables); every run has a time limit (--timeout; a run that hits it keeps the
sizes it printed and is marked).
"""
import argparse
import datetime
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS = os.path.join(ROOT, "bench", "programs")
PIN = os.path.join(ROOT, "bench", "p2p", "pin.sh")
BUILD = os.path.join(ROOT, "target", "bench")
MPIRUN = os.path.join(ROOT, "target", "release", "mpirun")

NAMES = {"vmpi": "vmpi", "mpich": "MPICH", "openmpi": "Open MPI"}
# benchmark -> (kind, default sizes, metric label); kind: pair = ranks 0 and 1 only
# (run at 2 ranks), multi = pairs of ranks, coll = every rank.
BENCHES = {
    "latency": ("pair", "0:1M", "latency (us)"),
    "bw": ("pair", "1:4M", "bandwidth (MB/s)"),
    "bibw": ("pair", "1:4M", "bandwidth (MB/s)"),
    "multi_lat": ("multi", "0:1M", "latency (us)"),
    "mbw_mr": ("multi", "1:1M", "aggregate bandwidth (MB/s)"),
    "barrier": ("coll", "0:0", "latency (us)"),
    "bcast": ("coll", "1:1M", "latency (us)"),
    "reduce": ("coll", "4:1M", "latency (us)"),
    "allreduce": ("coll", "4:1M", "latency (us)"),
    "allgather": ("coll", "1:1M", "latency (us)"),
    "alltoall": ("coll", "1:1M", "latency (us)"),
    "gather": ("coll", "1:1M", "latency (us)"),
    "scatter": ("coll", "1:1M", "latency (us)"),
    # one-sided (bench/programs/rma.c): rank 0 to rank 1, lock once per size, flush
    # per operation (put_bw: per 64); fop/cas: one MPI_LONG_LONG, one line of size 8
    "put_latency": ("pair", "1:1M", "latency (us)"),
    "get_latency": ("pair", "1:1M", "latency (us)"),
    "put_bw": ("pair", "1:1M", "bandwidth (MB/s)"),
    "acc_latency": ("pair", "1:1M", "latency (us)"),
    "fop_latency": ("pair", "8:8", "latency (us)"),
    "cas_latency": ("pair", "8:8", "latency (us)"),
}
HIGHER_IS_BETTER = {"bw", "bibw", "mbw_mr", "put_bw"}
# Run when named (BENCHES=put_latency,...), not by default: `make bench` keeps its
# length, and runs where vmpi has no MPI_Win_* yet. Empty this to run them always.
OPT_IN = {"put_latency", "get_latency", "put_bw", "acc_latency", "fop_latency", "cas_latency"}

SCENARIOS = {
    # lib -> (environment, extra launcher arguments)
    "shm": {"vmpi": ({}, []), "mpich": ({}, []), "openmpi": ({}, [])},
    "tcp": {
        "vmpi": ({"MV2_USE_SHARED_MEM": "0"}, []),
        "mpich": ({"UCX_TLS": "tcp,self"}, []),
        "openmpi": ({}, ["--mca", "pml", "ob1", "--mca", "btl", "tcp,self"]),
    },
    "hosts": {"vmpi": ({}, []), "mpich": ({}, []), "openmpi": ({}, [])},
}
VHOSTS = os.path.join(ROOT, "scripts", "vhosts.sh")
VSSH = os.path.join(ROOT, "scripts", "vhosts-ssh")
VHOST_ADDRS = ["10.201.0.11", "10.201.0.12", "10.201.0.13"]


def host_args(lib, np):
    """Launcher arguments of the hosts scenario: ranks round-robin over the hosts,
    started through the ssh stand-in."""
    hosts = ",".join(VHOST_ADDRS[: min(np, len(VHOST_ADDRS))])
    if lib == "vmpi":
        return ["-launcher-exec", VSSH, "-hosts", hosts]
    if lib == "mpich":
        return ["-launcher", "ssh", "-launcher-exec", VSSH, "-iface", "vhbr0", "-hosts", hosts]
    slots = ",".join(f"{h}:{(np + 2) // 3}" for h in hosts.split(","))
    return ["--mca", "plm_rsh_agent", VSSH, "--host", slots, "--map-by", "node"]


def human(n):
    for unit, s in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= s and n % s == 0:
            return f"{n // s} {unit}"
    return f"{n} B"


def sh(cmd, **kw):
    print("+ " + " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, check=True, **kw)


def build(libs, no_build, programs=None):
    """Compiles bench/programs for every library (the named programs, or every one
    but the opt-in ones); returns the libraries available."""
    have = []
    for lib in libs:
        if lib == "vmpi":
            prefix = os.path.join(BUILD, "prefix")
            if not no_build:
                sh(["make", "-C", ROOT, "capi"])
            if not no_build or not os.path.exists(os.path.join(prefix, "bin", "mpicc")):
                sh(["make", "-s", "-C", ROOT, "install", "NO_BUILD=1", f"PREFIX={prefix}"],
                   stdout=subprocess.DEVNULL)
            mpicc = os.path.join(prefix, "bin", "mpicc")
            ok = os.access(MPIRUN, os.X_OK)
        else:
            mpicc = shutil.which(f"mpicc.{lib}")
            launcher = "mpiexec.mpich" if lib == "mpich" else "mpirun.openmpi"
            ok = mpicc is not None and shutil.which(launcher) is not None
        if not ok:
            print(f"compare.py: {lib} not available, skipped", file=sys.stderr)
            continue
        # always (re)make: make only rebuilds what changed, and the .c files are shared
        targets = [os.path.join(BUILD, lib, p) for p in programs] if programs else ["base"]
        sh(["make", "-s", "-C", PROGRAMS, f"MPICC={mpicc}", f"BIN={os.path.join(BUILD, lib)}"] + targets,
           stderr=subprocess.DEVNULL)
        have.append(lib)
    return have


def command(lib, bench, np, args, scenario, cores):
    """(argv, env, capped) for one run."""
    env_extra, launcher_extra = SCENARIOS[scenario][lib]
    prog = os.path.join(BUILD, lib, bench)
    over = np > cores
    capped = False
    extra = list(args.bench_args.split()) if args.bench_args else []
    sizes = args.sizes or BENCHES[bench][1]
    if bench == "barrier":
        sizes = "0:0"
    if scenario == "hosts":
        launcher_extra = launcher_extra + host_args(lib, np)
    # Pinned by pin.sh (rank r on core r): per-host launchers would each bind
    # their one rank to core 0.
    pin = [] if over or not args.pin else [PIN]
    if lib == "vmpi":
        cmd = [MPIRUN, "-np", str(np)] + launcher_extra + pin + [prog]
    elif lib == "mpich" and scenario == "hosts":
        cmd = ["mpiexec.mpich", "-n", str(np), "-bind-to", "none"] + launcher_extra + pin + [prog]
        if over:
            capped = True
            extra += ["-i", str(args.capped_iters), "-x", "1"]
    elif lib == "mpich":
        cmd = ["mpiexec.mpich", "-n", str(np), "-bind-to", "none" if over or not args.pin else "core"]
        cmd += launcher_extra + [prog]
        if over:
            capped = True
            extra += ["-i", str(args.capped_iters), "-x", "1"]
    elif scenario == "hosts":
        cmd = ["mpirun.openmpi", "--allow-run-as-root", "--oversubscribe", "-n", str(np),
               "--bind-to", "none"] + launcher_extra + pin + [prog]
    else:
        cmd = ["mpirun.openmpi", "--allow-run-as-root", "--oversubscribe", "-n", str(np),
               "--bind-to", "none" if over or not args.pin else "core"] + launcher_extra + [prog]
    cmd += ["-m", sizes] + extra
    return cmd, env_extra, capped


def busy():
    """Processes running on average over 1 s, besides this sampler."""
    total = 0
    for _ in range(10):
        with open("/proc/loadavg") as f:
            total += int(f.read().split()[3].split("/")[0]) - 1
        time.sleep(0.1)
    return total / 10


def wait_quiet(limit, cpus):
    start = time.time()
    b = busy()
    while limit > 0 and time.time() - start < limit and b > cpus:
        time.sleep(2)
        b = busy()
    return f"busy {b:.1f} after {time.time() - start:.0f} s wait"


def machine():
    model = "?"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def run_all(args, libs, out):
    cores = os.cpu_count() or 1
    nps = [int(n) for n in args.np.split()]
    plan = []
    for bench in args.benchmarks:
        kind = BENCHES[bench][0]
        for np in ([2] if kind == "pair" else nps):
            if kind == "multi" and np % 2:
                continue
            plan.append((bench, np))
    raw = os.path.join(out, "raw")
    os.makedirs(raw, exist_ok=True)
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "diff", "--quiet", "HEAD"]).returncode != 0
    meta = {
        "date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": machine(),
        "git": git + (" (dirty)" if dirty else ""),
        "scenario": args.scenario,
        "runs": args.runs,
        "np": nps,
        "libs": libs,
        "capped_iters": args.capped_iters,
        "timeout": args.timeout,
        "load_before": open("/proc/loadavg").read().split()[:3],
    }
    with open(os.path.join(out, "setup.txt"), "w") as f:
        for k, v in meta.items():
            f.write(f"{k}: {v}\n")
        for bench, np in plan:
            for lib in libs:
                cmd, env, capped = command(lib, bench, np, args, args.scenario, cores)
                envs = " ".join(f"{k}={v}" for k, v in env.items())
                f.write(f"{bench} np{np} {lib}: {envs + ' ' if envs else ''}{' '.join(cmd)}"
                        f"{' (capped iterations: oversubscribed MPICH busy-polls)' if capped else ''}\n")
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    log = open(os.path.join(out, "runs.log"), "a")
    failures = 0
    t_start = time.time()
    for run in range(1, args.runs + 1):
        for bench, np in plan:
            for lib in libs:
                cmd, env_extra, capped = command(lib, bench, np, args, args.scenario, cores)
                env = dict(os.environ, **env_extra)
                q = wait_quiet(args.quiet_wait, args.quiet_cpus) if args.quiet_wait else "no wait"
                base = os.path.join(raw, f"{bench}-np{np}-{lib}-{run}")
                print(f"== run {run}/{args.runs} {bench} np={np} {lib} "
                      f"({time.time() - t_start:.0f} s)", file=sys.stderr)
                t0 = time.time()
                status = "ok"
                with open(base + ".txt", "w") as o, open(base + ".err", "w") as e:
                    try:
                        rc = subprocess.run(cmd, env=env, stdout=o, stderr=e,
                                            timeout=args.timeout, start_new_session=True).returncode
                        if rc != 0:
                            status = f"exit {rc}"
                    except subprocess.TimeoutExpired:
                        status = "timeout"
                dt = time.time() - t0
                if status != "ok":
                    failures += 1
                    print(f"compare.py: {lib} {bench} np={np}: {status} (see {base}.err)", file=sys.stderr)
                    with open(base + ".status", "w") as s:
                        s.write(status + "\n")
                if os.path.getsize(base + ".err") == 0:
                    os.remove(base + ".err")
                log.write(f"{datetime.datetime.utcnow():%H:%M:%S} run {run} {bench} np{np} {lib} "
                          f"{status} {dt:.1f}s load {' '.join(open('/proc/loadavg').read().split()[:3])}, {q}\n")
                log.flush()
    log.write(f"total {time.time() - t_start:.0f} s\n")
    return failures


LINE = re.compile(r"^(\d+)\s+([0-9.]+)")


def parse(path):
    vals = {}
    for line in open(path):
        m = LINE.match(line)
        if m:
            vals[int(m.group(1))] = float(m.group(2))
    return vals


def summarize(out):
    meta = json.load(open(os.path.join(out, "meta.json")))
    libs = meta["libs"]
    cores = int(meta["host"].rsplit(",", 1)[1].split()[0]) if "," in meta["host"] else 1
    files = sorted(glob.glob(os.path.join(out, "raw", "*.txt")))
    # (bench, np) -> lib -> {"runs": n, "bad": [status], "best": {size: v}, "all": {size: [v]}}
    series = {}
    for f in files:
        m = re.match(r"(.+)-np(\d+)-(\w+)-(\d+)\.txt$", os.path.basename(f))
        if not m:
            continue
        bench, np, lib = m.group(1), int(m.group(2)), m.group(3)
        d = series.setdefault((bench, np), {}).setdefault(lib, {"runs": 0, "bad": [], "best": {}, "all": {}})
        st = f[:-4] + ".status"
        if os.path.exists(st):
            d["bad"].append(open(st).read().strip())
        vals = parse(f)
        if vals:
            d["runs"] += 1
        hib = bench in HIGHER_IS_BETTER
        for s, v in vals.items():
            if v <= 0:
                continue
            old = d["best"].get(s)
            d["best"][s] = v if old is None else (max(old, v) if hib else min(old, v))
            d["all"].setdefault(s, []).append(v)
    for libs_of in series.values():
        for d in libs_of.values():
            d["median"] = {s: statistics.median(v) for s, v in d["all"].items()}
    order = list(BENCHES)
    keys = sorted(series, key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[1]))
    md = [f"# vmpi vs MPICH and Open MPI: scenario `{meta['scenario']}`\n",
          f"- date: {meta['date']}; git: {meta['git']}",
          f"- machine: {meta['host']}; load average before: {' '.join(meta['load_before'])}",
          f"- {meta['runs']} interleaved runs per library, best per size (lowest latency, "
          f"highest bandwidth); ratio = vmpi / best peer of that size "
          f"(latency: < 1 means vmpi is faster; bandwidth: > 1 means vmpi is faster); "
          f"medians = the same ratio from each library's median over its runs",
          f"- command lines: setup.txt; load before every run: runs.log\n"]
    plots = os.path.join(out, "plots")
    os.makedirs(plots, exist_ok=True)
    data, medians, pvals = {}, {}, {}
    worst, behind = [], []
    for bench, np in keys:
        libd = series[(bench, np)]
        hib = bench in HIGHER_IS_BETTER
        sizes = sorted({s for l in libd.values() for s in l["best"]})
        notes = []
        head = ["size"]
        present = [l for l in libs if l in libd]
        for l in present:
            d = libd[l]
            label = f"{NAMES[l]} ({d['runs']} runs)"
            if l == "mpich" and np > cores:
                label += " *"
                notes.append(f"\\* MPICH oversubscribed ({np} ranks on {cores} cores) busy-polls: "
                             f"run with {meta.get('capped_iters')} iterations per size")
            if d["bad"]:
                notes.append(f"{NAMES[l]}: {len(d['bad'])} run(s) {', '.join(sorted(set(d['bad'])))} "
                             f"(sizes printed before are kept)")
            head.append(label)
        peers = [l for l in present if l != "vmpi"]
        if "vmpi" in present and peers:
            head += ["vmpi / best peer", "medians", "p behind"]
        rows, ratios = [], {}
        for s in sizes:
            cells = [human(s)]
            for l in present:
                v = libd[l]["best"].get(s)
                cells.append("-" if v is None else (f"{v:,.0f}" if hib and v >= 100 else f"{v:,.2f}"))
            pv = [libd[l]["best"][s] for l in peers if s in libd[l]["best"]]
            if "vmpi" in present and peers:
                a = libd["vmpi"]["best"].get(s)
                if a and pv:
                    b = max(pv) if hib else min(pv)
                    r = a / b
                    ratios[s] = r
                    cells.append(f"**{r:.2f}**" if (r < 0.9 if hib else r > 1.1) else f"{r:.2f}")
                    rm, pv, peer = against_best_median(libd, peers, s, hib) or (None, None, None)
                    cells.append("-" if rm is None else f"{rm:.2f}")
                    cells.append("-" if pv is None else (f"**{pv:.3f}**" if pv < ALPHA else f"{pv:.2f}"))
                    if pv is not None and pv < ALPHA:
                        behind.append((bench, np, s, rm, peer, pv))
                        pvals.setdefault(f"{bench}-np{np}", {})[str(s)] = pv
                    worst.append(((1 / r if hib else r), bench, np, s,
                                  None if rm is None else (1 / rm if hib else rm)))
                else:
                    cells += ["-", "-", "-"]
            rows.append(cells)
        metric = BENCHES.get(bench, ("", "", "value"))[2]
        md.append(f"## {bench}, {np} ranks: {metric}, {'higher' if hib else 'lower'} is better\n")
        md.append(f"![{bench} {np} ranks](plots/{bench}-np{np}.png)\n")
        md.append("| " + " | ".join(head) + " |")
        md.append("|" + "---|" * len(head))
        md += ["| " + " | ".join(c) + " |" for c in rows]
        md += [""] + [f"{n}  " for n in dict.fromkeys(notes)] + [""]
        data[f"{bench}-np{np}"] = {l: {str(s): v for s, v in libd[l]["best"].items()} for l in present}
        medians[f"{bench}-np{np}"] = {l: {str(s): v for s, v in libd[l]["median"].items()}
                                      for l in present}
        plot(os.path.join(plots, f"{bench}-np{np}.png"), bench, np, metric, hib, libd, present,
             ratios, meta["scenario"], np > cores)
    worst.sort(reverse=True)
    if worst:
        md.append("## Where vmpi is furthest behind the best peer\n")
        md.append(", ".join(f"{b} np{n} {human(s)}: x{w:.2f}" + ("" if m is None else f" (medians x{m:.2f})")
                            for w, b, n, s, m in worst[:12]) + "  ")
        md.append("(factor by which the best peer is faster: best of runs, and in brackets the "
                  "median of vmpi's runs against the best peer's median)\n")
    md.append(f"## Behind beyond the noise (p < {ALPHA})\n")
    rows = {}
    for b, n, s, r, l, pv in behind:
        rows.setdefault((b, n), []).append(
            f"{human(s)} x{(1 / r if b in HIGHER_IS_BETTER else r):.2f} ({NAMES[l]}, p {pv:.3f})")
    md += [f"- {b}, {n} ranks: " + ", ".join(v) for (b, n), v in rows.items()] or ["none"]
    md.append(f"\n(\"p behind\": one-sided exact Mann-Whitney test of vmpi's runs against those of the "
              f"peer with the best median, where vmpi's median is worse: the chance of losing this "
              f"often to an equally fast library. Below {ALPHA}, the gap is more than run-to-run noise; "
              f"it takes 4 runs a side to get there.)\n")
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(out, "best.json"), "w") as f:
        json.dump(data, f, indent=1)
    with open(os.path.join(out, "median.json"), "w") as f:
        json.dump(medians, f, indent=1)
    with open(os.path.join(out, "behind.json"), "w") as f:
        json.dump(pvals, f, indent=1)
    return "\n".join(md)


def against_best_median(libd, peers, s, hib):
    """vmpi against the peer with the best median at size s: (ratio of medians,
    p_behind where vmpi's median is worse else None, that peer), or None."""
    a = libd["vmpi"]["median"].get(s)
    pm = [(libd[l]["median"][s], l) for l in peers if s in libd[l]["median"]]
    if not a or not pm:
        return None
    best, peer = max(pm) if hib else min(pm)
    r = a / best
    worse = r < 1 if hib else r > 1
    p = p_behind(libd["vmpi"]["all"][s], libd[peer]["all"][s], hib) if worse else None
    return r, p, peer


ALPHA = 0.05


def p_behind(mine, theirs, hib):
    """One-sided exact Mann-Whitney U test: the probability, were both libraries
    equally fast, that vmpi's runs (`mine`) lose to the peer's (`theirs`) at least
    as often as they did. Each pair of runs counts 1 if vmpi's is worse, 1/2 if
    equal. Small p (< 0.05) = behind beyond the run-to-run noise. Needs 4 runs a
    side to reach 0.05 at all (3 and 3: 1/20)."""
    m, n = len(mine), len(theirs)
    if not m or not n:
        return None
    worse = sum((a < b if hib else a > b) + 0.5 * (a == b) for a in mine for b in theirs)
    # ways[u] = arrangements of m and n runs with u pairs lost, by the recurrence on
    # which side holds the largest value (counts only: no scipy needed).
    table = {(0, 0): [1]}
    for i in range(m + 1):
        for j in range(n + 1):
            if i == 0 and j == 0:
                continue
            row = [0] * (i * j + 1)
            if i:
                for u, c in enumerate(table[(i - 1, j)]):
                    row[u + j] += c
            if j:
                for u, c in enumerate(table[(i, j - 1)]):
                    row[u] += c
            table[(i, j)] = row
    ways = table[(m, n)]
    need = -(-worse // 1)  # ceil: a half-counted tie rounds against vmpi's favour
    return sum(ways[int(need):]) / sum(ways)


def self_test():
    """Check p_behind against hand-counted cases and against brute-force enumeration
    of every arrangement of ranks (run by crates/testsuite/tests/bench_programs.rs)."""
    import itertools
    import random
    close = lambda a, b: abs(a - b) < 1e-12
    assert close(p_behind([2, 3, 4, 5], [0.5, 0.7, 1, 1.5], False), 1 / 70)
    assert close(p_behind([1, 2, 3, 4], [5, 6, 7, 8], True), 1 / 70)
    assert close(p_behind([1, 2, 3], [4, 5, 6], False), 1.0)
    # m = n = 2, all tied: U = 2; U over the 6 arrangements is 0 1 2 2 3 4.
    assert close(p_behind([1, 1], [1, 1], False), 4 / 6)
    assert p_behind([], [1], False) is None
    rng = random.Random(7)
    for _ in range(300):
        m, n = rng.randint(1, 6), rng.randint(1, 6)
        vals = rng.sample(range(1000), m + n)
        mine, theirs = vals[:m], vals[m:]
        u = sum(a > b for a in mine for b in theirs)
        ranks = sorted(vals)
        hits = total = 0
        for pick in itertools.combinations(range(m + n), m):
            x = [ranks[i] for i in pick]
            y = [ranks[i] for i in range(m + n) if i not in pick]
            total += 1
            hits += sum(a > b for a in x for b in y) >= u
        assert close(p_behind(mine, theirs, False), hits / total), (mine, theirs)
    print("compare.py self-test: ok")


DOC_SIZES = [8, 1 << 10, 64 << 10, 1 << 20]


def doc_tables(out):
    """Compact tables for docs/performance.md: per rank count, one row per benchmark,
    at 8 B / 1 KiB / 64 KiB / 1 MiB (barrier: its one line): vmpi, MPICH, Open MPI."""
    data = json.load(open(os.path.join(out, "best.json")))
    mpath = os.path.join(out, "median.json")
    med = json.load(open(mpath)) if os.path.exists(mpath) else {}
    bpath = os.path.join(out, "behind.json")
    behind = json.load(open(bpath)) if os.path.exists(bpath) else {}
    meta = json.load(open(os.path.join(out, "meta.json")))
    md = []
    for np in meta["np"]:
        rows = [k for k in data if k.endswith(f"-np{np}")]
        if not rows:
            continue
        md.append(f"#### {np} ranks: vmpi / MPICH / Open MPI, best of {meta['runs']} runs "
                  f"(ratio = vmpi / best peer; m = the same ratio of medians over runs; "
                  f"behind: vmpi slower beyond the run-to-run noise, one-sided Mann-Whitney "
                  f"p < {ALPHA}; bandwidth rows in MB/s, the rest in us)\n")
        md.append("| benchmark | " + " | ".join(human(s) for s in DOC_SIZES) + " |")
        md.append("|---|" + "---|" * len(DOC_SIZES))
        for k in rows:
            bench = k.rsplit("-np", 1)[0]
            hib = bench in HIGHER_IS_BETTER
            libd = data[k]
            cells = []
            for s in ([0] if bench == "barrier" else DOC_SIZES):
                vals = [libd.get(l, {}).get(str(s)) for l in ("vmpi", "mpich", "openmpi")]
                if vals[0] is None:
                    cells.append("-")
                    continue
                fmt = (lambda v: "-" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:.2f}"))
                peers = [v for v in vals[1:] if v is not None]
                r = ""
                if peers:
                    r = f"{vals[0] / (max(peers) if hib else min(peers)):.2f}"
                    mv = [med.get(k, {}).get(l, {}).get(str(s)) for l in ("vmpi", "mpich", "openmpi")]
                    mp = [v for v in mv[1:] if v is not None]
                    if mv[0] is not None and mp:
                        r += f"; m {mv[0] / (max(mp) if hib else min(mp)):.2f}"
                    pv = behind.get(k, {}).get(str(s))
                    if pv is not None:
                        r += f"; **behind**, p {pv:.3f}"
                    r = f" ({r})"
                cells.append(" / ".join(fmt(v) for v in vals) + r)
            if bench == "barrier":
                cells += [""] * (len(DOC_SIZES) - 1)
            md.append(f"| {bench} | " + " | ".join(cells) + " |")
        md.append("")
    return "\n".join(md)


def plot(path, bench, np, metric, hib, libd, present, ratios, scenario, over):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("compare.py: matplotlib missing (scripts/install-bench-deps.sh); no plots", file=sys.stderr)
        return
    style = {"vmpi": ("C0", "o"), "mpich": ("C1", "s"), "openmpi": ("C2", "^")}
    one = all(len(libd[l]["best"]) <= 1 for l in present)
    fig, axes = plt.subplots(2, 1, figsize=(6.4, 4.8), sharex=True,
                             gridspec_kw={"height_ratios": [3, 1]})
    ax, rx = axes
    for i, l in enumerate(present):
        pts = sorted(libd[l]["best"].items())
        if not pts:
            continue
        xs = [max(s, 0.5) for s, _ in pts]  # size 0 on a log axis
        label = NAMES[l] + (" (capped iterations)" if l == "mpich" and over else "")
        if one:
            ax.bar([i], [pts[0][1]], color=style[l][0], label=label)
        else:
            ax.plot(xs, [v for _, v in pts], marker=style[l][1], ms=3, color=style[l][0], label=label)
    ax.set_yscale("log")
    ax.set_ylabel(metric)
    ax.set_title(f"{bench}, {np} ranks, {scenario} (best of runs)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if ratios and not one:
        xs = sorted(ratios)
        rx.plot([max(s, 0.5) for s in xs], [ratios[s] for s in xs], marker="o", ms=3, color="C0")
        rx.axhline(1.0, color="gray", lw=0.8)
        rx.set_yscale("log", base=2)  # 2x ahead and 2x behind equally far from 1
        lo, hi = min(min(ratios.values()), 1.0), max(max(ratios.values()), 1.0)
        ticks = [t for t in (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1, 2, 4, 8, 16, 32, 64)
                 if lo / 2 < t < hi * 2]
        rx.set_yticks(ticks, [f"{t:g}" for t in ticks])
        rx.minorticks_off()
        rx.tick_params(axis="x", which="both", labelbottom=True)
        rx.set_ylabel("vmpi / best", fontsize=8)
        rx.grid(True, which="both", alpha=0.3)
    if one:
        ax.set_xticks(range(len(present)), [NAMES[l] for l in present])
        ax.tick_params(labelbottom=True)
        rx.axis("off")
    else:
        rx.set_xscale("log", base=2)
        rx.set_xlabel("message size (bytes)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def reexec_with_matplotlib():
    """Debian's python3-matplotlib lives in /usr/bin/python3; another python3 first on
    PATH (pyenv, a venv) does not see it: run again with Debian's."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        debian = "/usr/bin/python3"
        if os.path.realpath(sys.executable) != os.path.realpath(debian) and os.access(debian, os.X_OK) \
                and subprocess.run([debian, "-c", "import matplotlib"], capture_output=True).returncode == 0:
            os.execv(debian, [debian] + sys.argv)


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return 0
    reexec_with_matplotlib()
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", default=env("SCENARIO") or "shm", choices=sorted(SCENARIOS))
    p.add_argument("--runs", type=int, default=int(env("RUNS") or 3))
    p.add_argument("--np", default=env("NP") or "2 4", help="rank counts, e.g. '2 4'")
    p.add_argument("--sizes", default=env("SIZES") or None,
                   help="[MIN:]MAX for every benchmark (default per benchmark: to 1M, bw/bibw to 4M)")
    p.add_argument("--benchmarks", default=env("BENCHES") or ",".join(b for b in BENCHES if b not in OPT_IN),
                   help=f"comma-separated (default: all but {', '.join(sorted(OPT_IN))})")
    p.add_argument("--libs", default=env("LIBS") or "vmpi,mpich,openmpi")
    p.add_argument("--bench-args", default=env("BENCH_ARGS") or "",
                   help="extra program options for every run, e.g. '-i 100 -x 10'")
    p.add_argument("--capped-iters", type=int, default=int(env("CAPPED_ITERS") or 10),
                   help="iterations for oversubscribed MPICH")
    p.add_argument("--timeout", type=int, default=int(env("TIMEOUT") or 120), help="seconds per run")
    p.add_argument("--quiet-wait", type=int, default=int(env("QUIET_WAIT") or 0),
                   help="wait up to this many seconds for an idle machine before each run")
    p.add_argument("--quiet-cpus", type=float, default=float(env("QUIET_CPUS") or 0.3))
    p.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin ranks to cores")
    p.add_argument("--no-build", action="store_true", default=bool(env("NO_BUILD")))
    p.add_argument("--out", default=env("OUT") or None)
    p.add_argument("--summarize", metavar="DIR", help="only rebuild summary and plots of DIR")
    p.add_argument("--doc", metavar="DIR", help="print the compact tables of docs/performance.md for DIR")
    args = p.parse_args()
    if args.doc:
        print(doc_tables(args.doc))
        return 0
    if args.summarize:
        print(summarize(args.summarize))
        return 0
    args.benchmarks = [b.strip() for b in args.benchmarks.replace(" ", ",").split(",") if b.strip()]
    for b in args.benchmarks:
        if b not in BENCHES:
            p.error(f"unknown benchmark {b}; known: {', '.join(BENCHES)}")
    libs = [l.strip() for l in args.libs.replace(" ", ",").split(",") if l.strip()]
    out = args.out or os.path.join(ROOT, "results",
                                   f"{datetime.datetime.now():%Y%m%d-%H%M%S}-{args.scenario}")
    os.makedirs(out, exist_ok=True)
    libs = build(libs, args.no_build, args.benchmarks)
    if not libs:
        print("compare.py: no library to run", file=sys.stderr)
        return 2
    if args.scenario == "hosts":
        sh([VHOSTS, "down"])
        sh([VHOSTS, "up", "3"])
    try:
        failures = run_all(args, libs, out)
    finally:
        if args.scenario == "hosts":
            sh([VHOSTS, "down"])
    print(summarize(out))
    print(f"\nresults: {out}", file=sys.stderr)
    if failures:
        print(f"compare.py: {failures} run(s) failed or timed out (marked in summary.md)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
