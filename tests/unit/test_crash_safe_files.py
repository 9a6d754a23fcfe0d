"""Every local file the product writes is crash-safe: a failure at each step of its write (the
temporary file's open, the write, the file's fsync, the rename, the directory's fsync) leaves the
previous content whole (or, once the rename is done, the new content whole) and no temporary file
behind, and is reported as the warning the README names.

Guards the bug of a file written in place (no temporary file and rename): a truncated state.json
is exactly the loss of the remap memory that docs/guarantees.md promises never to suffer silently.
"""

import errno
import json
import logging
import os

import pytest

from pmem_placement import consumers
from pmem_placement import state
from pmem_placement import status_file
from pmem_placement.agent import report
from pmem_placement.state import Cache
from pmem_placement.state import StateStore

STEPS = ["open", "write", "fsync", "rename", "dirsync"]
FULL = OSError(errno.ENOSPC, "No space left on device")


class Faults:
    """Fails the ``step`` of the next file write, as a full disk or an I/O error would."""

    def __init__(self, monkeypatch, step):
        self.step = step
        self.fsyncs = 0
        real_open, real_fdopen, real_fsync, real_replace = os.open, os.fdopen, os.fsync, os.replace

        def open_(path, flags, *args, **kwargs):
            if step == "open" and flags & os.O_CREAT and flags & os.O_EXCL:  # the temporary file
                raise FULL
            return real_open(path, flags, *args, **kwargs)

        def fdopen(fd, *args, **kwargs):
            f = real_fdopen(fd, *args, **kwargs)
            if step == "write" and "w" in (args[0] if args else kwargs.get("mode", "r")):
                def write(_text):
                    raise FULL
                f.write = write
            return f

        def fsync(fd):
            self.fsyncs += 1
            # the file is synced first, the directory second
            if (step == "fsync" and self.fsyncs == 1) or (step == "dirsync" and self.fsyncs == 2):
                raise FULL
            return real_fsync(fd)

        def replace(src, dst, **kwargs):
            if step == "rename":
                raise FULL
            return real_replace(src, dst, **kwargs)

        for name, fn in (("open", open_), ("fdopen", fdopen), ("fsync", fsync), ("replace", replace)):
            monkeypatch.setattr(os, name, fn)


def listing(directory):
    return sorted(p.name for p in directory.iterdir())


def whole(path, old, new, step):
    """Before the rename: the old content; after it (the directory's fsync failed): the new."""
    return path.read_text() == (new if step == "dirsync" else old)


def cache(verified_at):
    return Cache("http://placement", "name:cn1", "11111111-1111-1111-1111-111111111111", verified_at=verified_at,
                 holders={"CUSTOM_PMEM_NAMESPACE_4GB": frozenset({"ns_0"})})


@pytest.mark.parametrize("step", STEPS)
def test_state_json(tmp_path, monkeypatch, caplog, step):
    store = StateStore(str(tmp_path))
    store.save(cache(1.0))
    path = tmp_path / "state.json"
    old = path.read_text()
    before = listing(tmp_path)
    with monkeypatch.context() as m:
        Faults(m, step)
        caplog.set_level(logging.WARNING)
        store.save(cache(2.0))
    assert listing(tmp_path) == before
    assert json.loads(path.read_text())["verified_at"] == (2.0 if step == "dirsync" else 1.0)
    assert whole(path, old, path.read_text(), step)
    assert [r.getMessage() for r in caplog.records] == [
        f"[agent]state_dir: cannot write {path}: No space left on device; the next run reads everything from "
        "Placement"]
    assert store.problem is not None
    # and the memory read back is one of the two, never a damaged one
    memory, lost = state.memory(str(tmp_path))
    assert lost is None and memory.holders == {"CUSTOM_PMEM_NAMESPACE_4GB": frozenset({"ns_0"})}


