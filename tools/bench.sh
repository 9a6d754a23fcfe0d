#!/usr/bin/env bash
# Install pmem-placement with its bench extra into .venv, then run the benchmarks (bench/run.py).
# Usage: tools/bench.sh [--quick] [--output FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[bench]'
exec .venv/bin/python bench/run.py "$@"
