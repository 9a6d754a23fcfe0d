"""Functional tests run against the real openstack-placement, in-process, on a loopback port.

One Placement serves the whole session (it configures its database once per process); each test
gets its own compute node provider, named uniquely, so tests cannot see each other's providers.
"""

import contextlib
import dataclasses
import io
import textwrap
import uuid

import pytest
import requests

from pmem_placement.cmd import cli
from pmem_placement.desired import identity
from pmem_placement.embedded import TOKEN
from pmem_placement.embedded import EmbeddedPlacement
from tests import helpers
from tests.functional.faults import Faults
from tests.functional.faults import Proxy


_faults = Faults()


@pytest.fixture(scope="session")
def placement(tmp_path_factory):
    server = EmbeddedPlacement(str(tmp_path_factory.mktemp("placement")), middleware=_faults)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def faults(placement):
    """Scripted faults in front of the session's Placement; cleared after the test."""
    _faults.reset()
    yield _faults
    _faults.reset()
    if not placement.running:
        placement.start()


@pytest.fixture
def proxy(placement):
    p = Proxy(placement.port)
    yield p
    p.close()


class Admin:
    """Out-of-band access to Placement, as nova or an operator with the CLI would have."""

    def __init__(self, url):
        self.url = url
        self.session = requests.Session()
        self.session.headers.update({"X-Auth-Token": TOKEN, "OpenStack-API-Version": "placement 1.39"})

    def call(self, method, path, json=None, expect=(200, 201, 204)):
        resp = self.session.request(method, self.url + path, json=json)
        assert resp.status_code in expect, (method, path, resp.status_code, resp.text)
        return resp.json() if resp.content else None

    def create_compute_node(self, name, extra_inventory=None):
        """Create a root provider the way nova-compute does."""
        rp_uuid = str(uuid.uuid4())
        self.call("POST", "/resource_providers", {"name": name, "uuid": rp_uuid})
        inventories = {
            "VCPU": {"total": 8, "allocation_ratio": 4.0},
            "MEMORY_MB": {"total": 16384, "reserved": 512},
            "DISK_GB": {"total": 100},
        }
        inventories.update(extra_inventory or {})
        for rc in inventories:
            if rc.startswith("CUSTOM_"):
                self.call("PUT", f"/resource_classes/{rc}")
        gen = self.call("PUT", f"/resource_providers/{rp_uuid}/inventories",
                        {"resource_provider_generation": 0, "inventories": inventories})
        self.call("PUT", f"/resource_providers/{rp_uuid}/traits",
                  {"resource_provider_generation": gen["resource_provider_generation"],
                   "traits": ["COMPUTE_NODE", "OWNER_NOVA"]})
        return rp_uuid

    def root_uuid(self, name):
        [root] = self.call("GET", f"/resource_providers?name={name}")["resource_providers"]
        return root["uuid"]

    def child_uuid(self, name):
        """The uuid pmem-placement derives for the PMEM provider of compute node ``name``."""
        return identity(self.root_uuid(name), name).uuid

    def tree(self, root_uuid):
        return self.call("GET", f"/resource_providers?in_tree={root_uuid}")["resource_providers"]

    def provider(self, rp_uuid):
        """The provider, or None when it does not exist."""
        resp = self.session.get(f"{self.url}/resource_providers/{rp_uuid}")
        assert resp.status_code in (200, 404), resp.text
        return resp.json() if resp.status_code == 200 else None

    def inventories(self, rp_uuid):
        return self.call("GET", f"/resource_providers/{rp_uuid}/inventories")["inventories"]

    def totals(self, rp_uuid):
        return {rc: inv["total"] for rc, inv in self.inventories(rp_uuid).items()}

    def traits(self, rp_uuid):
        return set(self.call("GET", f"/resource_providers/{rp_uuid}/traits")["traits"])

    def allocate(self, consumer, rp_uuid, resources):
        project = user = str(uuid.uuid4())
        body = {"allocations": {rp_uuid: {"resources": resources}}, "project_id": project,
                "user_id": user, "consumer_generation": None, "consumer_type": "INSTANCE"}
        self.call("PUT", f"/allocations/{consumer}", body)

    def allocations(self, consumer):
        return self.call("GET", f"/allocations/{consumer}")["allocations"]

    def free(self, consumer):
        self.call("DELETE", f"/allocations/{consumer}")

    def snapshot(self, root_uuid):
        """Everything observable about a tree, to prove nothing changed."""
        result = {}
        for rp in self.tree(root_uuid):
            rp_uuid = rp["uuid"]
            result[rp_uuid] = (rp["name"], rp["generation"], self.inventories(rp_uuid), self.traits(rp_uuid))
        return result


@pytest.fixture
def admin(placement):
    return Admin(placement.url)


@pytest.fixture
def host(admin):
    """A fresh compute node provider; yields its name."""
    name = f"compute-{uuid.uuid4().hex[:8]}"
    admin.create_compute_node(name)
    return name


@dataclasses.dataclass
class Result:
    status: int
    out: str
    err: str
    requests: list

    @property
    def writes(self):
        return [r for r in self.requests if r[0] != "GET"]


class Host:
    """A compute node's pmem-placement: its config file, namespaces file and state dir."""

    def __init__(self, tmp_path, placement, name):
        self.dir = tmp_path
        self.placement = placement
        self.name = name
        self.namespaces_file = tmp_path / "ndctl.json"
        self.namespaces_file.write_text(helpers.nova_host())
        self.config_file = tmp_path / "pmem-placement.conf"
        self.options = {
            "DEFAULT": {"host": name},
            "pmem": {"namespaces": "4GB:ns_0,SMALL:ns_1|ns_2", "discovery": "file",
                     "namespaces_file": str(self.namespaces_file)},
            "agent": {"state_dir": str(tmp_path / "state")},
            "placement": {"auth_type": "admin_token", "endpoint": placement.url, "token": TOKEN},
        }

    def configure(self, **groups):
        for group, values in groups.items():
            self.options.setdefault(group, {}).update(values)

    def write_config(self):
        text = ""
        for group, values in self.options.items():
            text += f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items() if v is not None)
        self.config_file.write_text(textwrap.dedent(text))
        self.config_file.chmod(0o600)  # it holds the [placement] token

    def run(self, *args):
        self.write_config()
        before = len(self.placement.requests)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(["--config-file", str(self.config_file), *args])
        return Result(status, out.getvalue(), err.getvalue(), self.placement.requests[before:])


@pytest.fixture
def node(tmp_path, placement, host):
    return Host(tmp_path, placement, host)


@pytest.fixture
def agent_lock():
    """``hold(host, mode, mapping_empty)``: this process stands for a running agent of ``host``:
    it holds ``<state_dir>/agent.pid`` as the agent does, and says how it runs; until the test ends."""
    import os

    from pmem_placement import status_file
    from pmem_placement.agent import pidfile

    held = []

    def hold(host, mode="report", mapping_empty=False):
        fd = pidfile.acquire(str(host.options["agent"]["state_dir"]))
        os.pwrite(fd, status_file.pid_file_text(os.getpid(), mode, mapping_empty).encode(), 0)
        held.append(fd)
        return fd
    yield hold
    for fd in held:
        os.close(fd)
