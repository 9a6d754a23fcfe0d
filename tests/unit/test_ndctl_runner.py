"""Running ndctl: fixed argv, no shell, bounded in time and in output; every failure typed."""

import tempfile
import time

import pytest

from pmem_placement.discover import command
from pmem_placement.discover import ndctl
from pmem_placement.discover import ndctl_json
from pmem_placement.errors import DiscoveryError
from pmem_placement.errors import ParseError
from tests import helpers


def stub(tmp_path, body):
    path = tmp_path / "ndctl"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def test_runs_the_fixed_argv_without_a_shell(tmp_path):
    args = tmp_path / "args"
    path = stub(tmp_path, f'printf "%s\\n" "$@" > {args}; cat {helpers.NDCTL / "v81-list-X.json"}')
    namespaces = ndctl.discover(path, timeout=10)
    assert args.read_text().split("\n")[:-1] == list(ndctl.ARGV)
    assert len(namespaces) == 5


def test_name_is_resolved_in_path_to_an_absolute_executable(tmp_path, monkeypatch):
    stub(tmp_path, "true")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert command.resolve("ndctl") == str(tmp_path / "ndctl")


def test_missing_ndctl(tmp_path):
    with pytest.raises(DiscoveryError, match=r"^\[pmem\]ndctl_path: '/nonexistent/ndctl' is not an executable"):
        ndctl.discover("/nonexistent/ndctl", timeout=10)


def test_non_executable_file(tmp_path):
    path = tmp_path / "ndctl"
    path.write_text("not a program")
    with pytest.raises(DiscoveryError, match="is not an executable"):
        ndctl.discover(str(path), timeout=10)


def test_nonzero_exit_names_the_last_stderr_line(tmp_path):
    path = stub(tmp_path, "echo 'warning: x' >&2; echo 'error: failed to list namespaces' >&2; exit 3")
    with pytest.raises(DiscoveryError, match="exited with status 3: error: failed to list namespaces$"):
        ndctl.discover(path, timeout=10)


def test_timeout_kills_the_whole_process_group(tmp_path):
    # A wrapper whose child keeps the output open: the timeout must still hold.
    path = stub(tmp_path, "sleep 30 & sleep 30")
    started = time.monotonic()
    with pytest.raises(DiscoveryError, match=r"did not finish within 1 s \(\[pmem\]ndctl_timeout\)"):
        ndctl.discover(path, timeout=1)
    # the wrapper and its child sleep 30 s: ending well before that is the group killed (not a
    # measure of speed: 25 s of slack for a loaded machine)
    assert time.monotonic() - started < 26


def test_huge_output_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(command, "MAX_OUTPUT", 1000)
    path = stub(tmp_path, "head -c 5000 /dev/zero")
    with pytest.raises(DiscoveryError, match="printed 5000 bytes, more than the 1000 accepted"):
        ndctl.discover(path, timeout=10)


@pytest.mark.parametrize("output, message", [
    ("garbage", "not valid JSON"),
    ('[{"dev":"namespace0.0","mode":"devdax","name":"ns_0","daxregion":{"id":0,"devic', "not valid JSON"),
    ('[{"dev":"namespace0.0","mode":["devdax"]}]', "'mode' is list"),
    ("\\377\\376binary", "not valid JSON"),
])
def test_bad_output_is_a_parse_error(tmp_path, output, message):
    path = stub(tmp_path, f"printf '%b' '{output}'")
    with pytest.raises(ParseError, match=message):
        ndctl.discover(path, timeout=10)


def test_nothing_printed_means_no_nd_bus_which_is_a_discovery_error(tmp_path):
    # With --buses, ndctl prints every nd bus even without namespaces: nothing printed means the
    # drivers have not probed (a host at boot), never "every namespace is gone".
    with pytest.raises(DiscoveryError, match="no nd bus on this host"):
        ndctl.discover(stub(tmp_path, "true"), timeout=10)


def test_no_writable_temporary_directory_is_needed(tmp_path, monkeypatch):
    # Seen on a real kernel: a freshly booted host (or a hardened unit) with no writable /tmp.
    # ndctl's output must still be read, not die in tempfile with a traceback.
    for name in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.setenv(name, str(tmp_path / "does-not-exist"))
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setattr(tempfile, "_candidate_tempdir_list", lambda: [str(tmp_path / "does-not-exist")])
    path = stub(tmp_path, f"cat {helpers.NDCTL / 'v81-list-X.json'}")
    assert len(ndctl.discover(path, timeout=10)) == 5


def test_large_output_is_read_whole_through_pipes(tmp_path):
    # More than a pipe buffer on each stream: neither may block the other.
    sample = helpers.NDCTL / "v81-list-N-X.json"
    path = stub(tmp_path, f"head -c 300000 /dev/zero >&2; cat {sample}; head -c 300000 /dev/zero >&2")
    assert ndctl.discover(path, timeout=10) == ndctl_json.parse(sample.read_text())


ARGS = " ".join(ndctl.ARGV)


def test_a_failure_names_the_whole_command_and_its_last_line_or_nothing(tmp_path):
    path = stub(tmp_path, "echo 'error: no bus' >&2; exit 3")
    with pytest.raises(DiscoveryError) as raised:
        ndctl.discover(path, timeout=10)
    assert str(raised.value) == f"{path} {ARGS} exited with status 3: error: no bus"
    path = stub(tmp_path, "exit 4")
    with pytest.raises(DiscoveryError) as raised:
        ndctl.discover(path, timeout=10)
    assert str(raised.value) == f"{path} {ARGS} exited with status 4"


def test_what_it_says_on_stderr_is_read_whatever_its_bytes(tmp_path):
    path = stub(tmp_path, "printf 'caf\\351 failed\\n' >&2; exit 1")
    with pytest.raises(DiscoveryError, match="exited with status 1: caf\ufffd failed$"):
        ndctl.discover(path, timeout=10)


def test_a_file_the_kernel_cannot_execute_is_named(tmp_path):
    path = tmp_path / "ndctl"
    path.write_bytes(b"\x7fELF-not-really")
    path.chmod(0o755)
    with pytest.raises(DiscoveryError) as raised:
        ndctl.discover(str(path), timeout=10)
    assert str(raised.value) == f"cannot run {path}: Exec format error"


def test_a_system_tool_that_is_missing_or_slow_is_named_without_an_option(tmp_path):
    with pytest.raises(command.NotInstalled) as raised:
        command.resolve("no-such-tool-here", option=None)
    assert str(raised.value) == "no-such-tool-here is not installed"
    path = stub(tmp_path, "exec sleep 30")
    with pytest.raises(DiscoveryError) as raised:
        command.output(path, 1, ("verify",), option=None)  # the deadline is the test's subject: 1 s is enough
    assert str(raised.value) == f"{path} verify did not finish within 1 s"
    with pytest.raises(DiscoveryError) as raised:
        command.output(path, 1, ("list",))
    assert str(raised.value) == f"{path} list did not finish within 1 s ([pmem]ndctl_timeout)"
