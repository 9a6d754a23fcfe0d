"""The command line's parser: oslo.config's, with its --help (and the man pages made from it)
grouped: our options first, oslo.log's logging options apart.

oslo.config adds every command-line option to one alphabetical list when it parses; the
options of oslo.log would bury ours. ``ConfigOpts`` moves them into their own group once they
are added, before argparse prints or parses anything.
"""

import argparse
import typing

from oslo_config import cfg

LOGGING_TITLE = "logging options (oslo.log; each is also a [DEFAULT] option of the configuration files)"
USAGE = "%(prog)s [-h] [--version] [--config-file PATH] [--config-dir DIR] {extra}[--debug] [logging options]"


def _logging_dests() -> set[str]:
    from oslo_log import _options

    # --debug stays with ours: it is the one an operator reaches for.
    return {opt.dest for opt in _options.logging_cli_opts}


def regroup(parser: argparse.ArgumentParser) -> None:
    """Move oslo.log's options (and their --noX inverses) into a group of their own, last."""
    dests = _logging_dests()
    groups = {group.title: group for group in parser._action_groups}
    group = groups.get(LOGGING_TITLE) or parser.add_argument_group(LOGGING_TITLE)
    for container in parser._action_groups:
        if container is group:
            continue
        moving = [action for action in container._group_actions if action.dest in dests]
        for action in moving:
            container._group_actions.remove(action)
            group._group_actions.append(action)
    # last: after "Commands"
    parser._action_groups.remove(group)
    parser._action_groups.append(group)


class ConfigOpts(cfg.ConfigOpts):
    """cfg.ConfigOpts whose argument parser is regrouped (see the module's docstring)."""

    def _pre_setup(self, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        result = super()._pre_setup(*args, **kwargs)
        parser = self._oparser
        assert parser is not None
        initialize = parser.initialize_parser_arguments

        def grouped() -> None:
            initialize()
            regroup(parser)

        parser.initialize_parser_arguments = grouped  # type: ignore[method-assign]
        return result

    @property
    def parser(self) -> argparse.ArgumentParser:
        """The parser of the last parse (for the man pages)."""
        assert self._oparser is not None
        return self._oparser
