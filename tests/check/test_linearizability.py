"""Tests of distlab.check.linearizability and distlab.check.models.

Hand-built histories with known verdicts, a property test against a brute-force checker
(every order of every subset of the unknown operations), and histories recorded from the
simulator: a correct single-server register and a replicated store that reads stale values.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distlab.check import (KV, UNKNOWN, CASRegister, Counter, Model, Op, Queue, Register, Verdict,
                           check_linearizability)
from distlab.check.history_plot import linearization_points
from distlab.check.models import SHOWN_CHARACTERS, agrees, get_model
from distlab.check.synthetic import correct_history, with_hard_keys
from distlab.sim import Client, Network, Node, Simulation, Uniform


def op(id: int, process: Any, f: str, start: float, end: float | None, value: Any = None,
       output: Any = None, status: str = "ok", key: Any = None) -> Op:
    return Op(id, process, f, key, value, output, status, start, end)


def w(id, process, value, start, end, status="ok"):
    return op(id, process, "write", start, end, value=value, status=status)


def r(id, process, output, start, end, status="ok"):
    return op(id, process, "read", start, end, output=output, status=status)


def verdict(ops, model="register", **kw) -> Verdict:
    return check_linearizability(ops, model, **kw).verdict


# -- registers ---------------------------------------------------------------------------------

def test_stale_read_after_a_newer_write_completed_is_not_linearizable():
    ops = [w(0, 0, 1, 0, 1), w(1, 1, 2, 2, 3), r(2, 2, 1, 4, 5)]
    result = check_linearizability(ops, "register")
    assert result.verdict == "not linearizable"
    assert [o.id for o in result.linearization] == [0, 1]
    assert [o.id for o in result.unplaceable] == [2]
    assert result.state == 2


def test_read_concurrent_with_a_write_may_see_the_old_or_the_new_value():
    for seen in (None, 1):
        assert verdict([w(0, 0, 1, 0, 10), r(1, 1, seen, 2, 3)]) == "linearizable"
    assert verdict([w(0, 0, 1, 0, 10), r(1, 1, 7, 2, 3)]) == "not linearizable"


def test_once_a_reader_saw_the_new_value_a_later_reader_cannot_see_the_old():
    # the new/old inversion: both reads overlap the write, but one follows the other
    ops = [w(0, 0, 1, 0, 10), r(1, 1, 1, 1, 2), r(2, 2, None, 3, 4)]
    assert verdict(ops) == "not linearizable"
    ops = [w(0, 0, 1, 0, 10), r(1, 1, None, 1, 2), r(2, 2, 1, 3, 4)]
    assert verdict(ops) == "linearizable"


def test_concurrent_writes_can_take_effect_in_either_order():
    for last in (1, 2):
        ops = [w(0, 0, 1, 0, 5), w(1, 1, 2, 1, 6), r(2, 2, last, 7, 8), r(3, 0, last, 9, 10)]
        assert verdict(ops) == "linearizable"
    ops = [w(0, 0, 1, 0, 5), w(1, 1, 2, 1, 6), r(2, 2, 1, 7, 8), r(3, 0, 2, 9, 10)]
    assert verdict(ops) == "not linearizable"


def test_a_register_starts_unwritten():
    assert verdict([r(0, 0, None, 0, 1)]) == "linearizable"
    assert verdict([r(0, 0, 0, 0, 1)]) == "not linearizable"


def test_touching_intervals_count_as_concurrent():
    # the write completes at 5 when the read is invoked: the timestamps cannot order them
    assert verdict([w(0, 0, 1, 0, 5), r(1, 1, None, 5, 6)]) == "linearizable"
    assert verdict([w(0, 0, 1, 0, 5), r(1, 1, None, 5.5, 6)]) == "not linearizable"


def test_an_empty_history_is_linearizable():
    assert verdict([]) == "linearizable"
    assert verdict([], "kv") == "linearizable"


# -- unknown outcomes and failures ----------------------------------------------------------------

def test_an_unknown_write_may_take_effect():
    for status in ("info", "pending"):
        end = 2 if status == "info" else None
        ops = [w(0, 0, 1, 0, 1), w(1, 1, 2, 1.5, end, status=status), r(2, 2, 2, 10, 11)]
        assert verdict(ops) == "linearizable", status


def test_an_unknown_write_may_never_take_effect():
    for status in ("info", "pending"):
        ops = [w(0, 0, 1, 0, 1), w(1, 1, 2, 1.5, None, status=status), r(2, 2, 1, 10, 11)]
        assert verdict(ops) == "linearizable", status


def test_an_unknown_write_may_take_effect_long_after_its_client_gave_up():
    ops = [w(0, 0, 1, 0, 1, status="info"), r(1, 1, None, 5, 6), r(2, 1, 1, 7, 8)]
    assert verdict(ops) == "linearizable"


def test_an_unknown_write_cannot_take_effect_before_it_was_invoked():
    ops = [r(0, 0, 2, 0, 1), w(1, 1, 2, 5, 6, status="info")]
    assert verdict(ops) == "not linearizable"


def test_an_unknown_write_takes_effect_at_most_once():
    # seen, then overwritten, then seen again: it cannot happen twice
    ops = [w(0, 0, 2, 0, None, status="pending"), r(1, 1, 2, 1, 2), w(2, 1, 3, 3, 4),
           r(3, 1, 2, 5, 6)]
    assert verdict(ops) == "not linearizable"


def test_a_failed_write_never_takes_effect():
    assert verdict([w(0, 0, 1, 0, 1, status="fail"), r(1, 1, 1, 2, 3)]) == "not linearizable"
    assert verdict([w(0, 0, 1, 0, 1, status="fail"), r(1, 1, None, 2, 3)]) == "linearizable"


def test_identical_unknown_writes_are_tried_as_one_but_each_takes_effect_once():
    ops = [w(0, 0, 5, 0, None, "info"), w(1, 1, 5, 0, None, "info"), r(2, 2, 5, 1, 2),
           w(3, 2, 6, 3, 4), r(4, 2, 5, 5, 6), w(5, 2, 7, 7, 8), r(6, 2, 5, 9, 10)]
    assert verdict(ops[:5]) == "linearizable"
    assert verdict(ops) == "not linearizable"  # three fives seen after overwrites, two writes


# -- compare-and-set ------------------------------------------------------------------------------

def cas(id, process, expected, new, start, end, status="ok"):
    return op(id, process, "cas", start, end, value=(expected, new), status=status)


def test_two_successful_cas_from_the_same_value_is_a_lost_update():
    ops = [w(0, 0, 0, 0, 1), cas(1, 1, 0, 1, 2, 5), cas(2, 2, 0, 2, 3, 6)]
    assert verdict(ops, "cas-register") == "not linearizable"
    ops[2] = cas(2, 2, 0, 2, 3, 6, status="fail")
    assert verdict(ops, "cas-register") == "linearizable"


def test_a_successful_cas_must_find_its_expected_value():
    ops = [w(0, 0, 1, 0, 1), cas(1, 1, 1, 2, 2, 3), r(2, 2, 1, 4, 5)]
    assert verdict(ops, "cas-register") == "not linearizable"
    ops = [w(0, 0, 1, 0, 1), cas(1, 1, 1, 2, 2, 3), r(2, 2, 2, 4, 5)]
    assert verdict(ops, "cas-register") == "linearizable"
    ops = [w(0, 0, 1, 0, 1), cas(1, 1, 3, 2, 2, 3)]
    assert verdict(ops, "cas-register") == "not linearizable"


def test_chained_cas_orders_concurrent_operations():
    ops = [cas(0, 0, 1, 2, 0, 10), cas(1, 1, None, 1, 0, 10), r(2, 2, 2, 11, 12)]
    result = check_linearizability(ops, "cas-register")
    assert result.ok
    assert [o.id for o in result.linearization] == [1, 0, 2]


# -- queues, counters, key-value maps -----------------------------------------------------------

def enq(id, process, value, start, end, status="ok"):
    return op(id, process, "enqueue", start, end, value=value, status=status)


def deq(id, process, output, start, end, status="ok"):
    return op(id, process, "dequeue", start, end, output=output, status=status)


def test_a_queue_is_first_in_first_out():
    ops = [enq(0, 0, 1, 0, 1), enq(1, 0, 2, 2, 3), deq(2, 1, 2, 4, 5)]
    assert verdict(ops, "queue") == "not linearizable"
    ops = [enq(0, 0, 1, 0, 1), enq(1, 0, 2, 2, 3), deq(2, 1, 1, 4, 5), deq(3, 1, 2, 6, 7),
           deq(4, 1, None, 8, 9)]
    assert verdict(ops, "queue") == "linearizable"


def test_concurrent_enqueues_may_be_dequeued_in_either_order():
    for first, second in ((1, 2), (2, 1)):
        ops = [enq(0, 0, 1, 0, 5), enq(1, 1, 2, 0, 5), deq(2, 2, first, 6, 7),
               deq(3, 2, second, 8, 9)]
        assert verdict(ops, "queue") == "linearizable"


def test_an_element_is_dequeued_only_once():
    ops = [enq(0, 0, 1, 0, 1), deq(1, 1, 1, 2, 5), deq(2, 2, 1, 3, 6)]
    assert verdict(ops, "queue") == "not linearizable"


def test_an_unknown_dequeue_may_have_removed_the_head():
    ops = [enq(0, 0, 1, 0, 1), enq(1, 0, 2, 2, 3), deq(2, 1, None, 4, None, status="info"),
           deq(3, 2, 2, 6, 7)]
    assert verdict(ops, "queue") == "linearizable"
    ops[2] = deq(2, 1, None, 4, 5, status="fail")
    assert verdict(ops, "queue") == "not linearizable"


def add(id, process, value, start, end, status="ok"):
    return op(id, process, "add", start, end, value=value, status=status)


def test_a_counter_loses_no_increment():
    ops = [add(0, 0, 1, 0, 5), add(1, 1, 1, 1, 6), r(2, 2, 1, 7, 8)]
    assert verdict(ops, "counter") == "not linearizable"  # the lost update
    ops[2] = r(2, 2, 2, 7, 8)
    assert verdict(ops, "counter") == "linearizable"


def test_a_counter_read_during_increments_sees_some_prefix_of_them():
    for seen in (0, 1, 2, 3):
        ops = [add(0, 0, 1, 0, 5), add(1, 1, 2, 1, 6), r(2, 2, seen, 2, 3)]
        assert verdict(ops, "counter") == "linearizable"
    ops = [add(0, 0, 1, 0, 5), add(1, 1, 2, 1, 6), r(2, 2, 4, 2, 3)]
    assert verdict(ops, "counter") == "not linearizable"


def put(id, process, key, value, start, end, status="ok"):
    return op(id, process, "put", start, end, value=value, key=key, status=status)


def get(id, process, key, output, start, end, status="ok"):
    return op(id, process, "get", start, end, output=output, key=key, status=status)


def append(id, process, key, value, start, end, status="ok"):
    return op(id, process, "append", start, end, value=value, key=key, status=status)


def test_kv_keys_are_independent_and_the_failing_key_is_named():
    ops = [put(0, 0, "x", "1", 0, 1), put(1, 1, "y", "a", 0, 1), get(2, 2, "x", "1", 2, 3),
           get(3, 2, "y", "b", 4, 5), get(4, 0, "z", None, 4, 5)]
    result = check_linearizability(ops, "kv")
    assert result.verdict == "not linearizable"
    assert result.key == "y"
    assert result.keys == 3
    assert "key 'y'" in str(result)
    ops[3] = get(3, 2, "y", "a", 4, 5)
    result = check_linearizability(ops, "kv")
    assert result.ok
    assert set(result.linearizations) == {"x", "y", "z"}


def test_kv_append_concatenates_and_an_append_is_never_lost():
    ops = [append(0, 0, "k", "a", 0, 5), append(1, 1, "k", "b", 1, 6), get(2, 2, "k", "ba", 7, 8)]
    assert verdict(ops, "kv") == "linearizable"
    ops[2] = get(2, 2, "k", "a", 7, 8)
    assert verdict(ops, "kv") == "not linearizable"


def test_kv_append_of_non_strings_builds_a_list():
    ops = [append(0, 0, "k", 1, 0, 1), append(1, 0, "k", 2, 2, 3), get(2, 1, "k", (1, 2), 4, 5)]
    assert verdict(ops, "kv") == "linearizable"


# -- models ------------------------------------------------------------------------------------

def test_every_model_starts_in_a_hashable_state_and_steps_to_one():
    sample = {"register": ("write", 1), "cas-register": ("cas", (None, 1)),
              "kv": ("put", "v"), "queue": ("enqueue", 1), "counter": ("add", 2)}
    for name, (f, value) in sample.items():
        model = get_model(name)
        state = model.init()
        hash(state)
        ok, after = model.step(state, op(0, 0, f, 0, 1, value=value, key="k"))
        assert ok
        hash(after)


def test_unknown_output_agrees_with_anything():
    assert agrees(UNKNOWN, 3) and agrees(3, 3) and not agrees(4, 3)
    assert repr(UNKNOWN) == "?"


def test_models_label_operations_for_pictures():
    assert Register().describe(w(0, 0, 3, 0, 1)) == "w(3)"
    assert Register().describe(r(0, 0, 1, 0, 1)) == "r→1"
    assert Register().describe(r(0, 0, None, 0, 1)) == "r→nil"
    assert CASRegister().describe(cas(0, 0, 1, 2, 0, 1)) == "cas(1→2)"
    assert KV().describe(get(0, 0, "x", "ab", 0, 1)) == "get(x)→'ab'"
    assert Queue().describe(deq(0, 0, 4, 0, 1)) == "deq→4"
    assert Counter().describe(add(0, 0, 2, 0, 1)) == "add(2)"


class GrowOnlySet(Model):
    """A model written in a test, to show a new model is one small class."""

    name = "set"
    functions = frozenset({"add", "contains"})
    read_only = frozenset({"contains"})

    def init(self):
        return frozenset()

    def step(self, state, op):
        match op.f:
            case "add":
                return True, state | {op.value}
            case "contains":
                return agrees(op.output, op.value in state), state


def test_a_new_model_is_one_small_class():
    ops = [op(0, 0, "add", 0, 1, value="x"), op(1, 1, "contains", 2, 3, value="x", output=True),
           op(2, 1, "contains", 4, 5, value="y", output=False)]
    assert check_linearizability(ops, GrowOnlySet()).ok
    ops[2] = op(2, 1, "contains", 4, 5, value="x", output=False)
    assert not check_linearizability(ops, GrowOnlySet).ok


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="not an operation of model register"):
        check_linearizability([op(0, 0, "incr", 0, 1)], "register")
    with pytest.raises(ValueError, match="has no key"):
        check_linearizability([put(0, 0, None, "v", 0, 1)], "kv")
    with pytest.raises(ValueError, match="unknown model 'btree'"):
        check_linearizability([], "btree")
    with pytest.raises(ValueError, match="has status 'done'"):
        check_linearizability([r(0, 0, None, 0, 1, status="done")], "register")
    with pytest.raises(ValueError, match="completes at 1 before its invocation at 2"):
        check_linearizability([r(0, 0, None, 2, 1)], "register")
    with pytest.raises(ValueError, match=r"\[expected, new\]"):
        check_linearizability([op(0, 0, "cas", 0, 1, value=3)], "cas-register")
    with pytest.raises(ValueError, match="operation 0 has invoke_time nan; times must be"):
        check_linearizability([r(0, 0, None, math.nan, 1)], "register")
    with pytest.raises(ValueError, match="operation 0 has value nan: NaN equals nothing"):
        check_linearizability([w(0, 0, math.nan, 0, 1)], "register")
    with pytest.raises(ValueError, match="operation 1 has output nan: NaN equals nothing"):
        check_linearizability([w(0, 0, 1, 0, 1), r(1, 1, math.nan, 2, 3)], "register")


def test_a_value_the_model_can_never_apply_is_refused_before_the_search():
    # the read fails first: a search would never reach the add to step it
    ops = [op(0, 0, "read", 0, 1, output=5), add(1, 1, "x", 2, 3)]
    with pytest.raises(ValueError, match=r"operation 1: a counter adds numbers; got add\('x'\)"):
        check_linearizability(ops, "counter")


def test_long_values_are_cut_in_the_explanation():
    ops = [w(0, 0, "v" * 10_000, 0, 1), r(1, 1, "u" * 10_000, 2, 3)]
    text = str(check_linearizability(ops, "register"))
    assert "w('" + "v" * SHOWN_CHARACTERS + "...)" not in text
    assert "w('" + "v" * (SHOWN_CHARACTERS - 4) + "...)" in text  # SHOWN_CHARACTERS in all
    assert max(len(line) for line in text.splitlines()) < 2 * SHOWN_CHARACTERS


def test_a_picture_needs_a_known_suffix(tmp_path):
    result = check_linearizability([w(0, 0, 1, 0, 1)], "register")
    with pytest.raises(ValueError, match=r"cannot tell which picture format '.*h\.xyz' "
                                         r"should be: end it with one of .*\.png"):
        result.save(str(tmp_path / "h.xyz"))
    assert list(tmp_path.iterdir()) == []


# -- the time budget -----------------------------------------------------------------------------

def test_past_the_time_budget_the_answer_is_unknown():
    # many concurrent writes and a read of a value none of them wrote: to prove it wrong, the
    # search must try every subset of the writes (Lowe's cache cannot help)
    hard = with_hard_keys([], [None], writers=22)
    result = check_linearizability(hard, "register", timeout=0.2)
    assert result.verdict == "unknown"
    assert "time budget of 0.2 s" in str(result)
    assert not result.ok


# -- the explanation and the picture ----------------------------------------------------------

def test_the_explanation_names_the_prefix_state_and_impossible_operation():
    ops = [w(0, 0, 1, 0, 1), w(1, 1, 2, 2, 3), r(2, 2, 1, 4, 5)]
    text = str(check_linearizability(ops, "register"))
    assert text.splitlines()[0] == "not linearizable"
    assert "longest linearizable prefix found: 2 of 3 operations" in text
    assert "state after it: 2" in text
    assert "process 2: r→1" in text


def test_a_linearizable_result_reads_as_one_word_then_a_summary():
    text = str(check_linearizability([w(0, 0, 1, 0, 1), r(1, 1, 1, 2, 3)], "register"))
    assert text.splitlines() == ["linearizable",
                                 "  2 operations (0 with unknown outcome) on 1 object, model "
                                 "register"]


def test_the_picture_marks_the_impossible_operation_in_red():
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    from distlab.check.history_plot import IMPOSSIBLE

    ops = [w(0, 0, 1, 0, 1), w(1, 1, 2, 2, 3), r(2, 2, 1, 4, 5),
           w(3, 3, 9, 0.5, None, status="info"), w(4, 3, 8, 0.2, 0.4, status="fail")]
    result = check_linearizability(ops, "register")
    fig = result.draw()
    ax = fig.axes[0]
    red = [p for p in ax.patches if to_hex(p.get_facecolor()) == IMPOSSIBLE]
    assert len(red) == 1
    labels = {t.get_text() for t in ax.texts}
    assert {"w(1)", "w(2)", "r→1", "w(9)", "w(8) ✗"} <= labels
    assert [t.get_text() for t in ax.texts if t.get_text().isdigit()] == ["1", "2"]
    plt.close(fig)
    png, metadata = result._repr_png_()
    assert png.startswith(b"\x89PNG")
    assert metadata["alt"].startswith("History of ") and "not linearizable" in metadata["alt"]


def test_a_long_history_is_drawn_as_a_window_ending_at_the_problem():
    import matplotlib.pyplot as plt

    ops = [w(i, i % 3, i, 2 * i, 2 * i + 1) for i in range(100)] + [r(100, 5, 3, 300, 301)]
    result = check_linearizability(ops, "register")
    fig = result.draw(max_ops=20)
    assert "showing 20 of 101 operations" in fig.axes[0].get_title()
    plt.close(fig)


def test_linearization_points_lie_inside_each_interval_in_order():
    ops = [w(0, 0, 1, 0, 10), w(1, 1, 2, 0, 3), r(2, 2, 1, 4, 5)]
    result = check_linearizability(ops, "register")
    points = linearization_points(result.linearization, spread=0.01)
    assert points == sorted(points)
    for o, t in zip(result.linearization, points):
        assert o.invoke_time <= t <= o.complete_time


# -- against brute force --------------------------------------------------------------------------

def brute_force(ops: list[Op], model: Model) -> bool:
    """Linearizable iff some order of the completed operations plus some subset of the
    unknown ones respects real time and is a legal run of the model."""
    ops = [Op.of(o) for o in ops if o.status != "fail"]
    required = [o for o in ops if o.status == "ok"]
    optional = [o for o in ops if o.status != "ok"]
    for k in range(len(optional) + 1):
        for subset in itertools.combinations(optional, k):
            for order in itertools.permutations(required + list(subset)):
                if respects_real_time(order) and legal(order, model):
                    return True
    return False


def respects_real_time(order) -> bool:
    def end(o):
        return o.complete_time if o.status == "ok" else math.inf
    return all(not end(b) < a.invoke_time for i, a in enumerate(order) for b in order[i + 1:])


def legal(order, model: Model) -> bool:
    states: dict[Any, Any] = {}
    for o in order:
        key = o.key if model.keyed else None
        ok, states[key] = model.step(states.get(key, model.init()), o)
        if not ok:
            return False
    return True


CHOICES = {
    "register": [("write", v, None) for v in (1, 2)] + [("read", None, v) for v in (None, 1, 2)],
    "cas-register": [("write", 1, None), ("read", None, None), ("read", None, 1),
                     ("read", None, 2), ("cas", (1, 2), None), ("cas", (None, 1), None),
                     ("cas", (2, 1), None)],
    "queue": [("enqueue", v, None) for v in (1, 2)] + [("dequeue", None, v)
                                                         for v in (None, 1, 2)],
    "counter": [("add", 1, None), ("add", 2, None)] + [("read", None, v) for v in range(5)],
    "kv": [("put", "a", None), ("append", "b", None), ("get", None, None), ("get", None, "a"),
           ("get", None, "ab"), ("get", None, "b"), ("append", "a", None)],
}


@st.composite
def small_histories(draw, model_name: str, max_ops: int = 6, processes: int = 3) -> list[Op]:
    """Up to ``max_ops`` operations by a few processes (each one at a time), with ties,
    failures and unknown outcomes."""
    clock = [draw(st.integers(0, 2)) for _ in range(processes)]
    ops = []
    for i in range(draw(st.integers(0, max_ops))):
        process = draw(st.integers(0, processes - 1))
        if clock[process] is None:  # that process left an operation pending
            continue
        start = clock[process] + draw(st.integers(0, 2))
        end = start + draw(st.integers(0, 4))
        status = draw(st.sampled_from(["ok", "ok", "ok", "ok", "fail", "info", "pending"]))
        f, value, output = draw(st.sampled_from(CHOICES[model_name]))
        key = draw(st.sampled_from(["x", "y"])) if model_name == "kv" else None
        ops.append(Op(i, process, f, key, value, output if status == "ok" else None, status,
                      start, None if status == "pending" else end))
        clock[process] = None if status == "pending" else end + draw(st.integers(0, 1))
    return ops


def assert_valid_linearization(order, ops, model):
    assert respects_real_time(order)
    assert legal(order, model)
    completed = {o.id for o in ops if o.status == "ok"}
    assert completed <= {o.id for o in order}
    assert not {o.id for o in order} & {o.id for o in ops if o.status == "fail"}


@pytest.mark.parametrize("model_name", sorted(CHOICES))
@settings(max_examples=250, deadline=None, derandomize=True)
@given(data=st.data())
def test_the_search_agrees_with_brute_force_on_small_histories(model_name, data):
    ops = data.draw(small_histories(model_name))
    model = get_model(model_name)
    result = check_linearizability(ops, model)
    assert result.ok == brute_force(ops, model)
    if result.ok:  # the witness is a real linearization, key by key
        for key, order in result.linearizations.items():
            assert_valid_linearization(order, [o for o in ops if not model.keyed or
                                               o.key == key], model)
    else:  # the prefix is legal and the impossible operation is a completed one outside it
        assert respects_real_time(result.linearization)
        assert legal(result.linearization, model)
        (impossible,) = result.unplaceable
        assert impossible.status == "ok"
        assert impossible.id not in {o.id for o in result.linearization}


def reference_search(ops: list[Op], model: Model) -> bool:
    """Wing and Gong's search in its plainest form, for histories too long to brute-force:
    from each configuration (set of operations done, state), try every operation that may
    go next (one invoked before every pending completed operation returned); remember the
    configurations that failed. Unknown operations are simply never required."""
    ops = [Op.of(o) for o in ops if o.status != "fail"]
    required = frozenset(o.id for o in ops if o.status == "ok")
    failed: set = set()

    def search(done: frozenset, state) -> bool:
        if required <= done:
            return True
        if (done, state) in failed:
            return False
        horizon = min(o.complete_time for o in ops if o.id in required - done)
        for o in ops:
            if o.id not in done and o.invoke_time <= horizon:
                ok, after = model.step(state, o)
                if ok and search(done | {o.id}, after):
                    return True
        failed.add((done, state))
        return False

    keys = {o.key for o in ops} if model.keyed else {None}
    return all(search(frozenset(o.id for o in ops if model.keyed and o.key != key),
                      model.init()) for key in keys)


@pytest.mark.parametrize("model_name", sorted(CHOICES))
@settings(max_examples=150, deadline=None, derandomize=True)
@given(data=st.data())
def test_the_search_agrees_with_plain_wing_gong_on_longer_histories(model_name, data):
    ops = data.draw(small_histories(model_name, max_ops=14, processes=4))
    model = get_model(model_name)
    assert check_linearizability(ops, model).ok == reference_search(ops, model)


def test_the_search_agrees_with_plain_wing_gong_on_nearly_correct_histories():
    """Correct histories with many unknown outcomes, some with one read changed."""
    verdicts = []
    for seed in range(150):
        ops = correct_history(seed, clients=4, operations=14, values=3, info_rate=0.3)
        rng = random.Random(seed)
        reads = [i for i, o in enumerate(ops) if o.f == "read" and o.status == "ok"]
        if reads and rng.random() < 0.6:
            i = rng.choice(reads)
            ops[i] = dataclasses.replace(ops[i], output=rng.choice([None, 0, 1, 2]))
        ok = check_linearizability(ops, "register").ok
        assert ok == reference_search(ops, Register()), seed
        verdicts.append(ok)
    assert 0.2 < sum(verdicts) / len(verdicts) < 0.9  # both verdicts well represented


@pytest.mark.parametrize("seed", range(6))
def test_correct_histories_with_unknown_outcomes_are_linearizable(seed):
    ops = correct_history(seed, clients=5, operations=200, values=4, info_rate=0.1)
    assert check_linearizability(ops, "register", timeout=60).ok


# -- histories recorded from the simulator -----------------------------------------------------

@dataclass(frozen=True)
class Read:
    req: int


@dataclass(frozen=True)
class Write:
    req: int
    value: int


@dataclass(frozen=True)
class Replicate:
    value: int


@dataclass(frozen=True)
class Reply:
    req: int
    value: Any


class RegisterServer(Node):
    """Holds one register and answers every request at once: linearizable by construction."""

    def __init__(self):
        self.value = None

    def on_message(self, src, msg):
        match msg:
            case Read(req):
                self.send(src, Reply(req, self.value))
            case Write(req, value):
                self.value = value
                self.send(src, Reply(req, None))
            case Replicate(value):
                self.value = value


class LazyPrimary(RegisterServer):
    """Acknowledges a write before its backups have it, and lets backups serve reads: a
    reader that asks a backup can see a value older than one already acknowledged."""

    def on_message(self, src, msg):
        super().on_message(src, msg)
        if isinstance(msg, Write):
            for peer in self.peers:
                self.send(peer, Replicate(msg.value))


class RegisterClient(Client):
    """Reads and writes (unique values) one at a time; gives up after a timeout (info)."""

    def __init__(self, servers=("s",), writes_go_to="s", ops=30, timeout=40.0):
        self.servers, self.writes_go_to = servers, writes_go_to
        self.remaining, self.timeout = ops, timeout
        self.op, self.req = None, 0

    def on_start(self):
        self.set_timer(self.rng.uniform(0, 5), "next")

    def on_timer(self, name):
        match name:
            case "next" if self.remaining > 0:
                self.remaining -= 1
                self.req += 1
                if self.rng.random() < 0.5:
                    value = self.req * 100 + int(self.id[1:])
                    self.op = self.invoke("write", value)
                    self.send(self.writes_go_to, Write(self.req, value))
                else:
                    self.op = self.invoke("read")
                    self.send(self.rng.choice(self.servers), Read(self.req))
                self.set_timer(self.timeout, "timeout")
            case "timeout" if self.op is not None:
                self.info(self.op)
                self.op = None
                self.set_timer(1, "next")

    def on_message(self, src, msg):
        match msg:
            case Reply(req, value) if self.op is not None and req == self.req:
                self.ok(self.op, value if self.op.f == "read" else None)
                self.op = None
                self.cancel_timer("timeout")
                self.set_timer(self.rng.uniform(0, 3), "next")


def run_store(seed: int, server: type[Node], servers: tuple[str, ...], loss: float = 0.0):
    sim = Simulation(seed=seed, network=Network(latency=Uniform(1, 15), loss=loss))
    sim.add_nodes(server, list(servers))
    sim.add_nodes(RegisterClient, ["c1", "c2", "c3", "c4"], servers=servers,
                  writes_go_to=servers[0])
    sim.run(until=5_000)
    return sim


@pytest.mark.parametrize("seed", range(4))
def test_a_single_register_server_is_linearizable_even_when_messages_are_lost(seed):
    sim = run_store(seed, RegisterServer, ("s",), loss=0.1)
    statuses = {op.status for op in sim.history.operations}
    assert "info" in statuses  # lost messages made some outcomes unknown
    assert check_linearizability(sim.history, "register", timeout=60).ok


@pytest.mark.parametrize("seed", range(4))
def test_a_store_that_reads_from_lagging_backups_is_caught(seed):
    sim = run_store(seed, LazyPrimary, ("p", "b1", "b2"))
    result = check_linearizability(sim.history, "register", timeout=60)
    assert result.verdict == "not linearizable"
    (stale,) = result.unplaceable
    assert stale.f == "read"


def test_around_the_impossible_operation_are_the_concurrent_ones_and_those_just_before():
    ops = [w(0, 0, 1, 0, 1), w(1, 1, 2, 2, 3), w(2, 0, 3, 4, 5), w(3, 1, 4, 6, 7),
           w(4, 0, 5, 8, 9), r(5, 2, 1, 10, 14), w(6, 1, 6, 11, 20), r(7, 0, 6, 30, 31)]
    result = check_linearizability(ops, "register")
    assert [o.id for o in result.unplaceable] == [5]
    # 6 overlaps the stale read; 2, 3 and 4 returned last before it; 0, 1 and 7 are far away
    assert [o.id for o in result.around()] == [2, 3, 4, 5, 6]
    assert [o.id for o in result.around(before=1)] == [4, 5, 6]
    assert result.window == (4, 14)
    around = str(result).split("the operations around it (concurrent with it, or just before "
                               "it), by invocation:\n")[1].splitlines()
    assert [line.split(":")[0].strip() for line in around] == [
        "process 0", "process 1", "process 0", "-> process 2", "process 1"]
    assert around[3].startswith("    -> process 2: r→1")


def test_a_linearizable_history_has_nothing_around_and_no_window():
    result = check_linearizability([w(0, 0, 1, 0, 1), r(1, 1, 1, 2, 3)], "register")
    assert result.around() == () and result.window is None
