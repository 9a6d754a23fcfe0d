"""When the agent reconciles next: pure policy, as data.

Normal cycles are ``interval`` apart. The first waits a random time up to ``initial_jitter`` so a
rack that boots together spreads out. After consecutive failures the wait doubles from
``interval`` up to ``max_backoff``, with jitter (half fixed, half random) so that agents that
failed together do not retry together; the first success returns to ``interval``.
"""

import dataclasses
import random


@dataclasses.dataclass(frozen=True)
class Schedule:
    interval: float
    initial_jitter: float
    max_backoff: float

    def first_delay(self, rng: random.Random) -> float:
        return rng.uniform(0, self.initial_jitter)

    def next_delay(self, consecutive_failures: int, rng: random.Random) -> float:
        if consecutive_failures <= 0:
            return self.interval
        cap = max(self.max_backoff, self.interval)
        base = min(cap, self.interval * 2 ** (consecutive_failures - 1))
        return base / 2 + rng.uniform(0, base / 2)
