"""The state directory: a cache that can be lost or damaged without harm, and the lock."""

import dataclasses
import fcntl
import os

import pytest

from pmem_placement.desired import Current
from pmem_placement.desired import Inventory
from pmem_placement.desired import identity
from pmem_placement.errors import ConfigError
from pmem_placement.state import Cache
from pmem_placement.state import StateStore

IDENT = identity("5a1d3e5e-7d4b-4b53-9a8c-0d6c3f1f2b11", "compute-1")
CHILD = Current(IDENT, 4, {"CUSTOM_PMEM_NAMESPACE_A": Inventory.for_namespaces(2)},
                frozenset({"CUSTOM_PMEM_PLACEMENT_MANAGED"}), usages={"CUSTOM_PMEM_NAMESPACE_A": 1})


def cache():
    return Cache("http://p", "name:compute-1", IDENT.parent_uuid, {IDENT.parent_uuid: (9, frozenset({"CUSTOM_PMEM_NAMESPACE_X"}))},
                 CHILD, verified_at=1234.5)


def test_round_trip_keeps_everything_usages_included(tmp_path):
    store = StateStore(str(tmp_path))
    store.save(cache())
    loaded = store.load("http://p", "name:compute-1")
    assert loaded.root_uuid == IDENT.parent_uuid
    assert loaded.others == {IDENT.parent_uuid: (9, {"CUSTOM_PMEM_NAMESPACE_X"})}
    assert loaded.verified_at == 1234.5
    assert loaded.child.identity == IDENT and loaded.child.generation == 4
    assert loaded.child.inventories == CHILD.inventories and loaded.child.traits == CHILD.traits
    # The usages as read at that generation (at least today's: deleting does not bump it).
    assert loaded.child.usages == CHILD.usages
    assert loaded.holders is None
    store.save(dataclasses.replace(cache(), child=dataclasses.replace(CHILD, usages=None)))
    assert store.load("http://p", "name:compute-1").child.usages is None  # not read: not made up


def test_another_spelling_of_the_endpoint_keeps_the_memory_and_nothing_else(tmp_path):
    """The memory belongs to the compute node: clouds.yaml says localhost, the configuration
    127.0.0.1, public vs internal, http vs https. Generations are read again; the memory is not
    thrown away (the root uuid is checked against Placement before use)."""
    store = StateStore(str(tmp_path))
    memory = dict(holders={"CUSTOM_PMEM_NAMESPACE_A": frozenset({"ns_0"})}, uuids={"ns_0": "u0"},
                  failsafe={"c1": {"CUSTOM_PMEM_NAMESPACE_A": 1}}, failsafe_why="lost")
    store.save(dataclasses.replace(cache(), **memory))
    assert store.load("http://other", "name:compute-1") == Cache("http://other", "name:compute-1",
                                                                IDENT.parent_uuid, **memory)


@pytest.mark.parametrize("lookup", ["name:compute-2", f"uuid:{IDENT.parent_uuid}"])
def test_found_another_way_only_the_remap_memory_is_kept(tmp_path, lookup):
    """[DEFAULT]host or root_provider_uuid changed (a rename): nothing is trusted but what the
    consumers of each class may hold; the root uuid is checked against Placement before use."""
    store = StateStore(str(tmp_path))
    store.save(dataclasses.replace(cache(), holders={"CUSTOM_PMEM_NAMESPACE_A": frozenset({"ns_0", "ns_1"})}))
    loaded = store.load("http://p", lookup)
    assert loaded == Cache("http://p", lookup, IDENT.parent_uuid,
                           holders={"CUSTOM_PMEM_NAMESPACE_A": frozenset({"ns_0", "ns_1"})})


@pytest.mark.parametrize("content", ["", "{", "[]", '{"version": 1}', '{"version": 2}', '{"version": 3}', '{"version": 99}', "\x00\x01"])
def test_damaged_state_is_ignored(tmp_path, content):
    (tmp_path / "state.json").write_text(content)
    assert StateStore(str(tmp_path)).load("http://p", "name:compute-1") is None


def test_without_state_dir_nothing_is_kept(tmp_path):
    store = StateStore(None)
    store.save(cache())
    assert store.load("http://p", "name:compute-1") is None
    with store.lock():
        pass


def test_lock_is_exclusive_between_processes(tmp_path):
    store = StateStore(str(tmp_path / "state"))
    with store.lock():
        fd = os.open(tmp_path / "state" / "lock", os.O_RDWR)
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(fd)
    fd = os.open(tmp_path / "state" / "lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(fd)


def test_unusable_state_dir_is_a_config_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"^\[agent\]state_dir: cannot use"):
        with StateStore(str(tmp_path / "file" / "state")).lock():
            pass


def test_state_file_is_replaced_atomically(tmp_path):
    store = StateStore(str(tmp_path))
    store.save(cache())
    assert sorted(os.listdir(tmp_path)) == ["state.json"]
    assert oct(os.stat(tmp_path / "state.json").st_mode & 0o777) == "0o640"


def test_a_version_4_file_is_migrated_with_its_memory(tmp_path):
    """An upgrade keeps what 0.1's state.json knew of which namespaces consumers may hold."""
    v4 = {"version": 4, "endpoint": "http://p", "lookup": "name:compute-1", "root_uuid": IDENT.parent_uuid,
          "others": {}, "child": None, "foreign_writes": 0, "verified_at": None,
          "holders": {"CUSTOM_PMEM_NAMESPACE_A": ["ns_0", "ns_1"]}}
    (tmp_path / "state.json").write_text(__import__("json").dumps(v4))
    store = StateStore(str(tmp_path))
    loaded = store.load("http://p", "name:compute-1")
    assert loaded.holders == {"CUSTOM_PMEM_NAMESPACE_A": frozenset({"ns_0", "ns_1"})}
    assert store.memory_lost is None


@pytest.mark.parametrize("content, why", [
    ("{", "is corrupt"),
    ("[]", "is corrupt"),
    ('{"version": 3, "root_uuid": "x"}', "is from a pmem-placement older than"),
    ('{"version": 99}', "was written by a newer pmem-placement (version 99"),
])
def test_a_state_file_that_cannot_be_used_is_a_warning_naming_it(tmp_path, caplog, content, why):
    path = tmp_path / "state.json"
    path.write_text(content)
    store = StateStore(str(tmp_path))
    assert store.load("http://p", "name:compute-1") is None
    assert store.memory_lost.startswith(f"{path} {why}")
    [record] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert record.getMessage().startswith(f"{path} {why}") and "fail-safe" in record.getMessage()


def test_a_missing_state_file_is_unknown_memory_without_a_warning(tmp_path, caplog):
    store = StateStore(str(tmp_path))
    assert store.load("http://p", "name:compute-1") is None
    assert store.memory_lost == f"{tmp_path / 'state.json'} does not exist"
    assert [r for r in caplog.records if r.levelname == "WARNING"] == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to read a file as another user")
def test_an_unreadable_state_file_is_a_warning_not_silence(tmp_path, caplog):
    store = StateStore(str(tmp_path))
    store.save(cache())
    os.chmod(tmp_path / "state.json", 0)
    pid = os.fork()
    if pid == 0:  # as another user, who cannot read it
        code = 1
        try:
            os.setuid(65534)
            other = StateStore(str(tmp_path))
            code = 0 if other.load("http://p", "name:compute-1") is None and \
                str(tmp_path) in (other.memory_lost or "") and "does not exist" not in other.memory_lost else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
