"""The man pages are generated from the argument parsers and the options (tools/manpages.py), stay
current, render without groff warnings, and say what an operator looks for in them."""

import os
import pathlib
import subprocess

import pytest

from tests import helpers

ROOT = pathlib.Path(__file__).parents[2]


@pytest.fixture(scope="module")
def pages():
    return helpers.tool("manpages").pages()


def test_the_committed_man_pages_are_what_the_code_says(pages):
    for name, text in pages.items():
        assert (ROOT / "man" / name).read_text() == text, \
            f"man/{name} is stale: run .venv/bin/python tools/manpages.py"


@pytest.mark.parametrize("name, wanted", [
    ("pmem-placement.8", ["install-unit", "--format", "reserved_namespaces", "[pmem]", "EXIT STATUS"]),
    ("pmem-placement-agent.8", ["SIGHUP", "SIGTERM", "interval", "metrics_file"]),
])
def test_each_page_renders_cleanly_with_its_commands_options_and_configuration(name, wanted):
    shown = subprocess.run(["man", "--warnings", "-l", str(ROOT / "man" / name)], capture_output=True, text=True,
                           env={**os.environ, "MANWIDTH": "100", "MANPAGER": "cat"}, timeout=60)
    assert shown.returncode == 0 and shown.stderr == ""
    for word in wanted:
        assert word in shown.stdout
    # ours first, oslo.log's apart
    assert shown.stdout.index("--config-file") < shown.stdout.index("--log-file")
