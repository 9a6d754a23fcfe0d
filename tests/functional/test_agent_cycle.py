"""One agent cycle, in-process, against the real Placement: logging and status an operator sees."""

import json
import logging
import uuid

from tests import helpers
from tests.functional.conftest import Host

SMALL = "CUSTOM_PMEM_NAMESPACE_SMALL"


def test_in_sync_cycles_are_silent(node, caplog):
    a = node.agent()
    caplog.set_level(logging.DEBUG, logger="pmem_placement")
    assert a.cycle()
    changes = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(changes) == 7 and changes[0].getMessage().startswith("+ resource class")
    caplog.clear()
    assert a.cycle() and a.cycle()
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []
    status = json.loads((node.dir / "state" / "status.json").read_text())
    assert status["state"] == "in_sync" and status["cycles"] == 3 and status["last_error"] is None
    assert status["classes"] == {"CUSTOM_PMEM_NAMESPACE_4GB": {"total": 1, "reserved": 0},
                                 "CUSTOM_PMEM_NAMESPACE_SMALL": {"total": 2, "reserved": 0}}


def test_a_problem_is_warned_once_and_its_end_is_logged(node, admin, caplog):
    a = node.agent()
    assert a.cycle()
    node.namespaces_file.write_text(helpers.nova_host(system_ram=["ns_2"]))
    caplog.set_level(logging.INFO, logger="pmem_placement")
    caplog.clear()
    assert not a.cycle() and not a.cycle() and not a.cycle()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["[pmem]namespaces: namespace 'ns_2' (namespace0.2, label 'SMALL') is not usable: "
                        "its dax device dax0.2 is in system-ram mode, not devdax (their units are withdrawn; "
                        "nothing else changes until each is back and healthy, or dropped from [pmem]namespaces)"]
    # Its unit was withdrawn by the first of them, said once at INFO like any change.
    changes = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert changes == [f"~ inventory {SMALL}: reserved 0 -> 1 (1 withdrawn: ns_2 is not usable: "
                       "its dax device dax0.2 is in system-ram mode, not devdax)"]
    status = json.loads((node.dir / "state" / "status.json").read_text())
    assert status["state"] == "error" and status["last_error"]["kind"] == "config_error"
    assert status["consecutive_failures"] == 3
    assert status["classes"][SMALL] == {"total": 2, "reserved": 1}
    assert status["namespaces"]["ns_2"]["offered"] is False
    node.namespaces_file.write_text(helpers.nova_host())
    caplog.clear()
    assert a.cycle()
    assert [r.getMessage() for r in caplog.records if r.levelno > logging.INFO] == []
    assert "back in sync after: " + warnings[0] in [r.getMessage() for r in caplog.records]


def test_missing_compute_node_is_waited_for(tmp_path, placement, admin, caplog):
    name = f"late-{uuid.uuid4().hex[:8]}"
    a = Host(tmp_path, placement, name).agent()
    caplog.set_level(logging.INFO, logger="pmem_placement")
    assert not a.cycle() and not a.cycle()
    assert a.waiting_for_compute_node and a.status.state == "degraded"
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    admin.create_compute_node(name)
    assert a.cycle() and not a.waiting_for_compute_node


def test_another_writer_is_reported_once(node, admin, caplog):
    a = node.agent()
    assert a.cycle()
    child = admin.child_uuid(node.name)
    caplog.set_level(logging.INFO, logger="pmem_placement")
    for total in (5, 6, 7):  # another writer keeps setting its own value
        admin.edit_total(child, "CUSTOM_PMEM_NAMESPACE_SMALL", total)
        assert a.cycle()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "configured on more than one host" in warnings[0]
    assert "two writers run on this host with different mappings" in warnings[0]
    assert a.status.state == "error" and a.status.last_error["kind"] == "another_writer"  # a fight
    assert a.cycle() and a.status.state == "in_sync"  # left alone: back to normal


def test_a_status_file_in_a_state_dir_that_does_not_exist_yet_is_written(node):
    state_dir = node.dir / "custom" / "state"
    node.configure(agent={"state_dir": str(state_dir)}, pmem={"namespaces": "4GB:ns_9"})
    a = node.agent()
    assert not a.cycle()  # a configuration error, before the lock would have created state_dir
    status = json.loads((state_dir / "status.json").read_text())
    assert status["state"] == "error" and status["last_error"]["kind"] == "config_error"


def test_a_status_file_that_cannot_be_written_never_ends_a_cycle(node, caplog):
    (node.dir / "status-dir").mkdir()
    node.configure(agent={"status_file": str(node.dir / "status-dir")})  # a directory: never writable
    a = node.agent()
    caplog.set_level(logging.INFO, logger="pmem_placement")
    assert a.cycle() and a.cycle()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("[agent]status_file: cannot write ")
    assert a.status.state == "error" and a.status.last_error["kind"] == "status_file_not_writable"
