#!/bin/bash
# Point-to-point comparison of vmpi with MPICH and Open MPI on two ranks of this
# machine: builds vmpi-p2p-bench (Rust) and bench/p2p/pingpong.c (C, against each
# MPI), runs them interleaved (vmpi, MPICH, Open MPI, vmpi, MPICH, ...) RUNS times,
# keeps the best run per size (lowest latency, highest bandwidth, as OSU numbers are
# usually quoted) and prints one table per test.
#
#   bench/p2p/compare.sh                   # shared memory, 3 runs
#   RUNS=5 bench/p2p/compare.sh
#   SCENARIO=tcp bench/p2p/compare.sh      # vmpi MV2_USE_SHARED_MEM=0 vs MPI over TCP
#
# Environment:
#   RUNS=3            runs per library and test
#   SCENARIO=shm|tcp  shm: every library as it comes. tcp: vmpi with
#                     MV2_USE_SHARED_MEM=0, MPICH (ch4:ucx) with UCX_TLS=tcp,self,
#                     Open MPI with --mca pml ob1 --mca btl tcp,self
#   TESTS="latency bw"
#   LIBS="vmpi mpich openmpi"   (a library whose tools are missing is skipped)
#   BENCH_ARGS=""     extra options for both programs, e.g. "--max 1M --iters 1000"
#   ROWS=all|doc      doc: only the sizes quoted in docs/performance.md
#   PIN=1             pin rank r to core r (vmpi: bench/p2p/pin.sh = taskset;
#                     MPICH: -bind-to core; Open MPI: --bind-to core); 0: no pinning
#   NO_BUILD=1        skip the builds
#   SUMMARY_ONLY=1    run nothing; summarize the outputs already in OUT again
#   OUT=results/p2p/<date>-<scenario>   raw outputs and summary.md go there
#   TIMEOUT=600       seconds per run
#   QUIET_WAIT=0      before each run wait up to this many seconds for the machine to
#                     be idle (other processes using < QUIET_CPUS cores on average
#                     over 1 s, sampled from /proc/loadavg); 0 = do not wait. The
#                     state found is written to OUT/runs.log either way.
#   QUIET_CPUS=0.3
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 2
RUNS=${RUNS:-3}
SCENARIO=${SCENARIO:-shm}
TESTS=${TESTS:-latency bw}
LIBS=${LIBS:-vmpi mpich openmpi}
BENCH_ARGS=${BENCH_ARGS:-}
ROWS=${ROWS:-all}
PIN=${PIN:-1}
TIMEOUT=${TIMEOUT:-600}
QUIET_WAIT=${QUIET_WAIT:-0}
QUIET_CPUS=${QUIET_CPUS:-0.3}
OUT=${OUT:-results/p2p/$(date +%Y%m%d-%H%M%S)-$SCENARIO}
BIN=target/p2p

case $SCENARIO in shm|tcp) ;; *) echo "compare.sh: SCENARIO must be shm or tcp" >&2; exit 2;; esac
mkdir -p "$OUT" "$BIN" || exit 2

have() { command -v "$1" >/dev/null 2>&1; }

[ -n "${SUMMARY_ONLY:-}" ] && NO_BUILD=1 RUNS=0

# ---- build -------------------------------------------------------------------
if [ -z "${NO_BUILD:-}" ]; then
    echo "== building" >&2
    cargo build --release -p vmpi-bench -p vmpi-launch || exit 1
    if have mpicc.mpich; then
        mpicc.mpich -O2 -Wall -o $BIN/pingpong-mpich bench/p2p/pingpong.c || exit 1
    fi
    if have mpicc.openmpi; then
        mpicc.openmpi -O2 -Wall -o $BIN/pingpong-openmpi bench/p2p/pingpong.c || exit 1
    fi
fi

libs=()
for lib in $LIBS; do
    case $lib in
        vmpi) [ -x target/release/vmpi-p2p-bench ] && [ -x target/release/mpirun ] && libs+=(vmpi) ;;
        mpich) have mpiexec.mpich && [ -x $BIN/pingpong-mpich ] && libs+=(mpich) ;;
        openmpi) have mpirun.openmpi && [ -x $BIN/pingpong-openmpi ] && libs+=(openmpi) ;;
        *) echo "compare.sh: unknown library $lib" >&2; exit 2 ;;
    esac
    [[ " ${libs[*]} " == *" $lib "* ]] || echo "compare.sh: $lib not available, skipped" >&2
done

# ---- one run -----------------------------------------------------------------
# cmd LIB TEST: the command line (as an array in $cmd) for one run.
cmd_for() {
    local lib=$1 test=$2
    cmd=(timeout "$TIMEOUT")
    case $lib in
        vmpi)
            [ "$SCENARIO" = tcp ] && cmd+=(env MV2_USE_SHARED_MEM=0)
            cmd+=(target/release/mpirun -np 2)
            [ "$PIN" = 1 ] && cmd+=(bench/p2p/pin.sh)
            cmd+=(target/release/vmpi-p2p-bench) ;;
        mpich)
            [ "$SCENARIO" = tcp ] && cmd+=(env UCX_TLS=tcp,self)
            cmd+=(mpiexec.mpich -n 2)
            [ "$PIN" = 1 ] && cmd+=(-bind-to core)
            cmd+=($BIN/pingpong-mpich) ;;
        openmpi)
            cmd+=(mpirun.openmpi --allow-run-as-root --oversubscribe -n 2)
            if [ "$PIN" = 1 ]; then cmd+=(--bind-to core); else cmd+=(--bind-to none); fi
            [ "$SCENARIO" = tcp ] && cmd+=(--mca pml ob1 --mca btl tcp,self)
            cmd+=($BIN/pingpong-openmpi) ;;
    esac
    # shellcheck disable=SC2206
    cmd+=(--test "$test" $BENCH_ARGS)
}

