"""What ``pmem-placement check`` concludes, as data: one oslo.upgradecheck ``Result`` per check.

Pure: each function takes what was gathered (findings, values read, errors met) and returns a
Result with Success, Warning or Failure and what to do. The gathering (files, discovery,
Placement reads, the status file) is in ``cmd/check.py``; nothing here writes anywhere.
"""

import os
import shlex
import shutil
import typing

from oslo_upgradecheck.upgradecheck import Code
from oslo_upgradecheck.upgradecheck import Result

from pmem_placement import fence
from pmem_placement import fingerprint

UNIT = "pmem-placement-agent.service"
# Where systemd looks for a system unit and its drop-ins (<dir>/<unit>.d/*.conf), first wins.
UNIT_DIRS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)


def configuration(unknown: list[str], error: Exception | None, exposed: list[str],
                  nothing_configured: bool) -> Result:
    if error is not None:
        # the unknown options first: a misspelt option is the usual cause of the error
        return Result(Code.FAILURE, "; ".join([*unknown, str(error)]))
    problems = list(unknown) + [f"{path} holds [placement] credentials and every user can read it: chmod o-r it"
                                for path in exposed]
    if problems:
        return Result(Code.WARNING, "; ".join(problems))
    if nothing_configured:
        return Result(Code.SUCCESS, "[pmem]namespaces is set empty: nothing is reported, the provider is removed")
    return Result(Code.SUCCESS, "the files parse and every option is known")


def discovery(error: Exception | None, problems: list[str], classes: typing.Mapping[str, int],
              warnings: typing.Sequence[str] = ()) -> Result:
    """``problems``: configured namespaces withdrawn (not there, not usable, unhealthy);
    ``warnings``: unhealthy ones offered all the same, classes of mixed sizes or alignments."""
    if error is not None:
        return Result(Code.FAILURE, str(error))
    if problems:
        return Result(Code.FAILURE, "[pmem]namespaces: " + "; ".join([*problems, *warnings])
                      + " (their units are withdrawn: runs exit 2 until the mapping matches the host)")
    if warnings:
        return Result(Code.WARNING, "[pmem]namespaces: " + "; ".join(warnings))
    if not classes:
        return Result(Code.SUCCESS, "nothing to report")
    return Result(Code.SUCCESS, ", ".join(f"{rc}: {n}" for rc, n in sorted(classes.items())))


def placement(error: Exception | None, endpoint: str | None, root: tuple[str, str] | None) -> Result:
    if error is not None:
        return Result(Code.FAILURE, str(error))
    assert root is not None
    return Result(Code.SUCCESS, f"reachable at {endpoint or '?'}, compute node {root[0]} ({root[1]}) found")


def nova_coexistence(root_name: str | None, elsewhere: typing.Mapping[str, typing.Sequence[str]],
                     ours_in_tree: typing.Mapping[str, typing.Sequence[str]] | None = None,
                     mode: str = "report", nothing_configured: bool = False) -> Result:
    """``elsewhere``: the PMEM classes of each provider of the compute node's tree we do not own
    (the compute node included), by name; ``ours_in_tree``: those of our providers. In report
    mode any PMEM elsewhere fences ours (as ``reconcile`` does, whatever the labels); in audit
    mode nova's PMEM on the compute node is the intended set-up and a provider of ours is the
    audit's ``reported_twice``."""
    if root_name is None:
        return Result(Code.WARNING, "not checked: Placement or the compute node could not be read")
    ours_in_tree = ours_in_tree or {}
    if mode == "audit":
        problems = [f"{name} (pmem-placement's provider) also offers {', '.join(classes)}: the host's PMEM is "
                    "offered twice (reported_twice); let nova report alone: 'pmem-placement remove' deletes it "
                    "once nothing is allocated from it" for name, classes in sorted(ours_in_tree.items())]
        problems += [f"provider {name!r} also has {', '.join(classes)}: PMEM must be reported from one place only"
                     for name, classes in sorted(elsewhere.items()) if name != root_name]
        if problems:
            return Result(Code.WARNING, "[pmem]mode = audit: " + "; ".join(problems))
        nova = elsewhere.get(root_name)
        what = f"nova reports {', '.join(nova)} on {root_name}, as intended" if nova else \
            f"{root_name} has no PMEM classes (nova reports none yet)"
        return Result(Code.SUCCESS, f"[pmem]mode = audit: {what}; 'pmem-placement audit' checks them against the host")
    if not elsewhere:
        return Result(Code.SUCCESS, f"{root_name} has no PMEM classes of its own, nor any other provider of its tree")
    why = fence.reason(root_name, {name: frozenset(classes) for name, classes in elsewhere.items()})
    if nothing_configured:
        return Result(Code.SUCCESS, f"{why}: [pmem]namespaces is set empty here, so nothing is counted twice")
    if root_name in elsewhere:
        advice = ("nova reports PMEM too ([libvirt]pmem_namespaces in nova.conf): empty nova's "
                  "[libvirt]pmem_namespaces, or set [pmem]namespaces empty here")
    else:
        advice = ("another service reports PMEM in this compute node's tree: stop that provider's PMEM inventory, "
                  "or set [pmem]namespaces empty here")
    return Result(Code.FAILURE, f"{why}: {advice}; until then reconcile fences ours (every class reserved = total) "
                  "and fails")


