"""Tests of distlab.membership.heartbeat: slow-or-dead timeout detection.

Shorter timeouts suspect live nodes more often, longer ones notice crashes later; a timeout
above the delay bound never errs (synchrony), and an adaptive timeout stops erring.
"""

from __future__ import annotations

from distlab.membership.runs import slow_or_dead, timeout_tradeoff
from distlab.sim import Constant

# -- slow or dead --------------------------------------------------------------------------------
NO_SPIKES = {"spike_every": 1e12}


def test_a_steady_link_gives_no_false_suspicion_and_a_crash_is_noticed():
    assert slow_or_dead(1, 100, **NO_SPIKES).false_suspicions == 0
    run = slow_or_dead(1, 100, crash_at=5_000, **NO_SPIKES)
    # the last heartbeat left at most 50 ms before the crash and took at most 10 ms
    assert 100 - 50 <= run.detection_time <= 100 + 10
    assert run.false_suspicions == 0


def test_latency_spikes_cause_false_suspicions_that_a_heartbeat_ends():
    run = slow_or_dead(1, 100)
    assert run.false_suspicions > 0 and not run.detector.suspected
    assert all(end is not None and end > start for start, end in run.detector.suspicions)
    for start, _ in run.detector.suspicions:
        assert any(s <= start <= e + 200 for s, e, _ in run.spikes)


def test_shorter_timeouts_err_more_and_longer_ones_detect_later():
    points = timeout_tradeoff([50, 100, 200, 400, 800, 1_600], seeds=range(10))
    false = [p.false_suspicions for p in points]
    detection = [p.detection_time for p in points]
    assert false == sorted(false, reverse=True) and false[0] > 1 and false[-1] == 0
    assert detection == sorted(detection) and detection[-1] > 1_500
    assert all(p.undetected == 0 for p in points)


def test_a_timeout_above_the_delay_bound_never_errs():
    bounded = {"spike_delay": Constant(300)}    # synchrony: delays never exceed ~310 ms
    for seed in range(10):
        assert slow_or_dead(seed, 400, **bounded).false_suspicions == 0
    assert sum(slow_or_dead(seed, 200, **bounded).false_suspicions for seed in range(10)) > 5


def test_an_adaptive_timeout_eventually_stops_erring():
    bounded = {"spike_delay": Constant(300), "duration": 60_000}
    fixed = slow_or_dead(1, 100, **bounded)
    adaptive = slow_or_dead(1, 100, adaptive=100, **bounded)
    assert fixed.false_suspicions > 20
    assert adaptive.false_suspicions <= 4 and adaptive.detector.timeout <= 500


def test_same_seed_same_spikes_and_suspicions():
    first, again = slow_or_dead(7, 150), slow_or_dead(7, 150)
    assert first.spikes == again.spikes
    assert first.detector.suspicions == again.detector.suspicions
    assert first.spikes == slow_or_dead(7, 600).spikes     # spikes do not depend on the timeout
