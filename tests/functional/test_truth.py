"""Placement tells the truth on the unhappy paths: never a PMEM namespace offered twice, or one
that is not there. Each numbered scenario against the real Placement, the invariant checked
after every run (tests/functional/truth.py), and no allocation ever lost.
"""

import json
import uuid

from pmem_placement.reconcile import HostSpec
from pmem_placement.reconcile import Reconciler
from pmem_placement.state import StateStore
from tests import helpers
from tests.functional.conftest import Host
from tests.functional.conftest import refused_writing_nothing
from tests.functional.conftest import requests_sent_by
from tests.functional.truth import assert_fenced
from tests.functional.truth import assert_truthful
from tests.functional.truth import forked_history
from tests.functional.truth import offered
from tests.functional.truth import pmem_view

A4GB = "CUSTOM_PMEM_NAMESPACE_4GB"
SMALL = "CUSTOM_PMEM_NAMESPACE_SMALL"
NOVA6GB = "CUSTOM_PMEM_NAMESPACE_6GB"
MANAGED = "CUSTOM_PMEM_PLACEMENT_MANAGED"
USABLE = 3  # ns_0, ns_1, ns_2 in the default mapping 4GB:ns_0,SMALL:ns_1|ns_2


def first_sync_then_a_guest(node, admin, resources=None):
    """The first sync, then a guest allocates ``resources`` (one SMALL unless told) from our
    provider: (root, child, the guest's consumer)."""
    assert node.run("reconcile").status == 0
    child, consumer = admin.guest_on(node.name, resources or {SMALL: 1})
    return admin.root_uuid(node.name), child, consumer


def remap(node, namespaces):
    """[pmem]namespaces changed to ``namespaces``, then a reconcile, which must succeed: its Result."""
    node.configure(pmem={"namespaces": namespaces})
    result = node.run("reconcile")
    assert result.status == 0, result.err
    return result


# 1. The compute node is renamed.

def test_rename_the_provider_follows_its_compute_node(node, admin):
    root, child, consumer = first_sync_then_a_guest(node, admin)
    new = f"{node.name}-renamed"
    admin.rename(root, new)
    node.configure(DEFAULT={"host": new})
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert_truthful(admin, root, USABLE)
    assert f"~ resource provider {new}:pmem: name {node.name}:pmem -> {new}:pmem" in result.out
    assert result.writes == [("PUT", f"/resource_providers/{child}")]  # one PUT of the name
    assert sorted(rp["name"] for rp in admin.tree(root)) == [new, f"{new}:pmem"]
    assert admin.child_uuid(new) == child
    assert admin.allocations(consumer)[child]["resources"] == {SMALL: 1}
    assert_truthful(admin, root, USABLE)
    assert node.run("reconcile").writes == []


def test_rename_with_root_provider_uuid_and_host_unchanged(node, admin):
    root = admin.root_uuid(node.name)
    node.configure(pmem={"root_provider_uuid": root})
    assert node.run("reconcile").status == 0
    admin.rename(root, f"{node.name}-b")
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert sorted(rp["name"] for rp in admin.tree(root)) == [f"{node.name}-b", f"{node.name}-b:pmem"]
    assert_truthful(admin, root, USABLE)


def make_legacy_provider(admin, root, name, inventory):
    """A PMEM provider exactly as pmem-placement 0.1.0 created it."""
    return admin.create_child(root, name, {rc: {"total": n, "max_unit": n} for rc, n in inventory.items()},
                              rp_uuid=str(uuid.uuid5(uuid.UUID(root), name)), traits=[MANAGED])


def test_a_0_1_0_provider_under_today_s_name_is_adopted(node, admin):
    root = admin.root_uuid(node.name)
    old = make_legacy_provider(admin, root, f"{node.name}:pmem", {A4GB: 1, SMALL: 2})
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert result.writes == []
    assert [rp["uuid"] for rp in admin.tree(root)] == [root, old]


