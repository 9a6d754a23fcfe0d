"""``pmem-placement install-unit``: install the agent's systemd unit for the Python environment this
command runs from (a virtualenv under /opt, /usr/local, a distribution's /usr), with the man pages
and the commands where the shell and ``man`` find them, and the sample configuration.

Nothing of the operator's is replaced: not ``pmem-placement.conf``, not a drop-in, not a command
or man page of the same name that is not a link to this environment's.
"""

import os
import pathlib
import sys
import sysconfig
import typing

from oslo_config import cfg

from pmem_placement import check as checks
from pmem_placement import installed
from pmem_placement.cmd.command import EXIT_CONFIG
from pmem_placement.cmd.command import EXIT_OK
from pmem_placement.cmd.command import EXIT_SYNC
from pmem_placement.cmd.command import Command
from pmem_placement.cmd.command import fail

PACKAGED_EXEC = "/usr/bin/pmem-placement-agent"  # the unit's ExecStart as shipped
MARK = "# Written by 'pmem-placement install-unit'"
"""The unit's first line once installed: a unit without it (or the packaged one) is not replaced
without --force."""
COMMANDS = ("pmem-placement", "pmem-placement-agent")
MAN_PAGES = ("pmem-placement.8", "pmem-placement-agent.8")


def unit_text(template: str, agent: str) -> str:
    """The packaged unit with ``agent`` as the binary of its ExecStart."""
    lines = template.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("ExecStart=")]
    if len(starts) != 1 or PACKAGED_EXEC not in lines[starts[0]]:
        raise ValueError(f"the packaged unit has no single 'ExecStart={PACKAGED_EXEC} ...' line")
    lines[starts[0]] = lines[starts[0]].replace(PACKAGED_EXEC, agent, 1)
    mark = [f"{MARK} for {agent}: it rewrites this file; put your changes in a drop-in",
            "# (systemctl edit pmem-placement-agent), and no ExecStart= there."]
    return "\n".join(mark + lines) + "\n"


def ours(text: str, template: str) -> bool:
    """Whether a unit found installed may be replaced: written by install-unit, or as packaged."""
    return text.startswith(MARK) or text == template


def dropin_exec_starts(unit_dir: pathlib.Path) -> list[str]:
    """The drop-ins of the unit in ``unit_dir`` that set ExecStart= (they replace ours)."""
    found = []
    for conf in sorted((unit_dir / f"{checks.UNIT}.d").glob("*.conf")):
        try:
            if checks.exec_starts(conf.read_text()):
                found.append(str(conf))
        except OSError:
            continue
    return found


class Installer:
    def __init__(self, root: str, dry_run: bool, say: typing.Callable[[str], None] = print) -> None:
        self.root = pathlib.Path(root)
        self.dry_run = dry_run
        self.say = say
        self.warnings: list[str] = []

    def at(self, path: str) -> pathlib.Path:
        return self.root / path.lstrip("/")

    def write(self, path: str, text: str, mode: int,
              replaceable: typing.Callable[[str], bool] = lambda old: True) -> None:
        """``replaceable(old text)``: whether a file already there may be replaced."""
        target = self.at(path)
        if target.is_file() and not target.is_symlink() and target.read_text() == text:
            self.say(f"  = {target} (unchanged)")
            return
        if target.is_file() and not replaceable(target.read_text()):
            self.warnings.append(f"{target} was not written by install-unit: left as it is (your changes belong "
                                 "in a drop-in, systemctl edit pmem-placement-agent; --force replaces it)")
            self.say(f"  ! {target}: left as it is")
            return
        self.say(f"  {'~' if target.exists() else '+'} {target}")

        def make(partial: pathlib.Path) -> None:
            partial.write_text(text)
            partial.chmod(mode)
        self._replace(target, make)

    def _replace(self, target: pathlib.Path, make: typing.Callable[[pathlib.Path], None]) -> None:
        """``make`` the file beside ``target``, then rename it over: never half of one (not in a dry run)."""
        if self.dry_run:
            return
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        partial = target.with_name(f".{target.name}.partial")
        if partial.is_symlink() or partial.exists():
            partial.unlink()
        make(partial)
        os.replace(partial, target)

    def link(self, path: str, to: pathlib.Path) -> None:
        target = self.at(path)
        if target.is_symlink() and os.readlink(target) == str(to):
            self.say(f"  = {target} -> {to} (unchanged)")
            return
        if target.exists() or target.is_symlink():
            if not target.is_symlink():
                self.warnings.append(f"{target} exists and is not a link: left as it is (it is not this "
                                     f"environment's {to.name}; remove it and run install-unit again to link it)")
                self.say(f"  ! {target}: left as it is")
                return
        self.say(f"  {'~' if target.is_symlink() else '+'} {target} -> {to}")
        self._replace(target, lambda partial: partial.symlink_to(to))


