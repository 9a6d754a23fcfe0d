#!/usr/bin/env bash
# Build the end-to-end guest: Debian's own kernel (its package, unpacked, never installed) and a
# busybox initrd with the libnvdimm/dax, CXL, 9p and virtio-net modules, ndctl, daxctl and cxl.
# Usage: build-initrd.sh CACHE_DIR OUT_DIR   -> OUT_DIR/vmlinuz, OUT_DIR/initrd.gz
# The kernel package is downloaded and unpacked once into CACHE_DIR, under a lock (runs may share
# the cache); OUT_DIR belongs to one run, and its initrd is built every time (seconds).
set -euo pipefail
CACHE=$1
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
APT_LOCK=(-o DPkg::Lock::Timeout=600 -o Acquire::Lock::Timeout=600)
mkdir -p "$CACHE" "$OUT"
exec 9> "$CACHE/.lock"
flock -w 900 9 || { echo "another run has held $CACHE/.lock for 15 minutes" >&2; exit 1; }
cd "$CACHE"
kernel_package() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'; }
KPKG=$(kernel_package)
if [ -z "$KPKG" ]; then apt-get update -q "${APT_LOCK[@]}" >/dev/null && KPKG=$(kernel_package); fi
[ -n "$KPKG" ] || { echo "cannot find the kernel package linux-image-amd64 depends on" >&2; exit 1; }
KV=${KPKG#linux-image-}
if [ ! -f "kpkg-$KV/boot/vmlinuz-$KV" ]; then
    if ! ls "${KPKG}"_*.deb >/dev/null 2>&1; then
        D=$(mktemp -d "$CACHE/download.XXXXXX")
        # Stale apt lists name a file the mirror no longer has: update them once and retry.
        (cd "$D" && { apt-get download "$KPKG" || { apt-get update -q "${APT_LOCK[@]}" && apt-get download "$KPKG"; }; }) >/dev/null \
            || { rm -rf "$D"; echo "cannot download $KPKG" >&2; exit 1; }
        mv "$D"/*.deb . && rmdir "$D"
    fi
    rm -rf "kpkg-$KV.tmp" && dpkg-deb -x "${KPKG}"_*.deb "kpkg-$KV.tmp" && mv "kpkg-$KV.tmp" "kpkg-$KV"
fi
flock -u 9  # what follows reads the unpacked package (never changed once there) and writes OUT only
cp "kpkg-$KV/boot/vmlinuz-$KV" "$OUT/vmlinuz"
M=kpkg-$KV/lib/modules/$KV
R=$(mktemp -d "$OUT/initrd.XXXXXX")
trap 'rm -rf "$R"' EXIT
mkdir -p "$R"/{bin,sbin,proc,sys,dev,tmp,etc,run,lib/modules/$KV/kernel}
cp /bin/busybox "$R/bin/busybox"
for b in ndctl daxctl cxl modprobe; do
    p=$(command -v $b) || { echo "$b is not installed (Debian: cxl comes with the ndctl package)" >&2; exit 1; }
    cp "$p" "$R/bin/"
    for l in $(ldd "$p" | grep -o '/[^ ]*'); do mkdir -p "$R$(dirname "$l")"; cp -L "$l" "$R$l"; done
done
for d in drivers/nvdimm drivers/dax drivers/acpi/nfit drivers/cxl drivers/virtio fs/9p net/9p fs/netfs fs/fscache \
         drivers/net/virtio_net.ko drivers/net/net_failover.ko net/core/failover.ko; do
    mkdir -p "$R/lib/modules/$KV/kernel/$(dirname $d)"
    cp -r "$M/kernel/$d" "$R/lib/modules/$KV/kernel/$d"
done
cp "$M"/modules.order "$M"/modules.builtin* "$R/lib/modules/$KV/"
depmod -b "$R" "$KV"
cp -r /etc/ndctl.conf.d /etc/daxctl.conf.d "$R/etc/" 2>/dev/null || true
cp "$HERE/guest/init" "$R/init" && chmod +x "$R/init"
(cd "$R" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$OUT/initrd.gz")
