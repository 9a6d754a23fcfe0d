#!/usr/bin/env bash
# Install pmem-placement with its demo extra into .venv, then run `pmem-placement demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[demo]'
exec .venv/bin/pmem-placement demo
