#!/bin/bash
# extract-vmlinux.sh BZIMAGE OUT_ELF: the decompressed kernel ELF out of a bzImage
# (what linux/scripts/extract-vmlinux does). QEMU boots an ELF vmlinux with
# CONFIG_PVH=y directly, skipping the in-guest decompression (slow under TCG).
set -euo pipefail
in=$1; out=$2; tmp=$(mktemp)
try() { # magic-regex decompress-cmd
  for pos in $(LC_ALL=C grep -obUaP "$1" "$in" | cut -d: -f1); do
    tail -c +$((pos + 1)) "$in" | $2 > "$tmp" 2>/dev/null || true
    if [ "$(head -c4 "$tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then mv "$tmp" "$out"; return 0; fi
  done; return 1
}
try '\x02\x21\x4c\x18' 'lz4 -dc' || try '\xfd\x37\x7a\x58\x5a\x00' 'xz -dc' || try '\x1f\x8b\x08' 'gzip -dc' \
  || try '\x28\xb5\x2f\xfd' 'zstd -dc' || { rm -f "$tmp"; echo "no ELF found in $in" >&2; exit 1; }
echo "$out: $(du -h "$out" | cut -f1)"
