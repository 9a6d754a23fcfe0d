#!/usr/bin/env bash
# The end-to-end suite: Debian's own kernel under QEMU (TCG, no KVM needed) with emulated NVDIMMs
# (a CXL memory device for the last scenario), real ndctl, daxctl, cxl and sysfs, this checkout's
# own commands run in the guest, and a real openstack-placement on the host's loopback. See docs/e2e.md.
#
# Installs what it needs when missing (Debian 12, as root): qemu-system-x86, ndctl, daxctl,
# busybox-static, cpio, kmod, python3-venv, and downloads the kernel package into $PMEM_E2E_CACHE
# (default /var/tmp/pmem-placement-e2e, shared by runs under a lock). Prints one line per scenario,
# then "N passed, M failed", also when setting up failed; exits non-zero when anything failed.
# Usage: tools/e2e.sh [--only SCENARIO]... [--work DIR] [--deadline SECONDS] [--save-captures]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
CACHE=${PMEM_E2E_CACHE:-/var/tmp/pmem-placement-e2e}
APT_LOCK=(-o DPkg::Lock::Timeout=600 -o Acquire::Lock::Timeout=600)
BOOT=""
LOG=$(mktemp "${TMPDIR:-/tmp}/pmem-placement-e2e-setup.XXXXXX") || { echo "FAIL setup: mktemp"; echo "0 passed, 1 failed"; exit 1; }
trap 'rm -rf "$LOG" ${BOOT:+"$BOOT"}' EXIT

fail() {
    echo "FAIL setup: $*"
    echo "0 passed, 1 failed"
    exit 1
}
last() { tail -n 1 "$LOG"; }

missing=()
for pair in qemu-system-x86_64:qemu-system-x86 ndctl:ndctl daxctl:daxctl cpio:cpio depmod:kmod flock:util-linux; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
# The initrd needs a static busybox (the busybox package's is dynamically linked).
[ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" = "install ok installed" ] || missing+=(busybox-static)
# Debian's python3 makes virtualenvs only with python3-venv (ensurepip).
[ -x .venv/bin/python ] || python3 -c "import ensurepip" 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || fail "needs ${missing[*]}: run as root to install them"
    { apt-get update -q "${APT_LOCK[@]}" && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${APT_LOCK[@]}" \
        --no-install-recommends "${missing[@]}"; } > "$LOG" 2>&1 \
        || fail "cannot install ${missing[*]}: $(last)"
fi

if [ ! -x .venv/bin/pmem-placement ] || ! .venv/bin/python -c "import placement, requests" 2>/dev/null; then
    if [ ! -x .venv/bin/python ]; then
        python3 -m venv .venv > "$LOG" 2>&1 || fail "cannot create .venv: $(last)"
    fi
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]' > "$LOG" 2>&1 \
        || fail "cannot install the checkout into .venv: $(last)"
fi
# The guest reads the checkout over a read-only 9p share: compile once here, not on every import there.
.venv/bin/python -m compileall -q -j 0 pmem_placement tests/e2e .venv/lib/python3*/site-packages >/dev/null 2>&1 || true

mkdir -p "$CACHE" 2>"$LOG" || fail "cannot make the cache $CACHE: $(last)"
# This run's kernel and initrd: another run may build its own at the same time.
BOOT=$(mktemp -d "${TMPDIR:-/var/tmp}/pmem-placement-e2e-boot.XXXXXX" 2>"$LOG") || fail "mktemp: $(last)"
bash tests/e2e/build-initrd.sh "$CACHE" "$BOOT" > "$LOG" 2>&1 || fail "cannot build the guest: $(last)"
.venv/bin/python -m tests.e2e.run --kernel "$BOOT/vmlinuz" --initrd "$BOOT/initrd.gz" "$@"
