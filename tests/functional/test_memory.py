"""The state directory's memory (which namespaces each class's consumers may hold) against the real
Placement: whatever happens to it, no namespace a consumer holds is offered to another.

The set-up of each scenario: ``4GB:ns_0,SMALL:ns_1``, a consumer holds the 4GB unit (ns_0), then
the labels are swapped (``4GB:ns_1,SMALL:ns_0``): SMALL now names ns_0, which is held. A second
consumer asking for SMALL must be refused by Placement.
"""

import json
import shutil
import uuid

import pytest

from tests.functional.truth import pmem_view

A4GB = "CUSTOM_PMEM_NAMESPACE_4GB"
SMALL = "CUSTOM_PMEM_NAMESPACE_SMALL"
BEFORE, SWAPPED = "4GB:ns_0,SMALL:ns_1", "4GB:ns_1,SMALL:ns_0"


def held_4gb(node, admin):
    """The set-up: a consumer holds the 4GB unit (ns_0); returns (root, child, consumer)."""
    node.configure(pmem={"namespaces": BEFORE})
    assert node.run("reconcile").status == 0
    root, child = admin.root_uuid(node.name), admin.child_uuid(node.name)
    consumer = str(uuid.uuid4())
    admin.allocate(consumer, child, {A4GB: 1})
    return root, child, consumer


def granted(admin, child, rc):
    """Whether Placement grants one unit of ``rc`` to a new consumer (freed again at once)."""
    consumer = str(uuid.uuid4())
    body = {"allocations": {child: {"resources": {rc: 1}}}, "project_id": consumer, "user_id": consumer,
            "consumer_generation": None, "consumer_type": "INSTANCE"}
    resp = admin.session.put(f"{admin.url}/allocations/{consumer}", json=body)
    if resp.status_code == 204:
        admin.free(consumer)
        return True
    assert resp.status_code == 409, resp.text
    return False


def view(node, admin, root):
    return pmem_view(admin, root)[f"{node.name}:pmem"]


def test_an_emptied_state_directory_withholds_what_may_be_held(node, admin):
    """Scenario 1: a reinstall, a tmpfs, rm -rf. Today's code: exit 0, "in sync", and a second
    consumer is granted SMALL, i.e. ns_0, which is held."""
    root, child, consumer = held_4gb(node, admin)
    shutil.rmtree(node.dir / "state")
    node.configure(pmem={"namespaces": SWAPPED})
    dry = node.run("reconcile", "--dry-run")
    assert dry.status == 3 and dry.writes == []
    assert "1 withheld by the fail-safe" in dry.out and "does not exist" in dry.out  # what an upgrade reserves
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert "fail-safe: 1 unit withheld (1 of CUSTOM_PMEM_NAMESPACE_SMALL)" in result.out
    assert view(node, admin, root) == {A4GB: (1, 0, 1), SMALL: (1, 1, 0)}
    assert not granted(admin, child, SMALL)
    again = node.run("reconcile", "--format", "json")
    assert again.status == 0 and again.writes == []
    data = json.loads(again.out)
    assert data["failsafe"]["withheld"] == {SMALL: 1} and data["failsafe"]["consumers"] == [consumer]
    admin.free(consumer)  # the fail-safe ends when its consumers are gone
    assert node.run("reconcile").status == 0
    assert view(node, admin, root) == {A4GB: (1, 0, 0), SMALL: (1, 0, 0)}
    assert json.loads(node.run("reconcile", "--format", "json").out)["failsafe"] is None


def test_a_consumer_placed_after_the_loss_is_not_held_against_the_mapping(node, admin):
    """The fail-safe remembers the consumers of the moment the memory was found lost: one
    placed later was placed under today's mapping, and the remap rule knows it."""
    root, child, consumer = held_4gb(node, admin)
    shutil.rmtree(node.dir / "state")
    node.configure(pmem={"namespaces": "4GB:ns_1,SMALL:ns_0|ns_2"})
    assert node.run("reconcile").status == 0
    assert view(node, admin, root) == {A4GB: (1, 0, 1), SMALL: (2, 1, 0)}
    later = str(uuid.uuid4())
    admin.allocate(later, child, {SMALL: 1})
    admin.free(consumer)
    assert node.run("reconcile").status == 0
    assert view(node, admin, root) == {A4GB: (1, 0, 0), SMALL: (2, 0, 1)}


