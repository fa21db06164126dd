#!/usr/bin/env bash
# vhosts.sh - "hosts" made of Linux namespaces, for multi-host tests and benchmarks
# on one machine. Each host has its own network namespace (eth0 on a bridge), UTS
# (host name), mount namespace with a private /dev/shm tmpfs and its own kernel
# boot id, PID namespace and IPC namespace: to MPI it looks like another machine.
#
#   vhosts.sh up [N]          hosts h1..hN (default 3) on 10.201.0.11.. (bridge
#                             vhbr0, 10.201.0.1 is this machine); plus hc, a
#                             "co-resident container" of h3: its own net, UTS, PID
#                             and IPC namespaces, but h3's /dev/shm and boot id,
#                             at 10.201.0.30
#   vhosts.sh exec HOST CMD...  run CMD (one string, as ssh does: `sh -c`) inside
#                             HOST, named h1.. or by its address; the launch agent
#                             for `mpirun -launcher-exec`
#   vhosts.sh sshd HOST       start a real sshd (Debian's openssh-server) in HOST;
#                             prints the ssh wrapper to put first in PATH
#   vhosts.sh shm HOST        the path of HOST's /dev/shm, seen from here
#   vhosts.sh pids HOST       pids (as seen here) of every process in HOST but its init
#   vhosts.sh down            remove everything (idempotent)
#
# VHOSTS_DIR (default /tmp/vmpi-vhosts) holds pid files, hosts file, boot ids and
# the ssh keys. Needs root, iproute2 and util-linux (nsenter, unshare).
set -euo pipefail
D=${VHOSTS_DIR:-/tmp/vmpi-vhosts}
NET=10.201.0
BR=vhbr0

die() { echo "vhosts: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (namespaces, veth, bridge)"

# HOST (name or address) -> name
name_of() {
    case $1 in
        h[0-9]*|hc) echo "$1" ;;
        $NET.30) echo hc ;;
        $NET.*) echo "h$(( ${1##*.} - 10 ))" ;;
        *) die "unknown host $1" ;;
    esac
}
init_pid() {
    local f=$D/$(name_of "$1").pid p
    [ -s "$f" ] || die "host $1 is not up (vhosts.sh up)"
    p=$(cat "$f")
    [ -d /proc/$p ] || die "host $1's init ($p) is gone"
    echo "$p"
}
enter() { # enter HOST: nsenter options for it
    local p; p=$(init_pid "$1") || exit 1
    echo "--target $p --net --uts --mount --pid --ipc"
}

# PID 1 of a host: reaps every orphan (as init does), so a rank whose proxy died
# does not stay a zombie.
REAPER='import os, time
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.2)'

start_host() { # start_host NAME ADDR SHM_FROM(optional host name)
    local n=$1 a=$2 share=${3:-} ns=vh-$1 upid c shm boot
    [ -e /run/netns/$ns ] || ip netns add "$ns"
    if ! ip -n "$ns" link show eth0 >/dev/null 2>&1; then
        ip link del "vh-$n" 2>/dev/null || true
        ip link add "vh-$n" type veth peer name eth0 netns "$ns"
        ip -n "$ns" addr add "$a/24" dev eth0
    fi
    ip link set "vh-$n" master "$BR" up
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    # A host's /dev/shm is a tmpfs mounted here (so a co-resident container can
    # be given the same one, and tests can look into it), bound into the host.
    local from=${share:-$n}
    mkdir -p "$D/$from.shm"
    mountpoint -q "$D/$from.shm" || mount -t tmpfs -o size=256m,mode=1777 "vhshm-$from" "$D/$from.shm"
    shm="mount --bind $D/$from.shm /dev/shm"
    boot=$D/$from.boot_id
    [ -s "$boot" ] || cat /proc/sys/kernel/random/uuid > "$boot"
    setsid nsenter --net=/run/netns/$ns \
        unshare --uts --mount --ipc --pid --fork --mount-proc --propagation private \
        sh -c "hostname $n; mount --bind $D/hosts /etc/hosts; $shm;
               mount --bind $boot /proc/sys/kernel/random/boot_id;
               exec python3 -c \"$REAPER\"" </dev/null >"$D/$n.log" 2>&1 &
    upid=$!
    c=""
    for _ in $(seq 50); do
        c=$(cat /proc/$upid/task/$upid/children 2>/dev/null | awk '{print $1}')
        [ -n "$c" ] && [ "$(readlink /proc/$c/ns/uts)" != "$(readlink /proc/self/ns/uts)" ] && \
            grep -q boot_id /proc/$c/mountinfo 2>/dev/null && break
        sleep 0.05
    done
    [ -n "$c" ] || die "host $n did not start; see $D/$n.log"
    echo "$c" > "$D/$n.pid"
    echo "$upid" > "$D/$n.upid"
}

