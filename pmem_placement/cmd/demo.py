"""``pmem-placement demo``: the product working end to end, on any machine, in seconds.

Starts a real openstack-placement in-process (sqlite in a temporary directory, noauth2, a
loopback port), creates a compute node provider the way nova-compute does, and runs the real
``pmem-placement reconcile`` and ``show`` commands against it with namespaces read from real
ndctl output (``etc/demo/ndctl-list.json``, captured from emulated NVDIMMs). Then it remaps one
namespace and shows the plan and the new tree. Everything is removed on exit.
"""

import pathlib
import sys
import tempfile
import typing
import uuid

from pmem_placement import desired

HOST = "demo-compute-1"
FIRST = "BIG:6GB,SMALL:ns_small|name with spaces"
SECOND = "BIG:6GB|ns_small,SMALL:name with spaces"


def ndctl_sample() -> pathlib.Path:
    """The demo's ndctl output, as installed (``pmem_placement.installed``)."""
    from pmem_placement import installed

    return installed.path("pmem-placement/demo/ndctl-list.json")


def _say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def create_compute_node(client: typing.Any, name: str) -> str:
    """A root provider as nova-compute makes it: VCPU, MEMORY_MB, DISK_GB and nova's traits."""
    rp_uuid = str(uuid.uuid4())
    gen = client.create_provider(name, rp_uuid, None)
    inventories = {
        "VCPU": desired.Inventory(total=32, max_unit=32, allocation_ratio=4.0),
        "MEMORY_MB": desired.Inventory(total=196608, reserved=512, max_unit=196608),
        "DISK_GB": desired.Inventory(total=900, max_unit=900),
    }
    gen = client.set_inventories(rp_uuid, gen, inventories)
    client.set_traits(rp_uuid, gen, ["COMPUTE_NODE", "OWNER_NOVA"])
    return rp_uuid


def render_tree(client: typing.Any, root_uuid: str) -> str:
    """Providers, inventories and traits of a tree, root first, children indented."""
    providers = client.tree(root_uuid)
    by_parent: dict[str | None, list[dict[str, typing.Any]]] = {}
    for rp in providers:
        by_parent.setdefault(rp["parent_provider_uuid"], []).append(rp)
    lines: list[str] = []

    def walk(rp: dict[str, typing.Any], depth: int) -> None:
        pad = "    " * depth
        lines.append(f"{pad}{rp['name']}  (uuid {rp['uuid']}, generation {rp['generation']})")
        _, inventories = client.inventories(rp["uuid"])
        _, usages = client.usages(rp["uuid"])
        for rc, inv in sorted(inventories.items()):
            lines.append(
                f"{pad}    {rc:<30} total {inv.total:>6}  reserved {inv.reserved:>4}  "
                f"used {usages.get(rc, 0):>3}  max_unit {inv.max_unit}"
            )
        _, traits = client.traits(rp["uuid"])
        lines.append(f"{pad}    traits: {', '.join(sorted(traits)) or '-'}")
        for child in sorted(by_parent.get(rp["uuid"], []), key=lambda c: c["name"]):
            walk(child, depth + 1)

    for root in by_parent.get(None, []):
        walk(root, 0)
    return "\n".join(lines)


def _write_config(path: pathlib.Path, url: str, state_dir: pathlib.Path, namespaces: str) -> None:
    from pmem_placement.embedded import TOKEN

    path.write_text(
        f"[DEFAULT]\nhost = {HOST}\n\n"
        f"[pmem]\nnamespaces = {namespaces}\ndiscovery = file\nnamespaces_file = {ndctl_sample()}\n\n"
        f"[agent]\nstate_dir = {state_dir}\n\n"
        f"[placement]\nauth_type = admin_token\nendpoint = {url}\ntoken = {TOKEN}\n"
    )
    path.chmod(0o600)  # it holds the token


def run(main: typing.Callable[[list[str]], int]) -> int:
    """The demo, running the commands through ``main`` (``cmd.cli.main``)."""
    try:
        import placement  # noqa: F401  (openstack-placement, the demo extra)
    except ImportError:
        print("pmem-placement: error: the demo needs openstack-placement, which is not installed: "
              "pip install 'pmem-placement[demo]'", file=sys.stderr)
        return 2
    from pmem_placement.embedded import EmbeddedPlacement
    from oslo_config import cfg

    from pmem_placement import conf as conf_mod
    from pmem_placement import wiring

    with tempfile.TemporaryDirectory(prefix="pmem-placement-demo-") as tmp:
        work = pathlib.Path(tmp)
        config = work / "pmem-placement.conf"
        _say("Starting a real Placement (openstack-placement, sqlite, noauth2) on loopback")
        with EmbeddedPlacement(tmp) as placement:
            print(f"   {placement.url}")
            _write_config(config, placement.url, work / "state", FIRST)
            conf = cfg.ConfigOpts()
            conf_mod.register_opts(conf)
            conf(["--config-file", str(config)], project="pmem-placement-demo", default_config_files=[])
            observer = wiring.client(conf)

            _say(f"Creating compute node provider {HOST!r} the way nova-compute does")
            root_uuid = create_compute_node(observer, HOST)
            print(render_tree(observer, root_uuid))

            argv = ["--config-file", str(config)]
            _say(f"pmem-placement show   ([pmem]namespaces = {FIRST}; namespaces from {ndctl_sample().name})")
            main([*argv, "show"])

            def reconcile_and_show() -> int:
                _say("pmem-placement reconcile")
                status = main([*argv, "reconcile"])
                if status == 0:
                    _say("Placement now holds")
                    print(render_tree(observer, root_uuid))
                return status

            if reconcile_and_show() != 0:
                return 1
            _say("pmem-placement reconcile   (again: read in full, nothing to change, nothing written)")
            main([*argv, "reconcile"])

            _say(f"The operator remaps one namespace: [pmem]namespaces = {SECOND}")
            _write_config(config, placement.url, work / "state", SECOND)
            _say("pmem-placement reconcile --dry-run")
            main([*argv, "reconcile", "--dry-run"])
            if reconcile_and_show() != 0:
                return 1
        _say("Done: the embedded Placement is stopped and its temporary files removed")
    return 0
