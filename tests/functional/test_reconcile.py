"""`pmem-placement reconcile` against the real Placement: what an operator sees and Placement holds."""

import json
import uuid

import pytest

from pmem_placement.desired import identity
from pmem_placement.discover import ndctl as ndctl_mod
from tests import helpers
from tests.functional.conftest import Host
from tests.functional.conftest import one_line
from tests.functional.conftest import refused_writing_nothing

A4GB = "CUSTOM_PMEM_NAMESPACE_4GB"
SMALL = "CUSTOM_PMEM_NAMESPACE_SMALL"
MANAGED = "CUSTOM_PMEM_PLACEMENT_MANAGED"




def test_first_sync_creates_the_child_provider(node, admin):
    result = node.run("reconcile")
    assert result.status == 0, result.err
    root = admin.root_uuid(node.name)
    tree = {rp["name"]: rp for rp in admin.tree(root)}
    child = tree[f"{node.name}:pmem"]
    assert child["parent_provider_uuid"] == root
    assert child["uuid"] == identity(root, node.name).uuid
    assert admin.inventories(child["uuid"]) == {
        A4GB: {"total": 1, "reserved": 0, "min_unit": 1, "max_unit": 1, "step_size": 1, "allocation_ratio": 1.0},
        SMALL: {"total": 2, "reserved": 0, "min_unit": 1, "max_unit": 2, "step_size": 1, "allocation_ratio": 1.0},
    }
    assert admin.traits(child["uuid"]) == {MANAGED}
    assert len(result.requests) <= 10
    assert f"+ resource provider {node.name}:pmem" in result.out
    assert f"+ inventory {SMALL}: total=2" in result.out


def test_root_provider_is_never_written(node, admin):
    root = admin.root_uuid(node.name)
    before = admin.snapshot(root)[root]
    node.run("reconcile")
    node.configure(pmem={"namespaces": "SMALL:ns_1"})
    node.run("reconcile")
    node.configure(pmem={"namespaces": ""})
    node.run("reconcile")
    assert admin.snapshot(root)[root] == before
    assert [p["uuid"] for p in admin.tree(root)] == [root]


def test_second_run_reads_in_full_and_writes_nothing(node, admin):
    """The one-shot never trusts remembered generations for what it reports."""
    assert node.run("reconcile").status == 0
    result = node.run("reconcile")
    assert result.status == 0
    root, child = admin.root_uuid(node.name), admin.child_uuid(node.name)
    assert result.requests == [
        ("GET", f"/resource_providers?in_tree={root}"),
        ("GET", f"/resource_providers/{child}/inventories"),
        ("GET", f"/resource_providers/{child}/traits"),
        ("GET", f"/resource_providers/{root}/inventories"),
        ("GET", f"/resource_providers/{child}/usages"),
    ]
    assert "in sync, nothing to change (5 requests)" in result.out
    state = node.dir / "state" / "state.json"
    mtime = state.stat().st_mtime_ns
    assert node.run("reconcile").status == 0
    assert state.stat().st_mtime_ns == mtime  # nothing rewritten locally either


@pytest.mark.parametrize("command", ["reconcile", "remove"])
def test_without_state_dir_nothing_is_written_exit_2(node, command):
    """The state directory holds the lock and the memory of which namespaces consumers may hold:
    a run without it could offer a held namespace again."""
    node.configure(agent={"state_dir": ""})
    result = node.run(command)
    assert result.status == 2 and result.requests == []
    assert "[agent]state_dir is empty" in result.err


def test_out_of_band_change_is_detected_and_repaired(node, admin):
    node.run("reconcile")
    child = admin.child_uuid(node.name)
    admin.edit_total(child, SMALL, 5)
    result = node.run("reconcile")
    assert result.status == 0
    assert f"~ inventory {SMALL}: total 5 -> 2, max_unit 5 -> 2" in result.out
    assert admin.totals(child) == {A4GB: 1, SMALL: 2}