@pytest.mark.parametrize("confirm", [["--yes"], []])
def test_the_operator_may_end_the_fail_safe_with_confirmation(node, admin, confirm):
    root, child, consumer = held_4gb(node, admin)
    shutil.rmtree(node.dir / "state")
    assert node.run("reconcile").status == 0  # the same mapping: the assertion is true
    assert view(node, admin, root)[SMALL] == (1, 1, 0)
    result = node.run("reconcile", "--end-fail-safe", *confirm)
    if not confirm:  # no terminal to ask at: refused, nothing sent
        assert result.status == 2 and result.requests == []
        assert "Confirm with --yes" in result.err and "share its data" in result.err
        return
    assert result.status == 0, result.err
    assert view(node, admin, root) == {A4GB: (1, 0, 1), SMALL: (1, 0, 0)}
    assert node.run("reconcile").writes == []  # remembered: the fail-safe does not come back
    assert view(node, admin, root)[SMALL] == (1, 0, 0)


@pytest.mark.parametrize("content", ["{", '{"version": 99}'])
def test_a_corrupt_or_newer_state_file_is_a_warning_and_the_fail_safe(node, admin, content):
    root, child, consumer = held_4gb(node, admin)
    state = node.dir / "state" / "state.json"
    state.write_text(content)
    node.configure(pmem={"namespaces": SWAPPED})
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert str(state) in result.err and "fail-safe" in result.err
    assert not granted(admin, child, SMALL)


@pytest.mark.parametrize("spelling", ["http://localhost:{port}", "http://127.0.0.1:{port}/"])
def test_another_spelling_of_the_endpoint_keeps_the_memory(node, admin, spelling):
    """Scenario 3: clouds.yaml says localhost, the configuration 127.0.0.1 (or public vs
    internal, http vs https). Today's code discards the memory and offers ns_0 again."""
    root, child, consumer = held_4gb(node, admin)
    node.configure(pmem={"namespaces": SWAPPED})
    assert node.run("reconcile").status == 0
    assert view(node, admin, root) == {A4GB: (1, 0, 1), SMALL: (1, 1, 0)}
    port = admin.url.rsplit(":", 1)[1]
    node.configure(placement={"endpoint": spelling.format(port=port)})
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert "fail-safe" not in result.out  # remembered, not lost
    assert not granted(admin, child, SMALL)
    admin.free(consumer)
    assert node.run("reconcile").status == 0
    assert view(node, admin, root) == {A4GB: (1, 0, 0), SMALL: (1, 0, 0)}


def test_remove_then_reenabled_with_changed_labels_keeps_the_memory(node, admin):
    """Scenario 4: remove fences the provider in use and stores the memory; the host re-enabled
    with changed labels must not offer the held namespace."""
    root, child, consumer = held_4gb(node, admin)
    assert node.run("remove").status == 1  # in use: fenced
    node.configure(pmem={"namespaces": SWAPPED})
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert "fail-safe" not in result.out
    assert view(node, admin, root) == {A4GB: (1, 0, 1), SMALL: (1, 1, 0)}
    assert not granted(admin, child, SMALL)


