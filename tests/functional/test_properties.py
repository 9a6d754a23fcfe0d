"""Properties, against the real Placement: for random hosts, mappings and starting states, one
reconcile reaches the desired state (or the documented retiring state for classes in use), or
refuses having written nothing; for random sequences of renames, remaps, allocations and nova
reporting PMEM on the root, Placement never offers a namespace twice; and nobody's data is ever
lost.

The expected outcome is computed here, independently of pmem_placement's own mapping and plan.
"""

import json
import os
import shutil
import uuid

from hypothesis import HealthCheck
from hypothesis import event
from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from pmem_placement.desired import identity
from tests import helpers
from tests.functional.conftest import Host
from tests.functional.truth import assert_fenced
from tests.functional.truth import offering
from tests.functional.truth import pmem_view

MANAGED = "CUSTOM_PMEM_PLACEMENT_MANAGED"
NAMES = ["ns_a", "ns_b", "ns_c", "ns_d", "ns_e"]
LABELS = ["A", "B", "C", "D"]


def rc(label):
    return f"CUSTOM_PMEM_NAMESPACE_PROP{label}"


mappings = st.dictionaries(st.sampled_from(LABELS), st.lists(st.sampled_from(NAMES), min_size=1, max_size=3),
                           max_size=3)
USABLE_SHAPES = ["usable", "no-devices-list", "old-device-no-mode"]
UNUSABLE_SHAPES = ["fsdax", "raw", "disabled", "system-ram", "device-disabled", "empty-devices"]


def record_of(draw, name, dev, shapes):
    record = helpers.devdax(name, dev)
    shape = draw(st.sampled_from(shapes))
    device = record["daxregion"]["devices"][0]
    if shape == "fsdax":
        record["mode"] = "fsdax"
        del record["daxregion"]
    elif shape == "raw":
        record["mode"] = "raw"
        del record["daxregion"]
    elif shape == "disabled":
        record.update(mode="raw", state="disabled")
        del record["daxregion"]
    elif shape == "system-ram":
        device["mode"] = "system-ram"
    elif shape == "device-disabled":
        device["state"] = "disabled"
    elif shape == "no-devices-list":
        del record["daxregion"]["devices"]
    elif shape == "empty-devices":
        record["daxregion"]["devices"] = []
    elif shape == "old-device-no-mode":
        del device["mode"]
    return record


@st.composite
def hosts(draw):
    """(ndctl records, mapping): mostly a valid pair, built on purpose; sometimes anything."""
    if draw(st.integers(0, 9)) < 3:
        records = [record_of(draw, draw(st.sampled_from(NAMES + [None])), f"namespace0.{i}",
                             USABLE_SHAPES + UNUSABLE_SHAPES) for i in range(draw(st.integers(0, 6)))]
        return records, draw(mappings)
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=5))
    records = [record_of(draw, n, f"namespace0.{i}", USABLE_SHAPES) for i, n in enumerate(names)]
    for j in range(draw(st.integers(0, 2))):  # decoys nobody configured
        records.append(record_of(draw, draw(st.sampled_from([None, "spare"])), f"namespace1.{j}",
                                 USABLE_SHAPES + UNUSABLE_SHAPES))
    configured = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    labels = draw(st.lists(st.sampled_from(LABELS), unique=True, min_size=1, max_size=3))
    mapping = {}
    for i, name in enumerate(configured):
        mapping.setdefault(labels[i % len(labels)], []).append(name)
    return records, mapping


def usable(record):
    """DESIGN.md's rule, restated."""
    if record.get("state") == "disabled" or record["mode"] != "devdax" or not record.get("name"):
        return False
    devices = record.get("daxregion", {}).get("devices")
    if devices is None:
        return True
    return bool(devices) and devices[0].get("state") != "disabled" and devices[0].get("mode", "devdax") == "devdax"



@st.composite
def starting_states(draw):
    existing = draw(st.sampled_from(["none", "ours", "ours", "ours", "blank"]))
    inventory = {}
    if existing == "ours":
        for label in draw(st.lists(st.sampled_from(LABELS), unique=True, max_size=3)):
            total = draw(st.integers(1, 3))
            inventory[label] = (total, draw(st.integers(0, total)))  # (total, units allocated)
    return {
        "existing": existing,
        "inventory": inventory,
        "foreign_child": draw(st.booleans()),
        "root_trait": draw(st.booleans()),
        "nova_reports": draw(st.sampled_from([None] + LABELS)) if draw(st.integers(0, 9)) == 0 else None,
        "traits": draw(st.sampled_from([[], ["CUSTOM_PROP_FAST"]])),
    }


