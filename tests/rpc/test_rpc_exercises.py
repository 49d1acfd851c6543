"""The RPC page's mini-exercise: exponential backoff's waits, checked against RetryPolicy."""

from __future__ import annotations

import pytest

from distlab.rpc.exercises import check_backoff

RIGHT = [100, 200, 400, 800, 1_600, 3_200, 3_200]


def test_the_capped_doubling_waits_are_accepted():
    feedback = check_backoff(RIGHT)
    assert feedback.right and str(feedback).startswith("Right: 9500 ms of waiting in all")


@pytest.mark.parametrize("waits, hint", [
    (RIGHT[:6] + [6_400], "the wait before retry 7 is min(3200, 100 × 2^6 = 6400) = 3200 ms, "
                          "the cap, not 6400"),
    ([200, 400, 800, 1_600, 3_200, 3_200, 3_200], "the wait before retry 1 is min(3200, "
                                                  "100 × 2^0 = 100) = 100 ms, not 200"),
    (RIGHT[:2], "the first 7 retries: 2 given"),
    ("100, 200", "as a list of numbers"),
])
def test_the_first_wrong_wait_is_named_with_the_rule(waits, hint):
    feedback = check_backoff(waits)
    assert not feedback.right and hint in str(feedback)
