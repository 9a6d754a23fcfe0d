#!/usr/bin/env bash
# Mutation testing of the pure core (plan, remap, desired, mapping, fence, tree, discover/) with mutmut,
# against the fast tests (tests/unit): [tool.mutmut] in pyproject.toml. Not part of CI's budget:
# run it nightly, or before changing the core. It prints the kill rate and the score without the
# equivalent mutants docs/mutation.md lists (with why), fails when that score is under 90%, and lists
# the surviving mutants that docs/mutation.md does not explain as equivalent.
# Usage: tools/mutate.sh            (MUTATE_JOBS=N: parallel children, default the core count)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test,mutation]'
rm -rf mutants
.venv/bin/mutmut run --max-children "${MUTATE_JOBS:-$(nproc)}" > mutants.log 2>&1 || {
    tail -20 mutants.log >&2; echo "mutmut run failed (mutants.log)" >&2; exit 1; }
.venv/bin/mutmut export-cicd-stats > /dev/null
.venv/bin/mutmut results > mutants/survivors.txt || true
exec .venv/bin/python tools/mutation_report.py mutants/mutmut-cicd-stats.json mutants/survivors.txt docs/mutation.md
