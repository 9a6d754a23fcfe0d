import random

import pytest

from pmem_placement.agent.schedule import Schedule

S = Schedule(interval=60, initial_jitter=30, max_backoff=600)


def test_first_delay_is_spread_over_the_jitter():
    rng = random.Random(1)
    delays = [S.first_delay(rng) for _ in range(200)]
    assert all(0 <= d <= 30 for d in delays)
    assert max(delays) > 25 and min(delays) < 5


def test_success_means_the_normal_interval():
    assert S.next_delay(0, random.Random()) == 60


@pytest.mark.parametrize("failures, low, high", [(1, 30, 60), (2, 60, 120), (3, 120, 240), (4, 240, 480),
                                                 (5, 300, 600), (50, 300, 600)])
def test_failures_back_off_exponentially_with_jitter_up_to_the_cap(failures, low, high):
    rng = random.Random(failures)
    delays = [S.next_delay(failures, rng) for _ in range(50)]
    assert all(low <= d <= high for d in delays)
    assert len(set(delays)) > 1


def test_cap_below_interval_never_shortens_the_interval():
    s = Schedule(interval=60, initial_jitter=0, max_backoff=10)
    assert all(30 <= s.next_delay(3, random.Random(i)) <= 60 for i in range(20))
