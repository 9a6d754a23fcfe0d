#!/usr/bin/env bash
# The end-to-end suite: Debian's own kernel under QEMU (TCG, no KVM needed) with emulated NVDIMMs,
# real ndctl, daxctl and sysfs, this checkout's own commands run in the guest, and a real
# openstack-placement on the host's loopback. See README.md, "End-to-end suite".
#
# Installs what it needs when missing (Debian 12, as root): qemu-system-x86, ndctl, daxctl,
# busybox-static, cpio, kmod, and downloads the kernel package into $PMEM_E2E_CACHE
# (default /var/tmp/pmem-placement-e2e). Prints one line per scenario, then "N passed, M failed";
# exits non-zero when a scenario failed or the guest could not be booted.
# Usage: tools/e2e.sh [--only SCENARIO]... [--work DIR] [--save-captures]
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${PMEM_E2E_CACHE:-/var/tmp/pmem-placement-e2e}

fail() {
    echo "FAIL setup: $*"
    echo "0 passed, 1 failed"
    exit 1
}

missing=()
for pair in qemu-system-x86_64:qemu-system-x86 ndctl:ndctl daxctl:daxctl cpio:cpio depmod:kmod; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
# The initrd needs a static busybox (the busybox package's is dynamically linked).
[ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" = "install ok installed" ] || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || fail "needs ${missing[*]}: run as root to install them"
    mkdir -p "$CACHE"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 \
        --no-install-recommends "${missing[@]}"; } > "$CACHE/apt.log" 2>&1 \
        || fail "cannot install ${missing[*]}: $(tail -n 1 "$CACHE/apt.log")"
fi

if [ ! -x .venv/bin/pmem-placement ] || ! .venv/bin/python -c "import placement, requests" 2>/dev/null; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
fi
# The guest reads the checkout over a read-only 9p share: compile once here, not on every import there.
.venv/bin/python -m compileall -q -j 0 pmem_placement tests/e2e .venv/lib/python3*/site-packages >/dev/null 2>&1 || true

mkdir -p "$CACHE"
bash tests/e2e/build-initrd.sh "$CACHE" > "$CACHE/build.log" 2>&1 \
    || fail "cannot build the guest: $(tail -n 1 "$CACHE/build.log")"
exec .venv/bin/python -m tests.e2e.run --kernel "$CACHE/vmlinuz" --initrd "$CACHE/initrd.gz" "$@"
