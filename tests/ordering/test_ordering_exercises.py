"""The delivery-order page's mini-exercise: the checker accepts what the causal rule lets
through and names the first post of a wrong answer with the entry that holds it back."""

from __future__ import annotations

from distlab.clocks.logical import VectorClock
from distlab.ordering.exercises import (C_DELIVERED, C_HELD, check_causal_delivery,
                                        deliverable_sequence)


def test_c_delivers_b1_then_b2_and_holds_the_rest():
    assert deliverable_sequence(C_DELIVERED, C_HELD) == ["b.1", "b.2"]
    feedback = check_causal_delivery(["b.1", "b.2"])
    assert feedback.right
    assert str(feedback) == "Right: c delivers b.1, b.2; d.1, a.3 stay held back."


def test_a_post_that_depends_on_an_undelivered_one_is_named_with_the_entry():
    assert str(check_causal_delivery(["d.1"])) == (
        "Not quite: d.1 cannot be delivered first: it is stamped {a:2, b:1, d:1}, and d had "
        "delivered 2 post(s) of a before posting it, while c has delivered 1")


def test_a_post_out_of_its_senders_order_is_named():
    assert str(check_causal_delivery(["b.2", "b.1"])) == (
        "Not quite: b.2 cannot be delivered first: it is stamped {a:1, b:2}, and it is b's "
        "post number 2, while c has delivered 0 of b's posts")
    assert "a.3 cannot be delivered after b.1, b.2" in str(
        check_causal_delivery(["b.1", "b.2", "a.3"]))


def test_an_answer_that_stops_short_is_told_what_may_come_next():
    assert str(check_causal_delivery(["b.1"])).startswith(
        "Not quite: c may also deliver b.2 next")


def test_answers_of_the_wrong_shape_get_a_clear_message():
    assert "as a list of texts" in str(check_causal_delivery("b.1"))
    assert "'x' is not one of the held-back posts" in str(check_causal_delivery(["x"]))


def test_the_checker_takes_another_state_too():
    # with a's second post delivered as well, d.1 may go after b.1
    delivered = VectorClock.of({"a": 2, "c": 1})
    assert deliverable_sequence(delivered, C_HELD[:3]) == ["b.1", "b.2", "d.1"]
    assert check_causal_delivery(["b.1", "b.2", "d.1"], delivered, C_HELD[:3]).right
