#!/usr/bin/env bash
# slurm-cluster.sh up|down|status - a real Slurm 22.05 cluster on ONE Debian 12
# machine, for the tests (crates/testsuite/tests/slurm.rs) and by hand.
#
#   up      munged + slurmctld (on the host, 10.202.0.1) + NODES slurmd "nodes" n1..nN.
#           Each node runs in its own network namespace (10.202.0.1X/24 on bridge
#           vmpislbr0), UTS namespace (hostname nX), mount namespace (its own
#           /etc/hosts, a private /dev/shm and /tmp, its own sysfs and kernel boot_id)
#           and PID namespace: to MPI the nodes look like separate hosts.
#           Idempotent: while the cluster is up it only checks it (fast).
#   down    stop everything `up` started and delete the namespaces and the bridge.
#           Idempotent; only signals processes recorded in pid files whose command
#           line matches.
#   status  exit 0 if the cluster is up and its nodes idle, 1 otherwise.
#
# Needs root and the packages of scripts/install-deps.sh (slurmctld slurmd
# slurm-client munge libpmix-dev); it never installs anything itself.
# Knobs (environment):
#   SLURM_SANDBOX  state directory (default /tmp/vmpi-slurm)
#   NODES (3), CPUS_PER_NODE (2), SUBNET (10.202.0: other tests use 10.200/10.201)
#   SHARED_PATHS   colon-separated directories under /tmp that every node must still
#                  see through its private /tmp (the checkout, the target directory);
#                  paths elsewhere (/work, /home, ...) are visible anyway
# Afterwards:  export SLURM_CONF=$SLURM_SANDBOX/etc/slurm.conf
#
# up and down take an exclusive lock ($SLURM_SANDBOX.lock), so two callers never
# start two clusters or tear one down half-way through starting it.
set -euo pipefail

R=${SLURM_SANDBOX:-/tmp/vmpi-slurm}
NODES=${NODES:-3}
SUBNET=${SUBNET:-10.202.0}
CTLD_PORT=${CTLD_PORT:-6817}
CPUS_PER_NODE=${CPUS_PER_NODE:-2}
BR=vmpislbr0          # bridge
NSP=vmpi-sl-          # netns prefix: vmpi-sl-n1 ...
VETH=vmpislv          # host side of each node's veth: vmpislv1 ...
CTL_ADDR=$SUBNET.1
CTL_HOST=$(hostname -s) # slurmctld checks that it runs on SlurmctldHost
export SLURM_CONF=$R/etc/slurm.conf
T0=$EPOCHREALTIME
log() { printf '[slurm-cluster %5ss] %s\n' "$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -eq 1 ] || usage
ACTION=$1
case $ACTION in up | down | status) ;; *) usage ;; esac