def test_remap_one_namespace(node, admin):
    node.run("reconcile")
    node.configure(pmem={"namespaces": "4GB:ns_0|ns_1,SMALL:ns_2"})
    result = node.run("reconcile")
    assert result.status == 0
    assert admin.totals(admin.child_uuid(node.name)) == {A4GB: 2, SMALL: 1}
    assert len(result.requests) == 6  # the full read (5) and one write
    assert result.writes == [("PUT", f"/resource_providers/{admin.child_uuid(node.name)}/inventories")]


def test_class_in_use_is_retired_not_removed_then_removed_when_free(node, admin):
    node.run("reconcile")
    child, consumer = admin.guest_on(node.name, {SMALL: 1})

    node.configure(pmem={"namespaces": "4GB:ns_0"})
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert admin.inventories(child)[SMALL]["reserved"] == 2  # closed to new allocations
    assert admin.allocations(consumer) == {child: {"resources": {SMALL: 1}, "generation": admin.provider(child)["generation"]}}
    assert "retiring: 1 in use" in result.out

    assert node.run("reconcile").writes == []  # nothing changed: nothing written
    admin.free(consumer)
    result = node.run("reconcile")
    assert result.status == 0
    assert admin.totals(child) == {A4GB: 1}
    assert f"- inventory {SMALL}" in result.out


def test_lowering_total_below_usage_keeps_allocations(node, admin):
    node.run("reconcile")
    child, consumer = admin.guest_on(node.name, {SMALL: 2})
    node.configure(pmem={"namespaces": "4GB:ns_0|ns_1,SMALL:ns_2"})
    assert node.run("reconcile").status == 0
    assert admin.totals(child)[SMALL] == 1
    assert admin.allocations(consumer)[child]["resources"] == {SMALL: 2}


def test_genuine_generation_conflict_is_retried(node, admin, monkeypatch):
    """An allocation lands between our read and our write: Placement says 409, we re-read."""
    node.run("reconcile")
    child = admin.child_uuid(node.name)
    consumer = str(uuid.uuid4())
    from pmem_placement.placement.client import Client

    real = Client.set_inventories
    calls = []

    def racing(self, uuid_, generation, inventories):
        if not calls:
            admin.allocate(consumer, child, {A4GB: 1})  # bumps the generation under us
        calls.append(generation)
        return real(self, uuid_, generation, inventories)

    monkeypatch.setattr(Client, "set_inventories", racing)
    node.configure(pmem={"namespaces": "4GB:ns_0,SMALL:ns_1"})
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert len(calls) == 2 and calls[1] > calls[0]
    assert admin.totals(child) == {A4GB: 1, SMALL: 1}
    assert admin.allocations(consumer)[child]["resources"] == {A4GB: 1}


def bump_generation(admin, rp_uuid):
    """An out-of-band write that pmem-placement must not undo: an aggregate on the provider."""
    gen = admin.provider(rp_uuid)["generation"]
    aggs = admin.call("GET", f"/resource_providers/{rp_uuid}/aggregates")["aggregates"]
    admin.call("PUT", f"/resource_providers/{rp_uuid}/aggregates",
               {"aggregates": aggs + [str(uuid.uuid4())], "resource_provider_generation": gen})


def test_conflicts_that_never_settle_exit_1(node, admin, monkeypatch):
    node.run("reconcile")
    child = admin.child_uuid(node.name)
    from pmem_placement.placement.client import Client

    real = Client.set_inventories

    def always_racing(self, uuid_, generation, inventories):
        bump_generation(admin, child)
        return real(self, uuid_, generation, inventories)

    monkeypatch.setattr(Client, "set_inventories", always_racing)
    node.configure(pmem={"namespaces": "4GB:ns_0|ns_1|ns_2", "conflict_retries": 1})
    result = node.run("reconcile")
    assert result.status == 1
    assert "kept changing under us for 2 attempts" in result.err
    assert result.err.count("\n") == 1
    assert len(admin.call("GET", f"/resource_providers/{child}/aggregates")["aggregates"]) == 2
    assert admin.totals(child) == {A4GB: 1, SMALL: 2}


def test_double_counting_with_nova_is_refused(tmp_path, placement, admin, compute_node):
    node = Host(tmp_path, placement, compute_node({A4GB: {"total": 1}}))
    result = refused_writing_nothing(node, admin)
    assert "pmem_namespaces" in result.err and A4GB in result.err


