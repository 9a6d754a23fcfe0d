"""The nearest of some names to one that is not among them, for "did you mean" hints. Pure.

Names are ranked by edit distance (a character inserted, deleted, replaced, or two neighbours
swapped: 1 each), where a character replaced by another case of it or by its look-alike (O and 0,
l and 1, ...) costs a quarter: a slip of the eye is nearer than a slip of the hand, so ``ns_O``
is nearest to ``ns_0``, not to ``ns_2``. Nothing is suggested beyond a third of the name's
length (at least 1), nor when two names are nearest alike (``ns_3`` among ``ns_0`` and ``ns_1``:
either would be a guess).
"""

import typing

LOOK_ALIKE = (frozenset("Oo0"), frozenset("lI1i|"), frozenset("Ss5"), frozenset("B8"), frozenset("Zz2"),
              frozenset("-_"))
SLIP = 0.25


def _replace(a: str, b: str) -> float:
    if a == b:
        return 0.0
    if a.lower() == b.lower() or any(a in group and b in group for group in LOOK_ALIKE):
        return SLIP
    return 1.0


def distance(a: str, b: str) -> float:
    """Edit distance from ``a`` to ``b`` with neighbours' swaps, look-alikes and case at a quarter."""
    previous: list[float] = [float(j) for j in range(len(b) + 1)]
    before: list[float] = []
    for i in range(1, len(a) + 1):
        row = [float(i)] + [0.0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + _replace(a[i - 1], b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], before[j - 2] + 1)
        before, previous = previous, row
    return previous[len(b)]


def nearest(name: str, candidates: typing.Iterable[str]) -> str | None:
    """The one candidate nearest to ``name`` within a third of its length, or None."""
    limit = max(1.0, len(name) / 3)
    ranked = sorted((distance(name, c), c) for c in set(candidates) if c != name)
    if not ranked or ranked[0][0] > limit or (len(ranked) > 1 and ranked[1][0] == ranked[0][0]):
        return None
    return ranked[0][1]
