"""Tests of distlab.membership.phi_accrual: the suspicion level and the detector."""

from __future__ import annotations

import math

import pytest

from distlab.membership.phi_accrual import phi, silence_for
from distlab.membership.runs import phi_tradeoff, slow_or_dead

NO_SPIKES = {"spike_every": 1e12}


def test_phi_is_minus_log10_of_the_chance_of_a_later_heartbeat():
    assert phi(100, 100, 10) == pytest.approx(-math.log10(0.5))
    assert phi(100 + 10 * 2.326, 100, 10) == pytest.approx(2.0, abs=0.01)  # P = 1%
    assert phi(1e6, 100, 10) == math.inf
    assert phi(230.2585, 100, 0, "exponential") == pytest.approx(1.0, abs=1e-5)


def test_the_silence_allowed_is_where_phi_reaches_the_threshold():
    for threshold in (1, 3, 8, 12):
        t = silence_for(threshold, 50, 5)
        assert phi(t, 50, 5) == pytest.approx(threshold, rel=1e-6)
        assert phi(silence_for(threshold, 50, 0, "exponential"), 50, 1,
                   "exponential") == pytest.approx(threshold)


def test_bad_settings_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="threshold must be positive"):
        silence_for(0, 50, 5)
    with pytest.raises(ValueError, match="distribution is one of"):
        silence_for(1, 50, 5, "pareto")
    with pytest.raises(ValueError, match="sigma must be positive"):
        phi(1, 50, 0)


def test_a_steady_link_never_suspected_and_a_crash_noticed_soon():
    alive = slow_or_dead(1, phi=8, **NO_SPIKES)
    assert alive.false_suspicions == 0
    dead = slow_or_dead(1, phi=8, crash_at=5_000, **NO_SPIKES)
    assert dead.false_suspicions == 0
    mean, sigma = dead.detector.model()
    assert 45 < mean < 55 and sigma == 10.0   # min_sigma: the gaps are regular
    assert dead.detection_time == pytest.approx(silence_for(8, mean, sigma)
                                                - (5_000 - dead.detector.last), abs=1e-6)


def test_a_higher_threshold_trades_false_suspicions_for_detection_time():
    low, high = phi_tradeoff([1, 12], seeds=range(6))
    assert low.false_suspicions > high.false_suspicions
    assert low.detection_time < high.detection_time
    assert low.undetected == high.undetected == 0