def test_missing_compute_node_provider_exits_1(tmp_path, placement):
    node = Host(tmp_path, placement, "no-such-compute")
    result = node.run("reconcile")
    assert result.status == 1
    assert result.err.strip() == (
        "pmem-placement: error: no resource provider named 'no-such-compute' in Placement: is "
        "nova-compute running there, and is [DEFAULT]host the same as nova's?"
    )
    assert result.writes == []


def test_root_provider_by_uuid(node, admin):
    root = admin.root_uuid(node.name)
    node.configure(DEFAULT={"host": "some-other-name"}, pmem={"root_provider_uuid": root})
    assert node.run("reconcile").status == 0
    assert admin.totals(identity(root, node.name).uuid) == {A4GB: 1, SMALL: 2}


@pytest.mark.parametrize(
    "options, message",
    [
        ({"pmem": {"namespaces": "4GB"}}, "[pmem]namespaces: entry '4GB' has no ':'"),
        ({"pmem": {"namespaces": ":ns_0"}}, "[pmem]namespaces: entry ':ns_0' has an empty label"),
        ({"pmem": {"namespaces": "A:"}}, "[pmem]namespaces: entry 'A:' has an empty namespace name"),
        ({"pmem": {"namespaces": "A:ns_0,B:ns_0"}}, "namespace 'ns_0' is listed twice"),
        ({"pmem": {"namespaces": "a-b:ns_0,A B:ns_1"}}, "both make resource class CUSTOM_PMEM_NAMESPACE_A_B"),
        ({"pmem": {"namespaces": "X" * 250 + ":ns_0"}}, "longer than Placement's 255 characters"),
        ({"pmem": {"traits": "FAST"}}, "[pmem]traits: 'FAST' is not a custom trait name"),
        ({"pmem": {"discovery": "magic"}}, "discovery"),
        ({"pmem": {"root_provider_uuid": "not-a-uuid"}}, "[pmem]root_provider_uuid: 'not-a-uuid' is not a UUID"),
        ({"pmem": {"namespaces_file": "/nonexistent/ndctl.json"}}, "[pmem]namespaces_file: cannot read"),
        ({"pmem": {"namespaces_file": "/"}}, "[pmem]namespaces_file: cannot read /: Is a directory"),
        ({"pmem": {"discovery": "file", "namespaces_file": None}}, "[pmem]namespaces_file must be set"),
        ({"pmem": {"discovery": "ndctl", "ndctl_path": "/nonexistent/ndctl"}}, "[pmem]ndctl_path"),
        ({"placement": {"auth_type": None, "endpoint": None, "token": None}}, "[placement]auth_type is not set"),
        ({"placement": {"auth_type": "nonsense"}}, "no such auth plugin 'nonsense'"),
        ({"placement": {"auth_type": "password", "endpoint": None, "token": None}}, "[placement]: auth_type 'password' in "),
        ({"agent": {"interval": "soon"}}, "interval"),
    ],
)
def test_configuration_errors_exit_2_and_write_nothing(node, admin, options, message):
    node.run("reconcile")
    root = admin.root_uuid(node.name)
    before = admin.snapshot(root)
    node.options["agent"]["state_dir"] = str(node.dir / "state2")  # force full reads if it ran
    for group, values in options.items():
        node.options.setdefault(group, {}).update(values)
    result = node.run("reconcile")
    assert result.status == 2, result.out + result.err
    assert message in result.err
    one_line(result)
    assert result.requests == []
    assert admin.snapshot(root) == before


def test_unusable_namespace_says_why(node):
    records = [helpers.devdax("ns_0", "namespace0.0"), helpers.devdax("ns_1", "namespace0.1"),
               helpers.devdax("ns_2", "namespace0.2")]
    records[1]["daxregion"]["devices"][0]["mode"] = "system-ram"
    records[2]["mode"] = "fsdax"
    node.namespaces_file.write_text(json.dumps(records))
    result = node.run("reconcile")
    assert result.status == 2
    assert result.err.strip() == (
        "pmem-placement: error: [pmem]namespaces: namespace 'ns_1' (namespace0.1, label 'SMALL') is not "
        "usable: its dax device dax0.1 is in system-ram mode, not devdax; namespace 'ns_2' (namespace0.2, "
        "label 'SMALL') is not usable: its mode is fsdax, not devdax (their units are withdrawn; "
        "CUSTOM_PMEM_NAMESPACE_4GB is held back too; nothing else changes until each is back and healthy, or "
        "dropped from [pmem]namespaces)"
    )


