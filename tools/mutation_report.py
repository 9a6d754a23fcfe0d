"""tools/mutate.sh's verdict: the kill rate of mutmut's run, and its score without the equivalent
mutants docs/mutation.md lists (each with why), at least 90%; the surviving mutants it does not list.

    python tools/mutation_report.py STATS.json SURVIVORS.txt docs/mutation.md
"""

import json
import re
import sys

TARGET = 90.0


def main(stats_path: str, survivors_path: str, docs_path: str) -> int:
    stats = json.load(open(stats_path))
    tested = stats["total"] - stats.get("skipped", 0)
    killed = stats["killed"] + stats.get("timeout", 0)
    rate = 100.0 * killed / tested if tested else 0.0
    survivors = [line.strip().split(":")[0] for line in open(survivors_path) if ": survived" in line]
    explained = set(re.findall(r"`([\w.ǁ]+__mutmut_\d+)`", open(docs_path).read()))
    unexplained = [s for s in survivors if s not in explained]
    equivalent = len(survivors) - len(unexplained)
    # The mutation score: equivalent mutants, which no test can kill, are not counted.
    score = 100.0 * killed / (tested - equivalent) if tested - equivalent else 0.0
    print(f"mutants: {stats['total']} ({stats.get('skipped', 0)} skipped), killed {stats['killed']}, "
          f"timed out {stats.get('timeout', 0)}, survived {stats['survived']}, no tests {stats.get('no_tests', 0)}")
    print(f"killed: {rate:.1f}% of all; {score:.1f}% of those not equivalent (target {TARGET:g}%); equivalent "
          f"survivors explained in {docs_path}: {equivalent}")
    for name in unexplained:
        print(f"  survived, not explained: {name}  (.venv/bin/mutmut show {name})")
    return 0 if score >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