def state_directory(path: str | None, memory: typing.Any, lost: str | None,
                    withheld: typing.Mapping[str, int], mode: str = "report",
                    recreated: typing.Mapping[str, tuple[str, str]] | None = None) -> Result:
    """``memory``: the state directory's (``state.memory``), None when unknown (``lost`` says
    why); ``withheld``: what the fail-safe withholds now, by class; ``recreated``: namespaces a
    consumer may hold that were destroyed and re-created under the same name."""
    if mode == "audit":
        return Result(Code.SUCCESS, "[pmem]mode = audit: nothing is remembered, nothing is written")
    if recreated:
        which = ", ".join(f"{name!r} (uuid {old} -> {new})" for name, (old, new) in sorted(recreated.items()))
        return Result(Code.WARNING, f"namespace {which} was destroyed and re-created under the same name while "
                      "a consumer may hold it: that consumer's data is gone; reconcile keeps it reserved "
                      "until that consumer releases it")
    if withheld:
        where = ", ".join(f"{n} of {rc}" for rc, n in sorted(withheld.items()))
        return Result(Code.WARNING, f"the fail-safe withholds {sum(withheld.values())} unit(s) ({where}) for "
                      f"{len(memory.failsafe)} consumer(s) placed when the memory was unknown ({memory.failsafe_why}); "
                      "released as they leave, or with 'pmem-placement reconcile --end-fail-safe' (see "
                      "docs/guarantees.md)")
    if memory is None and lost and not lost.endswith("does not exist"):
        return Result(Code.WARNING, f"{lost}: the next reconcile withholds, by the fail-safe rule, what the "
                      "consumers then holding PMEM may hold")
    if memory is None:
        return Result(Code.SUCCESS, f"{path}: no memory yet (written by the first reconcile)")
    return Result(Code.SUCCESS, f"{path}: remembers which namespaces each class's consumers may hold")


def running(held: bool | None, pid: int | None = None, mode: str | None = None,
            mapping_empty: bool | None = None, unknown: str | None = None, **_: typing.Any) -> str:
    """Whether and how the agent runs, from the lock it holds (``status_file.Running``'s fields)."""
    if held is None:
        return f"whether the agent runs cannot be told ({unknown})"
    if not held:
        return "the agent is not running"
    how = {"report": "in report mode", "audit": "in audit mode (it never writes)"}.get(mode or "", "")
    if mode == "report" and mapping_empty is not None:
        how += ", its mapping empty" if mapping_empty else ", its mapping not empty"
    return f"the agent is running (pid {pid}){' ' + how if how else ''}"


