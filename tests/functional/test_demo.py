"""The README's first command: `pmem-placement demo`, run as a newcomer would run it."""

import subprocess
import sys


def test_demo_shows_the_product_working():
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from pmem_placement.cmd.cli import main; sys.exit(main(['demo']))"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert proc.stderr == ""  # a newcomer's first run shows no warning
    # The host's namespaces, from real ndctl output, with the reason each is or is not used.
    # (The demo's listing is the flat ndctl list -N -i -X of old: no bus, no health signal.)
    assert "namespace0.1  6GB               devdax  502.0 MiB  dax0.1   0     -    -       CUSTOM_PMEM_NAMESPACE_BIG" \
        in out
    assert "namespace2.2  disabled_ns       raw     256.0 MiB" in out and "not usable: it is disabled" in out
    # First sync, then a tree with the child under nova's provider.
    assert "+ resource provider demo-compute-1:pmem" in out
    assert "    demo-compute-1:pmem  (uuid " in out
    assert "        CUSTOM_PMEM_NAMESPACE_SMALL    total      2" in out
    assert "traits: COMPUTE_NODE, OWNER_NOVA" in out
    # The second run reads in full and writes nothing; the remap is planned then applied.
    assert "demo-compute-1:pmem: in sync, nothing to change (5 requests)" in out
    assert "~ inventory CUSTOM_PMEM_NAMESPACE_BIG: total 1 -> 2, max_unit 1 -> 2" in out
    assert "        CUSTOM_PMEM_NAMESPACE_BIG      total      2" in out
    assert out.rstrip().endswith("temporary files removed")
