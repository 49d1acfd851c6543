"""The time-and-order page's mini-exercise: the checker accepts the right stamps and names
the first wrong one with the rule that gives it."""

from __future__ import annotations

from distlab.clocks.exercises import check_stamps, event_names, small_run

LAMPORT = {"e1": 1, "e2": 1, "e3": 2, "e4": 2, "e5": 3, "e6": 4}
VECTORS = {"e1": [1, 0, 0], "e2": [0, 1, 0], "e3": [0, 1, 1], "e4": [1, 2, 0],
           "e5": [0, 1, 2], "e6": [2, 1, 2]}


def test_the_small_run_has_the_six_events_the_page_describes():
    assert event_names(small_run()) == {
        "e1": "a sends m1", "e2": "b sends m2", "e3": "c receives m2",
        "e4": "b receives m1", "e5": "c sends m3", "e6": "a receives m3"}


def test_the_right_stamps_are_accepted():
    feedback = check_stamps(LAMPORT, VECTORS)
    assert feedback.right and str(feedback).startswith("Right: ")


def test_a_receipt_that_forgets_to_merge_is_named_with_the_rule():
    feedback = check_stamps(LAMPORT, {**VECTORS, "e4": [0, 2, 0]})
    assert not feedback.right
    assert str(feedback) == (
        "Not quite: e4 (b receives m1) should be [1, 2, 0], not [0, 2, 0], because b's "
        "vector was [0, 1, 0] and m1 carries [1, 0, 0]: the larger of each entry, then one "
        "more in b's own entry.")


def test_a_wrong_lamport_time_is_named_before_the_vectors():
    feedback = check_stamps({**LAMPORT, "e6": 3}, {**VECTORS, "e6": [0, 0, 0]})
    assert str(feedback) == ("Not quite: e6 (a receives m3) should have Lamport time 4, not 3, "
                             "because a's clock read 1 and m3 carries 3: the larger, plus one.")


def test_a_send_that_does_not_count_is_named():
    feedback = check_stamps({**LAMPORT, "e5": 2}, VECTORS)
    assert "e5 (c sends m3) should have Lamport time 3, not 2, because c's clock read 2, and a " \
           "send counts one more" in str(feedback)


def test_missing_events_and_wrong_shapes_get_a_clear_message():
    assert str(check_stamps(LAMPORT, {"e1": [1, 0, 0]})) == (
        "Not quite: vectors must give a stamp to each of e1, e2, e3, e4, e5, e6; it has e1")
    assert "lamport must be a dict" in str(check_stamps(None, VECTORS))