[ -n "${SUMMARY_ONLY:-}" ] || {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
    echo "git: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' (dirty)')"
    echo "scenario: $SCENARIO, runs: $RUNS, pin: $PIN, bench args: ${BENCH_ARGS:-none}"
    for lib in "${libs[@]}"; do for test in $TESTS; do cmd_for "$lib" "$test"; echo "$lib $test: ${cmd[*]}"; done; done
} > "$OUT/setup.txt"
[ -n "${SUMMARY_ONLY:-}" ] || cat "$OUT/setup.txt" >&2

# busy: processes running on average over 1 s, besides the sampling shell itself.
busy() {
    local sum=0 i r
    for i in 1 2 3 4 5 6 7 8 9 10; do
        r=$(cut -d' ' -f4 /proc/loadavg); r=${r%/*}
        sum=$((sum + r - 1))
        sleep 0.1
    done
    awk -v s=$sum 'BEGIN { printf "%.1f", s / 10 }'
}

wait_quiet() {
    local start=$SECONDS b
    b=$(busy)
    while [ "$QUIET_WAIT" -gt 0 ] && [ $((SECONDS - start)) -lt "$QUIET_WAIT" ] &&
          awk -v b="$b" -v m="$QUIET_CPUS" 'BEGIN { exit !(b > m) }'; do
        sleep 2
        b=$(busy)
    done
    echo "busy $b after $((SECONDS - start)) s wait"
}

failed=0
for run in $(seq 1 "$RUNS"); do
    for test in $TESTS; do
        for lib in "${libs[@]}"; do
            cmd_for "$lib" "$test"
            f=$OUT/$test-$lib-$run.txt
            echo "== run $run/$RUNS: $lib $test" >&2
            q=$(wait_quiet)
            echo "$(date -u +%H:%M:%S) run $run $lib $test load: $(cut -d' ' -f1-3 /proc/loadavg), $q" >> "$OUT/runs.log"
            "${cmd[@]}" > "$f" 2> "$f.err"
            rc=$?
            if [ $rc -ne 0 ]; then
                echo "compare.sh: FAILED (exit $rc): ${cmd[*]} (see $f.err)" >&2
                tail -5 "$f.err" >&2
                mv "$f" "$f.failed"
                failed=1
            fi
            [ -s "$f.err" ] || rm -f "$f.err"
        done
    done
done

# ---- summary -----------------------------------------------------------------
python3 - "$OUT" "$ROWS" "$TESTS" "${libs[@]}" > "$OUT/summary.md" <<'EOF'
import glob, os, re, sys
out, rows, tests, libs = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4:]
names = {"vmpi": "vmpi", "mpich": "MPICH", "openmpi": "Open MPI"}
doc = {"latency": [0, 8, 512, 4 << 10, 32 << 10, 256 << 10, 1 << 20, 4 << 20],
       "bw": [1 << 10, 64 << 10, 1 << 20, 4 << 20]}

def human(n):
    for unit, s in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= s and n % s == 0:
            return f"{n // s} {unit}"
    return f"{n} B"

for test in tests:
    best, nruns = {}, {}
    for lib in libs:
        for f in sorted(glob.glob(os.path.join(out, f"{test}-{lib}-*.txt"))):
            nruns[lib] = nruns.get(lib, 0) + 1
            for line in open(f):
                m = re.match(r"^(\d+)\s+([0-9.]+)\s*$", line)
                if not m:
                    continue
                size, v = int(m.group(1)), float(m.group(2))
                d = best.setdefault(lib, {})
                if size not in d:
                    d[size] = v
                else:
                    d[size] = min(d[size], v) if test == "latency" else max(d[size], v)
    sizes = sorted({s for d in best.values() for s in d})
    if rows == "doc":
        sizes = [s for s in sizes if s in doc[test]]
    if test == "latency":
        print("### Latency (us), best of runs: lower is better; vmpi/MPICH < 1 means vmpi is faster\n")
    else:
        print("### Bandwidth (MB/s = 10^6 B/s), best of runs: higher is better; vmpi/MPICH > 1 means vmpi is faster\n")
    head = ["size"] + [f"{names[l]} ({nruns.get(l, 0)} runs)" for l in libs]
    if "vmpi" in libs and "mpich" in libs:
        head.append("vmpi/MPICH")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for s in sizes:
        cells = [human(s)]
        for l in libs:
            v = best.get(l, {}).get(s)
            cells.append("-" if v is None else (f"{v:,.2f}" if test == "latency" else f"{v:,.0f}"))
        if "vmpi" in libs and "mpich" in libs:
            a, b = best.get("vmpi", {}).get(s), best.get("mpich", {}).get(s)
            cells.append(f"{a / b:.2f}" if a and b else "-")
        print("| " + " | ".join(cells) + " |")
    print()
EOF
cat "$OUT/summary.md"
echo "raw outputs and summary: $OUT" >&2
exit $failed