def test_rename_retires_an_older_provider_in_use_then_deletes_it_once_free(node, admin):
    """A 0.1.0 provider of the old name, 1 namespace in use: closed, its unit reserved on today's
    provider, deleted once free. On today's code: 3 namespaces offered as 6."""
    root = admin.root_uuid(node.name)
    old = make_legacy_provider(admin, root, f"{node.name}:pmem", {A4GB: 1, SMALL: 2})
    consumer = admin.consume(old, {SMALL: 1})
    new = f"{node.name}-new"
    admin.rename(root, new)
    node.configure(DEFAULT={"host": new})
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert f"~ resource provider {node.name}:pmem (older PMEM provider of this compute node" in result.out
    # The older provider's consumer may hold any namespace (its mapping was never remembered):
    # reserved on SMALL by count, and on 4GB by the fail-safe.
    assert pmem_view(admin, root) == {new: {}, f"{node.name}:pmem": {SMALL: (2, 2, 1)},
                                      f"{new}:pmem": {A4GB: (1, 1, 0), SMALL: (2, 1, 0)}}
    assert admin.allocations(consumer)[old]["resources"] == {SMALL: 1}
    assert_truthful(admin, root, USABLE)
    assert node.run("reconcile").writes == []

    admin.free(consumer)
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert f"- resource provider {node.name}:pmem" in result.out
    assert pmem_view(admin, root) == {new: {}, f"{new}:pmem": {A4GB: (1, 0, 0), SMALL: (2, 0, 0)}}
    assert node.run("reconcile").writes == []


# 2. nova reports PMEM under other labels; 3. nova starts reporting after us.

def test_nova_reporting_other_labels_before_us_creates_nothing(tmp_path, placement, admin, compute_node):
    node = Host(tmp_path, placement, compute_node({NOVA6GB: {"total": 3}}))
    result = refused_writing_nothing(node, admin)
    assert NOVA6GB in result.err and "[libvirt]pmem_namespaces" in result.err
    assert result.err.count("\n") == 1
    assert_truthful(admin, admin.root_uuid(node.name), USABLE)


def test_nova_reporting_after_us_fences_ours_then_it_is_unfenced(node, admin):
    root, child, consumer = first_sync_then_a_guest(node, admin)
    admin.nova_reports(root, {NOVA6GB: {"total": 3}})

    result = node.run("reconcile")
    assert result.status == 1
    assert "[libvirt]pmem_namespaces" in result.err and NOVA6GB in result.err
    assert f"{node.name}:pmem was fenced (every class reserved = total, allocations kept)" in result.err
    assert f"~ inventory {A4GB}: reserved 0 -> 1 (fenced: " in result.out  # the write is reported
    assert result.writes == [("PUT", f"/resource_providers/{child}/inventories")]
    assert_fenced(admin, root, f"{node.name}:pmem")
    assert admin.allocations(consumer)[child]["resources"] == {SMALL: 1}
    assert offered(admin, root) == 3 + 1  # nova's 3, and our 1 unit in use: no new allocation of ours

    again = node.run("reconcile", "--format", "json")
    assert again.status == 1 and again.writes == []
    assert json.loads(again.out)["error"]["type"] == "Fenced"

    admin.nova_reports(root, {})
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert pmem_view(admin, root)[f"{node.name}:pmem"] == {A4GB: (1, 0, 0), SMALL: (2, 0, 1)}
    assert_truthful(admin, root, USABLE)


def test_the_agent_state_is_error_while_fenced(node, admin):
    assert node.run("reconcile").status == 0
    admin.nova_reports(admin.root_uuid(node.name), {NOVA6GB: {"total": 3}})
    agent = node.agent()
    assert not agent.cycle()
    assert agent.status.state == "error" and "[libvirt]pmem_namespaces" in agent.status.last_error["message"]
    assert_fenced(admin, admin.root_uuid(node.name), f"{node.name}:pmem")


# 4. A namespace held under one class is remapped to another.

def test_remap_of_a_held_namespace_is_not_offered_twice(node, admin):
    node.configure(pmem={"namespaces": "4GB:ns_0,SMALL:ns_1"})
    root, child, consumer = first_sync_then_a_guest(node, admin)
    result = remap(node, "4GB:ns_0|ns_1")
    assert pmem_view(admin, root)[f"{node.name}:pmem"] == {A4GB: (2, 1, 0), SMALL: (1, 1, 1)}
    assert f"~ inventory {A4GB}: total 1 -> 2, reserved 0 -> 1, max_unit 1 -> 2 (1 reserved: it took ns_1 " \
           f"from {SMALL}, whose 1 in use may be there, released once free)" in result.out
    assert_truthful(admin, root, 2)
    assert node.run("reconcile").writes == []

    admin.free(consumer)
    assert node.run("reconcile").status == 0
    assert pmem_view(admin, root)[f"{node.name}:pmem"] == {A4GB: (2, 0, 0)}
    assert_truthful(admin, root, 2)