def test_show_check_the_agent_and_its_metrics_say_what_the_fail_safe_withholds(node, admin, caplog):
    import logging

    from oslo_config import cfg

    from pmem_placement import conf as conf_mod
    from pmem_placement.agent.cycle import Agent

    root, child, consumer = held_4gb(node, admin)
    shutil.rmtree(node.dir / "state")
    node.configure(pmem={"namespaces": SWAPPED}, agent={"metrics_file": str(node.dir / "pmem.prom")})
    node.write_config()
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf(["--config-file", str(node.config_file)])
    agent = Agent(conf)
    logging.getLogger().addHandler(caplog.handler)  # node.run set oslo.log up, which drops pytest's handler
    caplog.set_level(logging.INFO, logger="pmem_placement")
    assert agent.cycle() and agent.cycle()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "fail-safe" in r.getMessage()]
    assert len(warned) == 1 and warned[0].startswith("fail-safe: 1 unit withheld")  # once, not every cycle
    status = json.loads((node.dir / "state" / "status.json").read_text())
    assert status["state"] == "in_sync"
    assert status["failsafe"]["withheld"] == {SMALL: 1} and status["failsafe"]["consumers"] == [consumer]
    metrics = (node.dir / "pmem.prom").read_text()
    assert f'pmem_placement_failsafe_withheld_units{{resource_class="{SMALL}"}} 1' in metrics
    assert f'pmem_placement_failsafe_withheld_units{{resource_class="{A4GB}"}} 0' in metrics
    shown = node.run("show")
    assert "fail-safe: 1 withheld (1 of CUSTOM_PMEM_NAMESPACE_SMALL) for 1 consumer(s)" in shown.out
    assert json.loads(node.run("show", "--format", "json").out)["placement"]["failsafe"]["withheld"] == {SMALL: 1}
    check = node.run("check")
    [line] = [line for line in check.out.splitlines() if "state directory:" in line]
    assert line.startswith("Warning  state directory: the fail-safe withholds 1 unit(s)")
    admin.free(consumer)
    logging.getLogger().addHandler(caplog.handler)
    assert agent.cycle()
    assert json.loads((node.dir / "state" / "status.json").read_text())["failsafe"] is None
    assert "withholds nothing any more" in caplog.text
    assert node.run("check").out.count("Success  state directory:") == 1


def test_a_held_namespace_re_created_under_the_same_name_stays_reserved(node, admin):
    """Scenario 7: ns_1 (SMALL, one unit held) destroyed and re-created under the same name: a
    new uuid, the tenant's data gone. Today's code sees nothing: the same name, the same count,
    and SMALL's other unit on offer, which may be the new ns_1 while a consumer believes it holds
    it. It is warned about and stays reserved until released."""
    from tests import helpers

    def host(uuid_of_ns_1):
        records = [helpers.devdax(n, f"namespace0.{i}", uuid=f"0000000{i}-0000-4000-8000-000000000000")
                   for i, n in enumerate(("ns_0", "ns_1", "ns_2"))]
        records[1]["uuid"] = uuid_of_ns_1
        node.namespaces_file.write_text(json.dumps(records))

    old, new = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
    host(old)
    assert node.run("reconcile").status == 0
    root, child = admin.root_uuid(node.name), admin.child_uuid(node.name)
    consumer = str(uuid.uuid4())
    admin.allocate(consumer, child, {SMALL: 1})
    assert node.run("reconcile").writes == []
    host(new)
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert f"namespace 'ns_1' was destroyed and re-created under the same name (uuid {old} -> {new})" in result.err
    assert view(node, admin, root)[SMALL] == (2, 1, 1)
    assert not granted(admin, child, SMALL)
    assert node.run("reconcile").writes == []  # still reserved, still warned about
    [line] = [line for line in node.run("check").out.splitlines() if "state directory:" in line]
    assert line.startswith("Warning  state directory: namespace 'ns_1' (uuid ") and "re-created" in line
    admin.free(consumer)
    assert node.run("reconcile").status == 0
    assert view(node, admin, root)[SMALL] == (2, 0, 0)
    quiet = node.run("reconcile")
    assert quiet.writes == [] and "re-created" not in quiet.err


def test_an_upgrade_from_a_version_4_state_file_keeps_its_memory(node, admin):
    """0.1's state.json (version 4, holders by name): the upgrade reads its memory, so a label
    swap after it is covered by the remap rule, and nothing is withheld by the fail-safe."""
    root, child, consumer = held_4gb(node, admin)
    state = node.dir / "state" / "state.json"
    data = json.loads(state.read_text())
    for key in ("uuids", "failsafe", "failsafe_why"):
        data.pop(key, None)
    state.write_text(json.dumps({**data, "version": 4}))
    node.configure(pmem={"namespaces": SWAPPED})
    dry = node.run("reconcile", "--dry-run")
    assert "it took ns_0 from CUSTOM_PMEM_NAMESPACE_4GB" in dry.out and "fail-safe" not in dry.out + dry.err
    result = node.run("reconcile")
    assert result.status == 0 and "fail-safe" not in result.out + result.err
    assert view(node, admin, root) == {A4GB: (1, 0, 1), SMALL: (1, 1, 0)}
    assert json.loads(state.read_text())["version"] == 5