def test_failing_ndctl_leaves_earlier_inventory_untouched(node, admin, tmp_path):
    assert node.run("reconcile").status == 0
    child = admin.child_uuid(node.name)
    before = admin.snapshot(admin.root_uuid(node.name))
    ndctl = tmp_path / "ndctl"
    ndctl.write_text("#!/bin/sh\necho 'libndctl: failed to open bus' >&2\nexit 1\n")
    ndctl.chmod(0o755)
    node.configure(pmem={"discovery": "ndctl", "ndctl_path": str(ndctl)})
    result = node.run("reconcile")
    assert result.status == 2
    assert "exited with status 1: libndctl: failed to open bus" in result.err
    assert result.requests == []
    assert admin.snapshot(admin.root_uuid(node.name)) == before
    assert admin.totals(child) == {A4GB: 1, SMALL: 2}


def test_ndctl_discovery_with_a_real_output(node, admin, tmp_path):
    ndctl = tmp_path / "ndctl"
    out = tmp_path / "out.json"
    out.write_text(helpers.sample("v81-list-N-i-X-after-disable.json"))
    ndctl.write_text(f"#!/bin/sh\n[ \"$*\" = '{' '.join(ndctl_mod.ARGV)}' ] || exit 9\ncat {out}\n")
    ndctl.chmod(0o755)
    node.configure(pmem={"discovery": "ndctl", "ndctl_path": str(ndctl),
                         "namespaces": "BIG:6GB,SMALL:ns_small|name with spaces"})
    assert node.run("reconcile").status == 0
    assert admin.totals(admin.child_uuid(node.name)) == {"CUSTOM_PMEM_NAMESPACE_BIG": 1, SMALL: 2}


def test_dry_run_writes_nothing_and_exits_3_then_0(node, admin):
    result = node.run("reconcile", "--dry-run")
    assert result.status == 3
    assert result.writes == []
    assert "would change (dry run, nothing written)" in result.out
    assert [rp["name"] for rp in admin.tree(admin.root_uuid(node.name))] == [node.name]
    node.run("reconcile")
    assert node.run("reconcile", "--dry-run").status == 0


def test_json_output_has_stable_keys(node, admin):
    result = node.run("reconcile", "--format", "json")
    data = json.loads(result.out)
    assert list(data) == ["status", "dry_run", "host", "provider", "changes", "inventories", "traits",
                          "requests", "failsafe", "error"]
    assert data["status"] == "changed"
    assert data["provider"] == {"name": f"{node.name}:pmem", "uuid": admin.child_uuid(node.name),
                                "parent_provider_uuid": admin.root_uuid(node.name)}
    assert {"action": "create", "kind": "inventory", "name": A4GB, "before": None,
            "after": {"total": 1, "reserved": 0, "min_unit": 1, "max_unit": 1, "step_size": 1,
                      "allocation_ratio": 1.0}, "note": None} in data["changes"]
    assert data["traits"] == [MANAGED]
    again = json.loads(node.run("reconcile", "--format", "json").out)
    assert again["status"] == "in_sync" and again["changes"] == [] and again["requests"] == {"GET": 5}


def test_json_output_on_error(node):
    node.configure(pmem={"namespaces": "A:ns_9"})
    result = node.run("reconcile", "--format", "json")
    assert result.status == 2
    data = json.loads(result.out)
    # A namespace not on the host is still a ConfigError to scripts, as released.
    assert data["status"] == "error" and data["error"]["type"] == "ConfigError"
    assert "namespace 'ns_9' (label 'A') is not on this host" in data["error"]["message"]