# 5. Placement's history forks.

def test_a_forked_history_is_seen_by_the_one_shot(node, admin, placement):
    assert node.run("reconcile").status == 0
    root, child = admin.root_uuid(node.name), admin.child_uuid(node.name)
    with forked_history(placement):
        node.configure(pmem={"namespaces": "4GB:ns_0|ns_1,SMALL:ns_2"})
        assert node.run("reconcile").status == 0
        remembered = admin.provider(child)["generation"]
    consumer = admin.consume(child, {A4GB: 1})  # the generation matches the remembered one again
    assert admin.provider(child)["generation"] == remembered
    assert admin.totals(child) == {A4GB: 1, SMALL: 2}  # but the content is the old one

    dry = node.run("reconcile", "--dry-run")
    assert dry.status == 3 and "in sync" not in dry.out
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert admin.totals(child) == {A4GB: 2, SMALL: 1}
    assert admin.allocations(consumer)[child]["resources"] == {A4GB: 1}
    assert_truthful(admin, root, USABLE)


def test_a_compute_node_recreated_with_its_uuid_reporting_pmem_is_seen(node, admin, placement):
    root = admin.root_uuid(node.name)
    admin.call("PUT", f"/resource_classes/{NOVA6GB}")
    with forked_history(placement):
        admin.nova_reports(root, {"VCPU": {"total": 16}})  # the root's generation moves
        assert node.run("reconcile").status == 0
        remembered = admin.provider(root)["generation"]
    admin.nova_reports(root, {NOVA6GB: {"total": 3}})  # one write: the same generation again
    assert admin.provider(root)["generation"] == remembered
    result = node.run("reconcile")
    assert result.status == 1 and NOVA6GB in result.err
    assert_truthful(admin, root, USABLE)


def agent_reconciler(placement, node, now):
    """A Reconciler as the agent builds it, on a clock the test moves."""
    from pmem_placement.embedded import TOKEN

    client = helpers.placement_client(placement.url, TOKEN)
    return client, Reconciler(client, StateStore(str(node.dir / "state")), clock=lambda: now[0], verify_interval=600)


def test_the_agent_request_counts_of_docs_request_economy(node, admin, placement):
    """The agent's rows of the table in docs/request-economy.md."""
    now = [1000.0]
    client, reconciler = agent_reconciler(placement, node, now)

    def cost(classes, advance=10):
        now[0] += advance
        sent = requests_sent_by(client)
        reconciler.run(lambda: HostSpec(node.name, None, classes, frozenset({MANAGED})), trust_cache=True)
        return sent()

    assert cost({A4GB: 1, SMALL: 2}) == 9  # first sync
    assert cost({A4GB: 1, SMALL: 2}) == 1  # steady
    # remap: the tree, the root (it offers more), the write; the usages are known at this generation
    assert cost({A4GB: 2, SMALL: 1}) == 3
    assert cost({A4GB: 2, SMALL: 1}) == 1
    # the verification: the tree, the compute node's inventory, ours and its traits; no usages
    # (no reservation needs them), no write
    assert cost({A4GB: 2, SMALL: 1}, advance=600) == 4
    assert cost({A4GB: 2, SMALL: 1}) == 1


