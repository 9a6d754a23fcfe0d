"""``pmem-placement check``: is this host ready, in the style of ``nova-status upgrade check``.

Gathers what the pure checks of ``pmem_placement.check`` need and prints one line per check
(Success, Warning or Failure, and what to do). Exit 0 when all succeed, 1 with warnings, 2 with a
failure. Read-only: it sends only GET requests to Placement and writes no file.
"""

import dataclasses
import json
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


NOT_RUN = Result(Code.WARNING, "not run: fix the configuration first")
NEED_CONFIGURATION = ("discovery", "placement", "nova coexistence", "state directory")
"""The checks a configuration that fails stops."""


def gather(conf: cfg.ConfigOpts, expect_agent: bool = False) -> list[tuple[str, Result]]:
    """Every check, in order; those that need a valid configuration are not run without one."""
    from pmem_placement import wiring
    from pmem_placement.conf import validate

    results: list[tuple[str, Result]] = []
    labels: list[mapping.Label] = []
    root_uuid = None
    config_error: Exception | None = None
    try:
        missing = validate.no_files(conf, command.PROG)
        if missing:
            raise errors.ConfigError(missing)
        validate.read_all(conf)
        labels = mapping.parse(conf.pmem.namespaces)
        mapping.reserved(labels, conf.pmem.reserved_namespaces)
        mapping.traits(conf.pmem.traits)
        root_uuid = pmem_conf.root_provider_uuid(conf)
        if conf.pmem.mode == "report":
            wiring.state_dir(conf)
    except errors.ConfigError as exc:
        config_error = exc
    except cfg.Error as exc:
        config_error = validate.explain(exc)
    results.append(("configuration", checks.configuration(
        validate.unknown_options(conf), config_error, wiring.exposed_secrets(conf), labels == [])))
    if config_error is not None:
        results += [(name, NOT_RUN) for name in NEED_CONFIGURATION]
    else:
        results += _with_configuration(conf, labels, root_uuid)
    try:
        agent = status_file.load(conf)
        lock = dataclasses.asdict(agent.running)
        results.append(("agent", checks.agent(agent.status, agent.path, agent.unreadable, lock)))
        # An agent that ran here and is not running now: systemd is what would start it. One
        # running now is started by something (systemd, a container's supervisor).
        expect_agent = expect_agent or (agent.status is not None and not lock.get("held"))
        paths = _written_by_the_agent(conf)
    except cfg.Error:
        results.append(("agent", NOT_RUN))
        paths = []
    return results + [_systemd_unit(expect_agent, paths)]


def _systemd_unit(expect_agent: bool, paths: list[tuple[str, str]]) -> tuple[str, Result]:
    unit, dropins = unit_files()
    return ("systemd unit", checks.systemd_unit(unit, dropins, expect_agent=expect_agent, verified=_verify(unit),
                                                written=paths))


def unreadable(exc: Exception, json_asked: bool, argv: list[str]) -> int:
    """The files could not be parsed (missing, unreadable, not INI): the configuration's failure,
    the checks that need it not run, and the unit's check, which does not."""
    results = [("configuration", checks.configuration([], exc, [], False))]
    results += [(name, NOT_RUN) for name in (*NEED_CONFIGURATION, "agent")]
    results.append(_systemd_unit("--expect-agent" in argv, []))
    emit(as_json(results) if json_asked else render(results))
    return int(max(r.code for _, r in results))


def _with_configuration(conf: cfg.ConfigOpts, labels: list[mapping.Label],
                        root_uuid: str | None) -> list[tuple[str, Result]]:
    """The checks that need a valid configuration: discovery, Placement, nova, the state directory."""
    from pmem_placement import desired
    from pmem_placement import read
    from pmem_placement import wiring

    results: list[tuple[str, Result]] = []
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
    except errors.PmemPlacementError as exc:
        results.append(("placement", checks.placement(exc, None, None)))
    except cfg.Error as exc:  # an option keystoneauth registers as it loads the plugin
        from pmem_placement.conf import validate

        results.append(("placement", checks.placement(validate.explain(exc), None, None)))
    results.append(("nova coexistence", checks.nova_coexistence(root_name, elsewhere, ours_in_tree,
                                                                conf.pmem.mode, labels == [])))
    results.append(("state directory", _state_directory(conf, root_found, ours_totals, uuids)))
    return results