def expected(records, mapping):
    """(valid, {class: total}, {class: usable}) for this host and mapping: not valid when the
    mapping itself is (a name listed twice); a configured namespace that is missing, ambiguous or
    not usable is withdrawn (``usable`` counts the others)."""
    by_name = {}
    for record in records:
        if record.get("name"):
            by_name.setdefault(record["name"], []).append(record)
    seen = set()
    classes, offered = {}, {}
    for label, names in mapping.items():
        for name in names:
            if name in seen:
                return False, {}, {}
            seen.add(name)
        classes[rc(label)] = len(names)
        offered[rc(label)] = sum(1 for n in names if len(by_name.get(n, [])) == 1 and usable(by_name[n][0]))
    return True, classes, offered


def everything(admin, root):
    """Every provider of the tree with its inventory, traits, aggregates and usages."""
    result = {}
    for rp in admin.tree(root):
        u = rp["uuid"]
        result[u] = {"name": rp["name"], "inventories": admin.inventories(u), "traits": admin.traits(u),
                     "aggregates": admin.call("GET", f"/resource_providers/{u}/aggregates")["aggregates"],
                     "usages": admin.call("GET", f"/resource_providers/{u}/usages")["usages"]}
    return result


def set_up(admin, name, state):
    for label in LABELS:
        admin.call("PUT", f"/resource_classes/{rc(label)}")
    admin.call("PUT", "/resource_classes/CUSTOM_PROP_FOREIGN")
    extra = {rc(state["nova_reports"]): {"total": 1}} if state["nova_reports"] else {}
    root = admin.create_compute_node(name, extra)
    consumers = {}
    vcpu = str(uuid.uuid4())
    admin.allocate(vcpu, root, {"VCPU": 2})
    consumers[vcpu] = admin.allocations(vcpu)
    if state["root_trait"]:
        gen = admin.provider(root)["generation"]
        admin.call("PUT", "/traits/CUSTOM_PROP_ROOT")
        admin.call("PUT", f"/resource_providers/{root}/traits",
                   {"resource_provider_generation": gen, "traits": ["COMPUTE_NODE", "OWNER_NOVA", "CUSTOM_PROP_ROOT"]})
    if state["foreign_child"]:
        other = str(uuid.uuid4())
        admin.call("POST", "/resource_providers", {"name": f"{name}:neutron", "uuid": other,
                                                   "parent_provider_uuid": root})
        admin.call("PUT", f"/resource_providers/{other}/inventories",
                   {"resource_provider_generation": 0, "inventories": {"CUSTOM_PROP_FOREIGN": {"total": 4}}})
        c = str(uuid.uuid4())
        admin.allocate(c, other, {"CUSTOM_PROP_FOREIGN": 1})
        consumers[c] = admin.allocations(c)
    child = identity(root, name)
    if state["existing"] != "none":
        admin.call("POST", "/resource_providers", {"name": child.name, "uuid": child.uuid, "parent_provider_uuid": root})
    if state["existing"] == "ours":
        admin.call("PUT", "/traits/" + MANAGED)
        gen = admin.call("PUT", f"/resource_providers/{child.uuid}/traits",
                         {"resource_provider_generation": 0, "traits": [MANAGED]})["resource_provider_generation"]
        if state["inventory"]:
            inv = {rc(label): {"total": total, "max_unit": total} for label, (total, _) in state["inventory"].items()}
            admin.call("PUT", f"/resource_providers/{child.uuid}/inventories",
                       {"resource_provider_generation": gen, "inventories": inv})
        for label, (_, used) in state["inventory"].items():
            if used:
                c = str(uuid.uuid4())
                admin.allocate(c, child.uuid, {rc(label): used})
                consumers[c] = admin.allocations(c)
    return root, child, consumers


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(host=hosts(), state=starting_states())
# Found by this test: with the memory unknown, the fail-safe closed a class wholly and the remap
# rule's pool of units then moved to another class on every run (it never settled).
@example(host=([helpers.devdax(n, f"namespace0.{i}") for i, n in enumerate(["ns_a", "ns_b", "ns_c", "ns_d", "ns_e"])],
               {"A": ["ns_a", "ns_d"], "B": ["ns_b", "ns_e"], "C": ["ns_c"]}),
         state={"existing": "ours", "inventory": {"D": (1, 1)}, "foreign_child": False, "root_trait": False,
                "nova_reports": None, "traits": []})
