"""The state directory: shared by the agent (the unit's dynamic user owns it) and a root one-shot;
nothing planted in it is followed or believed; whether an agent runs is the kernel's answer."""

import json
import os
import shutil
import signal
import tempfile

import pytest

from pmem_placement import status_file

from tests import helpers
from tests.functional.agents import Running
from tests.functional.agents import wait_for
from tests.functional.conftest import check_lines as lines
from tests.functional.agents import agent_fingerprint
from tests.functional.agents import write_agent_status

NOBODY = 65534
FOREIGN = 4242
NAMES = ("lock", "state.json", "status.json", "agent.pid", "consumers.json")
PRECIOUS = "precious\n"
JITTER = ("from pmem_placement.agent import schedule\n"
          "schedule.Schedule.first_delay = lambda self, rng: self.initial_jitter  # the longest wait it may draw")

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching to another uid needs root")


@pytest.fixture
def shared(node):
    """A state directory owned by another uid, as the unit's StateDirectory= is owned by its
    dynamic user, where that uid can reach it."""
    base = tempfile.mkdtemp(prefix="pmem-placement-state-")
    os.chmod(base, 0o755)
    state = os.path.join(base, "state")
    os.mkdir(state, 0o750)
    os.chown(state, NOBODY, NOBODY)
    node.configure(agent={"state_dir": state})
    yield state
    shutil.rmtree(base)


def as_the_agent(state):
    """What the agent's reconcile does with the state directory: lock, read, replace."""
    from pmem_placement.state import StateStore

    store = StateStore(state)
    with store.lock():
        with open(os.path.join(state, "state.json")) as f:
            data = json.load(f)
        cache = store.load(data["endpoint"], data["lookup"])
        store.save(cache)
    return {"uid": os.getuid(), "loaded": cache is not None, "problem": store.problem}


@needs_root
def test_a_root_one_shot_leaves_every_file_to_the_directory_owner(node, shared):
    assert node.run("reconcile").status == 0
    owners = {name: (os.stat(os.path.join(shared, name)).st_uid, oct(os.stat(os.path.join(shared, name)).st_mode & 0o777))
              for name in os.listdir(shared)}
    assert owners == {"lock": (NOBODY, "0o640"), "state.json": (NOBODY, "0o640"), "consumers.json": (NOBODY, "0o640")}
    before = os.stat(os.path.join(shared, "state.json")).st_ino
    # The agent, as the directory's owner: a real switch of uid in a child process.
    assert helpers.as_user(NOBODY, lambda: as_the_agent(shared)) == {"uid": NOBODY, "loaded": True, "problem": None}
    assert os.stat(os.path.join(shared, "state.json")).st_ino != before  # replaced by the agent's user
    # and root's next run replaces it again, for the agent still
    assert node.run("reconcile").status == 0
    assert {os.stat(os.path.join(shared, name)).st_uid for name in os.listdir(shared)} == {NOBODY}


def plant(state, name, kind, target):
    """Put something that is not the product's own file at ``state/name``."""
    path = state / name
    if kind == "symlink-to-nothing":
        path.symlink_to(target)
    elif kind == "symlink":
        target.write_text(PRECIOUS)
        path.symlink_to(target)
    elif kind == "hardlink":
        target.write_text(PRECIOUS)
        os.link(target, path)
    else:
        path.write_text(PRECIOUS)
        os.chown(path, FOREIGN, FOREIGN)
    return path


def untouched(path, kind, target):
    if kind == "symlink-to-nothing":
        return not os.path.lexists(target)
    if kind == "foreign":
        return path.read_text() == PRECIOUS and path.stat().st_uid == FOREIGN
    return target.read_text() == PRECIOUS


def _one_shot(node, path):
    result = node.run("reconcile")
    if path.name == "lock":  # a ConfigError: nothing written to Placement
        assert result.status == 2 and result.writes == [], result.err
        assert result.err.startswith(f"pmem-placement: error: [agent]state_dir: {path} "), result.err
    else:  # a warning naming it, and the run goes on
        assert result.status == 0, result.err
        assert f"[agent]state_dir: {path} " in result.err, result.err
    return result.err


def _agent(node, path):
    a = Running(node)
    try:
        if path.name == "agent.pid":  # refused at start, exit 2
            assert a.proc.wait(timeout=30) == 2, a.output()
            assert a.output().startswith(f"pmem-placement-agent: error: [agent]state_dir: {path} "), a.output()
            return a.output()
        # status.json: the cycles go on; the file is a problem the status (here, the metrics) names
        wait_for(lambda: 'pmem_placement_state{state="error"} 1' in (node.dir / "agent.prom").read_text(errors="replace")
                 if (node.dir / "agent.prom").exists() else False, what=f"the agent in error; log:\n{a.output()}")
        wait_for(lambda: f"[agent]status_file: cannot write {path}: {path} " in a.output(), what="the warning")
        assert a.proc.poll() is None
        return a.output()
    finally:
        a.stop()


@pytest.mark.parametrize("kind", ["symlink-to-nothing", "symlink", "hardlink", "foreign"])
@pytest.mark.parametrize("name", NAMES)
def test_nothing_planted_in_the_state_dir_is_followed_or_believed(node, tmp_path, name, kind):
    state = tmp_path / "state"
    state.mkdir(mode=0o750)
    target = tmp_path / "elsewhere"
    path = plant(state, name, kind, target)
    said = (_agent if name in ("status.json", "agent.pid") else _one_shot)(node, path)
    problem = {"symlink-to-nothing": "is a symbolic link", "symlink": "is a symbolic link",
               "hardlink": "has 2 hard links", "foreign": f"is owned by uid {FOREIGN}"}[kind]
    assert f"{path} {problem}" in said
    assert untouched(path, kind, target)
    if name == "status.json":
        shown = json.loads(node.run("show", "--format", "json").out)["agent"]
        assert shown["unreadable"].startswith(f"the agent's status file {path} cannot be read: {path} {problem}")


