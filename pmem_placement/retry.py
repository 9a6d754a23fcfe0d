"""Retry policy as data: how often a reconcile starts over after a conflict, and how long it waits.

Transport retries (connection refused, 5xx) are keystoneauth's, configured in [placement]
(connect_retries, status_code_retries, ...); this policy is only for Placement's answers that
say another writer got there first.
"""

import dataclasses
import random
import typing


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    """Total attempts, the first included."""
    base_delay: float = 0.1
    max_delay: float = 2.0

    def delays(self, rng: random.Random | None = None) -> typing.Iterator[float]:
        """The pause before each retry: exponential, capped, with full jitter so that
        reconcilers that collided once do not collide again in lockstep."""
        rng = rng or random.Random()
        for n in range(self.attempts - 1):
            yield rng.uniform(0, min(self.max_delay, self.base_delay * 2**n))
