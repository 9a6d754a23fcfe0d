"""What oslo.config does not say about the files it read: misspelt names and bad values, in words.

oslo.config ignores options and sections it does not know, so ``namespace =`` (for
``namespaces``) or ``[pmme]`` are silently dropped. ``unknown_options`` reads the files with
oslo.config's own parser (the same syntax rules) and names each unknown option or section of
ours with the nearest valid name. [placement] belongs to keystoneauth: the options of the auth
plugin the files select are valid there. ``invalid_value`` turns oslo's error for a bad value
into ``[section]option = 'value' in FILE: why``. Reads files only; never raises for them.

This is what ``oslo-config-validator`` does (oslo.config's ``ConfigParser`` over each file, names
compared with the ``oslo.config.opts`` entry point's options), done in-process because the
validator is a command that only logs: it knows only the sample's keystoneauth plugin (password),
so it would flag every valid option of another ``auth_type``, and it offers no nearest name.
"""

import argparse
import contextlib
import difflib
import glob
import io
import os
import re
import sys
import typing

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

from pmem_placement.conf import opts as opts_mod
from pmem_placement.conf import placement as placement_conf

# Sections of ours, checked option by option. Others (oslo.log's, oslo.service's) are libraries'.
_OURS = ("DEFAULT", "pmem", "agent", placement_conf.GROUP)


def config_files(conf: cfg.ConfigOpts) -> list[str]:
    """The files oslo.config read, in the order it read them (later ones win)."""
    files = list(conf.config_file or [])
    for directory in conf.config_dir or []:
        files += sorted(glob.glob(os.path.join(directory, "*.conf")))
    return files


def sections(path: str) -> dict[str, dict[str, list[str]]]:
    """Section -> option -> values, parsed by oslo.config's own parser; {} when unreadable."""
    result: dict[str, dict[str, list[str]]] = {}
    try:
        cfg.ConfigParser(path, result).parse()
    except (OSError, cfg.ParseError):
        return {}
    return result


def raw_value(conf: cfg.ConfigOpts, section: str, name: str) -> tuple[str, str] | None:
    """The value as written and the file it comes from (the last file that sets it)."""
    found = None
    for path in config_files(conf):
        values = sections(path).get(section, {}).get(name)
        if values:
            found = (values[-1], path)
    return found


def _names(opt: cfg.Opt) -> set[str]:
    """The names oslo.config reads an option by in a file: its dest (keystoneauth's ``auth-url`` is
    ``auth_url`` there; the dashed name is ignored) and its deprecated names."""
    names = {opt.dest}
    for deprecated in opt.deprecated_opts or []:
        if deprecated.name:
            names.add(deprecated.name.replace("-", "_"))
    return names


def _library_default_names() -> set[str]:
    """[DEFAULT] options of the libraries we run on: oslo.log's and, for the agent, oslo.service's."""
    from oslo_log import _options as log_options
    from oslo_service import _options as service_options

    names: set[str] = {"config_file", "config_dir", "os_cloud", "os-cloud"}
    for opt in (log_options.common_cli_opts + log_options.logging_cli_opts + log_options.generic_log_opts
                + log_options.log_opts + service_options.service_opts
                + service_options.eventlet_backdoor_opts + service_options.periodic_opts):
        names |= _names(opt)
    return names


def _valid_names(placement_auth_type: str | None) -> dict[str, set[str] | None]:
    """Section -> the option names valid there (None: anything goes, it is not checked)."""
    valid: dict[str, set[str] | None] = {}
    for group, group_opts in opts_mod.list_opts():
        name = group if isinstance(group, str) else group.name
        valid[name] = set().union(*(_names(o) for o in group_opts)) if group_opts else set()
    default = valid["DEFAULT"]
    assert default is not None
    default |= _library_default_names()
    placement = valid[placement_conf.GROUP]
    assert placement is not None
    placement |= {n for o in ks_loading.get_session_conf_options() + ks_loading.get_auth_common_conf_options()
                  + ks_loading.get_adapter_conf_options(include_deprecated=True) for n in _names(o)}
    if placement_auth_type:
        try:
            plugin_opts = ks_loading.get_auth_plugin_conf_options(placement_auth_type)
        except ks_exc.NoMatchingPlugin:
            valid[placement_conf.GROUP] = None  # reported as a bad auth_type elsewhere
        else:
            placement |= {n for o in plugin_opts for n in _names(o)}
    else:
        valid[placement_conf.GROUP] = None
    return valid