def test_nothing_configured_removes_our_unused_provider(node, admin):
    node.run("reconcile")
    child = admin.child_uuid(node.name)
    node.configure(pmem={"namespaces": ""})
    result = node.run("reconcile")
    assert result.status == 0
    assert admin.provider(child) is None
    assert f"- resource provider {node.name}:pmem" in result.out
    assert node.run("reconcile").writes == []


def test_nothing_configured_keeps_a_provider_in_use(node, admin):
    node.run("reconcile")
    child, consumer = admin.guest_on(node.name, {SMALL: 1})
    node.configure(pmem={"namespaces": ""})
    assert node.run("reconcile").status == 0
    assert set(admin.inventories(child)) == {SMALL}
    assert admin.inventories(child)[SMALL]["reserved"] == 2
    admin.free(consumer)
    assert node.run("reconcile").status == 0
    assert admin.provider(child) is None


def test_provider_without_managed_trait_is_left_alone(node, admin):
    root = admin.root_uuid(node.name)
    ident = identity(root, node.name)
    admin.create_child(root, ident.name, {"CUSTOM_OTHER": {"total": 3}}, rp_uuid=ident.uuid)
    before = admin.snapshot(root)
    result = node.run("reconcile")
    assert result.status == 1
    assert "lacks CUSTOM_PMEM_PLACEMENT_MANAGED" in result.err
    assert admin.snapshot(root) == before


def test_name_taken_by_a_foreign_provider(node, admin):
    root = admin.root_uuid(node.name)
    admin.call("POST", "/resource_providers", {"name": f"{node.name}:pmem", "uuid": str(uuid.uuid4())})
    result = node.run("reconcile")
    assert result.status == 1
    assert "was not created by pmem-placement" in result.err
    assert [rp["uuid"] for rp in admin.tree(root)] == [root]


def test_blank_provider_left_by_a_crash_is_adopted(node, admin):
    root = admin.root_uuid(node.name)
    ident = identity(root, node.name)
    admin.create_child(root, ident.name, {}, rp_uuid=ident.uuid)
    assert node.run("reconcile").status == 0
    assert admin.traits(ident.uuid) == {MANAGED}
    assert len(admin.tree(root)) == 2


def test_extra_traits_are_created_and_set(node, admin):
    node.configure(pmem={"traits": "CUSTOM_PMEM_FAST,CUSTOM_RACK_7"})
    assert node.run("reconcile").status == 0
    assert admin.traits(admin.child_uuid(node.name)) == {MANAGED, "CUSTOM_PMEM_FAST", "CUSTOM_RACK_7"}
    node.configure(pmem={"traits": "CUSTOM_PMEM_FAST"})
    result = node.run("reconcile")
    assert "- provider trait CUSTOM_RACK_7" in result.out
    assert admin.traits(admin.child_uuid(node.name)) == {MANAGED, "CUSTOM_PMEM_FAST"}


def test_placement_unreachable_exits_1(node):
    node.configure(placement={"endpoint": "http://127.0.0.1:9", "connect_retries": 0})
    result = node.run("reconcile")
    assert result.status == 1
    assert "cannot reach Placement" in result.err
    assert result.err.count("\n") == 1


def test_one_writer_per_host(node, admin):
    """While another writer (the agent) holds the state-dir lock, the one-shot sends nothing."""
    with helpers.held_lock(node.dir / "state"):
        waiting = node.start("reconcile")
        assert waiting.running_after(1.0) and waiting.results == []  # still waiting for the lock
        assert [rp["name"] for rp in admin.tree(admin.root_uuid(node.name))] == [node.name]
    results = waiting.finish()  # the other writer is done
    assert results and results[0].status == 0
    assert admin.totals(admin.child_uuid(node.name)) == {A4GB: 1, SMALL: 2}


