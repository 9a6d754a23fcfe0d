"""Write man/pmem-placement.8 and man/pmem-placement-agent.8 from the commands' argument parsers
(argparse-manpage) and the options' definitions (oslo.config): the pages the wheel installs.

    .venv/bin/python tools/manpages.py          # rewrite them
    .venv/bin/python tools/manpages.py --check  # exit 1 when they differ from what the code says

tests/unit/test_manpages.py runs the check.
"""

import argparse
import os
import pathlib
import sys
import textwrap

from argparse_manpage.manpage import Manpage

import pmem_placement
from pmem_placement import conf as conf_mod
from pmem_placement.cmd import agent as agent_cmd
from pmem_placement.cmd import cli

HERE = pathlib.Path(__file__).resolve().parents[1]
DATE = "2026-12-02"  # the release's date (CHANGELOG.md): pages do not change with the day they are made
SEE_ALSO = (r"\fBpmem-placement\fR(8), \fBpmem-placement-agent\fR(8), \fBndctl-list\fR(1), "
            r"\fBcxl-list\fR(1), \fBsystemd.service\fR(5); the README and docs/ of pmem-placement")


def _roff(text: str) -> str:
    """Plain text as roff: backslashes and lines that would read as requests escaped."""
    out = []
    for line in text.replace("\\", "\\e").splitlines():
        out.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(out)


def options_section() -> str:
    """Every option of ours, by section, as the sample configuration has them."""
    lines = []
    for group, opts in conf_mod.opts.list_opts():
        name = group.name if hasattr(group, "name") else (group or "DEFAULT")
        lines.append(f".SS [{name}]")
        for opt in opts:
            # as the sample says it: a sample default (the host's name) rather than this machine's
            default = opt.sample_default if opt.sample_default is not None else opt.default
            if isinstance(default, list):
                default = ",".join(str(d) for d in default)
            shown = "" if default in (None, "", []) else f" (default: {default})"
            choices = getattr(opt.type, "choices", None) or {}
            values = [f"{value}: {why}" if why else str(value) for value, why in choices.items()]
            text = " ".join((opt.help or "").split()) + ("".join(f" {v}." for v in values) if values else "")
            lines += [".TP", f".B {opt.dest}{_roff(shown)}", _roff(text)]
    return "\n".join(lines)


def exit_statuses() -> str:
    """Each command's exit statuses, as its --help lists them."""
    lines = []
    for command in cli.COMMANDS:
        if not command.exit_statuses:
            continue
        lines += [".TP", f".B {cli.PROG} {command.name}"]
        lines += [_roff(f"{status}: {meaning}") + "\n.br" for status, meaning in command.exit_statuses]
    return "\n".join(lines)


def page(parser: argparse.ArgumentParser, summary: str, extra: dict[str, str]) -> str:
    man = Manpage(parser)
    man.source = f"pmem-placement {pmem_placement.version()}"
    man.manual = "System Administration"
    man.section = 8
    man.date = DATE
    man.description = summary
    for heading, content in extra.items():
        man.add_section(heading, ">", content)
    return str(man)


FILES = textwrap.dedent(r"""
    .TP
    .B /etc/pmem-placement/pmem-placement.conf
    [DEFAULT]host, [pmem], [agent]; no secrets.
    .TP
    .B /etc/pmem-placement/secrets.conf
    [placement] credentials, root only (mode 0600); the unit passes it as a credential.
    .TP
    .B /var/lib/pmem-placement/
    [agent]state_dir: the lock, state.json (the remap memory), status.json, agent.pid.
    .TP
    .B /etc/systemd/system/pmem-placement-agent.service
    the unit (pmem-placement install-unit).
    """).strip()


def pages() -> dict[str, str]:
    top = cli.registered()
    top(["--config-file", os.devnull, "show"], project=cli.PROG, prog=cli.PROG,
        version=pmem_placement.version(), usage=cli.USAGE, description=cli.DESCRIPTION)
    agent = agent_cmd.registered()
    agent(["--config-file", os.devnull], project=cli.PROG, prog=agent_cmd.PROG,
          version=pmem_placement.version(), usage=agent_cmd.USAGE, description=agent_cmd.DESCRIPTION)
    configuration = options_section()
    return {
        "pmem-placement.8": page(top.parser, "keep Placement truthful about this host's PMEM namespaces", {
            "exit status": exit_statuses(), "configuration": configuration, "files": FILES,
            "see also": SEE_ALSO}),
        "pmem-placement-agent.8": page(agent.parser, "the agent that keeps Placement in sync with this host's PMEM", {
            "exit status": textwrap.dedent(r"""
                .TP
                .B 0
                stopped by SIGTERM.
                .TP
                .B 1
                its loop ended unexpectedly, or another agent holds the state directory (systemd restarts it).
                .TP
                .B 2
                invalid configuration at start: nothing was done.
                """).strip(),
            "signals": textwrap.dedent(r"""
                .TP
                .B SIGHUP
                reload the configuration files; an invalid one is refused and the last good one kept.
                .TP
                .B SIGTERM
                stop, once the reconcile in progress has finished; the status and metrics files say stopped.
                """).strip(),
            "configuration": configuration, "files": FILES, "see also": SEE_ALSO}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing; exit 1 on a difference")
    args = parser.parse_args()
    stale = []
    for name, text in pages().items():
        path = HERE / "man" / name
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}: run .venv/bin/python tools/manpages.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
