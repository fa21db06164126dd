#!/usr/bin/env python3
"""Minimum over runs of each (op, size) for vmpi, MPICH and Open MPI, and the ratio of
vmpi to the best peer: compare.py DIR NP... (files DIR/{vmpi,mpich,ompi}.NP.RUN)."""
import glob, sys

def load(path):
    res, op = {}, None
    for line in open(path):
        if line.startswith("# OSU-style"):
            op = line.split()[2]
        elif line.strip() and not line.startswith("#") and op:
            size, us = line.split()[:2]
            res[(op, int(size))] = float(us)
    return res

def best(d, lib, np):
    out = {}
    for f in glob.glob(f"{d}/{lib}.{np}.*"):
        for k, v in load(f).items():
            out[k] = min(v, out.get(k, v))
    return out

d = sys.argv[1]
for np in sys.argv[2:]:
    v, m, o = (best(d, lib, np) for lib in ("vmpi", "mpich", "ompi"))
    print(f"\n## {np} ranks (us, min of runs; ratio = vmpi / best peer shown)\n")
    print("| op | size | vmpi | MPICH | Open MPI | vmpi/best |")
    print("|---|---|---|---|---|---|")
    worst = []
    for (op, size) in sorted(v, key=lambda k: (["bcast", "allreduce", "alltoall", "barrier", "allgather", "reduce"].index(k[0]), k[1])):
        peers = [x for x in (m.get((op, size)), o.get((op, size))) if x is not None]
        b = min(peers) if peers else None
        r = v[(op, size)] / b if b else None
        f = lambda x: "-" if x is None else f"{x:.2f}"
        print(f"| {op} | {size} | {f(v[(op, size)])} | {f(m.get((op, size)))} | {f(o.get((op, size)))} | {f(r)} |")
        if r is not None:
            worst.append((r, op, size))
    worst.sort(reverse=True)
    print("\nworst:", ", ".join(f"{op} {s}: {r:.2f}" for r, op, s in worst[:8]))