def agent(status: typing.Mapping[str, typing.Any] | None, path: str | None, unreadable: str | None = None,
          lock: typing.Mapping[str, typing.Any] | None = None) -> Result:
    """``status`` as ``status_file.with_freshness`` returns it; ``unreadable``: why the status file that
    is there cannot be used (``status_file.read``); ``lock``: whether an agent holds the state
    directory (``status_file.Running`` as a dict), said on every line."""
    runs = running(**lock) if lock else None
    also = f"; {runs}" if runs else ""
    if unreadable:
        return Result(Code.WARNING, f"{unreadable}; the agent rewrites it after every cycle{also}: "
                      "systemctl status pmem-placement-agent")
    if status is None:
        if lock and lock.get("held"):
            return Result(Code.SUCCESS, f"{runs}; no status at {path or '-'} yet (before its first cycle)")
        # Not a warning: before the first start (the install steps run check first) and on hosts
        # that use only the one-shot, there is no status, and nothing is wrong.
        return Result(Code.SUCCESS, f"no agent status at {path or '-'}: the agent has not run on this host "
                      f"(fine before its first start, or when only the one-shot is used){also}")
    if status.get("stale"):
        wedged = also if lock and lock.get("held") is not False else ""  # not running says it already
        return Result(Code.WARNING, f"the agent's status is stale: {status['stale']}{wedged}; "
                      "systemctl status pmem-placement-agent")
    if status.get("same_config") is False:
        return Result(Code.WARNING, f"the agent runs with another configuration than these files; "
                      f"{fingerprint.RELOAD}{also}")
    if status.get("state") != "in_sync":
        error = status.get("last_error") or {}
        return Result(Code.WARNING, f"the agent is {status.get('state')}: {error.get('message', '')}{also}")
    events = status.get("events")
    if isinstance(events, str) and events.startswith("unavailable"):
        return Result(Code.WARNING, f"in sync, but events: {events}: changes on this host wait for its next cycle "
                      f"([agent]interval){also}")
    return Result(Code.SUCCESS, f"in sync, last attempt {status.get('last_attempt')}{also}")


# Where systemd looks up an ExecStart= that is not an absolute path.
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _assignments(text: str) -> typing.Iterator[tuple[str, str]]:
    """(key, value) of a unit file's lines, as systemd reads them: comments skipped, a line ending
    in a backslash continued on the next."""
    pending = ""
    for raw in text.splitlines():
        line = pending + raw
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if line.lstrip().startswith(("#", ";", "[")):
            continue
        key, sep, value = line.partition("=")
        if sep:
            yield key.strip(), value.strip()


def _words(value: str) -> list[str]:
    try:
        return shlex.split(value)
    except ValueError:  # an unclosed quote: systemd-analyze verify says what systemd thinks of it
        return value.split()


def exec_starts(*texts: str) -> list[str]:
    """The ExecStart= command lines in effect after the unit and then its drop-ins, in that order:
    an empty ``ExecStart=`` resets the list, any other adds to it."""
    lines: list[str] = []
    for text in texts:
        for key, value in _assignments(text):
            if key == "ExecStart":
                lines = lines + [value] if value else []
    return lines


def exec_start(*texts: str) -> str | None:
    """The executable (without systemd's -@:+! prefixes) of the last ExecStart= in effect."""
    lines = exec_starts(*texts)
    words = _words(lines[-1]) if lines else []
    return words[0].lstrip("-@:+!") if words else None


def settings(key: str, *texts: str) -> list[str]:
    """Every value of ``key=`` after the unit and its drop-ins (space-separated lists joined; an
    empty value resets them)."""
    values: list[str] = []
    for text in texts:
        for name, value in _assignments(text):
            if name == key:
                values = values + _words(value) if value else []
    return values


def runnable(binary: str, exists: typing.Callable[[str], bool] | None = None) -> str | None:
    """Why systemd cannot run ``binary`` (None: it can): an absolute path must be an executable
    file; a bare name is looked up in systemd's own search path."""
    if exists is not None:  # a test's stand-in for the file system
        return None if exists(binary) else "does not exist"
    if not os.path.isabs(binary):
        return None if shutil.which(binary, path=SYSTEMD_PATH) else f"is not in systemd's search path ({SYSTEMD_PATH})"
    if not os.path.exists(binary):
        return "does not exist"
    if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
        return "is not an executable file"
    return None


