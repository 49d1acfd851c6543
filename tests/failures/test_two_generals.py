"""Tests of distlab.failures.generals: the two generals.

Without loss they agree; losing the last messenger makes them disagree, and its sender cannot
tell (its view is the same as in the run where it arrived); for every number of messengers,
lossy runs end with one general attacking alone, also with resends.
"""

from __future__ import annotations

import pytest

from distlab.failures.runs import GENERALS, generals_odds, generals_outcome, two_generals

# -- the two generals ----------------------------------------------------------------------------


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
