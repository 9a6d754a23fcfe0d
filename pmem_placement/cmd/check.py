"""``pmem-placement check``: is this host ready, in the style of ``nova-status upgrade check``.

Gathers what the pure checks of ``pmem_placement.check`` need and prints one line per check
(Success, Warning or Failure, and what to do). Exit 0 when all succeed, 1 with warnings, 2 with a
failure. Read-only: it sends only GET requests to Placement and writes no file.
"""

import dataclasses
import os
import typing

from oslo_config import cfg
from oslo_upgradecheck.upgradecheck import Code
from oslo_upgradecheck.upgradecheck import Result

from pmem_placement import check as checks
from pmem_placement import errors
from pmem_placement import mapping
from pmem_placement import status_file
from pmem_placement.conf import pmem as pmem_conf
from pmem_placement.cmd import command
from pmem_placement.cmd.command import emit

_LABELS = {Code.SUCCESS: "Success", Code.WARNING: "Warning", Code.FAILURE: "Failure"}


def gather(conf: cfg.ConfigOpts) -> list[tuple[str, Result]]:
    from pmem_placement import wiring
    from pmem_placement.conf import validate
    from pmem_placement import desired
    from pmem_placement import read

    results: list[tuple[str, Result]] = []
    labels: list[mapping.Label] | None = None
    root_uuid = None
    config_error: Exception | None = None
    try:
        labels = mapping.parse(conf.pmem.namespaces)
        mapping.traits(conf.pmem.traits)
        root_uuid = pmem_conf.root_provider_uuid(conf)
        if conf.pmem.mode == "report":
            wiring.state_dir(conf)
    except errors.ConfigError as exc:
        config_error = exc
    results.append(("configuration", checks.configuration(
        validate.unknown_options(conf), config_error, wiring.exposed_secrets(conf), labels == [])))

    uuids: dict[str, str] = {}
    if labels is None:
        results.append(("discovery", Result(Code.FAILURE, "not checked: fix the configuration first")))
    else:
        result, uuids = _discovery(conf, labels)
        results.append(("discovery", result))

    root_name = root_found = None
    elsewhere: dict[str, list[str]] = {}
    ours_in_tree: dict[str, list[str]] = {}
    ours_totals: dict[str, int] = {}
    try:
        client = wiring.client(conf, conf.os_cloud)
        root = read.find_root(client, conf.host, root_uuid)
        too_long = desired.name_too_long(root.name)
        if too_long:
            raise errors.ConfigError(f"{too_long}: reconcile refuses it")
        found = read.pmem_in_tree(client, root)
        elsewhere, ours_in_tree = found.classes_elsewhere(), found.classes_ours()
        root_name, root_found = root.name, root.uuid
        ours_totals = found.ours.get(root.today().name, {})
        results.append(("placement", checks.placement(None, client.endpoint, (root.name, root.uuid))))
    except (errors.PmemPlacementError, cfg.Error) as exc:
        results.append(("placement", checks.placement(exc, None, None)))
    results.append(("nova coexistence", checks.nova_coexistence(root_name, elsewhere, ours_in_tree,
                                                                conf.pmem.mode, labels == [])))
    results.append(("state directory", _state_directory(conf, root_found, ours_totals, uuids)))

    agent = status_file.load(conf)
    lock = dataclasses.asdict(agent.running)
    results.append(("agent", checks.agent(agent.status, agent.path, agent.unreadable, lock)))
    results.append(("systemd unit", checks.systemd_unit(*unit_files())))
    return results


def _discovery(conf: cfg.ConfigOpts, labels: list[mapping.Label]) -> tuple[Result, dict[str, str]]:
    """The discovery check, and the namespaces' uuids (for the state directory's check)."""
    from pmem_placement import discover

    try:
        namespaces = discover.discover(conf) if labels else []
    except errors.PmemPlacementError as exc:
        return checks.discovery(exc, [], {}), {}
    resolution = mapping.resolve(labels, namespaces, conf.pmem.unhealthy)
    classes = {label.resource_class: len(label.namespace_names) for label in labels}
    result = checks.discovery(None, resolution.problems, classes, resolution.warnings + mapping.mixed(resolution))
    return result, {ns.name: ns.uuid for ns in namespaces if ns.name and ns.uuid}


