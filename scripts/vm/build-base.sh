#!/bin/bash
# build-base.sh OUT: the kernel and base initramfs of the test VMs, in OUT (kept
# between runs: nothing is redone when OUT/vmlinux and OUT/base.cpio.gz exist).
# Debian's cloud kernel (virtio as modules) from the Debian archive, busybox-static
# as the userland, scripts/vm/init as /init. Needs apt-get, busybox-static, cpio.
set -euo pipefail
W=$(cd "$(dirname "$0")" && pwd)
OUT=${1:?usage: build-base.sh OUTDIR}
mkdir -p "$OUT/kernel"
OUT=$(cd "$OUT" && pwd)
if [ -s "$OUT/vmlinux" ] && [ -s "$OUT/base.cpio.gz" ] && [ "$OUT/base.cpio.gz" -nt "$W/init" ] \
   && [ "$OUT/base.cpio.gz" -nt "$W/build-base.sh" ]; then
  exit 0
fi
cd "$OUT/kernel"
KPKG=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
KVER=${KPKG#linux-image-}
if [ ! -f "$KVER/boot/vmlinuz-$KVER" ]; then
  ls linux-image-"$KVER"_*.deb >/dev/null 2>&1 || apt-get download "linux-image-$KVER" >/dev/null
  dpkg-deb -x linux-image-"$KVER"_*.deb "$KVER"
fi
[ -f "$KVER/lib/modules/$KVER/modules.dep" ] || busybox depmod -b "$KVER" "$KVER"
"$W/extract-vmlinux.sh" "$KVER/boot/vmlinuz-$KVER" "$OUT/vmlinux" >/dev/null
ST=$(mktemp -d)
trap 'rm -rf "$ST"' EXIT
chmod 755 "$ST"   # the guest's / (mktemp makes it 0700: only root could run /bin/sh)
mkdir -p "$ST"/{bin,sbin,dev,proc,sys,tmp,run,etc,test,lib/modules/$KVER}
cp /bin/busybox "$ST/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$ST/bin/$a"; done
cp "$W/init" "$ST/init"
MODS="virtio_pci virtio_net"
echo "$MODS" | tr ' ' '\n' > "$ST/etc/modules-load"
MD=$KVER/lib/modules/$KVER
need=""
for m in $MODS; do
  line=$(grep -E "/$m\.ko(\.xz|\.zst)?:" "$MD/modules.dep")
  need="$need ${line%%:*} ${line#*:}"
done
for f in $(echo $need | tr ' ' '\n' | sort -u); do
  mkdir -p "$ST/lib/modules/$KVER/$(dirname "$f")"
  cp "$MD/$f" "$ST/lib/modules/$KVER/$f"
done
cp "$MD"/modules.{order,builtin} "$ST/lib/modules/$KVER/" 2>/dev/null || true
busybox depmod -b "$ST" "$KVER"
mknod -m 600 "$ST/dev/console" c 5 1
mknod -m 666 "$ST/dev/null" c 1 3
(cd "$ST" && find . | sort | cpio -o -H newc --quiet -R 0:0) | gzip -6 > "$OUT/base.cpio.gz"
echo "vm image: kernel $KVER, initramfs $(du -h "$OUT/base.cpio.gz" | cut -f1) in $OUT"
