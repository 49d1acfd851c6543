"""Tests of distlab.failures: the two generals, and slow-or-dead timeout detection.

The two generals: without loss they agree; losing the last messenger makes them disagree,
and its sender cannot tell (its view is the same as in the run where it arrived); for every
number of messengers, lossy runs end with one general attacking alone, also with resends.
The detector: shorter timeouts suspect live nodes more often, longer ones notice crashes later;
a timeout above the delay bound never errs (synchrony), and an adaptive timeout stops erring.
"""

from __future__ import annotations

import pytest

from distlab.failures import (GENERALS, generals_odds, generals_outcome, slow_or_dead,
                              timeout_tradeoff, two_generals)
from distlab.sim import Constant

# -- the two generals ------------------------------------------------------------------------------


@pytest.mark.parametrize("messengers", range(1, 7))
def test_without_loss_both_generals_attack(messengers):
    sim = two_generals(1, messengers)
    assert generals_outcome(sim) == "both attack"
    assert max(sim.nodes[g].received for g in GENERALS) == messengers


@pytest.mark.parametrize("messengers", range(1, 7))
def test_losing_the_last_messenger_leaves_its_sender_attacking_alone(messengers):
    sender = GENERALS[0] if messengers % 2 == 1 else GENERALS[1]
    receiver = GENERALS[1] if sender == GENERALS[0] else GENERALS[0]
    complete = two_generals(1, messengers)
    lost = two_generals(1, messengers, lose=messengers)
    assert generals_outcome(lost) == f"{sender} attacks alone"
    # the sender saw exactly the same thing in both runs; only the receiver's view differs
    sender_view = [(e.time, e.kind, e.peer, e.data) for e in complete.trace
                   if e.node == sender and e.kind in ("send", "deliver")]
    assert sender_view == [(e.time, e.kind, e.peer, e.data) for e in lost.trace
                           if e.node == sender and e.kind in ("send", "deliver")]
    assert lost.nodes[receiver].received < complete.nodes[receiver].received == messengers


@pytest.mark.parametrize("messengers", range(2, 7))
def test_losing_an_earlier_messenger_stops_both(messengers):
    for lose in range(1, messengers):
        assert generals_outcome(two_generals(1, messengers, lose=lose)) == "neither attacks"


@pytest.mark.parametrize("messengers", [1, 2, 4, 8])
def test_every_number_of_messengers_leaves_a_chance_of_attacking_alone(messengers):
    loss = 0.2
    odds = generals_odds(messengers, loss, seeds=range(2_000))
    assert odds["alone"] > 0
    # only the last messenger's loss splits them: (1 - p)^(n - 1) * p
    assert odds["alone"] == pytest.approx((1 - loss) ** (messengers - 1) * loss, abs=0.03)


def test_resending_makes_disagreement_rare_but_not_impossible():
    odds = generals_odds(2, 0.7, seeds=range(2_000), resend=100)
    assert 0 < odds["alone"] < generals_odds(2, 0.7, seeds=range(2_000))["alone"]


def test_generals_refuse_impossible_settings():
    with pytest.raises(ValueError, match="at least one messenger"):
        two_generals(1, 0)
    with pytest.raises(ValueError, match="no resend"):
        two_generals(1, 3, lose=2, resend=50)
    with pytest.raises(ValueError, match="more time"):
        two_generals(1, 30, latency=50, dawn=1_000)


# -- slow or dead ----------------------------------------------------------------------------------
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
