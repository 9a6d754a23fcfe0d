"""Functional tests run against the real openstack-placement, in-process, on a loopback port.

One Placement serves the whole session (it configures its database once per process); each test
gets its own compute node provider, named uniquely, so tests cannot see each other's providers.

Shared set-ups live here: ``Admin`` (Placement as nova or an operator changes it), ``Host`` (a
compute node's pmem-placement: runs, its agent in this process), ``NovaNode`` (nova reporting
PMEM itself, for audit mode), and what a run sent or said.
"""

import contextlib
import dataclasses
import io
import json
import textwrap
import threading
import uuid

import pytest
import requests
from oslo_config import cfg

from pmem_placement import conf as conf_mod
from pmem_placement.agent.cycle import Agent
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

    def create_child(self, root_uuid, name, inventories, rp_uuid=None, traits=()):
        """A child provider of ``root_uuid`` with these inventories and traits, as another service or
        an older pmem-placement leaves one; its resource classes and traits are created. Its uuid."""
        rp_uuid = rp_uuid or str(uuid.uuid4())
        self.call("POST", "/resource_providers", {"name": name, "uuid": rp_uuid, "parent_provider_uuid": root_uuid})
        generation = 0
        if traits:
            for trait in traits:
                self.call("PUT", f"/traits/{trait}")
            generation = self.call("PUT", f"/resource_providers/{rp_uuid}/traits",
                                   {"resource_provider_generation": generation,
                                    "traits": list(traits)})["resource_provider_generation"]
        if inventories:
            for rc in inventories:
                self.call("PUT", f"/resource_classes/{rc}")
            self.call("PUT", f"/resource_providers/{rp_uuid}/inventories",
                      {"resource_provider_generation": generation, "inventories": inventories})
        return rp_uuid

    def rename(self, rp_uuid, name):
        self.call("PUT", f"/resource_providers/{rp_uuid}", {"name": name})

    def edit_total(self, rp_uuid, rc, total):
        """An out-of-band edit (an operator, another writer): the class's total and max_unit set to ``total``."""
        inv = self.call("GET", f"/resource_providers/{rp_uuid}/inventories")
        self.call("PUT", f"/resource_providers/{rp_uuid}/inventories/{rc}",
                  {"resource_provider_generation": inv["resource_provider_generation"],
                   "total": total, "max_unit": total})

    def nova_reports(self, root_uuid, inventory):
        """nova-compute rewrites the root's whole inventory, with its PMEM classes or without."""
        for rc in inventory:
            if rc.startswith("CUSTOM_"):
                self.call("PUT", f"/resource_classes/{rc}")
        current = self.call("GET", f"/resource_providers/{root_uuid}/inventories")
        base = {rc: inv for rc, inv in current["inventories"].items() if not rc.startswith("CUSTOM_PMEM")}
        self.call("PUT", f"/resource_providers/{root_uuid}/inventories",
                  {"resource_provider_generation": current["resource_provider_generation"],
                   "inventories": {**base, **inventory}})

    def allocate(self, consumer, rp_uuid, resources, consumer_type="INSTANCE"):
        project = user = str(uuid.uuid4())
        body = {"allocations": {rp_uuid: {"resources": resources}}, "project_id": project,
                "user_id": user, "consumer_generation": None, "consumer_type": consumer_type}
        self.call("PUT", f"/allocations/{consumer}", body)

    def consume(self, rp_uuid, resources, consumer_type="INSTANCE"):
        """A new consumer (an instance unless told) allocates ``resources`` from the provider; its uuid."""
        consumer = str(uuid.uuid4())
        self.allocate(consumer, rp_uuid, resources, consumer_type)
        return consumer

    def guest_on(self, name, resources):
        """A guest allocates ``resources`` from the PMEM provider of compute node ``name``:
        (the provider's uuid, the guest's consumer)."""
        child = self.child_uuid(name)
        return child, self.consume(child, resources)

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
def compute_node(admin):
    """``compute_node(extra_inventory=None, prefix="compute")`` creates a fresh compute node
    provider (``extra_inventory`` on its root, as nova reports it) and returns its name."""
    def create(extra_inventory=None, prefix="compute"):
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        admin.create_compute_node(name, extra_inventory)
        return name
    return create


@pytest.fixture
def host(compute_node):
    """A fresh compute node provider; yields its name."""
    return compute_node()


def requests_from_now(placement):
    """A function giving the requests (method, path) Placement has received since this call, in order."""
    start = len(placement.requests)
    return lambda: placement.requests[start:]


def requests_sent_by(client):
    """A function giving how many requests a pmem_placement Client has sent since this call."""
    start = sum(client.requests.values())
    return lambda: sum(client.requests.values()) - start


def writes(requests):
    return [r for r in requests if r[0] != "GET"]


def one_line(result):
    """The run's error, which must be one line and no traceback."""
    assert result.err.startswith("pmem-placement: error: ") and result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err
    return result.err


