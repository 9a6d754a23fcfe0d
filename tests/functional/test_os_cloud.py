"""`--os-cloud` / OS_CLOUD: clouds.yaml instead of [placement], for workstations and config management."""

import json

import pytest

from pmem_placement.embedded import TOKEN


@pytest.fixture
def clouds_yaml(tmp_path, placement, monkeypatch):
    path = tmp_path / "clouds.yaml"
    path.write_text(
        "clouds:\n"
        "  lab:\n"
        "    auth_type: admin_token\n"
        f"    auth:\n      endpoint: {placement.url}\n      token: {TOKEN}\n"
        "    region_name: RegionOne\n"
    )
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    return path


def without_placement_section(node):
    node.options["placement"] = {}


def test_os_cloud_option(node, admin, clouds_yaml):
    without_placement_section(node)
    result = node.run("--os-cloud", "lab", "reconcile")
    assert result.status == 0, result.err
    [root] = admin.call("GET", f"/resource_providers?name={node.name}")["resource_providers"]
    assert [rp["name"] for rp in admin.tree(root["uuid"])] == [node.name, f"{node.name}:pmem"]
    data = json.loads(node.run("--os-cloud", "lab", "show", "--format", "json").out)
    assert data["placement"]["classes"]["CUSTOM_PMEM_NAMESPACE_SMALL"]["total"] == 2


def test_os_cloud_environment_variable(node, clouds_yaml, monkeypatch):
    without_placement_section(node)
    monkeypatch.setenv("OS_CLOUD", "lab")
    assert node.run("reconcile").status == 0


def test_unknown_cloud_is_a_configuration_error(node, clouds_yaml):
    result = node.run("--os-cloud", "nowhere", "reconcile")
    assert result.status == 2
    assert result.err.startswith("pmem-placement: error: --os-cloud nowhere: Cloud nowhere was not found")
    assert result.requests == []


def test_os_cloud_after_the_subcommand(node, clouds_yaml):
    without_placement_section(node)
    result = node.run("reconcile", "--os-cloud", "lab", "--dry-run")
    assert result.status == 3, result.err
