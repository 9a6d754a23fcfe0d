"""`pmem-placement remove`: decommission a host's PMEM provider without losing an allocation."""

import uuid


def test_remove_deletes_a_free_provider(node, admin):
    assert node.run("reconcile").status == 0
    child = admin.child_uuid(node.name)
    dry = node.run("remove", "--dry-run")
    assert dry.status == 3 and dry.writes == []
    assert f"{node.name}:pmem: would be deleted (dry run, nothing written)" in dry.out
    assert admin.provider(child) is not None
    del node.options["pmem"]["namespaces"]  # remove needs no mapping
    result = node.run("remove")
    assert result.status == 0, result.err
    assert f"- resource provider {node.name}:pmem" in result.out
    assert admin.provider(child) is None
    again = node.run("remove")
    assert again.status == 0 and again.writes == []
    assert "no PMEM provider, nothing to remove" in again.out


def test_remove_fences_a_provider_in_use_names_consumers_and_finishes_later(node, admin):
    assert node.run("reconcile").status == 0
    child = admin.child_uuid(node.name)
    consumer = str(uuid.uuid4())
    admin.allocate(consumer, child, {"CUSTOM_PMEM_NAMESPACE_SMALL": 1})
    dry = node.run("remove", "--dry-run")
    assert dry.status == 1 and dry.writes == []
    assert f"  consumer {consumer} holds CUSTOM_PMEM_NAMESPACE_SMALL=1" in dry.out
    assert "would be fenced (dry run, nothing written)" in dry.out
    assert set(admin.inventories(child)) == {"CUSTOM_PMEM_NAMESPACE_4GB", "CUSTOM_PMEM_NAMESPACE_SMALL"}
    result = node.run("remove")
    assert result.status == 1
    assert f"  consumer {consumer} holds CUSTOM_PMEM_NAMESPACE_SMALL=1" in result.out
    assert "still in use by 1 consumer, fenced (reserved = total)" in result.out
    inventories = admin.inventories(child)
    assert list(inventories) == ["CUSTOM_PMEM_NAMESPACE_SMALL"]
    assert inventories["CUSTOM_PMEM_NAMESPACE_SMALL"]["reserved"] == inventories["CUSTOM_PMEM_NAMESPACE_SMALL"]["total"]
    assert admin.allocations(consumer) == {child: {"resources": {"CUSTOM_PMEM_NAMESPACE_SMALL": 1},
                                                   "generation": admin.provider(child)["generation"]}}
    admin.free(consumer)
    result = node.run("remove")
    assert result.status == 0, result.out + result.err
    assert admin.provider(child) is None