@pytest.mark.parametrize("namespaces, labels", [(1, 1), (64, 4), (64, 32)])
def test_requests_grow_with_new_classes_not_with_namespaces(tmp_path, placement, compute_node, namespaces, labels):
    """Exact request counts (a cheap guard; bench/ has the full table)."""
    names = [f"ns_{i}" for i in range(namespaces)]
    prefix = f"G{uuid.uuid4().hex[:6].upper()}_"
    groups = [names[k::labels] for k in range(labels)]
    mapping = ",".join(f"{prefix}{k}:{'|'.join(g)}" for k, g in enumerate(groups))
    counts = []
    for host_index in range(2):  # the second host finds the classes already created
        node = Host(tmp_path / str(host_index), placement, compute_node())
        node.namespaces_file.write_text(json.dumps(
            [helpers.devdax(n, f"namespace{i // 64}.{i % 64}") for i, n in enumerate(names)]))
        node.configure(pmem={"namespaces": mapping})
        first = node.run("reconcile")
        assert first.status == 0, first.err
        counts.append(len(first.requests))
        assert len(node.run("reconcile").requests) == 5  # the one-shot's full read
    # 7 fixed + the classes: one PUT each when new; with more than two, one listing first.
    if labels <= 2:
        assert counts == [7 + labels, 7 + labels]
    else:
        assert counts == [7 + 1 + labels, 7 + 1]


def test_two_hosts_with_the_same_name_are_told_apart(tmp_path, placement, admin, compute_node):
    """Misconfiguration: two machines both say [DEFAULT]host = X. No duplicate, no lost write,
    and from the second tug of war on, a warning that names the likely cause."""
    name = compute_node()
    first, second = Host(tmp_path / "a", placement, name), Host(tmp_path / "b", placement, name)
    second.configure(pmem={"namespaces": "4GB:ns_0|ns_1,SMALL:ns_2"})
    results = [h.run("reconcile") for h in (first, second) * 3]
    assert all(r.status == 0 for r in results), [r.err for r in results]
    warned = ["configured on more than one host" in r.err for r in results]
    # Each host finds the other's write from its second run on; once could be an operator's edit,
    # twice in a row is another writer.
    assert warned == [False, False, False, False, True, True]
    assert f"either [DEFAULT]host '{name}' is configured on more than one host" in results[4].err
    root = admin.root_uuid(name)
    assert [rp["name"] for rp in admin.tree(root)] == [name, f"{name}:pmem"]
    assert admin.totals(admin.child_uuid(name)) == {A4GB: 2, SMALL: 1}  # the last writer's, whole


def test_an_operators_one_off_edit_is_repaired_without_warning(node, admin):
    node.run("reconcile")
    child = admin.child_uuid(node.name)
    admin.edit_total(child, SMALL, 7)
    assert "more than one host" not in node.run("reconcile").err
    admin.consume(child, {SMALL: 1})  # moves the generation, changes nothing of ours
    result = node.run("reconcile")
    assert result.writes == [] and "more than one host" not in result.err


def test_parallel_first_syncs_of_one_host_create_one_provider(tmp_path, placement, admin, compute_node):
    """Several reconcilers at once, no shared lock (two hosts sharing a name, or state dirs
    apart): the derived uuid and generation checks leave exactly one provider, whole."""
    import subprocess
    import sys

    name = compute_node()
    procs = []
    for i in range(4):
        h = Host(tmp_path / str(i), placement, name)
        h.write_config()
        procs.append(subprocess.Popen(
            [sys.executable, "-c", "import sys; from pmem_placement.cmd.cli import main; sys.exit(main())",
             "--config-file", str(h.config_file), "reconcile"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL))
    outcomes = [(p.wait(timeout=60), p.stderr.read()) for p in procs]
    assert all(status == 0 for status, _ in outcomes), outcomes
    root = admin.root_uuid(name)
    assert [rp["name"] for rp in admin.tree(root)] == [name, f"{name}:pmem"]
    assert admin.totals(admin.child_uuid(name)) == {A4GB: 1, SMALL: 2}


def test_nova_reporting_any_pmem_label_refuses_a_first_sync(tmp_path, placement, admin, compute_node):
    """nova's labels need not be ours: any CUSTOM_PMEM_NAMESPACE_* on the root counts."""
    node = Host(tmp_path, placement, compute_node({SMALL: {"total": 2}}))
    node.configure(pmem={"namespaces": "4GB:ns_0"})
    result = refused_writing_nothing(node, admin)
    assert SMALL in result.err and "[libvirt]pmem_namespaces" in result.err
