"""What ``pmem-placement check`` concludes, as data: one oslo.upgradecheck ``Result`` per check.

Pure: each function takes what was gathered (findings, values read, errors met) and returns a
Result with Success, Warning or Failure and what to do. The gathering (files, discovery,
Placement reads, the status file) is in ``cmd/check.py``; nothing here writes anywhere.
"""

import os
import shlex
import typing

from oslo_upgradecheck.upgradecheck import Code
from oslo_upgradecheck.upgradecheck import Result

from pmem_placement import fingerprint

UNIT_PATHS = (
    "/etc/systemd/system/pmem-placement-agent.service",
    "/usr/local/lib/systemd/system/pmem-placement-agent.service",
    "/usr/lib/systemd/system/pmem-placement-agent.service",
    "/lib/systemd/system/pmem-placement-agent.service",
)


def configuration(unknown: list[str], error: Exception | None, exposed: list[str],
                  nothing_configured: bool) -> Result:
    if error is not None:
        return Result(Code.FAILURE, str(error))
    problems = list(unknown) + [f"{path} holds [placement] credentials and every user can read it: chmod o-r it"
                                for path in exposed]
    if problems:
        return Result(Code.WARNING, "; ".join(problems))
    if nothing_configured:
        return Result(Code.SUCCESS, "[pmem]namespaces is set empty: nothing is reported, the provider is removed")
    return Result(Code.SUCCESS, "the files parse and every option is known")


def discovery(error: Exception | None, problems: list[str], classes: typing.Mapping[str, int]) -> Result:
    if error is not None:
        return Result(Code.FAILURE, str(error))
    if problems:
        return Result(Code.FAILURE, "[pmem]namespaces: " + "; ".join(problems))
    if not classes:
        return Result(Code.SUCCESS, "nothing to report")
    return Result(Code.SUCCESS, ", ".join(f"{rc}: {n}" for rc, n in sorted(classes.items())))


def placement(error: Exception | None, endpoint: str | None, root: tuple[str, str] | None) -> Result:
    if error is not None:
        return Result(Code.FAILURE, str(error))
    assert root is not None
    return Result(Code.SUCCESS, f"reachable at {endpoint or '?'}, compute node {root[0]} ({root[1]}) found")


def nova_coexistence(root_name: str | None, root_pmem_classes: list[str], ours: typing.Collection[str]) -> Result:
    if root_name is None:
        return Result(Code.WARNING, "not checked: Placement or the compute node could not be read")
    if not root_pmem_classes:
        return Result(Code.SUCCESS, f"{root_name} has no PMEM classes of its own")
    clash = sorted(set(root_pmem_classes) & set(ours))
    detail = (f"{root_name} itself has {', '.join(root_pmem_classes)}: nova reports PMEM too "
              "([libvirt]pmem_namespaces in nova.conf); empty nova's option or stop reporting here")
    return Result(Code.FAILURE if clash else Code.WARNING, detail)


def agent(status: typing.Mapping[str, typing.Any] | None, path: str | None) -> Result:
    """``status`` as ``show.with_freshness`` returns it."""
    if status is None:
        return Result(Code.WARNING, f"no agent status at {path or '-'}: the agent has not run on this host "
                      "(fine when only the one-shot is used)")
    if status.get("stale"):
        return Result(Code.WARNING, f"the agent's status is stale: {status['stale']}; "
                      "systemctl status pmem-placement-agent")
    if status.get("same_config") is False:
        return Result(Code.WARNING, f"the agent runs with another configuration than these files; "
                      f"{fingerprint.RELOAD}")
    if status.get("state") != "in_sync":
        error = status.get("last_error") or {}
        return Result(Code.WARNING, f"the agent is {status.get('state')}: {error.get('message', '')}")
    return Result(Code.SUCCESS, f"in sync, last attempt {status.get('last_attempt')}")


def exec_start(unit_text: str) -> str | None:
    """The executable of the unit's ExecStart (without systemd's -@:+! prefixes)."""
    for line in unit_text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "ExecStart" and value.strip():
            words = shlex.split(value.strip())
            return words[0].lstrip("-@:+!") if words else None
    return None


def systemd_unit(units: typing.Mapping[str, str], exists: typing.Callable[[str], bool] = os.path.exists) -> Result:
    """``units``: path -> text of each installed unit file found."""
    if not units:
        return Result(Code.SUCCESS, "no pmem-placement-agent.service installed")
    for path, text in units.items():
        binary = exec_start(text)
        if binary and not exists(binary):
            return Result(Code.WARNING, f"{path}: ExecStart runs {binary}, which does not exist; add a drop-in "
                          "(systemctl edit pmem-placement-agent) with the path pip installed it to")
    return Result(Code.SUCCESS, f"{', '.join(units)}: ExecStart binary present")