cmd=${1:-}
case $cmd in
up)
    N=${2:-3}
    mkdir -p "$D"
    { echo "127.0.0.1 localhost"; echo "$NET.1 vhost-main"
      for i in $(seq 1 "$N"); do echo "$NET.$((10 + i)) h$i"; done
      echo "$NET.30 hc"; } > "$D/hosts"
    if ! ip link show "$BR" >/dev/null 2>&1; then
        ip link add "$BR" type bridge
        ip addr add "$NET.1/24" dev "$BR"
    fi
    ip link set "$BR" up
    for i in $(seq 1 "$N"); do
        [ -s "$D/h$i.pid" ] && [ -d "/proc/$(cat "$D/h$i.pid")" ] && continue
        start_host "h$i" "$NET.$((10 + i))"
    done
    if [ "$N" -ge 3 ] && ! { [ -s "$D/hc.pid" ] && [ -d "/proc/$(cat "$D/hc.pid")" ]; }; then
        start_host hc "$NET.30" h3
    fi
    ;;
exec)
    h=${2:?usage: vhosts.sh exec HOST CMD...}
    shift 2
    opts=$(enter "$h") || exit 1
    # shellcheck disable=SC2086
    exec nsenter $opts -- sh -c "$*"
    ;;
shm)
    n=$(name_of "${2:?host}")
    [ "$n" = hc ] && n=h3
    echo "$D/$n.shm"
    ;;
pids)
    p=$(init_pid "${2:?host}")
    pidns=$(readlink /proc/$p/ns/pid)
    for q in /proc/[0-9]*; do
        q=${q#/proc/}
        [ "$q" = "$p" ] && continue
        [ "$(readlink /proc/$q/ns/pid 2>/dev/null)" = "$pidns" ] && echo "$q"
    done
    true
    ;;
sshd)
    h=${2:?usage: vhosts.sh sshd HOST}
    n=$(name_of "$h")
    command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || die "sshd missing: apt-get install openssh-server"
    S=$D/ssh
    mkdir -p "$S/bin"
    chmod 700 "$S"
    [ -s "$S/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$S/host_key"
    [ -s "$S/id" ] || ssh-keygen -q -t ed25519 -N '' -f "$S/id"
    cp "$S/id.pub" "$S/authorized_keys"; chmod 600 "$S/authorized_keys"
    cat > "$S/sshd_config" <<EOF
Port 22
HostKey $S/host_key
AuthorizedKeysFile $S/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $S/sshd-$n.pid
AcceptEnv *
EOF
    cat > "$S/ssh_config" <<EOF
Host *
  IdentityFile $S/id
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
  ConnectTimeout 5
EOF
    # ssh reads ~/.ssh/config of the passwd entry, not $HOME: a wrapper gives it ours
    printf '#!/bin/sh\nexec /usr/bin/ssh -F %s "$@"\n' "$S/ssh_config" > "$S/bin/ssh"
    chmod 755 "$S/bin/ssh"
    # sshd needs its privilege-separation directory inside the host
    # shellcheck disable=SC2046
    nsenter $(enter "$h") -- sh -c "mkdir -p /run/sshd && chmod 755 /run/sshd && /usr/sbin/sshd -f $S/sshd_config"
    for _ in $(seq 50); do [ -s "$S/sshd-$n.pid" ] && break; sleep 0.05; done
    [ -s "$S/sshd-$n.pid" ] || die "sshd did not start in $n"
    echo "$S/bin"
    ;;
down)
    for f in "$D"/*.upid; do
        [ -e "$f" ] || continue
        n=$(basename "$f" .upid)
        # SIGKILL of a PID namespace's init takes every process in it along
        [ -s "$D/$n.pid" ] && kill -KILL "$(cat "$D/$n.pid")" 2>/dev/null || true
        kill -KILL "$(cat "$f")" 2>/dev/null || true
        rm -f "$f" "$D/$n.pid"
    done
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^vh-' || true); do
        ip netns del "$ns" 2>/dev/null || true
    done
    for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^vh-' || true); do
        ip link del "$l" 2>/dev/null || true
    done
    ip link del "$BR" 2>/dev/null || true
    for m in "$D"/*.shm; do
        [ -e "$m" ] && { umount -l "$m" 2>/dev/null || true; }
    done
    rm -rf "$D"
    ;;
*)
    sed -n '2,22p' "$0"
    exit 2
    ;;
esac
