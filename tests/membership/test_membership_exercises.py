"""The failures page's mini-exercise: a crash's detection time, computed by hand."""

from __future__ import annotations

import pytest

from distlab.membership.exercises import check_detection_time, measured_detection_time


def test_the_simulator_agrees_with_timeout_minus_elapsed_plus_flight():
    assert measured_detection_time() == 200 - 30 + 10


def test_the_right_answer_is_accepted_and_explained():
    feedback = check_detection_time(180)
    assert feedback.right and "200 - 30 + 10 = 180 ms" in str(feedback)


@pytest.mark.parametrize("answer, hint", [
    (200, "the timer does not start at the crash"),
    (170, "starts when the last heartbeat *arrives*"),
    (210, "sent 30 ms *before* the crash"),
    (300, "find the last heartbeat sent before the crash"),
    ("180", "a number of milliseconds"),
])
def test_each_usual_mistake_gets_its_hint(answer, hint):
    feedback = check_detection_time(answer)
    assert not feedback.right and hint in str(feedback)
