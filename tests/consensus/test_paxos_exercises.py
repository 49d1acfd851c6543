"""The Paxos page's mini-exercise (`distlab.consensus.paxos.exercises`): the value a proposer
must propose is the library proposer's, and each wrong answer gets the reason it is wrong."""

from __future__ import annotations

import pytest

from distlab.consensus.paxos.exercises import check_pick, proposed_value

PROMISES = {"a1": ((2, "p1"), "x"), "a2": (None, None), "a4": ((3, "p3"), "y"),
            "a5": ((1, "p3"), "z")}


def test_the_value_of_the_highest_ballot_reported_is_right():
    assert proposed_value(PROMISES) == "y"
    feedback = check_pick("y", PROMISES)
    assert feedback.right and str(feedback).startswith("Right: 'y'")


def test_the_proposers_own_value_is_right_only_when_nothing_is_reported():
    nothing = {"a1": (None, None), "a2": (None, None), "a3": (None, None)}
    assert check_pick("mine", nothing).right
    feedback = check_pick("mine", PROMISES)
    assert not feedback.right and "only when no promise reports" in str(feedback)


@pytest.mark.parametrize("answer", ["x", "z"])  # the first reported, the lowest ballot
def test_another_reported_value_is_wrong_and_points_at_the_ballots(answer):
    feedback = check_pick(answer, PROMISES)
    assert not feedback.right and "Compare the ballots" in str(feedback)


def test_no_answer_yet_says_what_to_do():
    feedback = check_pick(None, PROMISES)
    assert not feedback.right and "set my_answer" in str(feedback)


def test_promises_from_a_minority_or_from_strangers_are_refused():
    with pytest.raises(ValueError, match="majority"):
        proposed_value({"a1": (None, None), "a2": (None, None)})
    with pytest.raises(ValueError, match="not one of them"):
        proposed_value({"a1": (None, None), "a2": (None, None), "b9": (None, None)})