def install(conf: cfg.ConfigOpts) -> int:
    args = conf.command
    scripts = pathlib.Path(sysconfig.get_path("scripts"))
    agent = scripts / "pmem-placement-agent"
    if not os.access(agent, os.X_OK):
        return fail(f"{agent} is not there: install-unit installs the unit of the environment pip installed "
                    f"pmem-placement into; run it as <that environment>/bin/pmem-placement install-unit", EXIT_CONFIG)
    try:
        template = installed.path(f"pmem-placement/{checks.UNIT}").read_text()
        unit = unit_text(template, str(agent))
        sample = installed.path("pmem-placement/pmem-placement.conf.sample").read_text()
        pages = [(page, installed.path(f"man/man8/{page}")) for page in MAN_PAGES]
    except (OSError, ValueError) as exc:
        return fail(exc, EXIT_CONFIG)
    inst = Installer(args.root, args.dry_run)
    inst.say(f"{'would install' if args.dry_run else 'installing'} for {sys.prefix} "
             f"(ExecStart={agent}):")
    try:
        inst.write(os.path.join(args.unit_dir, checks.UNIT), unit, 0o644,
                   replaceable=lambda old: args.force or ours(old, template))
        inst.write("/etc/pmem-placement/pmem-placement.conf.sample", sample, 0o644)
        for page, source in pages:
            inst.link(os.path.join(args.prefix, "share/man/man8", page), source.resolve())
        if scripts.resolve() != inst.at(os.path.join(args.prefix, "bin")).resolve():
            for name in COMMANDS:
                inst.link(os.path.join(args.prefix, "bin", name), scripts / name)
    except OSError as exc:
        return fail(f"cannot install {exc.filename or ''}: {exc.strerror or exc} (run it as root)", EXIT_SYNC)
    for dropin in dropin_exec_starts(inst.at(args.unit_dir)):
        inst.warnings.append(f"{dropin} sets ExecStart=, which replaces this environment's: remove that line (or "
                             "the file), or the unit keeps running the agent it names")
    for warning in inst.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not args.dry_run:
        print("next: write /etc/pmem-placement/pmem-placement.conf and secrets.conf (README), then\n"
              "  systemctl daemon-reload && pmem-placement --config-file /etc/pmem-placement/pmem-placement.conf "
              "--config-file /etc/pmem-placement/secrets.conf check\n"
              "  after an upgrade: systemctl daemon-reload && systemctl restart pmem-placement-agent")
    return EXIT_OK


def _arguments(parser: typing.Any) -> None:
    parser.add_argument("--dry-run", action="store_true", help="say what would be installed, install nothing")
    parser.add_argument("--force", action="store_true",
                        help="replace a unit that install-unit did not write (a hand-edited copy)")
    parser.add_argument("--root", default="/", metavar="DIR",
                        help="install under DIR as if it were / (for images and packages); default: /")
    parser.add_argument("--unit-dir", default="/etc/systemd/system", metavar="DIR",
                        help="where the unit goes; default: /etc/systemd/system")
    parser.add_argument("--prefix", default="/usr/local", metavar="DIR",
                        help="the commands are linked into DIR/bin and the man pages into DIR/share/man/man8, "
                        "where the shell and man find them; default: /usr/local")


COMMAND = Command(
    name="install-unit",
    help="install the agent's systemd unit for this Python environment, with the man pages",
    description="Write pmem-placement-agent.service into --unit-dir with ExecStart set to the "
    "pmem-placement-agent of the Python environment this command runs from (a virtualenv such as "
    "/opt/pmem-placement), link both commands into <prefix>/bin and their man pages into "
    "<prefix>/share/man/man8, and copy the sample configuration to "
    "/etc/pmem-placement/pmem-placement.conf.sample. It never replaces pmem-placement.conf, a drop-in, "
    "a unit it did not write (without --force), or a command or man page that is not a link (it warns "
    "instead), and warns about a drop-in whose ExecStart= would replace this environment's. Run it again "
    "after an upgrade, then restart the agent.",
    exit_statuses=[(0, "installed, what is not ours left with a warning (or, with --dry-run, what would be)"),
                   (1, "a file could not be written (not root, a read-only file system)"),
                   (2, "this environment has no pmem-placement-agent, or the packaged unit is missing")],
    run=install,
    add_arguments=_arguments,
    needs_config=False,
)
