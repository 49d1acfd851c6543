"""The network page's mini-exercise: the simulator's answer is the formula's, the right
answer is accepted, and each usual mistake gets its own hint."""

from __future__ import annotations

from distlab.exercises import Feedback
from distlab.exercises.network import (BANDWIDTH, HEADER, LATENCY, PAYLOAD, check_transfer,
                                       measured_transfer)

ARRIVES = LATENCY + (PAYLOAD + HEADER) / BANDWIDTH
BACK = ARRIVES + HEADER / BANDWIDTH + LATENCY


def test_the_simulator_measures_latency_plus_size_over_bandwidth_each_way():
    arrived, back = measured_transfer()
    assert abs(arrived - ARRIVES) < 1e-9 and abs(back - BACK) < 1e-9


def test_the_right_answer_is_accepted():
    feedback = check_transfer(BACK)
    assert feedback.right and str(feedback).startswith("Right: 20 + 100,040 / 1,000 = 120.04")


def test_the_arrival_time_is_not_the_acknowledgement():
    assert str(check_transfer(ARRIVES)) == (
        "Not quite: 120.04 ms is when the message arrives; the sender learns it only when the "
        "acknowledgement is back, 20.04 ms later")


def test_forgetting_the_headers_is_close_but_not_right():
    feedback = check_transfer(LATENCY + PAYLOAD / BANDWIDTH + LATENCY)
    assert not feedback and "count the 40-byte header" in str(feedback)


def test_the_round_trip_alone_misses_the_bytes():
    assert "the round trip alone" in str(check_transfer(2 * LATENCY))


def test_anything_else_is_refused_with_the_rule():
    assert "latency + size / bandwidth" in str(check_transfer(300))
    assert "a number of milliseconds" in str(check_transfer("140"))
    assert isinstance(check_transfer(True), Feedback) and not check_transfer(True)
