"""The CAP page's mini-exercise: a linearization of a small register history, by hand."""

from __future__ import annotations

import pytest

from distlab.check import check_linearizability
from distlab.kv.exercises import HISTORY, check_linearization


def test_the_history_is_linearizable_and_both_right_orders_are_accepted():
    assert check_linearizability(list(HISTORY.values()), "register").ok
    for order in ("ABDCEF", "ABDCFE"):
        feedback = check_linearization(list(order))
        assert feedback.right and str(feedback).startswith(f"Right: {' '.join(order)} ")


def test_a_read_of_an_overwritten_value_is_named():
    assert str(check_linearization(list("ABCDEF"))) == (
        "Not quite: at D (c3: r→1, 25-35 ms) the register holds 2, from the last write before "
        "it in your order, so the read cannot return 1")
    assert "holds nothing yet" in str(check_linearization(list("BACDEF")))


def test_an_order_against_real_time_is_named():
    assert str(check_linearization(list("ADBCEF"))) == (
        "Not quite: B (c2: r→1, 5-15 ms) must come before D (c3: r→1, 25-35 ms): it returned "
        "before D was invoked, and a linearization respects real time")


@pytest.mark.parametrize("order, hint", [
    (list("ABDCE"), "F missing"), (list("ABDCEFF"), "one is repeated"),
    (list("ABDCEX"), "'X' is not an operation"), ("ABDCEF", "as a list of names"),
])
def test_answers_of_the_wrong_shape_get_a_clear_message(order, hint):
    assert hint in str(check_linearization(order))
