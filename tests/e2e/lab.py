"""What every scenario uses: the guest, the real Placement on the host, and the product's commands.

The product is used only as an operator would: its console scripts (``pmem-placement``,
``pmem-placement-agent``) from the checkout's .venv, run in the guest against the guest's kernel,
with configuration files. Placement is read and written here on the host, out of band, the way
nova or an operator with the CLI would.
"""

import dataclasses
import json
import os
import shlex
import typing
import uuid

import requests

from pmem_placement.embedded import TOKEN
from tests.e2e import machine

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PP = os.path.join(CHECKOUT, ".venv", "bin", "pmem-placement")
AGENT = os.path.join(CHECKOUT, ".venv", "bin", "pmem-placement-agent")
NOBODY = "65534"
PMEM_PREFIX = "CUSTOM_PMEM_NAMESPACE_"
# What must be the same whichever backend discovered a namespace (``show --format json``'s keys).
# Not align (ndctl run without root does not print it, sysfs always has it) nor health_notes (what
# each backend says about the signals it cannot read).
AGREED_FIELDS = ("dev", "name", "mode", "size", "chardev", "numa_node", "target_node", "region", "bus_provider",
                 "health", "health_reasons", "status")
ADMIN_TIMEOUT = 60  # seconds for one request of the host's own to Placement


class Failed(AssertionError):
    """A scenario's check failed; the message is the one line printed after FAIL."""


def check(condition: object, message: str) -> None:
    if not condition:
        raise Failed(message)