# A namespace of the host missing for a configured class: withdrawn, only lowering writes.
@example(host=([helpers.devdax("ns_a", "namespace0.0")], {"A": ["ns_a", "ns_b"]}),
         state={"existing": "ours", "inventory": {"A": (2, 1)}, "foreign_child": False, "root_trait": False,
                "nova_reports": None, "traits": []})
# Found by this test: nothing configured, nova reporting PMEM on the root, ours retiring a class in
# use (nova's unit is nova's; ours offers none).
@example(host=([], {}), state={"existing": "ours", "inventory": {"A": (1, 1)}, "foreign_child": False,
                               "root_trait": False, "nova_reports": "A", "traits": []})
def test_one_reconcile_reaches_the_desired_state_and_loses_nothing(placement, admin, tmp_path_factory, host, state):
    records, mapping = host
    name = f"prop-{uuid.uuid4().hex[:10]}"
    root, child, consumers = set_up(admin, name, state)
    workdir = tmp_path_factory.mktemp("prop")  # pytest keeps the last runs' only
    node = Host(workdir, placement, name)
    node.namespaces_file.write_text(json.dumps(records))
    # Label PROPA makes CUSTOM_PMEM_NAMESPACE_PROPA: classes no other test uses.
    node.configure(pmem={"namespaces": ",".join(f"PROP{label}:{'|'.join(ns)}" for label, ns in mapping.items()),
                         "traits": ",".join(state["traits"])})
    before = everything(admin, root)
    valid, classes, offered = expected(records, mapping)

    result = node.run("reconcile")
    after = everything(admin, root)
    event(f"exit {result.status}; retiring={bool(state['inventory'])}; existing={state['existing']}")

    # Invariants, whatever happened: allocations, the root, and foreign providers are untouched.
    for consumer, allocations in consumers.items():
        now = admin.allocations(consumer)
        assert {rp: a["resources"] for rp, a in now.items()} == \
            {rp: a["resources"] for rp, a in allocations.items()}
    assert after[root] == before[root]
    for u, rp in before.items():
        if u not in (root, child.uuid):
            assert after[u] == rp

    if not valid:
        assert result.status == 2, (result.out, result.err)
        assert after == before
        return
    if offered != classes:
        # Configured namespaces that are not there: exit 2, and only writes that lower the
        # offer of inventory that exists; nothing created, renamed or removed.
        assert result.status == 2 and "their units are withdrawn" in result.err, (result.out, result.err)
        assert set(after) == set(before)
        if child.uuid in before:
            old, new = before[child.uuid], after[child.uuid]
            assert (new["name"], new["traits"], set(new["inventories"])) == \
                (old["name"], old["traits"], set(old["inventories"]))
            for c, inv in new["inventories"].items():
                was = old["inventories"][c]
                assert inv["total"] == was["total"] and inv["reserved"] >= was["reserved"]
                assert inv["total"] - inv["reserved"] <= min(was["total"] - was["reserved"], offered.get(c, 0))
        return
    if state["nova_reports"] and classes:
        # Any PMEM class on the root fences ours, whatever its label; nothing is created.
        assert result.status == 1 and "[libvirt]pmem_namespaces" in result.err
        if state["existing"] == "none":
            assert after == before
        else:
            assert all(inv["reserved"] == inv["total"] for inv in after[child.uuid]["inventories"].values())
            assert after[child.uuid]["traits"] == before[child.uuid]["traits"]
        return
    assert result.status == 0, result.err

    used = {rc(label): (total, u) for label, (total, u) in state["inventory"].items() if u}
    expected_inventory = {c: {"total": n, "min_unit": 1, "max_unit": n, "step_size": 1,
                              "allocation_ratio": 1.0} for c, n in classes.items()}
    for c, (total, _) in used.items():
        if c not in classes:  # retiring: kept for its consumers, closed to new ones
            expected_inventory[c] = {"total": total, "reserved": total, "min_unit": 1, "max_unit": total,
                                     "step_size": 1, "allocation_ratio": 1.0}
    if not expected_inventory:
        assert child.uuid not in after
    else:
        got = after[child.uuid]["inventories"]
        # Reservations (units held elsewhere) aside, exactly the desired inventory.
        assert {c: {k: v for k, v in inv.items() if k != "reserved" or c not in classes}
                for c, inv in got.items()} == expected_inventory
        if classes:
            assert after[child.uuid]["traits"] == {MANAGED, *state["traits"]}
        held = sum(u for c, (_, u) in used.items() if c not in classes)
        held += sum(max(0, used[c][1] - n) for c, n in classes.items() if c in used)
        in_use = sum(u for _, u in used.values())
        # nova's own PMEM on the root, with nothing configured here (nothing to fence for): nova's
        # offer, which ours does not add to (its classes in use are closed)
        novas = 1 if state["nova_reports"] else 0
        assert_offers_at_most(admin, root, sum(classes.values()) + novas, in_use + novas)
        if not held and not in_use:  # consumers in use: the fail-safe may withhold (no memory here)
            assert all(got[c]["reserved"] == 0 for c in classes)
    assert [rp["name"] for rp in admin.call("GET", f"/resource_providers?name={child.name}")["resource_providers"]] \
        in ([], [child.name])
    second = node.run("reconcile")
    assert second.writes == [], second.out  # converged: a second run writes nothing