def not_writable(written: typing.Sequence[tuple[str, str]], *texts: str) -> list[str]:
    """The options whose directory the agent cannot write under the unit's sandbox: with
    ProtectSystem=strict only its StateDirectory=, RuntimeDirectory=, CacheDirectory=,
    LogsDirectory= and ReadWritePaths= are writable (with full, /usr, /boot and /etc are not;
    with yes, /usr and /boot). Judged from the unit, not from a user: a DynamicUser= exists only
    while the agent runs, and implies ProtectSystem=strict."""
    protect = (settings("ProtectSystem", *texts) or ["no"])[-1]
    if _true(settings("DynamicUser", *texts)):
        protect = "strict"  # DynamicUser= implies it, whatever ProtectSystem= says
    allowed = [os.path.join(base, d) for key, base in (("StateDirectory", "/var/lib"), ("RuntimeDirectory", "/run"),
                                                        ("CacheDirectory", "/var/cache"), ("LogsDirectory", "/var/log"))
               for d in settings(key, *texts)]
    allowed += [p.lstrip("-+") for p in settings("ReadWritePaths", *texts)]
    read_only = {"strict": ("/",), "full": ("/usr", "/boot", "/efi", "/etc"), "yes": ("/usr", "/boot", "/efi"),
                 "true": ("/usr", "/boot", "/efi")}.get(protect, ())
    return [f"{option} ({path})" for option, path in written
            if any(_under(path, r) for r in read_only) and not any(_under(path, a) for a in allowed)]


def not_reachable(written: typing.Sequence[tuple[str, str]], *texts: str,
                  stat: typing.Callable[[str], os.stat_result] = os.stat,
                  group_id: typing.Callable[[str], int | None] | None = None) -> list[str]:
    """What else keeps the agent from writing there: ProtectHome= hides /home, /root and
    /run/user; PrivateTmp= gives it a /tmp and /var/tmp nobody else sees; a DynamicUser= (without
    User=) writes a directory outside the unit's own (StateDirectory=, ...) only where every user
    may write, or a group the unit names (Group=, SupplementaryGroups=) may."""
    def on(key: str) -> bool:  # any value but systemd's false ones (ProtectHome=read-only, tmpfs: on)
        return (settings(key, *texts) or ["no"])[-1].lower() not in ("no", "false", "0", "off")

    own = [os.path.join(base, d) for key, base in (("StateDirectory", "/var/lib"), ("RuntimeDirectory", "/run"),
                                                    ("CacheDirectory", "/var/cache"), ("LogsDirectory", "/var/log"))
           for d in settings(key, *texts)]
    groups = [*settings("Group", *texts), *settings("SupplementaryGroups", *texts)]
    gids = {gid for gid in map(group_id or _gid, groups) if gid is not None}
    found = []
    for option, path in written:
        if any(_under(path, d) for d in own):
            continue
        if on("ProtectHome") and any(_under(path, top) for top in ("/home", "/root", "/run/user")):
            found.append(f"{option} ({path}) is hidden from the agent by ProtectHome=")
        elif on("PrivateTmp") and any(_under(path, top) for top in ("/tmp", "/var/tmp")):
            found.append(f"{option} ({path}) is in the agent's own /tmp (PrivateTmp=): nothing else sees it")
        elif on("DynamicUser") and not settings("User", *texts):
            try:
                st = stat(path)
            except OSError:
                continue  # not there yet: a directory nobody created is not this check's to judge
            if not (st.st_mode & 0o002 or (st.st_mode & 0o020 and st.st_gid in gids)):
                found.append(f"{option} ({path}, mode {st.st_mode & 0o7777:04o}, group {st.st_gid}) cannot be "
                             "written by the agent's dynamic user: give the directory a group with write access "
                             "(chgrp, chmod g+w) and name it in SupplementaryGroups=")
    return found


def _sandboxed(written: typing.Sequence[tuple[str, str]], texts: typing.Sequence[str],
               stat: typing.Callable[[str], os.stat_result]) -> list[str]:
    """What the unit's sandbox keeps the agent from writing, each said once."""
    blocked = not_writable(written, *texts)
    said = [f"the agent cannot write {', '.join(blocked)} under the unit's ProtectSystem=: add "
            "ReadWritePaths=<that directory> in a drop-in (systemctl edit pmem-placement-agent)"] if blocked else []
    return said + not_reachable(written, *texts, stat=stat)


