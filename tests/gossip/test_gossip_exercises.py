"""The gossip page's mini-exercise: the residue that rumour mongering's traffic predicts."""

from __future__ import annotations

import math

import pytest

from distlab.gossip.exercises import check_residue, measured


@pytest.fixture(scope="module")
def traffic() -> float:
    return measured()[0]


def test_e_to_the_minus_traffic_is_accepted(traffic):
    feedback = check_residue(math.exp(-traffic))
    assert feedback.right and str(feedback).startswith(f"Right: e^-{traffic:.2f} = ")
    assert check_residue(round(math.exp(-traffic), 3)).right


def test_usual_mistakes_get_their_hints(traffic):
    assert "a number of nodes" in str(check_residue(100 * math.exp(-traffic)))
    assert "not k = 2" in str(check_residue(math.exp(-2)))
    assert "(1 - 1/N)^(mN)" in str(check_residue(0.5))
    assert "a fraction of the nodes" in str(check_residue("0.06"))