@pytest.mark.parametrize("meanwhile", ["fenced", "nothing configured"])
def test_a_run_that_offers_nothing_does_not_forget_that_the_memory_was_lost(node, admin, meanwhile):
    """The loss is followed by a run that offers nothing (nova reports PMEM on the root: fenced;
    or [pmem]namespaces set empty): the consumers of that moment are remembered all the same, so
    the run after it, offering again with swapped labels, still withholds."""
    root, child, consumer = held_4gb(node, admin)
    shutil.rmtree(node.dir / "state")
    if meanwhile == "fenced":
        admin.nova_reports(root, {"CUSTOM_PMEM_NAMESPACE_NOVA": {"total": 1}})
        node.configure(pmem={"namespaces": SWAPPED})
        assert node.run("reconcile").status == 1
        admin.nova_reports(root, {})
    else:
        node.configure(pmem={"namespaces": ""})
        assert node.run("reconcile").status == 0
        node.configure(pmem={"namespaces": SWAPPED})
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert not granted(admin, child, SMALL)
    assert "fail-safe" in result.out


def test_end_fail_safe_never_drops_a_reservation_the_memory_knows(node, admin):
    """With the memory intact the remap rule reserves; --end-fail-safe ends the fail-safe only."""
    root, child, consumer = held_4gb(node, admin)
    node.configure(pmem={"namespaces": SWAPPED})
    assert node.run("reconcile").status == 0
    result = node.run("reconcile", "--end-fail-safe", "--yes")
    assert result.status == 0, result.err
    assert view(node, admin, root)[SMALL] == (1, 1, 0)
    assert not granted(admin, child, SMALL)


def test_consumers_of_an_older_provider_of_ours_are_covered(node, admin):
    """A 0.1.0 provider of ours under an older name (its memory was never kept) holds 4GB: a
    swap of labels must not offer SMALL (ns_0) while that consumer is there."""
    root = admin.root_uuid(node.name)
    name = f"{node.name}-old:pmem"  # provider names are unique across Placement
    older = str(uuid.uuid5(uuid.UUID(root), name))
    admin.create_child(root, name, {A4GB: {"total": 1, "max_unit": 1}}, rp_uuid=older,
                       traits=["CUSTOM_PMEM_PLACEMENT_MANAGED"])
    consumer = admin.consume(older, {A4GB: 1})
    node.configure(pmem={"namespaces": SWAPPED})
    result = node.run("reconcile")
    assert result.status == 0, result.err
    child = admin.child_uuid(node.name)
    assert not granted(admin, child, SMALL)
    admin.free(consumer)
    assert node.run("reconcile").status == 0
    assert view(node, admin, root)[SMALL] == (1, 0, 0)


def test_a_memory_that_can_be_neither_replaced_nor_removed_stops_the_writes(node, admin):
    """state.json stuck (here: a directory in its place; as a read-only mount): with a consumer
    holding PMEM, writing to Placement would leave a memory that is no longer true for a later
    run: nothing is written, exit 1, the file named."""
    root, child, consumer = held_4gb(node, admin)
    state = node.dir / "state" / "state.json"
    state.unlink()
    state.mkdir()
    (state / "keep").write_text("")
    node.configure(pmem={"namespaces": SWAPPED})
    result = node.run("reconcile")
    assert result.status == 1 and result.writes == []
    assert str(state) in result.err and "nothing was written to Placement" in result.err
    assert view(node, admin, root) == {A4GB: (1, 0, 1), SMALL: (1, 0, 0)}  # as before: not offered anew