def _true(values: list[str]) -> bool:
    """A systemd boolean setting's last value, as systemd reads it (any case)."""
    return bool(values) and values[-1].lower() in ("yes", "true", "1", "on")


def _gid(name: str) -> int | None:
    import grp

    try:
        return int(name) if name.isdigit() else grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def _under(path: str, top: str) -> bool:
    path, top = os.path.normpath(path), os.path.normpath(top)
    return path == top or path.startswith(top.rstrip("/") + "/")


def systemd_unit(unit: tuple[str, str] | None, dropins: typing.Sequence[tuple[str, str]] = (),
                 exists: typing.Callable[[str], bool] = os.path.exists, expect_agent: bool = False,
                 verified: typing.Sequence[str] | None = None,
                 written: typing.Sequence[tuple[str, str]] = (),
                 stat: typing.Callable[[str], os.stat_result] = os.stat) -> Result:
    """``unit``: (path, text) of the unit file systemd uses, None when not installed; ``dropins``:
    (path, text) of its drop-ins in the order systemd applies them; ``expect_agent``: an agent ran
    here or is expected to; ``verified``: what systemd-analyze verify said of the unit (None: not
    run); ``written``: (option, directory) the agent writes."""
    if unit is None:
        if expect_agent:
            return Result(Code.WARNING, f"no {UNIT} installed, yet this host runs the agent (it has run here and "
                          "is not running now, or --expect-agent): install the unit (README, Install under systemd)")
        return Result(Code.SUCCESS, f"no {UNIT} installed (fine on a host that runs only the one-shot)")
    texts = (unit[1], *(text for _, text in dropins))
    where = unit[0] + (f" with {', '.join(path for path, _ in dropins)}" if dropins else "")
    lines = exec_starts(*texts)
    binary = exec_start(*texts)
    problems: list[str] = []
    code = Code.SUCCESS
    why = runnable(binary, None if exists is os.path.exists else exists) if binary else None
    if len(lines) > 1:
        code = Code.FAILURE
        problems.append(f"{len(lines)} ExecStart= lines, which systemd refuses for Type=notify: a drop-in "
                        "that replaces it needs an empty 'ExecStart=' line before its own")
    elif binary is None:
        code = Code.FAILURE
        problems.append("no ExecStart, which systemd refuses; systemctl cat pmem-placement-agent")
    elif why:
        code = Code.WARNING
        problems.append(f"ExecStart runs {binary}, which {why}; run '<the virtualenv>/bin/pmem-placement "
                        "install-unit' from the environment pip installed pmem-placement into, or add a drop-in "
                        "(systemctl edit pmem-placement-agent) with ExecStart= then ExecStart=<its path> ...")
    # systemd-analyze's own words, but not again what is said above
    said = [line for line in verified or ()
            if not (why and binary and binary in line and "not executable" in line)
            and not ((len(lines) > 1 or binary is None) and ("ExecStart" in line or "bad unit file setting" in line))]
    if said:
        refused = any("Refusing" in line or "bad unit file setting" in line for line in said)
        code = max(code, Code.FAILURE if refused else Code.WARNING)
        problems.append("systemd-analyze verify: " + "; ".join(said))
    own = exec_start(unit[1])
    if binary and os.path.basename(binary) != "pmem-placement-agent":
        code = max(code, Code.WARNING)
        problems.append(f"ExecStart runs {binary}, which is not pmem-placement-agent")
    elif binary and dropins and own and binary != own:
        code = max(code, Code.WARNING)
        problems.append(f"a drop-in replaces the unit's ExecStart: it runs {binary}, not {own} (an older install's "
                        "override? remove its ExecStart= lines after 'pmem-placement install-unit')")
    sandbox = _sandboxed(written, texts, stat)
    if sandbox:
        code = max(code, Code.WARNING)
        problems += sandbox
    if problems:
        return Result(code, f"{where}: {'; '.join(problems)}")
    checked = " and systemd-analyze verify finds nothing" if verified is not None else ""
    return Result(Code.SUCCESS, f"{where}: ExecStart binary {binary} present{checked}")