def _state_directory(conf: cfg.ConfigOpts, root_uuid: str | None, totals: typing.Mapping[str, int],
                     uuids: typing.Mapping[str, str]) -> Result:
    from pmem_placement import remap
    from pmem_placement import state
    from pmem_placement import statedir

    if conf.pmem.mode == "report" and conf.agent.state_dir:
        try:
            with statedir.opened(conf.agent.state_dir) as directory:
                for name in ("lock", "state.json", "status.json", "consumers.json", "agent.pid"):
                    directory.read(name)  # every file there must be one a run may trust
        except FileNotFoundError:
            pass  # not created yet: the first run creates it
        except (OSError, statedir.StateDirError) as exc:
            return Result(Code.FAILURE, f"{statedir.reason(exc)}: reconcile, remove and the agent refuse it")
    memory, lost = state.memory(conf.agent.state_dir or None)
    if memory is not None and root_uuid is not None and memory.root_uuid != root_uuid:
        lost = f"the state directory's memory is of another compute node ({memory.root_uuid})"
        memory = None
    withheld = remap.withheld(totals, memory.failsafe if memory is not None else None)
    recreated = remap.recreated(memory.holders, memory.uuids, uuids, None) if memory is not None else {}
    path = os.path.join(conf.agent.state_dir, "state.json") if conf.agent.state_dir else "[agent]state_dir (not set)"
    return checks.state_directory(path, memory, lost, withheld, conf.pmem.mode, recreated)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def unit_files(root: str = "/") -> tuple[tuple[str, str] | None, list[tuple[str, str]]]:
    """The agent's unit file as systemd picks it (the first of ``UNIT_DIRS``) and its drop-ins
    (``<dir>/<unit>.d/*.conf`` of every dir; a name in an earlier dir hides the same name in a
    later one), in the order systemd applies them (by file name)."""
    import glob
    import os

    unit = None
    dropins: dict[str, str] = {}
    for directory in checks.UNIT_DIRS:
        base = os.path.join(root, directory.lstrip("/"))
        if unit is None:
            text = _read(os.path.join(base, checks.UNIT))
            if text is not None:
                unit = (os.path.join(directory, checks.UNIT), text)
        for path in glob.glob(os.path.join(base, checks.UNIT + ".d", "*.conf")):
            dropins.setdefault(os.path.basename(path), path)
    read = [(path, _read(path)) for _, path in sorted(dropins.items())]
    shown = [("/" + os.path.relpath(path, root) if root != "/" else path, text) for path, text in read if text is not None]
    return unit, shown


def render(results: typing.Sequence[tuple[str, Result]]) -> str:
    return "\n".join(f"{_LABELS[r.code]:<8} {name}: {r.details}" for name, r in results)


def run(conf: cfg.ConfigOpts) -> int:
    results = gather(conf)
    emit(render(results))
    return int(max(r.code for _, r in results))


DESCRIPTION = """\
Check the configuration (unknown options, unset or invalid mapping, secrets readable by all),
discovery (every namespace problem at once, with hints), Placement (reachable, credentials,
microversion, compute node found), coexistence with nova (PMEM classes on any provider of the
compute node's tree that is not ours: a failure, as reconcile fences ours then; in [pmem]mode =
audit, a provider of ours reporting PMEM too), the state directory (units the fail-safe withholds, a held
namespace re-created, a memory that cannot be read), the agent (whether it runs, in which mode, with an
empty mapping or not, from the lock it holds; its status fresh, the same configuration as these
files) and the systemd unit (ExecStart binary present). One line per check: Success,
Warning or Failure, and what to do. Never writes to Placement.
"""

HELP = "check this host's setup, one line per check (like nova-status upgrade check)"
EXIT_STATUSES = (
    (0, "every check succeeded"), (1, "warnings, no failure"),
    (2, "at least one failure (or the configuration could not be read)"),
)


COMMAND = command.Command("check", HELP, DESCRIPTION, EXIT_STATUSES, run)