def _hint(name: str, candidates: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f": did you mean {close[0]!r}?" if close else ""


def unknown_options(conf: cfg.ConfigOpts) -> list[str]:
    """One message per option or section of ours that oslo.config ignored, nearest name first."""
    parsed = [(path, sections(path)) for path in config_files(conf)]
    auth_type: str | None = None
    for _, data in parsed:
        values = data.get(placement_conf.GROUP, {}).get("auth_type")
        if values:
            auth_type = values[-1]
    valid = _valid_names(auth_type)
    messages = []
    for path, data in parsed:
        for written, options in data.items():
            # oslo.config reads [Agent] as [agent] (every section but DEFAULT, in lower case).
            section = written if written == "DEFAULT" else written.lower()
            if section not in valid:
                close = difflib.get_close_matches(section, _OURS, n=1, cutoff=0.6)
                if written.lower() == "default":
                    close = ["DEFAULT"]
                if close:
                    messages.append(f"{path}: section [{written}] is not one of ours and is ignored: "
                                    f"did you mean [{close[0]}]?")
                continue
            names = valid[section]
            if names is None:
                continue
            for option in options:
                if option not in names:
                    hint = _hint(option, names)
                    if section == "DEFAULT" and not hint:
                        hint = _elsewhere(option, valid)
                    if section == "DEFAULT" and not hint:
                        continue  # shared by every project (a nova.conf passed whole): only near misses
                    messages.append(f"{path}: [{section}]{option} is not an option and is ignored{hint}")
    return messages


def misspelt(conf: cfg.ConfigOpts, section: str, name: str) -> str:
    """': [section]nmae in FILE is not an option: did you mean 'name'?' for a written option that
    is not one and is nearest to ``name``; '' when none is."""
    for path in reversed(config_files(conf)):
        written = [o for o in sections(path).get(section, {}) if o != name]
        close = difflib.get_close_matches(name, written, n=1, cutoff=0.6)
        if close:
            return f" ([{section}]{close[0]} in {path} is not an option: did you mean {name!r}?)"
    return ""


def _elsewhere(option: str, valid: dict[str, set[str] | None]) -> str:
    """': did you mean [pmem]namespaces?' for an option of another of our sections written in
    [DEFAULT] (nearly or exactly its name)."""
    for section in ("pmem", "agent"):
        names = valid.get(section) or set()
        close = difflib.get_close_matches(option, sorted(names), n=1, cutoff=0.8)
        if close:
            return f": did you mean [{section}]{close[0]}?"
    return ""


def read_all(conf: cfg.ConfigOpts) -> None:
    """Read every option of ours once, so a bad value anywhere fails now, not when first used,
    as ``[section]option = 'value' in FILE is not valid: why``.

    [placement] is keystoneauth's: its plugin options exist only once auth_type is loaded, and
    loading it checks them.
    """
    from pmem_placement.conf import agent
    from pmem_placement.conf import base
    from pmem_placement.conf import pmem

    for section, name, group_opts in ((conf, "DEFAULT", base.list_opts()), (conf.pmem, "pmem", pmem.list_opts()),
                                      (conf.agent, "agent", agent.list_opts())):
        for opt in group_opts:
            try:
                getattr(section, opt.dest)
            except cfg.ConfigFileValueError as exc:
                raise cfg.ConfigFileValueError(invalid_value(conf, name, opt.dest, exc)) from exc
    for dest in list(conf.placement):  # the session and adapter options registered so far
        try:
            getattr(conf.placement, dest)
        except cfg.ConfigFileValueError as exc:
            raise cfg.ConfigFileValueError(invalid_value(conf, "placement", dest, exc)) from exc


_REASON = re.compile(r"is not valid: (.*)\Z", re.S)


def wording(section: str | None, name: str, value: str | None, path: str | None, reason: str) -> str:
    """The one wording of an invalid option value: ``[section]name = 'value' in FILE is not
    valid: why``, each part left out where it is not known."""
    option = f"[{section}]{name}" if section else name
    if value is not None:
        option += f" = {value!r}"
    if path:
        option += f" in {path}"
    return f"{option} is not valid: {reason}"


def invalid_value(conf: cfg.ConfigOpts, section: str, name: str, exc: Exception) -> str:
    """The wording for oslo's ConfigFileValueError on ``[section]name``."""
    match = _REASON.search(str(exc))
    reason = match.group(1) if match else str(exc)
    value, path = raw_value(conf, section, name) or (None, None)
    return wording(section, name, value, path, reason)


_OSLO_VALUE_ERROR = re.compile(r"Value for option (\S+) from LocationInfo\(.*?detail='(.*?)'\) is not valid: (.*)\Z", re.S)


def explain(exc: cfg.Error) -> cfg.Error:
    """oslo.config's error about the files, said with the path and the reason."""
    if isinstance(exc, cfg.ConfigFileValueError):
        return cfg.ConfigFileValueError(describe(exc))
    if isinstance(exc, cfg.ConfigFilesPermissionDeniedError):
        return cfg.Error(f"cannot read the configuration file {', '.join(exc.config_files)}: permission denied "
                         "(it holds secrets: run as root, or as a user in its group)")
    if isinstance(exc, cfg.ConfigFilesNotFoundError):
        return cfg.Error(f"no such configuration file: {', '.join(exc.config_files)} (--config-file)")
    if isinstance(exc, cfg.ConfigDirNotFoundError):
        return cfg.Error(f"no such configuration directory: {exc.config_dir} (--config-dir)")
    return exc


def no_files(conf: cfg.ConfigOpts, project: str) -> str | None:
    """Why no configuration file was read, when none was: oslo.config reads nothing silently."""
    if config_files(conf):
        return None
    if conf.config_dir:
        return f"no configuration file: {', '.join(conf.config_dir)} holds no *.conf file"
    return (f"no configuration file: /etc/{project}/{project}.conf does not exist, and none was given with "
            "--config-file")


def describe(exc: Exception) -> str:
    """oslo's message for a bad value, without its internals (LocationInfo) and with the section."""
    text = str(exc)
    match = _OSLO_VALUE_ERROR.match(text)
    if not match:
        return text
    name, path, reason = match.groups()
    for section, options in sections(path).items():
        for written in (name, name.replace("-", "_")):  # keystoneauth's options are named with dashes
            if written in options:
                return wording(section, written, options[written][-1], path, reason)
    return wording(None, name, None, path, reason)


_CLI_VALUE = re.compile(r"argument --(\S+): Invalid .*? value: (.*)\n\Z", re.S)


def parse_args(conf: cfg.ConfigOpts, args: list[str],
               usage_error: typing.Callable[[str], None] | None = None, **kwargs: typing.Any) -> None:
    """``conf(args, **kwargs)``, except that a bad value in a file for a command-line option
    ([DEFAULT]debug = maybe) is a ``ConfigFileValueError`` named like the others, where
    oslo.config prints ``argument --debug: Invalid ...`` and exits 1. ``usage_error`` is offered
    argparse's message for bad arguments (exit 2) first, to say it better (and exit itself)."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            conf(args, **kwargs)
    except SystemExit as exc:
        if exc.code == 2 and usage_error is not None:
            usage_error(captured.getvalue())
        match = _CLI_VALUE.match(captured.getvalue()) if exc.code == 1 else None
        if match is None:
            sys.stderr.write(captured.getvalue())
            raise
        raise cfg.ConfigFileValueError(_cli_value(conf, args, kwargs.get("project"), kwargs.get("prog"),
                                                  *match.groups())) from None
    except UnicodeDecodeError as exc:
        raise _not_text(args, kwargs.get("project"), kwargs.get("prog"), exc) from None
    except OSError as exc:  # oslo.config lets open()'s error through: a --config-file that is a directory
        hint = " (a directory of *.conf files is given with --config-dir)" if isinstance(exc, IsADirectoryError) else ""
        raise cfg.Error(f"cannot read the configuration file {exc.filename}: "
                        f"{(exc.strerror or str(exc)).lower()}{hint}") from None
    sys.stderr.write(captured.getvalue())


def _files(args: list[str], project: str | None, prog: str | None) -> list[str]:
    """The files oslo.config reads for ``args``, found as it finds them (it has not recorded them
    when it failed)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--config-file", action="append")
    parser.add_argument("--config-dir", action="append")
    known, _ = parser.parse_known_args(args)
    files = known.config_file if known.config_file is not None else cfg.find_config_files(project, prog)
    for directory in known.config_dir or []:
        files += sorted(glob.glob(os.path.join(directory, "*.conf")))
    return files


def _not_text(args: list[str], project: str | None, prog: str | None, exc: UnicodeDecodeError) -> cfg.Error:
    """A file that is not UTF-8 (a Latin-1 comment, UTF-16), named."""
    for path in _files(args, project, prog):
        try:
            with open(path, "rb") as f:
                f.read().decode("utf-8")
        except UnicodeDecodeError as found:
            return cfg.Error(f"cannot read the configuration file {path}: it is not UTF-8 text (byte "
                             f"{found.object[found.start]:#04x} at offset {found.start})")
        except OSError:
            continue
    return cfg.Error(f"a configuration file is not UTF-8 text: {exc}")


def _cli_value(conf: cfg.ConfigOpts, args: list[str], project: str | None, prog: str | None,
               dest: str, value: str) -> str:
    reason = "invalid value"
    for opt, group in conf._all_cli_opts():
        if opt.dest == dest and group is None:
            try:
                opt.type(value)
            except ValueError as exc:
                reason = str(exc)
    found = None
    for path in _files(args, project, prog):
        values = sections(path).get("DEFAULT", {}).get(dest)
        if values:
            found = path
    return wording("DEFAULT", dest, value, found, reason)
