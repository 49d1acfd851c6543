"""The leader-election page's mini-exercise: the by-hand count of a Bully election."""

from __future__ import annotations

import pytest

from distlab.election.exercises import bully_counts, check_bully_count
from distlab.election.runs import bully_election


@pytest.mark.parametrize("n", [3, 4, 6, 9])
def test_the_counts_by_kind_add_up_to_what_the_simulator_measures(n):
    assert sum(bully_counts(n).values()) == bully_election(n).messages == n * n - n - 1


def test_the_right_count_is_accepted_and_spelled_out():
    feedback = check_bully_count(29)
    assert feedback.right
    assert str(feedback).startswith("Right: 15 Election, 10 Answer, 4 Coordinator: 29 messages")


@pytest.mark.parametrize("answer, hint", [
    (25, "count the 4 Coordinator messages too"),
    (24, "count the Election messages sent to the crashed leader too"),
    (5, "5 is the best case"),
    (30, "count each kind of message"),
    ("29", "a whole number of messages"),
])
def test_each_usual_mistake_gets_its_hint(answer, hint):
    feedback = check_bully_count(answer)
    assert not feedback.right and hint in str(feedback)
    assert str(feedback).startswith("Not quite: ")