def status(state_="in_sync"):
    return report.Status(host="cn1", pid=1, state=state_, cycles=1, interval=300)


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("where", ["state_dir", "elsewhere"])
def test_status_json(tmp_path, monkeypatch, step, where):
    state_dir = tmp_path / "state"
    path = (state_dir if where == "state_dir" else tmp_path / "status") / "status.json"
    path.parent.mkdir()
    report.write_status(status("in_sync"), str(path), str(state_dir))
    old = path.read_text()
    before = listing(path.parent)
    with monkeypatch.context() as m:
        Faults(m, step)
        with pytest.raises(OSError) as raised:
            report.write_status(status("stopped"), str(path), str(state_dir))
    assert listing(path.parent) == before
    assert whole(path, old, report.status_json(status("stopped")), step)
    # what the agent reports (agent/cycle.py: the state is error, kind status_file_not_writable)
    from pmem_placement import errors

    assert errors.cannot_write("[agent]status_file", str(path), raised.value) == \
        f"[agent]status_file: cannot write {path}: No space left on device"


@pytest.mark.parametrize("step", STEPS)
def test_metrics_file(tmp_path, monkeypatch, step):
    path = tmp_path / "agent.prom"
    report.write_metrics(status("in_sync"), str(path))
    old = path.read_text()
    with monkeypatch.context() as m:
        Faults(m, step)
        with pytest.raises(OSError):
            report.write_metrics(status("stopped"), str(path))
    assert listing(tmp_path) == ["agent.prom"]
    assert whole(path, old, report.metrics_text(status("stopped")), step)


@pytest.mark.parametrize("step", STEPS)
def test_consumers_json(tmp_path, monkeypatch, caplog, step):
    watch = consumers.GuestWatch(consumers.Memory("p", 1, ["c1"], {"c1": "INSTANCE"}))
    consumers.save(str(tmp_path), watch)
    path = tmp_path / consumers.NAME
    old = path.read_text()
    watch.memory = consumers.Memory("p", 2, [], {})
    with monkeypatch.context() as m:
        Faults(m, step)
        caplog.set_level(logging.DEBUG)
        consumers.save(str(tmp_path), watch)
    assert listing(tmp_path) == [consumers.NAME]
    assert whole(path, old, path.read_text(), step) and json.loads(path.read_text())["generation"] == \
        (2 if step == "dirsync" else 1)
    # a cache: the next run looks the consumers up again, and says why
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"the consumer check: cannot write {path}: No space left on device; the consumers are looked up again next "
        "time"]


@pytest.mark.parametrize("failure", ["pwrite", "short", "fsync"])
def test_the_pid_file_is_rewritten_by_one_write_of_one_length(tmp_path, monkeypatch, failure):
    from types import SimpleNamespace

    from pmem_placement.agent import pidfile

    fd = pidfile.acquire(str(tmp_path))
    try:
        conf = SimpleNamespace(pmem=SimpleNamespace(mode="report", namespaces="4GB:ns_0"))
        assert pidfile.record(fd, str(tmp_path / "agent.pid"), conf) is None
        old = (tmp_path / "agent.pid").read_text()
        assert len(old) == status_file.PID_FILE_SIZE
        conf.pmem.mode = "audit"
        with monkeypatch.context() as m:
            if failure == "pwrite":
                m.setattr(os, "pwrite", lambda *a: (_ for _ in ()).throw(FULL))
            elif failure == "short":
                m.setattr(os, "pwrite", lambda fd_, data, off: 0)  # nothing written, as a full disk may
            else:
                m.setattr(os, "fsync", lambda fd_: (_ for _ in ()).throw(FULL))
            problem = pidfile.record(fd, str(tmp_path / "agent.pid"), conf)
        assert problem.startswith(f"cannot write {tmp_path / 'agent.pid'}: ")
        text = (tmp_path / "agent.pid").read_text()
        assert len(text) == status_file.PID_FILE_SIZE
        assert status_file.parse_pid_file(text) in (("report", False), ("audit", False))  # one or the other, whole
        assert listing(tmp_path) == ["agent.pid"]
    finally:
        os.close(fd)