class Admin:
    """Out-of-band access to the real Placement on the host's loopback."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers.update({"X-Auth-Token": TOKEN, "OpenStack-API-Version": "placement 1.39"})

    def call(self, method: str, path: str, body: typing.Any = None, expect: tuple[int, ...] = (200, 201, 204)) -> typing.Any:
        try:
            resp = self.session.request(method, self.url + path, json=body, timeout=ADMIN_TIMEOUT)
        except requests.RequestException as exc:
            raise Failed(f"Placement {method} {path}: {type(exc).__name__}: {exc}") from None
        if resp.status_code not in expect:
            raise Failed(f"Placement {method} {path}: {resp.status_code} {resp.text[:200]}")
        return resp.json() if resp.content else None

    def create_compute_node(self, name: str) -> str:
        """A root provider, as nova-compute creates it."""
        rp_uuid = str(uuid.uuid4())
        self.call("POST", "/resource_providers", {"name": name, "uuid": rp_uuid})
        inventories = {"VCPU": {"total": 2}, "MEMORY_MB": {"total": 2048}, "DISK_GB": {"total": 10}}
        gen = self.call("PUT", f"/resource_providers/{rp_uuid}/inventories",
                        {"resource_provider_generation": 0, "inventories": inventories})
        self.call("PUT", f"/resource_providers/{rp_uuid}/traits",
                  {"resource_provider_generation": gen["resource_provider_generation"],
                   "traits": ["COMPUTE_NODE"]})
        return rp_uuid

    def tree(self, root_uuid: str) -> list[dict[str, typing.Any]]:
        return self.call("GET", f"/resource_providers?in_tree={root_uuid}")["resource_providers"]

    def snapshot(self, root_uuid: str) -> dict[str, typing.Any]:
        """Everything observable about a tree, to prove that nothing was written."""
        result = {}
        for rp in self.tree(root_uuid):
            u = rp["uuid"]
            result[u] = (rp["name"], rp["generation"], self.call("GET", f"/resource_providers/{u}/inventories"),
                         self.call("GET", f"/resource_providers/{u}/traits")["traits"],
                         self.call("GET", f"/resource_providers/{u}/usages")["usages"])
        return result

    def pmem_providers(self, root_uuid: str) -> list[dict[str, typing.Any]]:
        return [rp for rp in self.tree(root_uuid) if rp["uuid"] != root_uuid]

    def classes(self, rp_uuid: str) -> dict[str, dict[str, int]]:
        """Resource class -> total, reserved, used, for the PMEM classes of one provider."""
        inventories = self.call("GET", f"/resource_providers/{rp_uuid}/inventories")["inventories"]
        usages = self.call("GET", f"/resource_providers/{rp_uuid}/usages")["usages"]
        return {rc: {"total": inv["total"], "reserved": inv["reserved"], "used": usages.get(rc, 0)}
                for rc, inv in inventories.items() if rc.startswith(PMEM_PREFIX)}

    def traits(self, rp_uuid: str) -> set[str]:
        return set(self.call("GET", f"/resource_providers/{rp_uuid}/traits")["traits"])

    def allocate(self, consumer: str, rp_uuid: str, resources: dict[str, int]) -> None:
        body = {"allocations": {rp_uuid: {"resources": resources}}, "project_id": str(uuid.uuid4()),
                "user_id": str(uuid.uuid4()), "consumer_generation": None, "consumer_type": "INSTANCE"}
        self.call("PUT", f"/allocations/{consumer}", body)

    def allocations(self, consumer: str) -> dict[str, typing.Any]:
        return self.call("GET", f"/allocations/{consumer}")["allocations"]

    def held(self, consumer: str) -> dict[str, dict[str, int]]:
        """Provider uuid -> what ``consumer`` holds there (without the providers' generations)."""
        return {rp: alloc["resources"] for rp, alloc in self.allocations(consumer).items()}

    def set_inventory(self, rp_uuid: str, rc: str, total: int | None) -> None:
        """Add or change (``total``) or remove (None) one class of a provider's inventory, the rest
        kept: as nova's resource tracker reports its own PMEM classes on the compute node."""
        current = self.call("GET", f"/resource_providers/{rp_uuid}/inventories")
        inventories = current["inventories"]
        if total is None:
            inventories.pop(rc, None)
        else:
            self.call("PUT", f"/resource_classes/{rc}")
            inventories[rc] = {"total": total, "max_unit": total}
        self.call("PUT", f"/resource_providers/{rp_uuid}/inventories",
                  {"resource_provider_generation": current["resource_provider_generation"],
                   "inventories": inventories})


@dataclasses.dataclass
class Run:
    """One product command in the guest."""

    label: str
    result: machine.Result

    @property
    def rc(self) -> int:
        return self.result.rc

    @property
    def json(self) -> typing.Any:
        try:
            return json.loads(self.result.out)
        except ValueError:
            raise Failed(f"{self.label}: stdout is not JSON ({self.result})") from None

    def expect(self, rc: int) -> "Run":
        check(self.rc == rc, f"{self.label}: expected exit {rc}, got {self.result}")
        check("Traceback" not in self.result.err, f"{self.label}: a traceback on stderr ({self.result})")
        return self

    def error_line(self) -> str:
        lines = [line for line in self.result.err.splitlines() if "pmem-placement: error:" in line]
        check(len(lines) == 1, f"{self.label}: expected one error line, stderr was {self.result.err!r}")
        return lines[0]


class Lab:
    def __init__(self, guest: machine.Machine, admin: Admin, host: str, root_uuid: str) -> None:
        self.guest = guest
        self.admin = admin
        self.host = host
        self.root_uuid = root_uuid
        self.captures: dict[str, str] = {}
        self.keep_captures = False
        """Whether the captures are written at the end (run.py --save-captures): the costly ones
        (``capture_sysfs``) are taken only then."""
        self.state_dir: str | None = None
        """When set, every configuration's [agent]state_dir: one memory for the host's runs (see
        ``config``)."""

    # -- the guest, as root outside the chroot (ndctl, daxctl, busybox) ------------------------
    def sh(self, script: str, timeout: float = 300) -> machine.Result:
        result = self.guest.run(script, timeout)
        # What each guest command cost, for the docs' figures and a slow run's post-mortem.
        with open(os.path.join(self.guest.work, "commands.log"), "a") as f:
            f.write(f"{result.seconds:6.1f} s  exit {result.rc:3d}  {' '.join(script.split())[:300]}\n")
        return result

    def ok(self, script: str) -> str:
        result = self.sh(script)
        what = script.strip().splitlines()[0][:100] if "\n" not in script.strip() else "a guest script"
        check(result.rc == 0, f"{what!r} in the guest: {result}")
        return result.out

    def ndctl_json(self, args: str) -> typing.Any:
        out = self.ok(f"ndctl {args}")
        return json.loads(out) if out.strip() else []

    def dev_of(self, name: str) -> str:
        """The kernel device (namespaceX.Y) of the namespace called ``name``."""
        for ns in self.ndctl_json("list -N -i"):
            if ns.get("name") == name:
                return str(ns["dev"])
        raise Failed(f"no namespace named {name!r} in the guest")

    # -- the product, in the chroot ---------------------------------------------------------------
    def config(self, name: str, discovery: str, namespaces: str, *, owner: int = 0,
               **groups: typing.Any) -> str:
        """Write a configuration file into the exchange directory; its path in the chroot.

        ``groups``: option group -> {option: value}, added to or replacing the defaults.
        Each configuration has its own state directory in the guest's /run (gone at a reboot),
        unless ``state_dir`` is set: a state directory the runs share, as the runs on a real host
        share /var/lib/pmem-placement. A state directory that does not know what each class had
        while consumers hold PMEM starts the fail-safe (docs/guarantees.md), which withholds units.
        """
        options: dict[str, dict[str, str]] = {
            "DEFAULT": {"host": self.host},
            "pmem": {"namespaces": namespaces, "discovery": discovery},
            "agent": {"state_dir": self.state_dir or f"/run/state-{name}"},
            "placement": {"auth_type": "admin_token", "endpoint": machine.PLACEMENT_IN_GUEST,
                          "token": TOKEN, "timeout": "30"},
        }
        for group, values in groups.items():
            options.setdefault(group, {}).update(values)
        text = "".join(f"[{g}]\n" + "".join(f"{k} = {v}\n" for k, v in vals.items()) for g, vals in options.items())
        path = self.guest.write(f"{name}.conf", text)
        local = os.path.join(self.guest.xchg, f"{name}.conf")
        os.chmod(local, 0o600)  # it holds the [placement] token
        os.chown(local, owner, owner)
        return path

    def product(self, argv: list[str], user: str | None = None, path: str | None = None) -> str:
        return machine.chroot(argv, user, path)

    def pp(self, label: str, conf: str, *args: str, user: str | None = None) -> Run:
        return Run(label, self.sh(self.product([PP, "--config-file", conf, *args], user)))

    def parallel(self, commands: dict[str, str], timeout: float = 600) -> dict[str, Run]:
        """Run guest commands at the same time (the guest has two CPUs); label -> Run.

        Each command's files are removed first, and each ``.rc`` must carry this call's nonce: a
        result is never read from an earlier call, nor made up for a command the guest never ran.
        """
        nonce = uuid.uuid4().hex
        script = ""
        for i, command in enumerate(commands.values()):
            for ext in ("rc", "out", "err"):
                try:
                    os.remove(os.path.join(self.guest.xchg, f"p{i}.{ext}"))
                except FileNotFoundError:
                    pass
            script += (f"( ( {command} ) > /xchg/p{i}.out 2> /xchg/p{i}.err; "
                       f"echo \"$? {nonce}\" > /xchg/p{i}.rc ) &\n")
        script += "wait\n"
        wrapper = self.sh(script, timeout)
        check(wrapper.rc == 0, f"the guest did not run the commands: {wrapper}")
        runs = {}
        for i, label in enumerate(commands):
            text = self.guest.file(f"p{i}.rc").strip()
            rc, _, mark = text.partition(" ")
            check(mark == nonce and rc.isdigit(), f"{label}: the guest did not run it (p{i}.rc: {text or 'none'!r})")
            result = machine.Result(int(rc), self.guest.file(f"p{i}.out"), self.guest.file(f"p{i}.err"), wrapper.seconds)
            runs[label] = Run(label, result)
        return runs

    def both(self, name: str, namespaces: str, *args: str, user: str | None = None,
             **groups: dict[str, str]) -> tuple[Run, Run]:
        """The same command with discovery = ndctl and discovery = sysfs, at the same time."""
        owner = int(user) if user else 0
        confs = {d: self.config(f"{name}-{d}", d, namespaces, owner=owner, **groups) for d in ("ndctl", "sysfs")}
        runs = self.parallel({f"{' '.join(args[:1])} ({d}{', uid ' + user if user else ''})":
                              self.product([PP, "--config-file", confs[d], *args], user) for d in confs})
        ndctl_run, sysfs_run = runs.values()
        return ndctl_run, sysfs_run

    def shows_agree(self, name: str, namespaces: str, user: str | None = None) -> list[dict[str, typing.Any]]:
        """``show --format json`` with both discoveries: the same namespaces, field by field."""
        by_ndctl, by_sysfs = self.both(name, namespaces, "show", "--format", "json", user=user)
        return self.compare_shows(by_ndctl, by_sysfs)

    @staticmethod
    def compare_shows(by_ndctl: Run, by_sysfs: Run) -> list[dict[str, typing.Any]]:
        """Two ``show --format json`` runs, by ndctl and by sysfs: their AGREED_FIELDS, the same."""
        by_ndctl.expect(0)
        by_sysfs.expect(0)
        a, b = by_ndctl.json["namespaces"], by_sysfs.json["namespaces"]
        view = [{k: ns[k] for k in AGREED_FIELDS} for ns in a]
        other = [{k: ns[k] for k in AGREED_FIELDS} for ns in b]
        check(view == other, f"show: ndctl and sysfs disagree: {_diff(view, other)}")
        check(by_ndctl.json["missing"] == by_sysfs.json["missing"],
              f"show: missing {by_ndctl.json['missing']} (ndctl) != {by_sysfs.json['missing']} (sysfs)")
        return view

    # -- Placement ----------------------------------------------------------------------------------
    def provider(self) -> dict[str, typing.Any]:
        providers = self.admin.pmem_providers(self.root_uuid)
        check(len(providers) == 1, f"expected one PMEM provider, Placement has {[p['name'] for p in providers]}")
        return providers[0]

    def classes(self) -> dict[str, dict[str, int]]:
        return self.admin.classes(self.provider()["uuid"])

    def totals(self) -> dict[str, int]:
        return {rc.removeprefix(PMEM_PREFIX): inv["total"] for rc, inv in self.classes().items()}

    def invariant(self, usable_configured: int) -> None:
        """sum(max(used, total - reserved)) <= usable configured namespaces; one provider offers."""
        offering, held = [], 0
        for rp in self.admin.tree(self.root_uuid):
            classes = self.admin.classes(rp["uuid"])
            held += sum(max(c["used"], c["total"] - c["reserved"]) for c in classes.values())
            if any(c["total"] > c["reserved"] for c in classes.values()):
                offering.append(rp["name"])
        check(held <= usable_configured,
              f"invariant broken: Placement holds or offers {held} units for {usable_configured} usable namespaces")
        check(len(offering) <= 1, f"invariant broken: more than one provider offers PMEM: {offering}")

    def sysfs_dump(self) -> str:
        with open(os.path.join(machine.HERE, "guest", "dump-sysfs.sh")) as f:
            return self.ok(f.read())

    def capture(self, name: str, text: str) -> None:
        """Keep a real output for tests/e2e/captured/ (written at the end of the run)."""
        self.captures[name] = text

    def capture_sysfs(self, name: str) -> None:
        """A sysfs dump for tests/e2e/captured/, taken only when the captures are kept: the dump
        script costs 20 to 40 s under TCG."""
        if self.keep_captures:
            self.capture(name, self.sysfs_dump())


def _diff(a: list[dict[str, typing.Any]], b: list[dict[str, typing.Any]]) -> str:
    if len(a) != len(b):
        return f"{len(a)} namespaces by ndctl, {len(b)} by sysfs"
    for x, y in zip(a, b):
        if x != y:
            keys = [k for k in x if x[k] != y.get(k)]
            return f"{x['dev']}: " + ", ".join(f"{k} {x[k]!r} != {y.get(k)!r}" for k in keys)
    return "?"


def quote(text: str) -> str:
    return shlex.quote(text)
