"""The first page's mini-exercise: the simulator's answer is the sum by hand, the right answer
is accepted, and each usual mistake gets its own hint."""

from __future__ import annotations

from distlab.exercises import Feedback
from distlab.exercises.failover import SERVICE_MS, TIMEOUT, check_failover_time, measured_failover

TO_EUROPE = 40.0
RIGHT = TIMEOUT + TO_EUROPE + SERVICE_MS + TO_EUROPE


def test_the_simulator_measures_the_timeout_then_the_round_trip_to_europe():
    assert measured_failover() == RIGHT
    assert measured_failover(seed=7) == RIGHT


def test_the_right_answer_is_accepted():
    feedback = check_failover_time(RIGHT)
    assert feedback.right and str(feedback).startswith(
        "Right: 300 ms waiting for the crashed store, then 40 + 2 + 40 ms to Europe and back")


def test_forgetting_the_timeout_is_named():
    assert str(check_failover_time(RIGHT - TIMEOUT)) == (
        "Not quite: 82 ms is the trip to Europe alone; first the user waits 300 ms for the "
        "crashed store before it gives up on it")


def test_forgetting_the_work_is_close_but_not_right():
    feedback = check_failover_time(RIGHT - SERVICE_MS)
    assert not feedback and "works 2 ms on the request" in str(feedback)


def test_forgetting_the_way_back_is_named():
    assert "travel 40 ms back" in str(check_failover_time(RIGHT - TO_EUROPE))


def test_failing_over_to_asia_is_named():
    assert "nearest first" in str(check_failover_time(TIMEOUT + 60 + SERVICE_MS + 60))


def test_the_timeout_alone_is_named():
    assert "sends the request again" in str(check_failover_time(TIMEOUT))


def test_anything_else_is_refused_with_the_rule():
    assert "add up what the user waits" in str(check_failover_time(500))
    assert "a number of milliseconds" in str(check_failover_time("382"))
    assert isinstance(check_failover_time(True), Feedback) and not check_failover_time(True)
