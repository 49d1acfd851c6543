"""Multi-Paxos model-checked (`distlab.consensus.multipaxos.runs.explore_multipaxos`): two
servers competing to lead, each with a client command, explored in every order of their
messages. The correct server keeps one value per slot in every schedule the search covers
(all of them, with one leader); each new leader that does not learn what it must is caught by
a shortest schedule."""

from __future__ import annotations

import pytest

from distlab.consensus.multipaxos.bugs import NoOpFillingLeader, SkipsPhase1Leader
from distlab.consensus.multipaxos.runs import competing_leaders, explore_multipaxos


def test_two_competing_leaders_keep_one_value_per_slot_in_every_schedule_of_nine_steps():
    # (nine steps cover the schedules that catch both bugs below: eight and four steps)
    result = explore_multipaxos(max_depth=9)
    assert result.status == "no violation" and result.depth_limited
    assert result.states > 10_000 and result.depth == 9
    assert "in every schedule of up to 9 steps" in str(result)


def test_one_leader_with_one_command_is_safe_in_every_reachable_state():
    result = explore_multipaxos(leaders=1, commands=1, max_depth=1_000)
    assert result.status == "no violation" and not result.depth_limited
    assert str(result).startswith("exploration (breadth-first): no violation in every "
                                  "reachable state")


def test_a_leader_that_fills_reported_slots_with_no_ops_is_caught_in_eight_steps():
    result = explore_multipaxos(NoOpFillingLeader)
    assert result.found and result.violation.invariant == "one value is chosen per slot"
    texts = [step.text for step in result.schedule]
    assert len(texts) == 8 and texts[0] == "run start_phase1('n1')"
    # n2's promise majority reported put x=v1 in slot 1; the new leader proposed a no-op there
    promise = next(i for i, text in enumerate(texts) if "Promise(ballot=(2, 'n2')" in text)
    assert "value='v1'" in texts[promise]
    assert texts[-1].endswith("Accept(ballot=(2, 'n2'), slot=1, command=NOOP)")
    assert all(step.kind in ("run", "deliver") for step in result.schedule)  # no fault needed


def test_a_leader_that_skips_phase_1_is_caught_in_four_steps():
    result = explore_multipaxos(SkipsPhase1Leader)
    assert result.found and len(result.schedule) == 4
    assert "value='v1'" in result.violation.explanation
    assert "value='v2'" in result.violation.explanation
    assert not any("Prepare" in step.text for step in result.schedule)


@pytest.mark.parametrize("options, message", [
    ({"leaders": 0}, "leaders is how many"),
    ({"leaders": 4}, "leaders is how many"),
    ({"commands": -1}, "commands is how many"),
])
def test_bad_configurations_are_refused_with_a_clear_message(options, message):
    with pytest.raises(ValueError, match=message):
        competing_leaders(**options)
