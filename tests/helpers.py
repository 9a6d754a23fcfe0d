"""Test data builders and set-ups shared by unit and functional tests."""

import contextlib
import copy
import fcntl
import json
import os
import pathlib
import typing

from keystoneauth1 import adapter
from keystoneauth1 import session
from keystoneauth1 import token_endpoint

from pmem_placement.placement.client import Client

DATA = pathlib.Path(__file__).parent / "data"
NDCTL = DATA / "ndctl"
SAMPLES = sorted(NDCTL.glob("*.json"))


def sample(name: str) -> str:
    return (NDCTL / name).read_text()


def _devdax_template() -> dict[str, typing.Any]:
    for record in json.loads(sample("v81-list-X.json")):
        if record.get("name") == "ns_small":
            return record
    raise AssertionError("sample changed")


def devdax(name: str | None, dev: str, chardev: str | None = None, **extra: typing.Any) -> dict[str, typing.Any]:
    """A devdax namespace record shaped exactly like real ndctl v81 output."""
    record = copy.deepcopy(_devdax_template())
    record["dev"] = dev
    record["daxregion"]["devices"][0]["chardev"] = chardev or dev.replace("namespace", "dax")
    if name is None:
        del record["name"]
    else:
        record["name"] = name
    record.update(extra)
    return record


def nova_host(names: typing.Iterable[str] = ("ns_0", "ns_1", "ns_2"), system_ram: typing.Container[str] = ()) -> str:
    """ndctl list output for nova's functional-test host: named devdax namespaces; the dax device
    of those in ``system_ram`` onlined as system RAM (daxctl reconfigure-device)."""
    records = [devdax(n, f"namespace0.{i}") for i, n in enumerate(names)]
    for record in records:
        if record["name"] in system_ram:
            record["daxregion"]["devices"][0]["mode"] = "system-ram"
    return json.dumps(records, indent=2)


def materialize_sysfs(dump: pathlib.Path, root: pathlib.Path) -> pathlib.Path:
    """Rebuild the sysfs tree of a dump (``path=value|`` lines, ``path -> target`` links) under root.

    Files under a symlinked directory (driver/, subsystem/) are skipped: the link is what
    matters. Absolute link targets are re-rooted under ``root``.
    """
    lines = dump.read_text().splitlines()
    links: list[tuple[str, str]] = []
    files: list[tuple[str, str]] = []
    for line in lines:
        if line.startswith("===") or not line.strip():
            continue
        if line.startswith("## "):
            path, _, target = line[3:].partition(" -> ")
            links.append((path, target))
        elif " -> " in line and "=" not in line.split(" -> ")[0]:
            path, _, target = line.partition(" -> ")
            links.append((path, target))
        else:
            path, _, value = line.partition("=")
            files.append((path, value.replace("|", "\n")))
    link_paths = {p for p, _ in links}
    for path, value in files:
        if any(path.startswith(lp + "/") for lp in link_paths if not lp.startswith("/sys/bus")):
            continue
        dest = root / path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(value)
    for path, target in links:
        dest = root / path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if target.startswith("/"):
            target = str(root / target.lstrip("/"))
        if not os.path.lexists(dest):
            os.symlink(target, dest)
    return root / "sys"


def placement_client(url: str, token: str, **kwargs: typing.Any) -> Client:
    """pmem_placement's Placement client on a static token (the admin_token auth type) at ``url``."""
    auth = token_endpoint.Token(url, token)
    return Client(adapter.Adapter(session.Session(auth=auth), service_type="placement"), **kwargs)


@contextlib.contextmanager
def held_lock(state_dir: pathlib.Path) -> typing.Iterator[None]:
    """The state directory's lock, held by this process as another writer (the agent, a one-shot
    stopped half-way) holds it; released on leaving. The directory is created if need be."""
    state_dir.mkdir(exist_ok=True)
    fd = os.open(state_dir / "lock", os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def as_user(uid: int, function: typing.Callable[[], typing.Any]) -> typing.Any:
    """``function()`` in a forked child that really switched to ``uid`` (groups, gid, uid): what it
    returns (JSON-able); an AssertionError naming what it raised otherwise. Needs root."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never back into pytest
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            out = json.dumps({"ok": function()})
        except BaseException as exc:  # noqa: B036 - reported to the parent
            out = json.dumps({"error": f"{type(exc).__name__}: {exc}"})
        with os.fdopen(write, "w") as pipe:
            pipe.write(out)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        data = json.loads(pipe.read() or '{"error": "the child died"}')
    os.waitpid(pid, 0)
    assert "ok" in data, data["error"]
    return data["ok"]


def combined(regions: typing.Mapping[str, typing.Sequence[dict[str, typing.Any]]],
             dimms: typing.Mapping[str, dict[str, typing.Any]] | None = None,
             provider: str = "ACPI.NFIT", scrub_state: str = "idle") -> list[dict[str, typing.Any]]:
    """What discovery's one ndctl call (--buses --dimms --regions --namespaces --health
    --media-errors) prints for one bus: ``regions``: region -> its namespace records, each region
    on the DIMM of its number (region1 on nmem1) unless the DIMM map says none; ``dimms``: DIMM ->
    the fields ndctl adds to it (flag_failed_arm, health, ...). Shaped like real ndctl v77 output
    (tests/data/kernel/)."""
    dimms = dict(dimms or {})
    listed = {f"nmem{r.removeprefix('region')}": {} for r in regions}
    listed.update(dimms)
    bus: dict[str, typing.Any] = {"provider": provider, "dev": "ndbus0", "scrub_state": scrub_state}
    bus["dimms"] = [{"dev": d, "id": f"8680-5{i}341200", "handle": i + 1, "phys_id": 0, **fields}
                    for i, (d, fields) in enumerate(sorted(listed.items())) if fields is not None]
    bus["regions"] = []
    for region, namespaces in regions.items():
        dimm = f"nmem{region.removeprefix('region')}"
        mappings = [] if listed.get(dimm, {}) is None else [{"dimm": dimm, "offset": 0, "length": 1056964608,
                                                              "position": 0}]
        bus["regions"].append({"dev": region, "size": 1056964608, "align": 16777216, "available_size": 0,
                               "max_available_extent": 0, "type": "pmem", "mappings": mappings,
                               "persistence_domain": "unknown", "namespaces": list(namespaces)})
    return [bus]


def tool(name):
    """tools/<name>.py, imported (the generators of the committed man pages and sample)."""
    import importlib.util
    import pathlib

    spec = importlib.util.spec_from_file_location(name, pathlib.Path(__file__).parents[1] / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