def test_a_state_dir_every_user_can_write_is_refused(node, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o777)
    result = node.run("reconcile")
    assert result.status == 2 and result.writes == []
    assert result.err == (f"pmem-placement: error: [agent]state_dir: {state} is writable by every user (mode 0777): "
                          "chmod o-w it\n")
    a = Running(node)
    try:
        assert a.proc.wait(timeout=30) == 2
        assert "is writable by every user (mode 0777)" in a.output()
    finally:
        a.stop()
    assert os.listdir(state) == []


def waiting(node, **options):
    """A real agent waiting out its initial jitter (an hour): it holds its lock, has no status yet."""
    a = Running(node, prelude=JITTER, initial_jitter=3600, **options)
    wait_for(lambda: "first reconcile in 3600.0 s" in a.output(), what=f"the agent started; log:\n{a.output()}")
    return a


def stop(a):
    a.signal(signal.SIGTERM)
    assert a.proc.wait(timeout=30) == 0
    a.stop()


def test_remove_refuses_while_an_agent_waits_out_its_initial_jitter(node, admin):
    state = node.dir / "state"
    assert node.run("reconcile").status == 0
    child = admin.child_uuid(node.name)
    a = waiting(node)
    try:
        assert not (state / "status.json").exists()  # the agent has not written its status yet
        result = node.run("remove")
        assert result.status == 1 and result.writes == [] and result.out == "", result.out + result.err
        assert result.err == (f"pmem-placement: error: the agent is running (pid {a.proc.pid}, holding "
                              f"{state / 'agent.pid'}) in report mode with a non-empty mapping and would re-create "
                              "the provider: stop the agent first: systemctl disable --now pmem-placement-agent; "
                              "nothing was written\n")
        assert admin.provider(child) is not None
        assert (state / "agent.pid").read_text() == status_file.pid_file_text(a.proc.pid, "report", False)
        assert lines(node.run("check"))["agent"] == (
            f"Success  agent: the agent is running (pid {a.proc.pid}) in report mode, its mapping not empty; "
            f"no status at {state / 'status.json'} yet (before its first cycle)")
    finally:
        stop(a)
    result = node.run("remove")
    assert result.status == 0, result.err
    assert admin.provider(child) is None


def test_once_the_agent_stopped_a_live_process_with_its_pid_is_no_agent(node, admin):
    """A zombie's pid, a pid reused after a reboot: the status names a live process, and no agent
    holds the lock."""
    state = node.dir / "state"
    assert node.run("reconcile").status == 0
    stop(waiting(node))
    write_agent_status(node, os.getpid(), agent_fingerprint(node))  # a live process: ours
    shown = json.loads(node.run("show", "--format", "json").out)["agent"]
    assert shown["stale"] == f"no agent is running (no process holds the lock on {state / 'agent.pid'})"
    assert shown["running"] == {"held": False, "path": str(state / "agent.pid"), "pid": None, "mode": None,
                                "mapping_empty": None, "unknown": None}
    assert "(STALE: no agent is running" in node.run("show").out
    assert lines(node.run("check"))["agent"].startswith(
        "Warning  agent: the agent's status is stale: no agent is running")
    result = node.run("remove")
    assert result.status == 0, result.err
    assert admin.provider(admin.child_uuid(node.name)) is None


@pytest.mark.parametrize("pmem", [{"mode": "audit"}, {"namespaces": ""}])
def test_an_agent_in_audit_mode_or_with_an_empty_mapping_does_not_block_remove(node, admin, pmem):
    assert node.run("reconcile").status == 0
    child = admin.child_uuid(node.name)
    reporting = dict(node.options["pmem"])
    node.configure(pmem=pmem)
    a = waiting(node)
    try:
        node.options["pmem"] = reporting  # the files now say report mode; the agent runs as it started
        result = node.run("remove")
        assert result.status == 0, result.err
        assert admin.provider(child) is None
        how = "in audit mode (it never writes)" if pmem.get("mode") else "in report mode, its mapping empty"
        assert lines(node.run("check"))["agent"].startswith(f"Success  agent: the agent is running (pid {a.proc.pid}) {how}")
    finally:
        stop(a)


def test_a_reload_rewrites_how_the_agent_runs_in_its_pid_file(node, admin):
    a = waiting(node)
    try:
        assert node.run("remove").status == 1
        node.configure(pmem={"namespaces": ""})
        node.write_config()
        a.signal(signal.SIGHUP)
        wait_for(lambda: (node.dir / "state" / "agent.pid").read_text() == status_file.pid_file_text(a.proc.pid, "report", True),
                 what=f"the pid file rewritten; log:\n{a.output()}")
        result = node.run("remove")
        assert result.status == 0, result.err
    finally:
        stop(a)


@pytest.mark.parametrize("name", ["lock", "state.json", "agent.pid"])
def test_check_fails_where_every_write_would_be_refused(node, name):
    """A file of the state directory that a run refuses (here a planted link) is check's Failure,
    not a ready host."""
    assert node.run("reconcile").status == 0
    entry = node.dir / "state" / name
    if entry.exists():
        entry.unlink()
    entry.symlink_to(node.dir / "elsewhere")
    result = node.run("check")
    assert result.status == 2
    [line] = [line for line in result.out.splitlines() if "state directory:" in line]
    assert line.startswith(f"Failure  state directory: {entry} is a symbolic link")
    assert not (node.dir / "elsewhere").exists()