@dataclasses.dataclass
class Result:
    status: int
    out: str
    err: str
    requests: list

    @property
    def writes(self):
        return writes(self.requests)


class Started:
    """A run in a thread of its own, for a run that waits (for the state directory's lock, say)."""

    def __init__(self, run, *args):
        self.results = []
        self._thread = threading.Thread(target=lambda: self.results.append(run(*args)))
        self._thread.start()

    def running_after(self, seconds):
        """Whether the run still goes on after waiting up to ``seconds`` more for it."""
        self._thread.join(timeout=seconds)
        return self._thread.is_alive()

    def finish(self, timeout=30):
        """``[its Result]`` once the run has ended; ``[]`` if it has not within ``timeout`` s."""
        self._thread.join(timeout=timeout)
        return self.results


class Host:
    """A compute node's pmem-placement: its config file, namespaces file and state dir, in
    ``tmp_path`` (created if need be)."""

    def __init__(self, tmp_path, placement, name):
        tmp_path.mkdir(parents=True, exist_ok=True)
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
        return self.run_as_written(*args)

    def run_as_written(self, *args):
        """``run`` on the configuration file as it is now (``run`` writes it first, mode 0600 included)."""
        sent = requests_from_now(self.placement)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(["--config-file", str(self.config_file), *args])
        return Result(status, out.getvalue(), err.getvalue(), sent())

    def start(self, *args):
        """``run(*args)``, started in a thread of its own (``Started``)."""
        return Started(self.run, *args)

    def conf(self):
        """The configuration files, written, then parsed as pmem-placement and its agent parse them."""
        self.write_config()
        conf = cfg.ConfigOpts()
        conf_mod.register_opts(conf)
        conf(["--config-file", str(self.config_file)])
        return conf

    def agent(self):
        """This host's agent, in this process, on the configuration files: one cycle per ``cycle()``."""
        return Agent(self.conf())


@pytest.fixture
def node(tmp_path, placement, host):
    return Host(tmp_path, placement, host)


def refused_writing_nothing(node, admin):
    """A reconcile that must exit 1 having written nothing, Placement's view of the compute node's
    tree unchanged: its Result."""
    root = admin.root_uuid(node.name)
    before = admin.snapshot(root)
    result = node.run("reconcile")
    assert result.status == 1
    assert result.writes == [] and admin.snapshot(root) == before
    return result


def check_lines(result):
    """``pmem-placement check``'s lines by the name of their check."""
    return {line.split(":", 1)[0].split(None, 1)[1]: line for line in result.out.splitlines()}


NOVA_CONF = "[libvirt]\npmem_namespaces = 4GB:ns_0,SMALL:ns_1|ns_2\n"


def vpmem_inventory(**totals):
    """What nova's _update_provider_tree_for_vpmems puts on the root."""
    return {rc: {"total": n, "reserved": 0, "min_unit": 1, "max_unit": n, "step_size": 1, "allocation_ratio": 1.0}
            for rc, n in totals.items()}


class NovaNode(Host):
    """A compute node where nova reports vPMEM itself (``inventory`` on its root, from NOVA_CONF in
    its nova.conf) and pmem-placement reports nothing: the host ``pmem-placement audit`` checks."""

    def __init__(self, tmp_path, placement, admin, inventory):
        name = f"compute-{uuid.uuid4().hex[:8]}"
        self.root = admin.create_compute_node(name, vpmem_inventory(**inventory))
        super().__init__(tmp_path, placement, name)
        self.configure(pmem={"namespaces": ""})
        self.nova_conf = tmp_path / "nova.conf"
        self.nova_conf.write_text(NOVA_CONF)

    def audit(self, *args):
        result = self.run("audit", "--format", "json", "--nova-config", str(self.nova_conf), *args)
        assert result.writes == []  # never a write to Placement
        data = json.loads(result.out)
        assert list(data) == ["status", "host", "compute_node", "findings", "error"]
        return result, data

    def audit_mode(self, **pmem):
        """[pmem]mode = audit on this node's nova.conf, with any other [pmem] options given."""
        self.configure(pmem={"mode": "audit", "nova_config": str(self.nova_conf), **pmem})

    def audit_agent(self, **pmem):
        """This node's agent in [pmem]mode = audit (``audit_mode``), in this process."""
        self.audit_mode(**pmem)
        return self.agent()


@pytest.fixture
def nova(tmp_path, placement, admin):
    """A NovaNode whose nova reports CUSTOM_PMEM_NAMESPACE_4GB: 1 and CUSTOM_PMEM_NAMESPACE_SMALL: 2."""
    return NovaNode(tmp_path, placement, admin, {"CUSTOM_PMEM_NAMESPACE_4GB": 1, "CUSTOM_PMEM_NAMESPACE_SMALL": 2})


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