def _written_by_the_agent(conf: cfg.ConfigOpts) -> list[tuple[str, str]]:
    """(option, directory) of each local file the agent writes."""
    paths = []
    if conf.agent.state_dir:
        paths.append(("[agent]state_dir", conf.agent.state_dir))
    for option in ("status_file", "metrics_file"):
        value = getattr(conf.agent, option)
        if value:
            paths.append((f"[agent]{option}", os.path.dirname(os.path.abspath(value))))
    return paths


def _verify(unit: tuple[str, str] | None) -> list[str] | None:
    """What ``systemd-analyze verify`` says about the installed unit (with its drop-ins): its lines
    about this unit; None where systemd-analyze is not installed or cannot run."""
    from pmem_placement.discover import command as process

    if unit is None:
        return None
    try:
        _, out, err, _ = process.output("systemd-analyze", 60, ("verify", "--man=no", unit[0]), option=None)
    except process.NotInstalled:
        return None
    except errors.PmemPlacementError as exc:
        return [f"systemd-analyze verify: {exc}"]
    return [line.strip() for line in (out + err).splitlines() if checks.UNIT in line]


def _discovery(conf: cfg.ConfigOpts, labels: list[mapping.Label]) -> tuple[Result, dict[str, str]]:
    """The discovery check, and the namespaces' uuids (for the state directory's check)."""
    from pmem_placement import discover

    try:
        namespaces = discover.discover(conf) if labels else []
    except errors.PmemPlacementError as exc:
        return checks.discovery(exc, [], {}), {}
    resolution = mapping.resolve(labels, namespaces, conf.pmem.unhealthy, conf.pmem.reserved_namespaces)
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


def as_json(results: typing.Sequence[tuple[str, Result]]) -> str:
    """One object: each check's name, result (Success, Warning, Failure) and details; the exit code."""
    return json.dumps({"checks": [{"name": name, "result": _LABELS[r.code], "details": r.details}
                                  for name, r in results],
                       "code": int(max(r.code for _, r in results))}, indent=2)


def run(conf: cfg.ConfigOpts) -> int:
    args = conf.command
    results = gather(conf, expect_agent=args.expect_agent)
    emit(as_json(results) if args.format == "json" else render(results))
    return int(max(r.code for _, r in results))


def _arguments(parser: typing.Any) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--expect-agent", action="store_true",
                        help="this host runs the agent: a unit that is not installed is a warning")


def _json_error(host: str | None, exc: Exception, args: typing.Any) -> str:
    return as_json([("configuration", Result(Code.FAILURE, str(exc)))])


DESCRIPTION = """\
Check the configuration (unknown options, unset or invalid mapping, secrets readable by all),
discovery (every namespace problem at once, with hints), Placement (reachable, credentials,
microversion, compute node found), coexistence with nova (PMEM classes on any provider of the
compute node's tree that is not ours: a failure, as reconcile fences ours then; in [pmem]mode =
audit, a provider of ours reporting PMEM too), the state directory (units the fail-safe withholds, a held
namespace re-created, a memory that cannot be read), the agent (whether it runs, in which mode, with an
empty mapping or not, from the lock it holds; its status fresh, the same configuration as these
files) and the systemd unit (installed where an agent runs or with --expect-agent; one ExecStart,
its binary present; what systemd-analyze verify says of it; the agent's state_dir, status_file and
metrics_file writable under its sandbox). One line per check: Success, Warning or Failure, and what
to do; a configuration that fails marks the checks that need it as not run. Never writes to
Placement.
"""

HELP = "check this host's setup, one line per check (like nova-status upgrade check)"
EXIT_STATUSES = (
    (0, "every check succeeded"), (1, "warnings, no failure"),
    (2, "at least one failure (or the configuration could not be read)"),
)


COMMAND = command.Command("check", HELP, DESCRIPTION, EXIT_STATUSES, run, add_arguments=_arguments,
                          json_error=_json_error, checks_config=True, unreadable_config=unreadable)