def assert_offers_at_most(admin, root, usable, in_use=0):
    """The invariant: sum over PMEM classes and providers of max(used, total - reserved) is at
    most the usable configured namespaces (or, when consumers already hold more than that, no
    free unit is offered at all); at most one provider offers PMEM."""
    view = pmem_view(admin, root)
    offered = sum(max(u, t - r) for classes in view.values() for t, r, u in classes.values())
    assert offered <= max(usable, in_use), view
    assert len(offering(admin, root)) <= 1, view


def assert_no_held_namespace_offered(ours, mapping, holds):
    """For each class D: in the worst case the guests of every other class C hold
    min(units of C, namespaces of D they may hold) of D's namespaces; D must not offer those."""
    for label, names in mapping.items():
        d = f"CUSTOM_PMEM_NAMESPACE_{label}"
        total, reserved, used = ours[d]
        by_class = {}
        for c, may_hold in holds.values():
            if c != d:
                units, union = by_class.get(c, (0, frozenset()))
                by_class[c] = (units + 1, union | may_hold)
        occupied = sum(min(units, len(union & set(names))) for units, union in by_class.values())
        assert reserved >= min(total - used, occupied), (d, ours, mapping, holds)


HOST_NAMESPACES = ["ns_a", "ns_b", "ns_c", "ns_d"]
TRUTH_LABELS = ["TA", "TB", "TC"]

some_mapping = st.lists(st.sampled_from(TRUTH_LABELS), min_size=len(HOST_NAMESPACES),
                        max_size=len(HOST_NAMESPACES)).map(
    lambda labels: {lab: [n for n, l2 in zip(HOST_NAMESPACES, labels) if l2 == lab] for lab in set(labels)})
truth_mappings = some_mapping | st.just({})
actions = st.one_of(
    st.tuples(st.just("remap"), truth_mappings),
    st.tuples(st.just("swap"), st.integers(0, 99)),  # two labels exchange their namespaces
    st.tuples(st.just("allocate"), st.integers(0, 99)),
    st.tuples(st.just("free"), st.integers(0, 99)),
    st.tuples(st.just("rename"), st.booleans()),  # True: [DEFAULT]host follows; False: root_provider_uuid
    st.tuples(st.just("nova_on"), st.sampled_from(["PROPA", "TA", "6GB"])),
    st.tuples(st.just("nova_off"), st.none()),
    st.tuples(st.just("memory_lost"), st.sampled_from(["emptied", "corrupt", "newer"])),
    st.tuples(st.just("recreate"), st.sampled_from(HOST_NAMESPACES)),  # destroyed, created again: new uuid
    # The state directory is the agent's (a dynamic user's), and root runs the one-shot in it.
    st.tuples(st.just("written_by_root"), st.none()),
)
AGENT_UID = 61234


