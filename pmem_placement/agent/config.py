"""The agent's configuration object: a reload that brings an invalid value changes nothing.

oslo.config checks a value when it is first read, not when the files are read, so a reload with
``interval = 0`` would otherwise succeed and fail later, wherever the option is read. Here each
reload is checked at once, every option of ours read as at start-up; an invalid reload keeps the
last good configuration and says so in one line naming the option and the file.
"""

import re
import typing

from oslo_config import cfg
from oslo_log import log as logging

from pmem_placement import errors

LOG = logging.getLogger(__name__)

Groups = typing.Callable[[], list[tuple[str | None, list[cfg.Opt]]]]


class InvalidOption(Exception):
    pass


def check(conf: cfg.ConfigOpts, groups: Groups) -> None:
    """Read every option of ours; raise InvalidOption naming the first invalid one and its file."""
    for group, opts in groups():
        section = getattr(conf, group) if group else conf
        for opt in opts:
            try:
                getattr(section, opt.dest)
            except cfg.Error as exc:
                # oslo.config names the file only in its message (get_location reads the value too).
                found = re.search(r"detail='([^']*)'", str(exc))
                where = found.group(1) if found else None
                reason = str(exc).rsplit(" is not valid: ", 1)[-1]
                name = f"[{group or 'DEFAULT'}]{opt.dest}"
                raise InvalidOption(f"{name} in {where or 'the configuration'}: {reason}") from exc


class AgentConfigOpts(cfg.ConfigOpts):
    def __init__(self, check: typing.Callable[[cfg.ConfigOpts], None]) -> None:
        """``check`` raises InvalidOption, cfg.Error or PmemPlacementError for a configuration
        the agent must not run with."""
        super().__init__()
        self._check = check

    def reload_config_files(self) -> bool:
        previous = self._namespace
        if not super().reload_config_files():
            return False  # unreadable or missing files: oslo.config kept the previous values
        try:
            self._check(self)
        except (InvalidOption, cfg.Error, errors.PmemPlacementError) as exc:
            problem = " ".join(str(exc).split())
        else:
            return True
        self._namespace = previous
        self._ConfigOpts__cache.clear()  # the values check() read
        # Outside the except block: oslo.log would append the traceback.
        LOG.error("reload refused, keeping the last good configuration: %s", problem)
        return False
