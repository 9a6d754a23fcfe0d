"""The state directory's files: the trust rules and the kernel's lock table as tables, then the
opens, reads and replaces on a real directory (as root: a real switch of uid in a child)."""

import fcntl
import os
import pathlib
import shutil
import stat
import tempfile

import pytest

from pmem_placement import check
from pmem_placement import state
from pmem_placement import statedir
from pmem_placement import status_file
from pmem_placement.agent import pidfile
from pmem_placement.statedir import StateDirError
from tests import helpers

NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching to another uid needs root")

LOCKS = """\
1: POSIX  ADVISORY  WRITE 900 08:01:5678 0 EOF
2: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF
2: -> FLOCK  ADVISORY  WRITE 4321 08:01:5678 0 EOF
3: FLOCK  ADVISORY  WRITE 77 103:0a:42 0 EOF
4: FLOCK  ADVISORY  READ  88 08:01:99 0 EOF
5: OFDLCK ADVISORY  WRITE -1 08:01:100 0 EOF
"""


@pytest.mark.parametrize("major, minor, ino, pid", [
    (8, 1, 5678, 1234),  # the flock, not the POSIX lock on the same file nor the waiter
    (259, 10, 42, 77),  # major and minor in hex
    (8, 1, 99, 88),  # a shared lock is held too
    (8, 1, 100, None),  # an OFD lock is no agent's
    (8, 1, 5679, None),  # another inode
    (8, 2, 5678, None),  # another device
])
def test_the_lock_holder_is_found_by_device_and_inode(major, minor, ino, pid):
    assert statedir.lock_holder(LOCKS, os.makedev(major, minor), ino) == pid


def test_no_lock_table_no_holder():
    assert statedir.lock_holder("", os.makedev(8, 1), 5678) is None


@pytest.mark.parametrize("euid, dir_owner, trusted", [
    (0, 0, {0}),
    (0, 61234, {0, 61234}),  # root beside the unit's dynamic user: its files are the agent's
    (61234, 61234, {0, 61234}),  # the agent
    (1000, 61234, {0, 1000}),  # another user trusts root and itself only
])
def test_trusted_owners(euid, dir_owner, trusted):
    assert statedir.trusted_owners(euid, dir_owner) == trusted


@pytest.mark.parametrize("mode, owner, euid, problem", [
    (stat.S_IFDIR | 0o750, 0, 0, None),
    (stat.S_IFDIR | 0o750, 61234, 0, None),
    (stat.S_IFDIR | 0o750, 61234, 61234, None),
    (stat.S_IFDIR | 0o700, 0, 61234, None),
    (stat.S_IFDIR | 0o770, 61234, 0, None),  # the group is the owner's business
    (stat.S_IFDIR | 0o777, 0, 0, "is writable by every user (mode 0777): chmod o-w it"),
    (stat.S_IFDIR | 0o1777, 0, 0, "is writable by every user (mode 1777): chmod o-w it"),
    (stat.S_IFDIR | 0o750, 1000, 61234, "is owned by uid 1000, neither root nor the running user (uid 61234)"),
    (stat.S_IFREG | 0o640, 0, 0, "is not a directory"),
])
def test_directory_problems(mode, owner, euid, problem):
    assert statedir.directory_problem(mode, owner, euid) == problem


@pytest.mark.parametrize("mode, nlink, owner, problem", [
    (stat.S_IFREG | 0o640, 1, 0, None),
    (stat.S_IFREG | 0o640, 1, 61234, None),
    (stat.S_IFLNK | 0o777, 1, 61234, "is a symbolic link (no link in the state directory is followed); remove it"),
    (stat.S_IFREG | 0o640, 2, 61234, "has 2 hard links (a file of its own has one); remove it"),
    (stat.S_IFIFO | 0o640, 1, 61234, "is not a regular file; remove it"),
    (stat.S_IFDIR | 0o750, 2, 61234, "is not a regular file; remove it"),
    (stat.S_IFREG | 0o640, 1, 4242, "is owned by uid 4242, not by root, the running user or the directory's owner "
     "(0, 61234); remove it"),
])
def test_entry_problems(mode, nlink, owner, problem):
    assert statedir.entry_problem(mode, nlink, owner, {0, 61234}) == problem


@pytest.mark.parametrize("text, mode, empty", [
    (status_file.pid_file_text(12, "report", False), "report", False),
    (status_file.pid_file_text(12, "report", True), "report", True),
    (status_file.pid_file_text(12, "audit", True), "audit", True),
    ("12\n", None, None),  # an agent from before: it said its pid only
    ("", None, None),
    ("12\nmode=other\nmapping=maybe\n", None, None),
])
def test_the_pid_file_says_how_the_agent_runs(text, mode, empty):
    assert status_file.parse_pid_file(text) == (mode, empty)