def namespaces_with(generations):
    """The host's ndctl output, each namespace's uuid telling how often it was re-created."""
    return json.dumps([helpers.devdax(n, f"namespace0.{i}", uuid=f"{i:08x}-0000-4000-8000-{generations[n]:012x}")
                       for i, n in enumerate(HOST_NAMESPACES)])


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(first=some_mapping, nova_first=st.sampled_from([None, None, None, "6GB"]),
       steps=st.lists(actions, min_size=1, max_size=7))
# The state directory emptied under a guest, then its namespace swapped to another label.
@example(first={"TA": ["ns_a"], "TB": ["ns_b", "ns_c", "ns_d"]}, nova_first=None,
         steps=[("allocate", 0), ("memory_lost", "emptied"), ("swap", 0)])
@example(first={"TA": ["ns_a"], "TB": ["ns_b", "ns_c", "ns_d"]}, nova_first=None,
         steps=[("allocate", 0), ("memory_lost", "corrupt"), ("swap", 0), ("free", 0)])
# The agent's state directory written by a root one-shot, then remapped, then damaged.
@example(first={"TA": ["ns_a"], "TB": ["ns_b", "ns_c", "ns_d"]}, nova_first=None,
         steps=[("allocate", 0), ("written_by_root", None), ("swap", 0), ("memory_lost", "corrupt")])
# A held namespace re-created under its name, beside a free one of the same class.
@example(first={"TA": ["ns_a", "ns_b"], "TB": ["ns_c", "ns_d"]}, nova_first=None,
         steps=[("allocate", 0), ("recreate", "ns_a"), ("recreate", "ns_b"), ("free", 0)])
