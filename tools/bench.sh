#!/usr/bin/env bash
# Install pmem-placement with its bench extra into .venv, then run the benchmarks (bench/run.py).
# Usage: tools/bench.sh [--quick] [--output FILE]
#        tools/bench.sh --production [bench/production.py options]
#            fleet figures on PostgreSQL (installed with apt-get when missing) and gunicorn workers;
#            with no further option (the full run) it rewrites the fleet section of docs/benchmarks.md
#            and the README's fleet sentence; with options (a trial run) only with --docs
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[bench]'
if [ "${1:-}" = "--production" ]; then
    shift
    if [ "$#" -eq 0 ]; then
        set -- --docs
    fi
    exec .venv/bin/python bench/production.py "$@"
fi
exec .venv/bin/python bench/run.py "$@"
