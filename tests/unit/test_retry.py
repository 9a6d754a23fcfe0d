import random

from pmem_placement.retry import RetryPolicy


def test_delays_are_jittered_exponential_and_capped():
    policy = RetryPolicy(attempts=8, base_delay=0.1, max_delay=1.0)
    delays = list(policy.delays(random.Random(7)))
    assert len(delays) == 7
    caps = [min(1.0, 0.1 * 2**n) for n in range(7)]
    assert all(0 <= d <= cap for d, cap in zip(delays, caps))
    assert len(set(delays)) == 7  # jittered, not lockstep


def test_one_attempt_means_no_retry():
    assert list(RetryPolicy(attempts=1).delays()) == []
