"""The agent's configuration object: a reload that brings an invalid value changes nothing.

oslo.config checks a value when it is first read, not when the files are read, so a reload with
``interval = 0`` would otherwise succeed and fail later, wherever the option is read. Here each
reload is checked at once, every option of ours read as at start-up, [placement] included (its
auth plugin loaded and the plugin's options read, without a request), and the mapping parsed;
an invalid reload keeps the last good configuration and says so in one line naming the option
and the file.
"""

import re
import typing

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg
from oslo_log import log as logging

from pmem_placement import errors
from pmem_placement import wiring
from pmem_placement.conf import parser
from pmem_placement.conf import validate

LOG = logging.getLogger(__name__)

Groups = typing.Callable[[], list[tuple[str | None, list[cfg.Opt]]]]

PLACEMENT = "placement"


class InvalidOption(Exception):
    pass


def _read(conf: cfg.ConfigOpts, group: str | None, name: str) -> typing.Any:
    """The option's value; InvalidOption naming the option and its file when it is invalid."""
    section = getattr(conf, group) if group else conf
    try:
        return getattr(section, name)
    except cfg.Error as exc:
        raise InvalidOption(validate.invalid_value(conf, group or "DEFAULT", name, exc)) from exc


def _where(conf: cfg.ConfigOpts, group: str | None, name: str) -> str:
    """The file that set a (valid) option, for messages about its meaning rather than its type."""
    try:
        location = conf.get_location(name, group)
    except (cfg.Error, ValueError):
        location = None
    detail = getattr(location, "detail", None)
    return f" in {detail}" if detail else ""


def check(conf: cfg.ConfigOpts, groups: Groups) -> None:
    """Read every option of ours, and every [DEFAULT] option registered so far (oslo.service's
    and oslo.log's, which the launcher reads on reload); raise InvalidOption naming the first
    invalid one and its file."""
    for group, opts in groups():
        for opt in opts:
            _read(conf, group, opt.dest)
    for name in list(conf):
        _read(conf, None, name)  # a group's name gives its GroupAttr: nothing to check


def check_placement(conf: cfg.ConfigOpts) -> None:
    """[placement] as keystoneauth will load it, without sending a request: every session,
    adapter and auth option read, the auth plugin loadable, its own options valid and complete."""
    auth_type = _read(conf, PLACEMENT, "auth_type")
    if not auth_type:
        raise InvalidOption(
            "[placement]auth_type is not set: copy the [placement] section of nova.conf, or use "
            "auth_type = admin_token with endpoint and token for a Placement without Keystone")
    try:
        loader: typing.Any = ks_loading.get_plugin_loader(auth_type)
    except ks_exc.auth_plugins.NoMatchingPlugin:
        raise InvalidOption(f"[placement]auth_type{_where(conf, PLACEMENT, 'auth_type')}: "
                            f"no such auth plugin {auth_type!r}") from None
    # keystoneauth registers the plugin's options the same way when it loads the plugin.
    conf.register_opts(ks_loading.get_auth_plugin_conf_options(loader), group=PLACEMENT)
    for name in list(getattr(conf, PLACEMENT)):
        _read(conf, PLACEMENT, name)
    wiring.check_placement(conf)


def check_mapping(conf: cfg.ConfigOpts) -> None:
    """[pmem]namespaces parsed (its syntax only: which namespaces exist is for each cycle), and
    [pmem]reserved_namespaces naming only its names."""
    from pmem_placement import mapping

    value = _read(conf, "pmem", "namespaces")
    if value is None:
        if _read(conf, "pmem", "mode") == "audit":
            return  # audit mode reports nothing of its own
        raise InvalidOption(mapping.UNSET)
    for option, read in (("namespaces", lambda: mapping.parse(value)),
                         ("reserved_namespaces", lambda: mapping.reserved(
                             mapping.parse(value), _read(conf, "pmem", "reserved_namespaces")))):
        try:
            read()
        except errors.ConfigError as exc:
            prefix = f"[pmem]{option}:"
            message = str(exc).removeprefix(prefix).strip()
            raise InvalidOption(f"[pmem]{option}{_where(conf, 'pmem', option)}: {message}") from None


def _named_in(hint: str, problem: str) -> bool:
    """Whether the misspelt ``[section]option`` of ``hint`` is named in ``problem`` already."""
    return any(re.search(re.escape(word) + r"(?![\w-])", problem) for word in hint.split() if word.startswith("["))


class AgentConfigOpts(parser.ConfigOpts):
    def __init__(self, check: typing.Callable[[cfg.ConfigOpts], None]) -> None:
        """``check`` raises InvalidOption, cfg.Error or PmemPlacementError for a configuration
        the agent must not run with."""
        super().__init__()
        self._check = check
        self.on_reload: typing.Callable[[bool, str | None], None] | None = None
        """Called after each reload: (True, None) when it applied, (False, why) when it was refused."""

    def reload_config_files(self) -> bool:
        problem = self._reload_checked()
        if self.on_reload is not None:
            self.on_reload(problem is None, problem)
        return problem is None

    def _clear_caches(self) -> None:
        self._ConfigOpts__cache.clear()
        self._ConfigOpts__drivers_cache.clear()

    def _reload_checked(self) -> str | None:
        """None when the reload applied, else why it was refused."""
        previous = self._namespace
        problem = None
        try:
            # What cfg.ConfigOpts.reload_config_files does, with our one line instead of its
            # warning when a file is missing, unreadable or cannot be parsed.
            self._namespace = self._reload_config_files()
            self._clear_caches()
            self._check(self)
        except SystemExit:  # oslo.config's argument parser, on a file it cannot parse
            problem = "a configuration file could not be parsed"
        except UnicodeDecodeError as exc:  # a file that is not UTF-8
            problem = f"a configuration file is not UTF-8 text: {exc}"
        except (InvalidOption, cfg.Error, errors.PmemPlacementError) as exc:
            problem = " ".join(str(exc).split())
        if problem is None:
            return None
        # A misspelt option is often why (an option of ours unset, an auth secret missing): the
        # files as they are now, with the nearest valid name, as at start-up.
        try:
            hints = [hint for hint in validate.unknown_options(self) if not _named_in(hint, problem)]
        except (OSError, ValueError, cfg.Error):  # a file that cannot be read or parsed: said already
            hints = []
        self._namespace = previous
        self._clear_caches()  # the values check() read
        if hints:
            problem += " (" + "; ".join(hints) + ")"
        # Outside the except block: oslo.log would append the traceback.
        LOG.error("reload refused, keeping the last good configuration: %s", problem)
        return problem
