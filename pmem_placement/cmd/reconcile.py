"""``pmem-placement reconcile``: bring Placement in line with this host's namespaces, once."""

import sys
import typing

from oslo_config import cfg
from oslo_log import log as logging

from pmem_placement import consumers
from pmem_placement import errors
from pmem_placement import fingerprint
from pmem_placement import output
from pmem_placement import status_file
from pmem_placement import wiring
from pmem_placement.cmd import audit as audit_command
from pmem_placement.cmd import command
from pmem_placement.cmd.command import EXIT_OK
from pmem_placement.cmd.command import EXIT_WOULD_CHANGE
from pmem_placement.cmd.command import Command
from pmem_placement.cmd.command import emit
from pmem_placement.cmd.command import fail
from pmem_placement.reconcile import another_writer_warning

LOG = logging.getLogger(__name__)


def _reconcile_arguments(parser: typing.Any) -> None:
    parser.add_argument("--dry-run", action="store_true", help="show the plan, write nothing")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--end-fail-safe", action="store_true",
                        help="assert that the consumers holding PMEM now were placed under today's "
                        "[pmem]namespaces, ending the fail-safe's reservations at once (asks for "
                        "confirmation; see docs/guarantees.md)")
    parser.add_argument("--yes", action="store_true", help="with --end-fail-safe: do not ask")
    command.add_lock_timeout(parser)


RISK = ("--end-fail-safe: the state directory's memory of which namespaces each class had was lost; "
        "the fail-safe withholds units until the consumers of that moment are gone. Ending it now "
        "asserts that every one of them was placed under today's [pmem]namespaces. If a label was "
        "changed since one of them was placed, a namespace it holds may be offered to another "
        "consumer, whose guest would then share its data.")


def confirmed(args: typing.Any) -> bool:
    """Whether ``--end-fail-safe`` may go ahead: ``--yes``, or 'yes' typed at a terminal."""
    if not args.end_fail_safe or args.yes:
        return True
    if not sys.stdin.isatty():
        raise errors.ConfigError(f"{RISK} Confirm with --yes (there is no terminal to ask at)")
    print(RISK, file=sys.stderr)
    answer = input("Type 'yes' to end the fail-safe: ")
    return answer.strip().lower() == "yes"


def reconcile(conf: cfg.ConfigOpts) -> int:
    args = conf.command
    as_json = args.format == "json"
    client = None

    try:
        audit_command.refuse_writes(conf, args.dry_run)
        if not confirmed(args):
            return fail("the fail-safe stays: nothing was written", command.EXIT_SYNC)
        disagreement = fingerprint.disagreement(fingerprint.of(conf), status_file.load(conf).status)
        if disagreement:
            LOG.warning("%s", disagreement)
        client = wiring.client(conf, conf.os_cloud)
        reconciler = wiring.reconciler(conf, client, args.lock_timeout, command.lock_waiting(conf, args.lock_timeout))
        # Discovery runs under the host's lock, so the last writer wrote from the newest discovery.
        outcome = reconciler.run(lambda: wiring.host_spec(conf)[0], dry_run=args.dry_run,
                                 end_failsafe=args.end_fail_safe)
    except errors.PmemPlacementError as exc:
        done = getattr(exc, "outcome", None)  # fencing or withdrawing wrote, then failed
        if as_json:
            emit(output.reconcile_json(conf.host, done, args.dry_run, client.requests if client else {}, exc))
        elif done is not None and done.ops:
            emit(output.reconcile_text(done, args.dry_run, sum(client.requests.values()) if client else 0))
        return fail(exc, exc.exit_status)
    if outcome.another_writer:
        LOG.warning("%s", another_writer_warning(conf.host, outcome))
    for name, uuids in sorted(outcome.recreated.items()):
        LOG.warning("%s", output.recreated_line(name, uuids))
    for message in outcome.warnings:
        LOG.warning("%s", message)
    consumers.after_one_shot(conf.agent.state_dir or None, client, outcome, args.dry_run)
    requests = client.requests
    if as_json:
        emit(output.reconcile_json(conf.host, outcome, args.dry_run, requests))
    else:
        emit(output.reconcile_text(outcome, args.dry_run, sum(requests.values())))
    if args.dry_run and outcome.ops:
        return EXIT_WOULD_CHANGE
    return EXIT_OK


def _reconcile_json_error(host: str | None, exc: Exception, args: typing.Any) -> str:
    return output.reconcile_json(host, None, bool(getattr(args, "dry_run", False)), {}, exc)


EXIT_STATUSES = (
    (0, "Placement matches the host (after this run's writes, or already)"),
    (1, "could not be brought in sync (Placement unreachable, no compute node provider, "
    "double counting, conflicts, lock timeout)"),
    (2, "invalid configuration or discovery failed: nothing was written"),
    (3, "--dry-run only: changes would be made"),
)


COMMAND = Command(
    name="reconcile",
    help="bring Placement in line with this host's PMEM namespaces, once",
    description="Discover the namespaces, compare with Placement and write what differs. Waits for "
    "the agent when it holds the host's lock (and says so), up to --lock-timeout.",
    exit_statuses=EXIT_STATUSES,
    run=reconcile,
    add_arguments=_reconcile_arguments,
    json_error=_reconcile_json_error,
)
