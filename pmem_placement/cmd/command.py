"""What every ``pmem-placement`` subcommand is made of, and the few helpers they share.

A subcommand is one small module exposing ``COMMAND``, registered by one line in ``cli.py``.
Exit statuses follow DESIGN.md; expected failures are one line on stderr.
"""

import argparse
import dataclasses
import math
import os
import sys
import typing

from oslo_config import cfg

from pmem_placement.errors import EXIT_CONFIG
from pmem_placement.errors import EXIT_OK
from pmem_placement.errors import EXIT_SYNC
from pmem_placement.errors import EXIT_WOULD_CHANGE
from pmem_placement.errors import OutputError

PROG = "pmem-placement"
__all__ = ["EXIT_CONFIG", "EXIT_OK", "EXIT_SYNC", "EXIT_WOULD_CHANGE", "PROG", "Command", "emit", "fail"]


@dataclasses.dataclass(frozen=True)
class Command:
    name: str
    help: str
    """One line, for the list of commands."""
    description: str
    """What it does, for ``<command> --help`` (white space is folded and the text refilled)."""
    exit_statuses: typing.Sequence[tuple[int, str]]
    run: typing.Callable[[cfg.ConfigOpts], int]
    add_arguments: typing.Callable[[typing.Any], None] = lambda parser: None
    json_error: typing.Callable[[str | None, Exception, typing.Any], str] | None = None
    """With ``--format json``: the documented object for an error met before the command ran
    (host or None, the error, the parsed arguments or None)."""
    needs_config: bool = True
    """False for commands that build their own configuration (demo)."""
    checks_config: bool = False
    """True for a command that reports the configuration's problems itself (check): the files
    are only parsed before it runs."""
    unreadable_config: typing.Callable[[Exception, bool, list[str]], int] | None = None
    """For such a command: its report when the files could not even be parsed (the error, JSON
    asked for, the raw arguments); the exit status."""

    def epilog(self) -> str:
        lines = ["exit status:"] + [f"  {status}  {meaning}" for status, meaning in self.exit_statuses]
        return "\n".join(lines)


def fail(exc: BaseException | str, status: int) -> int:
    print(f"{PROG}: error: {exc}", file=sys.stderr)
    return status


def emit(text: str) -> None:
    """Print the result on stdout; a reader that went away (``| head``) ends output quietly."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        quiet_stdout()
    except OSError as exc:  # e.g. > /dev/full: one line, no traceback
        quiet_stdout()
        raise OutputError(f"cannot write the result to stdout: {exc.strerror or exc}") from None


def quiet_stdout() -> None:
    """Point stdout at /dev/null so that nothing more, not even the flush at exit, can fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # stdout is not a real file (tests): nothing to redirect
    finally:
        os.close(devnull)


def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def add_lock_timeout(parser: typing.Any) -> None:
    parser.add_argument("--lock-timeout", type=seconds, metavar="SECONDS", default=None,
                        help="give up (exit 1) when the agent holds the host's lock longer than this; "
                        "default: wait")


def lock_waiting(conf: cfg.ConfigOpts, timeout: float | None) -> typing.Callable[[], None]:
    """What to say on stderr when the host's lock is held and this run starts waiting for it."""
    def waiting() -> None:
        print(f"{PROG}: waiting for the host's lock ({conf.agent.state_dir}/lock), held by the agent or "
              "another run" + ("" if timeout is None else f", for up to {timeout:g} s"),
              file=sys.stderr, flush=True)
    return waiting
