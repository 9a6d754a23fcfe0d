#!/usr/bin/env bash
# Install what the tests need into .venv, then run the linters (pyflakes' checks, the layer
# contract), the type check and the whole test suite.
# Usage: tools/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
echo "== ruff"
.venv/bin/ruff check --quiet pmem_placement tests bench
echo "== lint-imports (the layers, pyproject.toml [tool.importlinter])"
.venv/bin/lint-imports --no-cache
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
status=0
.venv/bin/pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
exit "$status"