@pytest.mark.parametrize("lock, line", [
    ({"held": True, "pid": 7, "mode": "report", "mapping_empty": False},
     "the agent is running (pid 7) in report mode, its mapping not empty"),
    ({"held": True, "pid": 7, "mode": "report", "mapping_empty": True},
     "the agent is running (pid 7) in report mode, its mapping empty"),
    ({"held": True, "pid": 7, "mode": "audit", "mapping_empty": True},
     "the agent is running (pid 7) in audit mode (it never writes)"),
    ({"held": True, "pid": 7}, "the agent is running (pid 7)"),
    ({"held": False}, "the agent is not running"),
    ({"held": None, "unknown": "cannot look at /s/agent.pid: Permission denied"},
     "whether the agent runs cannot be told (cannot look at /s/agent.pid: Permission denied)"),
])
def test_checks_agent_line_says_whether_and_how_the_agent_runs(lock, line):
    assert check.running(**lock) == line


def test_entry_of(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert statedir.entry_of(str(tmp_path / "link"), str(tmp_path / "real" / "status.json")) == "status.json"
    assert statedir.entry_of(str(tmp_path / "real"), str(tmp_path / "status.json")) is None
    assert statedir.entry_of(None, str(tmp_path / "status.json")) is None


def test_a_replace_writes_a_whole_file_or_nothing(tmp_path):
    with statedir.opened(str(tmp_path)) as directory:
        directory.replace("f.json", "one\n", 0o640)
        with pytest.raises(TypeError):
            directory.replace("f.json", None, 0o640)  # fails half-way: the old file stays whole
        assert directory.read("f.json") == "one\n"
    assert os.listdir(tmp_path) == ["f.json"]  # no temporary file left
    assert stat.S_IMODE(os.stat(tmp_path / "f.json").st_mode) == 0o640


def test_the_state_dirs_path_may_be_a_symlink_its_entries_may_not(tmp_path):
    (tmp_path / "private").mkdir()
    (tmp_path / "state").symlink_to(tmp_path / "private")  # StateDirectory= under DynamicUser=
    (tmp_path / "elsewhere").write_text("precious\n")
    with statedir.opened(str(tmp_path / "state")) as directory:
        assert directory.path == str(tmp_path / "private")
        fd = directory.open("lock", 0o640)
        os.close(fd)
        os.symlink(tmp_path / "elsewhere", tmp_path / "private" / "state.json")
        with pytest.raises(StateDirError, match="state.json is a symbolic link"):
            directory.read("state.json")
        with pytest.raises(StateDirError, match="state.json is a symbolic link"):
            directory.replace("state.json", "{}", 0o640)
        with pytest.raises(StateDirError, match="state.json is a symbolic link"):
            directory.open("state.json", 0o640)
        directory.remove("state.json")  # the link, never its target
    assert (tmp_path / "elsewhere").read_text() == "precious\n"
    assert sorted(os.listdir(tmp_path / "private")) == ["lock"]


@pytest.mark.parametrize("make", [os.mkfifo, os.mkdir])
def test_what_is_not_a_regular_file_is_never_read_nor_waited_for(tmp_path, make):
    make(tmp_path / "state.json")
    with statedir.opened(str(tmp_path)) as directory:
        for use in (lambda: directory.read("state.json"), lambda: directory.open("state.json", 0o640),
                    lambda: directory.replace("state.json", "{}", 0o640)):
            with pytest.raises(StateDirError, match="state.json is not a regular file; remove it"):
                use()
    with pytest.raises(StateDirError, match="state.json is not a regular file; remove it"):
        statedir.read_entry(str(tmp_path), "state.json")


def test_an_unreadable_state_file_is_a_named_warning_and_no_memory(tmp_path, caplog):
    store = state.StateStore(str(tmp_path))
    (tmp_path / "state.json").symlink_to(tmp_path / "nowhere")
    for _ in range(2):
        assert store.load("http://p", "name:compute-1") is None
    assert store.load_problem == (f"[agent]state_dir: {tmp_path / 'state.json'} is a symbolic link (no link in the "
                                  "state directory is followed); remove it")
    assert [r.getMessage() for r in caplog.records] == [
        store.load_problem + ": the memory of which namespaces each class's consumers may hold is unknown; "
        "the fail-safe rule reserves for the consumers now holding PMEM"]  # once
    os.unlink(tmp_path / "state.json")
    assert store.load("http://p", "name:compute-1") is None and store.load_problem is None


def test_the_holder_is_looked_up_without_opening_the_file(tmp_path):
    with statedir.opened(str(tmp_path)) as directory:
        assert directory.holder("agent.pid") is None  # no file: nobody
        fd = directory.open("agent.pid", 0o644)
        assert directory.holder("agent.pid") is None
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert directory.holder("agent.pid") == os.getpid()
        with pytest.raises(OSError):
            directory.holder("agent.pid", locks=str(tmp_path / "no-locks"))
        os.close(fd)
        os.symlink(tmp_path / "agent.pid", tmp_path / "link")
        assert directory.holder("link") is None  # a link is not followed


def test_running_says_held_not_held_or_why_it_cannot_tell(tmp_path):
    assert status_file.running(str(tmp_path / "missing")) == status_file.Running(False, str(tmp_path / "missing" / "agent.pid"))
    assert status_file.running(None).held is None
    fd = pidfile.acquire(str(tmp_path))
    try:
        assert status_file.running(str(tmp_path)) == status_file.Running(True, str(tmp_path / "agent.pid"), os.getpid())
        os.pwrite(fd, status_file.pid_file_text(os.getpid(), "audit", True).encode(), 0)
        assert status_file.running(str(tmp_path)).mode == "audit"
    finally:
        os.close(fd)
    assert status_file.running(str(tmp_path)).held is False


def test_a_pid_that_cannot_be_written_is_a_reason_and_the_lock_still_holds(tmp_path):
    from oslo_config import cfg

    from pmem_placement import conf as conf_mod

    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf([], default_config_files=[])
    fd = pidfile.acquire(str(tmp_path))
    readonly = os.open(tmp_path / "agent.pid", os.O_RDONLY)
    try:
        assert pidfile.record(readonly, "/s/agent.pid", conf) == (
            "cannot write /s/agent.pid: Bad file descriptor; the agent runs on, holding its lock")
        assert status_file.running(str(tmp_path)).held
    finally:
        os.close(readonly)
        os.close(fd)


@pytest.fixture
def reachable():
    """A directory every user can reach (pytest's tmp_path is root's alone)."""
    base = tempfile.mkdtemp(prefix="pmem-placement-test-")
    os.chmod(base, 0o755)
    yield pathlib.Path(base)
    shutil.rmtree(base)


@needs_root
def test_what_root_creates_or_replaces_goes_to_the_directorys_owner(reachable):
    shared = reachable / "state"
    shared.mkdir(mode=0o750)
    os.chown(shared, NOBODY, NOBODY)
    (shared / "lock").write_text("")  # left root's by an older one-shot: given back
    with statedir.opened(str(shared)) as directory:
        os.close(directory.open("lock", 0o640))
        os.close(directory.open("agent.pid", 0o644))
        directory.replace("state.json", "{}\n", 0o640)
    owners = {p.name: (p.stat().st_uid, p.stat().st_gid, stat.S_IMODE(p.stat().st_mode)) for p in shared.iterdir()}
    assert owners == {"lock": (NOBODY, NOBODY, 0o640), "agent.pid": (NOBODY, NOBODY, 0o644),
                      "state.json": (NOBODY, NOBODY, 0o640)}

    def as_the_agent():
        with statedir.opened(str(shared)) as directory:
            fd = directory.open("lock", 0o640)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            directory.replace("state.json", directory.read("state.json") or "", 0o640)
            os.close(fd)
        return os.stat(shared / "state.json").st_uid
    assert helpers.as_user(NOBODY, as_the_agent) == NOBODY


@needs_root
def test_a_reader_without_the_right_to_look_cannot_tell(reachable):
    shared = reachable / "state"
    shared.mkdir(mode=0o700)  # root's, as /var/lib/private is
    running = helpers.as_user(NOBODY, lambda: status_file.running(str(shared)).__dict__)
    assert running["held"] is None
    assert running["unknown"] == f"cannot look at {shared / 'agent.pid'}: {shared}: Permission denied"


@needs_root
def test_another_users_files_are_not_believed(tmp_path):
    (tmp_path / "state.json").write_text("{}")
    os.chown(tmp_path / "state.json", 4242, 4242)
    with statedir.opened(str(tmp_path)) as directory:
        with pytest.raises(StateDirError, match="is owned by uid 4242"):
            directory.read("state.json")


@pytest.mark.parametrize("written, expected", [("4242\nmode=report\n", 4242), ("", 0)])
def test_a_holder_proc_locks_does_not_name_is_found_by_a_shared_lock_tried(tmp_path, written, expected):
    """btrfs names another device in /proc/locks than stat gives; a holder in another pid
    namespace is not listed at all: the lock itself still answers, and is let go at once."""
    (tmp_path / "agent.pid").write_text(written)
    empty = tmp_path / "no-such-entries"
    empty.write_text("")
    with statedir.opened(str(tmp_path)) as directory:
        assert directory.holder("agent.pid", locks=str(empty)) is None  # nobody: the probe lets go
        fd = os.open(tmp_path / "agent.pid", os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the probe left nothing behind
        try:
            assert directory.holder("agent.pid", locks=str(empty)) == expected
        finally:
            os.close(fd)