# A pid counts as ours only if its command line matches.
pid_if() { # pid_if PIDFILE PATTERN -> prints the pid if alive and ours
    local p
    [ -s "$1" ] || return 1
    p=$(cat "$1")
    [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' <"/proc/$p/cmdline" | sed 's/ $//' | grep -q -- "$2" && echo "$p"
}
alive() { pid_if "$@" >/dev/null; }

nodes_idle() {
    local states
    states=$(sinfo -h -N -n "n[1-$NODES]" -o '%t' 2>/dev/null | sort -u | tr '\n' ' ')
    [ "$states" = "idle " ]
}

if [ "$ACTION" = status ]; then
    [ -f "$SLURM_CONF" ] && alive "$R/run/slurmctld.pid" slurmctld && nodes_idle && exit 0
    exit 1
fi

[ "$(id -u)" = 0 ] || die "must run as root (namespaces, bridge, slurmd)"

mkdir -p "$(dirname "$R")"
# fd 9 holds the lock: every daemon below is started with 9>&- so it does not keep it
exec 9>"$R.lock"
flock -w 120 9 || die "another slurm-cluster.sh holds $R.lock for over 120 s"

# ====================================================================== down
stop() { # stop PID NAME [TENTHS]: TERM, wait, KILL
    local p=$1 name=$2 t=${3:-50}
    kill -TERM "$p" 2>/dev/null || return 0
    for _ in $(seq "$t"); do
        kill -0 "$p" 2>/dev/null || { log "stopped $name ($p)"; return 0; }
        sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null
    sleep 0.2
    log "killed $name ($p)"
}

stop_node() { # stop_node N: its PID 1, then the unshare that started it
    local n=$1 p up
    # SIGKILL at once: slurmd takes up to 4 s after SIGTERM once steps have run, and
    # nothing of a node needs saving (its state directory is recreated by `up`).
    if p=$(pid_if "$R/run/node-$n.pid" "node-init.sh $R $n\$"); then
        kill -KILL "$p" 2>/dev/null
        for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        log "killed node $n ($p) and every process in it"
    fi
    if up=$(pid_if "$R/run/node-$n.upid" "unshare"); then stop "$up" "unshare($n)" 30; fi
    rm -f "$R/run/node-$n.pid" "$R/run/node-$n.upid"
}

down() {
    local keep_net=${1:-} f n p ns v waits=()
    # Everything at once (slurmctld and munged each take up to 2 s to stop after
    # SIGTERM). A node is the PID 1 of its PID namespace: when it dies, the kernel
    # kills every process of the namespace (slurmd, slurmstepd, tasks), so no job
    # needs cancelling first (the controller's state is discarded anyway).
    for f in "$R"/run/node-*.pid; do
        [ -e "$f" ] || continue
        n=$(basename "$f" .pid)
        stop_node "${n#node-}" &
        waits+=($!)
    done
    if p=$(pid_if "$R/run/slurmctld.pid" slurmctld); then stop "$p" slurmctld & waits+=($!); fi
    if p=$(pid_if "$R/munge/munged.pid" munged); then stop "$p" munged & waits+=($!); fi
    [ ${#waits[@]} -eq 0 ] || wait "${waits[@]}"
    rm -f "$R/run/slurmctld.pid" "$R/munge/munged.pid" "$R/munge/munge.socket" "$R/munge/munge.socket.lock"
    # 3. network
    if [ -z "$keep_net" ]; then
        for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${NSP}n[0-9]+\$"); do
            ip netns del "$ns" && log "deleted netns $ns" # takes its veth pair along
        done
        for v in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^${VETH}[0-9]+\$"); do
            ip link del "$v" 2>/dev/null || true
        done
        if ip link show "$BR" >/dev/null 2>&1; then ip link del "$BR" && log "deleted bridge $BR"; fi
    fi
}

if [ "$ACTION" = down ]; then
    down
    rm -rf "$R"/{run,state,nodes,log.old}
    log "down"
    exit 0
fi

# ======================================================================== up
for c in slurmctld slurmd srun sinfo scontrol scancel munged munge unmunge nsenter unshare ip flock; do
    command -v "$c" >/dev/null 2>&1 ||
        die "'$c' is missing: run scripts/install-deps.sh as root (installs slurmctld slurmd slurm-client munge libpmix-dev)"
done

mkdir -p "$R"/{etc,log,run,state/ctld,bin,nodes,munge}
chmod 755 "$R" "$R/run" "$R/munge" # munged wants o+x on its socket's directory
if [ ! -s "$R/munge/munge.key" ]; then
    dd if=/dev/urandom of="$R/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$R/munge/munge.key"
fi

# Paths that every node must still see through its private /tmp.
{
    echo "$R"
    tr ':' '\n' <<<"${SHARED_PATHS:-}" | grep -v '^$' || true
} >"$R/etc/shared-paths"

{
    echo "127.0.0.1 localhost"
    echo "$CTL_ADDR $CTL_HOST"
    for i in $(seq 1 "$NODES"); do echo "$SUBNET.$((10 + i)) n$i"; done
} >"$R/etc/hosts.new"
mv "$R/etc/hosts.new" "$R/etc/hosts"

cat >"$R/etc/slurm.conf.new" <<EOF
# generated by scripts/slurm-cluster.sh (NODES=$NODES)
ClusterName=vmpi
SlurmctldHost=$CTL_HOST($CTL_ADDR)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$R/munge/munge.socket
SlurmctldPort=$CTLD_PORT
SlurmdPort=6818
StateSaveLocation=$R/state/ctld
SlurmdSpoolDir=$R/state/slurmd.%n
SlurmctldPidFile=$R/run/slurmctld.pid
SlurmdPidFile=$R/run/slurmd.%n.pid
SlurmctldLogFile=$R/log/slurmctld.log
SlurmdLogFile=$R/log/slurmd.%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
ReturnToService=2
MailProg=/bin/true
InactiveLimit=0
KillWait=2
MinJobAge=5
SlurmctldTimeout=30
SlurmdTimeout=30
Waittime=0
SlurmdParameters=config_overrides
NodeName=n[1-$NODES] NodeAddr=$SUBNET.[11-$((10 + NODES))] CPUs=$CPUS_PER_NODE RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF

# PID 1 of a node's PID namespace (also in its own UTS and mount namespace).
cat >"$R/bin/node-init.sh.new" <<'EOF'
#!/bin/sh
# usage: node-init.sh SANDBOX NODE   (PID 1 in the node's uts+mount+pid namespace)
set -e
R=$1; N=$2
export SLURM_CONF=$R/etc/slurm.conf
hostname "$N"
mount --bind "$R/etc/hosts" /etc/hosts
mount -t tmpfs -o size=512m,mode=1777 tmpfs /dev/shm        # node-local /dev/shm
# Node-local /tmp, as on a real node (Slurm's PMIx plugin and MPI libraries put
# per-job files there, which collide if "nodes" share /tmp). The paths under /tmp
# listed in $R/etc/shared-paths (this sandbox, the checkout, the target directory)
# are mounted again on top of it: they play the cluster's shared file system.
mkdir -p "$R/nodes/$N/tmp"; chmod 1777 "$R/nodes/$N/tmp"
hold=/mnt; mount -t tmpfs -o size=1m tmpfs "$hold"      # scratch, only in this mount ns
shared=$(grep '^/tmp/' "$R/etc/shared-paths" || true)    # read before /tmp is covered
i=0
for p in $shared; do i=$((i + 1)); mkdir -p "$hold/$i"; mount --rbind "$p" "$hold/$i"; done
mount --bind "$R/nodes/$N/tmp" /tmp
i=0
for p in $shared; do i=$((i + 1)); mkdir -p "$p"; mount --rbind "$hold/$i" "$p"; umount -l "$hold/$i"; done
umount -l "$hold"
mkdir -p "$R/nodes/$N/cg"
[ -s "$R/nodes/$N/boot_id" ] || cat /proc/sys/kernel/random/uuid > "$R/nodes/$N/boot_id"
mount --bind "$R/nodes/$N/boot_id" /proc/sys/kernel/random/boot_id   # a host of its own
# slurmd must not run under `ip netns exec` (it remounts /sys and slurmd then finds no
# cgroup fs): keep the host's cgroup tree, mount this netns's sysfs around it.
mount --rbind /sys/fs/cgroup "$R/nodes/$N/cg"
umount -l /sys
mount -t sysfs sysfs /sys                                   # /sys/class/net of this netns
mount --rbind "$R/nodes/$N/cg" /sys/fs/cgroup
umount -l "$R/nodes/$N/cg"
slurmd -D -f "$SLURM_CONF" -N "$N" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null' TERM INT
wait $pid || true
wait $pid 2>/dev/null || true
EOF
chmod +x "$R/bin/node-init.sh.new"
mv "$R/bin/node-init.sh.new" "$R/bin/node-init.sh"

# A changed configuration while the daemons run: restart them.
if [ -f "$R/etc/slurm.conf" ] && ! cmp -s "$R/etc/slurm.conf" "$R/etc/slurm.conf.new" &&
    alive "$R/run/slurmctld.pid" slurmctld; then
    log "slurm.conf changed: restarting the daemons"
    down keep-net
fi
mv "$R/etc/slurm.conf.new" "$R/etc/slurm.conf"

# ---------------------------------------------------------------- munge
MSOCK=$R/munge/munge.socket
if alive "$R/munge/munged.pid" munged && munge -S "$MSOCK" -n </dev/null | unmunge -S "$MSOCK" >/dev/null 2>&1; then
    :
else
    rm -f "$MSOCK" "$MSOCK.lock" "$R/munge/munged.pid"
    munged --socket="$MSOCK" --key-file="$R/munge/munge.key" --log-file="$R/log/munged.log" \
        --pid-file="$R/munge/munged.pid" --seed-file="$R/munge/munged.seed" </dev/null 9>&-
    for _ in $(seq 50); do [ -S "$MSOCK" ] && break; sleep 0.1; done
    munge -S "$MSOCK" -n </dev/null | unmunge -S "$MSOCK" >/dev/null || die "munge self-test failed; see $R/log/munged.log"
    log "munged started"
fi

# ---------------------------------------------------------------- network
if ! ip link show "$BR" >/dev/null 2>&1; then
    ip link add "$BR" type bridge
    ip addr add "$CTL_ADDR/24" dev "$BR"
fi
ip link set "$BR" up
for i in $(seq 1 "$NODES"); do
    ns=${NSP}n$i
    [ -e "/run/netns/$ns" ] || ip netns add "$ns"
    if ! ip -n "$ns" link show eth0 >/dev/null 2>&1; then
        ip link del "$VETH$i" 2>/dev/null || true
        ip link add "$VETH$i" type veth peer name eth0 netns "$ns"
        ip -n "$ns" addr add "$SUBNET.$((10 + i))/24" dev eth0
    fi
    ip link set "$VETH$i" master "$BR" up
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
done

# ---------------------------------------------------------------- slurmctld
if ! alive "$R/run/slurmctld.pid" slurmctld; then
    rm -rf "$R/state/ctld"
    mkdir -p "$R/state/ctld" # fresh controller state: no jobs of an earlier run
    slurmctld -f "$SLURM_CONF" </dev/null >>"$R/log/slurmctld.out" 2>&1 9>&-
    log "slurmctld started"
fi
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q 'is UP' && break; sleep 0.1; done
scontrol ping | grep -q 'is UP' || die "slurmctld does not answer; see $R/log/slurmctld.log"

# ---------------------------------------------------------------- nodes
started=""
for i in $(seq 1 "$NODES"); do
    n=n$i
    if alive "$R/run/node-$n.pid" "node-init.sh $R $n\$"; then continue; fi
    rm -rf "$R/state/slurmd.$n"
    mkdir -p "$R/state/slurmd.$n" "$R/nodes/$n"
    setsid nsenter --net="/run/netns/${NSP}$n" \
        unshare --uts --pid --mount-proc --propagation private --kill-child=SIGKILL \
        "$R/bin/node-init.sh" "$R" "$n" </dev/null >>"$R/log/node-$n.out" 2>&1 9>&- &
    upid=$!
    child=""
    for _ in $(seq 50); do
        child=$(awk '{print $1}' "/proc/$upid/task/$upid/children" 2>/dev/null || true)
        [ -n "$child" ] && break
        sleep 0.1
    done
    [ -n "$child" ] || die "node $n did not start; see $R/log/node-$n.out"
    echo "$upid" >"$R/run/node-$n.upid"
    echo "$child" >"$R/run/node-$n.pid"
    started="$started $n"
done
[ -n "$started" ] && log "nodes started:$started"

# ---------------------------------------------------------------- wait for idle
ok=""
states=""
for t in $(seq 300); do
    if nodes_idle; then ok=1; break; fi
    for i in $(seq 1 "$NODES"); do
        alive "$R/run/node-n$i.pid" "node-init.sh $R n$i\$" ||
            { tail -5 "$R/log/node-n$i.out" >&2; die "node n$i exited; see $R/log/"; }
    done
    states=$(sinfo -h -N -o '%N:%t' 2>/dev/null | tr '\n' ' ')
    if [ "$t" = 50 ] && echo "$states" | grep -qE 'down|drain|inval'; then
        scontrol update nodename="n[1-$NODES]" state=resume 2>/dev/null || true
    fi
    sleep 0.1
done
[ -n "$ok" ] || { sinfo -N -l >&2; die "nodes not idle after 30 s ($states); see $R/log/"; }

if [ -n "$started" ]; then
    out=$(timeout 60 srun -N "$NODES" -n "$NODES" hostname | sort | tr '\n' ' ')
    [ "$out" = "$(seq -f 'n%g' 1 "$NODES" | tr '\n' ' ')" ] || die "smoke test: srun -N $NODES hostname gave '$out'"
fi
log "cluster up ($NODES nodes on $BR $SUBNET.0/24). export SLURM_CONF=$SLURM_CONF"