def test_placement_never_offers_a_namespace_twice(placement, admin, tmp_path_factory, first, nova_first, steps):
    """Random renames, remaps, label swaps, allocations, nova reporting PMEM on the root
    (before or after us, under any label), the state directory's memory lost (emptied, corrupt,
    written by a newer version) and namespaces re-created under their name: after every run the
    invariant holds, or ours is fenced and the run exits 1; no allocation is ever changed. Which
    namespaces a guest may hold is modelled here: those of its class when it allocated."""
    base = f"truth-{uuid.uuid4().hex[:10]}"
    name = base
    root = admin.create_compute_node(name)
    workdir = tmp_path_factory.mktemp("prop")  # pytest keeps the last runs' only
    node = Host(workdir, placement, name)
    generations = dict.fromkeys(HOST_NAMESPACES, 0)
    node.namespaces_file.write_text(namespaces_with(generations))
    mapping = first
    applied = {}  # the mapping of the last run that exited 0
    consumers = {}
    holds = {}  # consumer -> (class, the namespaces it may hold)
    ghosts = {}  # a re-created namespace -> the consumers that may hold its old self
    nova = None

    def set_mapping(m):
        node.configure(pmem={"namespaces": ",".join(f"{lab}:{'|'.join(ns)}" for lab, ns in sorted(m.items()))})

    set_mapping(mapping)
    for i, (action, arg) in enumerate([("nova_on" if nova_first else "reconcile", nova_first)] + steps):
        if action == "remap":
            mapping = arg
            set_mapping(mapping)
        elif action == "swap":
            labels = sorted(mapping)
            if len(labels) >= 2:
                a, b = labels[arg % len(labels)], labels[(arg // len(labels) + 1 + arg) % len(labels)]
                mapping = {**mapping, a: mapping[b], b: mapping[a]}
                set_mapping(mapping)
        elif action == "allocate":
            free = [(rp["uuid"], c) for rp in admin.tree(root) if rp["uuid"] != root
                    for c, (t, r, u) in pmem_view(admin, root).get(rp["name"], {}).items() if t - r - u > 0]
            if free:
                rp_uuid, c = free[arg % len(free)]
                consumer = str(uuid.uuid4())
                admin.allocate(consumer, rp_uuid, {c: 1})
                consumers[consumer] = admin.allocations(consumer)
                label = c.removeprefix("CUSTOM_PMEM_NAMESPACE_")
                holds[consumer] = (c, frozenset(applied.get(label, ())))
        elif action == "free" and consumers:
            consumer = sorted(consumers)[arg % len(consumers)]
            admin.free(consumer)
            del consumers[consumer], holds[consumer]
            ghosts = {n: who - {consumer} for n, who in ghosts.items() if who - {consumer}}
        elif action == "rename":
            name = f"{base}-{i}"
            admin.rename(root, name)
            if arg:
                node.configure(DEFAULT={"host": name})
            else:
                node.configure(pmem={"root_provider_uuid": root})
        elif action in ("nova_on", "nova_off"):
            nova = arg
            admin.nova_reports(root, {f"CUSTOM_PMEM_NAMESPACE_{nova}": {"total": 2}} if nova else {})
        elif action == "memory_lost":
            state = node.dir / "state" / "state.json"
            if arg == "emptied":
                shutil.rmtree(node.dir / "state", ignore_errors=True)
            elif state.exists():
                state.write_text("{" if arg == "corrupt" else '{"version": 99}')
        elif action == "written_by_root":
            state_dir = node.dir / "state"
            state_dir.mkdir(mode=0o750, exist_ok=True)
            for path in [state_dir, *state_dir.iterdir()]:
                os.chown(path, AGENT_UID, AGENT_UID)
        elif action == "recreate":
            holders_of = {c for c, (_, may_hold) in holds.items() if arg in may_hold}
            if holders_of:
                ghosts[arg] = ghosts.get(arg, set()) | holders_of
            generations[arg] += 1
            node.namespaces_file.write_text(namespaces_with(generations))
        result = node.run("reconcile")
        event(f"{action}: exit {result.status}")
        if action == "written_by_root":  # everything root wrote there is left to the agent
            assert {(p.name, p.stat().st_uid) for p in (node.dir / "state").iterdir()} == \
                {(p.name, AGENT_UID) for p in (node.dir / "state").iterdir()}

        for consumer, allocations in consumers.items():
            assert {rp: a["resources"] for rp, a in admin.allocations(consumer).items()} == \
                {rp: a["resources"] for rp, a in allocations.items()}
        view = pmem_view(admin, root)
        ours = [p for p in view if p != name]
        if nova:
            if mapping:
                assert result.status == 1 and "[libvirt]pmem_namespaces" in result.err
            else:  # nothing configured: ours is retired or removed, handing PMEM over to nova
                assert result.status == 0, result.err
            for p in ours:
                assert_fenced(admin, root, p)
            assert offering(admin, root) == [name]
        else:
            assert result.status == 0, result.err
            applied = mapping
            # Namespaces configured, or possibly held by a guest although no longer configured.
            present = set().union(*mapping.values(), *(names for _, names in holds.values()))
            in_use = sum(sum(r.values()) for a in consumers.values() for r in
                         ({rp: x["resources"] for rp, x in a.items()}.values()))
            assert_offers_at_most(admin, root, len(present), in_use)
            assert set(offering(admin, root)) <= {f"{name}:pmem"}
            # A re-created namespace its old holder still believes it has is held by a ghost of no class.
            ghost_holds = {f"ghost-{n}": ("ghost", frozenset({n})) for n in ghosts}
            assert_no_held_namespace_offered(view.get(f"{name}:pmem", {}), mapping, {**holds, **ghost_holds})
            assert node.run("reconcile").writes == []  # converged


@settings(max_examples=400, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
    | st.sampled_from(["namespace0.0", "devdax", "disabled", "system-ram", "dax0.0"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["dev", "mode", "name", "size", "state", "daxregion", "devices", "chardev",
                         "numa_node", "target_node", "regions", "namespaces", "uuid", "align"]),
        children, max_size=6),
    max_leaves=25))
def test_parser_returns_namespaces_or_a_parse_error(data):
    from pmem_placement.discover import ndctl_json
    from pmem_placement.discover.model import Namespace
    from pmem_placement.errors import ParseError

    for text in (json.dumps(data), json.dumps(data)[:-1]):
        try:
            result = ndctl_json.parse(text)
        except ParseError:
            continue
        assert all(isinstance(ns, Namespace) for ns in result)
        for ns in result:
            assert isinstance(ns.problem, str | None)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_parser_survives_arbitrary_bytes(raw):
    from pmem_placement.discover import ndctl_json
    from pmem_placement.errors import ParseError

    try:
        ndctl_json.parse(raw.decode("utf-8", "replace"))
    except ParseError:
        pass

