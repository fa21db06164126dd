#!/usr/bin/env bash
# vms.sh - QEMU VMs (TCG: no KVM needed) for the IVSHMEM tests, on a bridge.
#
#   vms.sh up N [DEVS1 [DEVS2 ...]]   boot vm1..vmN (10.203.0.11.., bridge vmbr0 with
#                          10.203.0.1 on this machine); DEVSk = the ivshmem-plain
#                          devices of vmk: FILE:SIZE[,FILE:SIZE...] (host files,
#                          created zeroed if absent; the first at PCI 00:04.0, the
#                          next at 00:05.0...), '-' for none, default the first's
#   vms.sh exec VM CMD...  run CMD in a VM (scripts/vm/vm-rsh)
#   vms.sh qmp VM          the VM's QMP socket
#   vms.sh down            stop every VM, remove taps and bridge (idempotent)
#
# VMS_DIR (default /tmp/vmpi-vms): consoles (vmK.console), pid files, QMP sockets.
# VMS_IMAGE (default target/vm): kernel and base initramfs (scripts/vm/build-base.sh).
# VMS_PAYLOAD: a directory copied into every VM as /test (the static programs).
# VMS_ACCEL (default tcg): kvm where /dev/kvm works.
# Needs root, qemu-system-x86, iproute2, python3.
set -euo pipefail
W=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$W/../.." && pwd)
D=${VMS_DIR:-/tmp/vmpi-vms}
IMG=${VMS_IMAGE:-$ROOT/target/vm}
NET=10.203.0
BR=vmbr0
die() { echo "vms: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (tap devices, a bridge)"

cmd=${1:-}
case $cmd in
up)
    N=${2:?usage: vms.sh up N [DEVS...]}
    shift 2
    [ -s "$IMG/vmlinux" ] || die "no VM image in $IMG: run scripts/vm/build-base.sh $IMG"
    mkdir -p "$D"
    if ! ip link show "$BR" >/dev/null 2>&1; then
        ip link add "$BR" type bridge
        ip addr add "$NET.1/24" dev "$BR"
    fi
    ip link set "$BR" up
    initrd=$D/initrd
    if [ -n "${VMS_PAYLOAD:-}" ]; then
        T=$(mktemp -d); mkdir "$T/test"; cp -a "$VMS_PAYLOAD"/. "$T/test/"
        { cat "$IMG/base.cpio.gz"; (cd "$T" && find test | cpio -o -H newc --quiet -R 0:0 | gzip -1); } > "$initrd"
        rm -rf "$T"
    else
        cp "$IMG/base.cpio.gz" "$initrd"
    fi
    tsc=$(awk '/^cpu MHz/{printf "%d", $4*1000; exit}' /proc/cpuinfo)
    first=${1:-}
    for k in $(seq 1 "$N"); do
        devs=${1:-$first}; [ $# -gt 0 ] && shift
        tap=vmtap$k
        ip link del "$tap" 2>/dev/null || true
        ip tuntap add dev "$tap" mode tap
        ip link set "$tap" master "$BR" up
        args=(-machine pc -accel "${VMS_ACCEL:-tcg}" -m 128 -smp 1 -nodefaults -no-user-config -display none
              -no-reboot -kernel "$IMG/vmlinux" -initrd "$initrd"
              -append "console=ttyS0 panic=-1 quiet loglevel=3 tsc_early_khz=$tsc vm.name=vm$k vm.ip=$NET.$((10 + k))/24 vm.gw=$NET.1"
              -serial "file:$D/vm$k.console" -pidfile "$D/vm$k.pid"
              -qmp "unix:$D/vm$k.qmp,server=on,wait=off"
              -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no"
              -device "virtio-net-pci,netdev=n0,addr=0x3,mac=52:54:00:c9:00:$(printf %02x $((10 + k)))")
        slot=4
        if [ -n "$devs" ] && [ "$devs" != - ]; then
            IFS=, read -ra list <<< "$devs"
            for dv in "${list[@]}"; do
                f=${dv%%:*}; sz=${dv#*:}
                [ -e "$f" ] || truncate -s "$sz" "$f"
                args+=(-object "memory-backend-file,id=iv$slot,share=on,mem-path=$f,size=$sz"
                       -device "ivshmem-plain,id=ivdev$slot,memdev=iv$slot,addr=0x$slot")
                slot=$((slot + 1))
            done
        fi
        : > "$D/vm$k.console"
        setsid qemu-system-x86_64 "${args[@]}" </dev/null >"$D/vm$k.qemu.log" 2>&1 &
        echo $! > "$D/vm$k.spid"
    done
    for k in $(seq 1 "$N"); do
        for _ in $(seq 600); do
            grep -q "@@READY" "$D/vm$k.console" 2>/dev/null && break
            kill -0 "$(cat "$D/vm$k.spid")" 2>/dev/null || die "vm$k died: $(cat "$D/vm$k.qemu.log")"
            sleep 0.1
        done
        grep -q "@@READY" "$D/vm$k.console" || die "vm$k did not boot in 60 s (see $D/vm$k.console)"
    done
    ;;
exec)
    vm=${2:?usage: vms.sh exec VM CMD...}
    shift 2
    exec "$W/vm-rsh" "$vm" "$@"
    ;;
qmp)
    echo "$D/${2:?usage: vms.sh qmp VM}.qmp"
    ;;
down)
    for f in "$D"/vm*.spid; do
        [ -e "$f" ] || continue
        kill -KILL "$(cat "$f")" 2>/dev/null || true
        rm -f "$f"
    done
    for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^vmtap' || true); do
        ip link del "$l" 2>/dev/null || true
    done
    ip link del "$BR" 2>/dev/null || true
    rm -rf "$D"
    ;;
*)
    sed -n '2,20p' "$0"
    exit 2
    ;;
esac