def test_the_agent_corrects_a_forked_history_within_verify_interval(node, admin, placement):
    now = [1000.0]
    client, reconciler = agent_reconciler(placement, node, now)
    spec = HostSpec(node.name, None, {A4GB: 1, SMALL: 2}, frozenset({MANAGED}))
    assert reconciler.run(lambda: spec, trust_cache=True).ops  # first sync, a full read
    root, child = admin.root_uuid(node.name), admin.child_uuid(node.name)
    with forked_history(placement):
        spec = HostSpec(node.name, None, {A4GB: 2, SMALL: 1}, frozenset({MANAGED}))
        assert reconciler.run(lambda: spec, trust_cache=True).ops
    admin.consume(child, {A4GB: 1})
    sent = requests_sent_by(client)
    now[0] += 599
    assert reconciler.run(lambda: spec, trust_cache=True).ops == []  # trusted: 1 request, still wrong
    assert sent() == 1
    now[0] += 1
    assert reconciler.run(lambda: spec, trust_cache=True).ops  # verified in full: corrected
    assert admin.totals(child) == {A4GB: 2, SMALL: 1}
    assert_truthful(admin, root, USABLE)
    sent = requests_sent_by(client)
    now[0] += 60
    assert reconciler.run(lambda: spec, trust_cache=True).ops == []
    assert sent() == 1  # the steady cycle is one request again


def test_a_reservation_in_place_costs_the_agent_one_request_per_steady_cycle(node, admin, placement):
    """A remap reservation lasts a guest's whole life: its usages are re-read when the provider's
    generation moves (new allocations move it) and at each full read, never on every cycle. A
    consumer deleted without moving the generation is seen at the next full read: the reservation
    is released within verify_interval, late, which never offers too much."""
    now = [1000.0]
    client, reconciler = agent_reconciler(placement, node, now)

    def cost(classes, namespaces, advance=10):
        now[0] += advance
        sent = requests_sent_by(client)
        spec = HostSpec(node.name, None, classes, frozenset({MANAGED}), namespaces)
        reconciler.run(lambda: spec, trust_cache=True)
        return sent()

    cost({A4GB: 1, SMALL: 1}, {A4GB: ("ns_0",), SMALL: ("ns_1",)})
    root, child = admin.root_uuid(node.name), admin.child_uuid(node.name)
    consumer = admin.consume(child, {SMALL: 1})
    cost({A4GB: 1, SMALL: 1}, {A4GB: ("ns_0",), SMALL: ("ns_1",)})  # the generation moved: looked at once
    remapped = ({A4GB: 2}, {A4GB: ("ns_0", "ns_1")})  # ns_1 joins 4GB while SMALL's guest may hold it
    assert cost(*remapped) > 1
    assert pmem_view(admin, root)[f"{node.name}:pmem"] == {A4GB: (2, 1, 0), SMALL: (1, 1, 1)}
    assert [cost(*remapped) for _ in range(3)] == [1, 1, 1]
    admin.free(consumer)  # DELETE /allocations: Placement does not move the provider's generation
    assert cost(*remapped) == 1
    assert pmem_view(admin, root)[f"{node.name}:pmem"] == {A4GB: (2, 1, 0), SMALL: (1, 1, 0)}  # released late
    cost(*remapped, advance=600)  # the full read: released
    assert pmem_view(admin, root)[f"{node.name}:pmem"] == {A4GB: (2, 0, 0)}
    assert_truthful(admin, root, 2)
    assert cost(*remapped) == 1


def test_a_swap_stays_reserved_when_the_class_s_own_guest_leaves_unseen(node, admin, placement):
    """Found by review: 4GB and SMALL swap a namespace while each has a guest. 4GB's own guest
    leaving by DELETE /allocations does not move the generation, so the agent keeps the usages it
    remembers; 4GB's reservation for SMALL's guest must not have been capped by them."""
    now = [1000.0]
    client, reconciler = agent_reconciler(placement, node, now)

    def cycle(classes, namespaces):
        now[0] += 10
        reconciler.run(lambda: HostSpec(node.name, None, classes, frozenset({MANAGED}), namespaces), trust_cache=True)

    before = ({A4GB: 1, SMALL: 2}, {A4GB: ("ns_0",), SMALL: ("ns_1", "ns_2")})
    swapped = ({A4GB: 1, SMALL: 2}, {A4GB: ("ns_1",), SMALL: ("ns_0", "ns_2")})
    cycle(*before)
    root, child = admin.root_uuid(node.name), admin.child_uuid(node.name)
    admin.consume(child, {SMALL: 1})  # may hold ns_1 or ns_2
    guest_4gb = admin.consume(child, {A4GB: 1})  # holds ns_0
    cycle(*before)
    cycle(*swapped)
    assert pmem_view(admin, root)[f"{node.name}:pmem"][A4GB] == (1, 1, 1)
    admin.free(guest_4gb)
    for _ in range(3):
        cycle(*swapped)
        assert pmem_view(admin, root)[f"{node.name}:pmem"][A4GB] == (1, 1, 0)  # ns_1: SMALL's guest may hold it
    resp = admin.session.put(f"{admin.url}/allocations/{uuid.uuid4()}", json={
        "allocations": {child: {"resources": {A4GB: 1}}}, "consumer_generation": None, "consumer_type": "INSTANCE",
        "project_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4())})
    assert resp.status_code == 409, resp.text  # nothing of 4GB to give


# 6. Discovery runs under the lock.

def test_the_last_writer_wrote_from_the_newest_discovery(node, admin):
    """The one-shot waits for the agent's lock; the namespaces change meanwhile. It must write
    from what the host has once it holds the lock, not from what it saw before waiting."""
    with helpers.held_lock(node.dir / "state"):
        waiting = node.start("reconcile")
        assert waiting.running_after(1.0)
        node.namespaces_file.write_text(helpers.nova_host(system_ram=["ns_2"]))  # ns_2 was onlined as RAM
    results = waiting.finish()
    assert results and results[0].status == 2, results[0].out
    assert "ns_2" in results[0].err and results[0].writes == []
    assert [rp["name"] for rp in admin.tree(admin.root_uuid(node.name))] == [node.name]


def test_handing_pmem_over_to_nova_ends_cleanly(node, admin):
    """nova now reports PMEM and [pmem]namespaces is emptied: ours is removed once free, exit 0."""
    root, child, consumer = first_sync_then_a_guest(node, admin)
    admin.nova_reports(root, {NOVA6GB: {"total": 3}})
    node.configure(pmem={"namespaces": ""})
    assert node.run("reconcile").status == 0
    assert pmem_view(admin, root)[f"{node.name}:pmem"] == {SMALL: (2, 2, 1)}
    admin.free(consumer)
    assert node.run("reconcile").status == 0
    assert [rp["uuid"] for rp in admin.tree(root)] == [root]


# 4 (continued). The remap rule knows which namespaces moved (remembered in the state directory).

def test_a_held_namespace_moved_while_its_old_class_still_fits_is_not_offered(node, admin):
    """SMALL:ns_1|ns_2 with 1 in use, then 4GB:ns_0|ns_1,SMALL:ns_2: SMALL's guest may hold
    ns_1, now under 4GB: 4GB offers 1 of 2 until that guest is gone."""
    root, child, consumer = first_sync_then_a_guest(node, admin)
    result = remap(node, "4GB:ns_0|ns_1,SMALL:ns_2")
    assert pmem_view(admin, root)[f"{node.name}:pmem"] == {A4GB: (2, 1, 0), SMALL: (1, 0, 1)}
    assert f"(1 reserved: it took ns_1 from {SMALL}, whose 1 in use may be there, released once free)" in result.out
    assert_truthful(admin, root, USABLE)
    assert node.run("reconcile").writes == []
    admin.free(consumer)
    assert node.run("reconcile").status == 0
    assert pmem_view(admin, root)[f"{node.name}:pmem"] == {A4GB: (2, 0, 0), SMALL: (1, 0, 0)}


def test_a_label_swap_of_a_held_namespace_is_not_offered(node, admin):
    """4GB:ns_0,SMALL:ns_1 with SMALL in use, then 4GB:ns_1,SMALL:ns_0: the same counts, but
    4GB now has the namespace SMALL's guest holds."""
    node.configure(pmem={"namespaces": "4GB:ns_0,SMALL:ns_1"})
    root, child, consumer = first_sync_then_a_guest(node, admin)
    remap(node, "4GB:ns_1,SMALL:ns_0")
    assert pmem_view(admin, root)[f"{node.name}:pmem"] == {A4GB: (1, 1, 0), SMALL: (1, 0, 1)}
    assert node.run("reconcile").writes == []  # still reserved: the guest may still hold ns_1
    admin.free(consumer)
    assert node.run("reconcile").status == 0
    assert pmem_view(admin, root)[f"{node.name}:pmem"] == {A4GB: (1, 0, 0), SMALL: (1, 0, 0)}


def test_a_class_that_took_no_namespace_reserves_none(node, admin):
    """SMALL (ns_1|ns_2, both in use) is de-configured: 4GB keeps only ns_0, which no SMALL
    guest can hold, so it stays on offer."""
    root, child, consumer = first_sync_then_a_guest(node, admin, {SMALL: 2})
    remap(node, "4GB:ns_0")
    assert pmem_view(admin, root)[f"{node.name}:pmem"] == {A4GB: (1, 0, 0), SMALL: (2, 2, 2)}
    assert admin.allocations(consumer)[child]["resources"] == {SMALL: 2}
    node.configure(pmem={"namespaces": "4GB:ns_0|ns_1"})  # ns_1 comes back, under 4GB
    assert node.run("reconcile").status == 0
    assert pmem_view(admin, root)[f"{node.name}:pmem"] == {A4GB: (2, 1, 0), SMALL: (2, 2, 2)}


def test_the_remap_memory_survives_a_rename(node, admin):
    """A label swap of a held namespace, then the compute node is renamed ([DEFAULT]host
    follows): the reservation stays until the guest is gone."""
    node.configure(pmem={"namespaces": "4GB:ns_0,SMALL:ns_1"})
    root, child, consumer = first_sync_then_a_guest(node, admin)
    node.configure(pmem={"namespaces": "4GB:ns_1,SMALL:ns_0"})
    assert node.run("reconcile").status == 0
    new = f"{node.name}-renamed"
    admin.rename(root, new)
    node.configure(DEFAULT={"host": new})
    assert node.run("reconcile").status == 0
    assert pmem_view(admin, root)[f"{new}:pmem"] == {A4GB: (1, 1, 0), SMALL: (1, 0, 1)}
    admin.free(consumer)
    assert node.run("reconcile").status == 0
    assert pmem_view(admin, root)[f"{new}:pmem"] == {A4GB: (1, 0, 0), SMALL: (1, 0, 0)}


# 1 (continued). Renamed back to the name of a 0.1.0 provider of ours.

def test_renamed_back_to_the_name_of_an_older_provider_of_ours(node, admin):
    """A 0.1.0 provider in use is retired after a rename; renamed back to its name, today's
    provider takes the name (the older one steps aside), and the older one goes once free."""
    root = admin.root_uuid(node.name)
    first = node.name
    old = make_legacy_provider(admin, root, f"{first}:pmem", {A4GB: 1, SMALL: 2})
    consumer = admin.consume(old, {SMALL: 1, A4GB: 1})
    assert node.run("reconcile").status == 0  # adopted
    admin.rename(root, f"{first}-b")
    node.configure(DEFAULT={"host": f"{first}-b"})
    assert node.run("reconcile").status == 0
    admin.rename(root, first)
    node.configure(DEFAULT={"host": first})
    result = node.run("reconcile")
    assert result.status == 0, result.err
    names = {rp["uuid"]: rp["name"] for rp in admin.tree(root)}
    assert names[admin.child_uuid(first)] == f"{first}:pmem"
    assert names[old] == f"{first}-{old[:8]}:pmem"
    assert_truthful(admin, root, USABLE)
    assert node.run("reconcile").writes == []
    admin.free(consumer)
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert sorted(rp["name"] for rp in admin.tree(root)) == [first, f"{first}:pmem"]
    assert pmem_view(admin, root)[f"{first}:pmem"] == {A4GB: (1, 0, 0), SMALL: (2, 0, 0)}


# 4 (edge). Two compute nodes swap their names.

def test_two_compute_nodes_that_swap_names_converge(tmp_path, placement, admin, compute_node):
    names = [compute_node(prefix="swap") for _ in range(2)]
    roots = [admin.root_uuid(n) for n in names]
    nodes = []
    for i, name in enumerate(names):
        nodes.append(Host(tmp_path / str(i), placement, name))
        assert nodes[i].run("reconcile").status == 0
    consumer = admin.consume(admin.child_uuid(names[1]), {SMALL: 1})
    admin.rename(roots[0], "swapping")
    admin.rename(roots[1], names[0])
    admin.rename(roots[0], names[1])
    nodes[0].configure(DEFAULT={"host": names[1]})
    nodes[1].configure(DEFAULT={"host": names[0]})

    first = nodes[0].run("reconcile")
    assert first.status == 1
    assert f"{names[1]}:pmem" in first.err and "swapped names" in first.err and first.err.count("\n") == 1
    for root in roots:
        assert_truthful(admin, root, USABLE)
    assert nodes[1].run("reconcile").status == 0  # the name it wants was freed
    assert nodes[0].run("reconcile").status == 0  # and now this one's is free
    for root, name in zip(roots, [names[1], names[0]]):
        assert sorted(rp["name"] for rp in admin.tree(root)) == [name, f"{name}:pmem"]
        assert_truthful(admin, root, USABLE)
    assert list(admin.allocations(consumer)) == [identity_of(roots[1])]


def identity_of(root):
    from pmem_placement.desired import identity

    return identity(root, "any").uuid


# 2 (continued). The agent, trusting remembered generations, never offers more on their word.

def test_the_agent_creates_nothing_when_a_forked_history_hides_nova_s_pmem(node, admin, placement):
    """The agent remembers the root without PMEM at some generation; the database is restored
    and nova, now reporting PMEM, brings the root back to that generation. A first sync (or any
    write that offers more) reads the other providers again first: nothing is created."""
    now = [1000.0]
    client, reconciler = agent_reconciler(placement, node, now)
    root = admin.root_uuid(node.name)
    admin.call("PUT", f"/resource_classes/{NOVA6GB}")
    empty = HostSpec(node.name, None, {}, frozenset({MANAGED}))
    spec = HostSpec(node.name, None, {A4GB: 1, SMALL: 2}, frozenset({MANAGED}))
    with forked_history(placement):
        admin.nova_reports(root, {"VCPU": {"total": 16}})
        assert reconciler.run(lambda: empty, trust_cache=True).ops == []  # remembers the root
    admin.nova_reports(root, {NOVA6GB: {"total": 3}})  # the remembered generation again
    now[0] += 60
    outcome = None
    try:
        outcome = reconciler.run(lambda: spec, trust_cache=True)
    except Exception as exc:  # noqa: BLE001 - the error is the point
        assert type(exc).__name__ == "Fenced" and "is not created" in str(exc)
    assert outcome is None
    assert [rp["uuid"] for rp in admin.tree(root)] == [root]
    assert_truthful(admin, root, USABLE)


def test_a_child_of_another_service_with_pmem_fences_ours_and_is_named(node, admin):
    assert node.run("reconcile").status == 0
    root = admin.root_uuid(node.name)
    admin.create_child(root, f"{node.name}-cyborg", {"CUSTOM_PMEM_NAMESPACE_X": {"total": 1}})
    result = node.run("reconcile")
    assert result.status == 1
    assert f"provider '{node.name}-cyborg' has CUSTOM_PMEM_NAMESPACE_X" in result.err
    assert "nova" not in result.err
    assert_fenced(admin, root, f"{node.name}:pmem")


def test_the_fence_error_after_a_rename_names_the_provider_as_it_is(node, admin):
    assert node.run("reconcile").status == 0
    root = admin.root_uuid(node.name)
    admin.rename(root, f"{node.name}-b")
    node.configure(DEFAULT={"host": f"{node.name}-b"})
    admin.nova_reports(root, {NOVA6GB: {"total": 3}})
    result = node.run("reconcile")
    assert result.status == 1
    assert f"{node.name}:pmem was fenced" in result.err
    assert_fenced(admin, root, f"{node.name}:pmem")


def test_nova_deleting_the_tree_twice_is_not_another_writer(node, admin):
    """nova deletes a compute node's tree bottom-up (ours first) when its service is deleted,
    then registers it again under the same uuid: twice, with a run after each. A provider that
    is gone is no evidence of a second pmem-placement; no "another writer" warning."""
    root = admin.root_uuid(node.name)
    assert node.run("reconcile").status == 0
    for _ in range(2):
        child = admin.child_uuid(node.name)
        admin.call("DELETE", f"/resource_providers/{child}")
        admin.call("DELETE", f"/resource_providers/{root}")
        admin.call("POST", "/resource_providers", {"name": node.name, "uuid": root})
        result = node.run("reconcile")
        assert result.status == 0, result.err
        assert "another writer" not in result.err
    assert node.run("reconcile").writes == []
