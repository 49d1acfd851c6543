"""Tests of distlab.check.sessions and distlab.check.sequential.

Hand-written histories that break each session guarantee (and only the guarantees that
should see it), histories that keep them, the malformed histories each check refuses, and
random small histories on which the levels must nest: linearizable => sequentially
consistent => causal => every session guarantee, and consistent prefix => monotonic writes
and writes follow reads.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distlab.check import (GUARANTEES, Op, Outcome, check_linearizability, check_sequential,
                           check_session, check_sessions)


def put(id: int, process: Any, key: str, value: str, start: float, end: float | None = None,
        status: str = "ok") -> Op:
    end = start + 1 if end is None and status == "ok" else end
    return Op(id, process, "put", key, value, None, status, start, end)


def get(id: int, process: Any, key: str, output: Any, start: float, end: float | None = None
        ) -> Op:
    return Op(id, process, "get", key, None, output, "ok", start, start + 1 if end is None
              else end)


def broken(history: list[Op]) -> set[str]:
    """The guarantees the history breaks."""
    return {name for name, result in check_sessions(history).items() if not result.ok}


# -- each guarantee, broken -------------------------------------------------------------------
def test_read_your_writes_broken_by_a_read_that_misses_the_session_own_write():
    history = [put(0, "p", "x", "a", 0), get(1, "p", "x", None, 2)]
    assert broken(history) == {"read-your-writes", "causal"}
    result = check_session(history, "read-your-writes")
    (anomaly,) = result.anomalies
    assert (anomaly.read.id, anomaly.returned, anomaly.missed.id) == (1, None, 0)
    assert "wrote it earlier (operation 0)" in anomaly.why
    assert "read-your-writes: violated" in str(result)


def test_read_your_writes_broken_by_an_older_value_of_the_session():
    history = [put(0, "p", "x", "a", 0), put(1, "p", "x", "b", 2), get(2, "p", "x", "a", 4)]
    (anomaly,) = check_session(history, "read-your-writes").anomalies
    assert (anomaly.returned.id, anomaly.missed.id) == (0, 1)
    assert "older than put(x,'b')" in anomaly.why


def test_monotonic_reads_broken_by_a_read_that_goes_back():
    history = [put(0, "w", "x", "a", 0), put(1, "w", "x", "b", 2),
               get(2, "p", "x", "b", 4), get(3, "p", "x", "a", 6)]
    assert broken(history) == {"monotonic-reads", "causal"}
    (anomaly,) = check_session(history, "monotonic-reads").anomalies
    assert (anomaly.read.id, anomaly.returned.id, anomaly.missed.id) == (3, 0, 1)


def test_monotonic_writes_broken_by_seeing_a_write_but_not_the_one_before_it():
    history = [put(0, "w", "x", "a", 0), put(1, "w", "y", "b", 2),
               get(2, "p", "y", "b", 4), get(3, "p", "x", None, 6)]
    assert broken(history) == {"monotonic-writes", "consistent-prefix", "causal"}


def test_writes_follow_reads_broken_by_an_answer_seen_without_its_question():
    history = [put(0, "asker", "x", "question", 0),
               get(1, "answerer", "x", "question", 2), put(2, "answerer", "y", "answer", 4),
               get(3, "observer", "y", "answer", 6), get(4, "observer", "x", None, 8)]
    assert broken(history) == {"writes-follow-reads", "consistent-prefix", "causal"}
    (anomaly,) = check_session(history, "consistent-prefix").anomalies
    assert (anomaly.read.id, anomaly.missed.id) == (4, 0)


def test_consistent_prefix_broken_through_a_chain_of_two_writers():
    history = [put(0, "a", "x", "1", 0), get(1, "b", "x", "1", 2), put(2, "b", "y", "2", 4),
               get(3, "c", "y", "2", 6), put(4, "c", "z", "3", 8),
               get(5, "p", "z", "3", 10), get(6, "p", "x", None, 12)]
    assert broken(history) == {"consistent-prefix", "causal"}


def test_causal_order_with_a_cycle_breaks_causal_consistency():
    history = [get(0, "p", "x", "b", 0), put(1, "p", "y", "a", 2),
               get(2, "q", "y", "a", 0), put(3, "q", "x", "b", 2)]
    result = check_session(history, "causal")
    assert not result.ok and "cycle" in result.anomalies[0].why
    assert not check_sequential(history, "kv").ok


def test_a_read_from_thin_air_breaks_every_level():
    history = [put(0, "w", "x", "a", 0), get(1, "p", "x", "zz", 2)]
    assert broken(history) == set(GUARANTEES)
    assert "no write wrote" in check_session(history, "monotonic-reads").anomalies[0].why
    assert not check_sequential(history, "kv").ok


def test_a_failed_write_was_never_there_to_be_read():
    history = [put(0, "w", "x", "a", 0, 1, status="fail"), get(1, "p", "x", "a", 2)]
    assert broken(history) == set(GUARANTEES)


# -- kept -------------------------------------------------------------------------------------
def test_a_linearizable_history_keeps_every_guarantee():
    history = [put(0, "w", "x", "a", 0), get(1, "p", "x", "a", 2), put(2, "p", "x", "b", 4),
               get(3, "w", "x", "b", 6), get(4, "p", "x", "b", 8)]
    assert check_linearizability(history, "kv").ok
    assert broken(history) == set()
    assert check_sequential(history, "kv").ok


def test_a_stale_read_of_another_session_is_allowed_by_the_session_guarantees():
    history = [put(0, "w", "x", "a", 0), get(1, "p", "x", None, 5)]
    assert broken(history) == set()
    assert check_sequential(history, "kv").ok
    assert not check_linearizability(history, "kv").ok


def test_a_write_whose_outcome_is_unknown_need_not_be_seen_by_its_session():
    history = [put(0, "p", "x", "a", 0, 5, status="info"), get(1, "p", "x", None, 6)]
    assert broken(history) == set()


def test_flip_flop_between_concurrent_writes_is_caught_only_by_sequential_consistency():
    """The documented limit: the session checks order writes by causality only."""
    history = [put(0, "w1", "x", "a", 0), put(1, "w2", "x", "b", 0),
               get(2, "p", "x", "a", 2), get(3, "p", "x", "b", 4), get(4, "p", "x", "a", 6)]
    assert broken(history) == set()
    assert not check_sequential(history, "kv").ok


# -- sequential consistency -------------------------------------------------------------------
def test_sequential_consistency_may_reorder_against_real_time():
    history = [put(0, "p", "x", "a", 0), get(1, "q", "x", None, 5)]
    result = check_sequential(history, "kv")
    assert result.ok and [op.id for op in result.order] == [1, 0]


def test_sequential_consistency_is_not_local_dekker():
    """Each key alone has an order; the two keys together have none (Dekker's pattern)."""
    history = [put(0, "p", "x", "1", 0), get(1, "p", "y", None, 2),
               put(2, "q", "y", "1", 0), get(3, "q", "x", None, 2)]
    for key in "xy":
        assert check_sequential([op for op in history if op.key == key], "kv").ok
    result = check_sequential(history, "kv")
    assert result.outcome is Outcome.VIOLATED
    assert len(result.order) == 3 and len(result.stuck) == 1
    assert check_session(history, "causal").ok


def test_sequential_check_places_an_unknown_write_late_or_never():
    late = [put(0, "p", "x", "a", 0, 1, status="info"), get(1, "p", "x", None, 2),
            get(2, "q", "x", "a", 10)]
    assert check_sequential(late, "kv").ok
    never = [put(0, "p", "x", "a", 0, None, status="pending"), get(1, "q", "x", None, 10)]
    assert check_sequential(never, "kv").ok


def test_sequential_check_on_a_register_history():
    ops = [Op(0, 0, "write", None, 1, None, "ok", 0, 1), Op(1, 1, "read", None, None, 1,
                                                           "ok", 2, 3)]
    assert check_sequential(ops, "register").ok


def test_sequential_check_answers_unknown_at_its_limit():
    history = [put(i, p, "x", f"{p}{i}", i) for i, p in enumerate("pqrpqrpqr")]
    history.append(get(9, "s", "x", "never", 20))
    result = check_sequential(history, "kv", max_configurations=5)
    assert result.outcome is Outcome.UNKNOWN
    assert "max_configurations" in result.reason and result.explored == 5
    assert check_sequential(history, "kv").outcome is Outcome.VIOLATED


# -- malformed input --------------------------------------------------------------------------
@pytest.mark.parametrize("history, message", [
    ([Op(0, "p", "append", "x", "a", None, "ok", 0, 1)], "only reads and writes"),
    ([put(0, "p", "x", "a", 0), put(1, "q", "x", "a", 0)], "both write 'a' to key 'x'"),
    ([put(0, "p", "x", None, 0)], "writes None"),
    ([Op(0, "p", "get", "x", None, None, "ok", 3, 1)], "before its invocation"),
    ([Op(0, "p", "cas", "x", None, None, "ok", 0, 1)], "not an operation of model kv"),
])
def test_malformed_histories_are_refused_with_a_reason(history, message):
    with pytest.raises(ValueError, match=message):
        check_session(history, "causal")


def test_unknown_guarantee_and_bad_limit_are_refused():
    with pytest.raises(ValueError, match="unknown guarantee 'strong'"):
        check_session([], "strong")
    with pytest.raises(ValueError, match="max_configurations must be"):
        check_sequential([], "kv", max_configurations=0)


# -- the levels nest --------------------------------------------------------------------------
def random_history(seed: int) -> list[Op]:
    """Four processes, two keys, 5 to 12 operations; half the reads return the latest write
    begun before them (so that some histories keep every level), the others any value
    written to the key, or none. One write in ten times out (its outcome is unknown)."""
    rng = random.Random(seed)
    ops: list[Op] = []
    written: list[tuple[float, str, str]] = []
    clock = {p: rng.uniform(0, 3) for p in "pqrs"}
    for n in range(rng.randint(5, 12)):
        p = rng.choice("pqrs")
        start, end = clock[p], clock[p] + rng.uniform(1, 4)
        clock[p] = end + rng.uniform(0, 2)
        key = rng.choice("xy")
        if rng.random() < 0.45:
            status = "info" if rng.random() < 0.1 else "ok"   # timed out: may take effect
            ops.append(put(n, p, key, f"v{n}", start, end, status=status))
            written.append((start, key, f"v{n}"))
        else:
            candidates = [v for t, k, v in written if k == key]
            begun = [v for t, k, v in written if k == key and t < start]
            if begun and rng.random() < 0.5:
                output = begun[-1]
            else:
                output = rng.choice([None, *candidates])
            ops.append(get(n, p, key, output, start, end))
    return ops


def test_the_levels_nest_on_random_histories():
    counts = {"linearizable": 0, "sequential only": 0, "causal only": 0, "none": 0}
    for seed in range(600):
        history = random_history(seed)
        linearizable = check_linearizability(history, "kv").ok
        sequential = check_sequential(history, "kv").ok
        levels = {name: result.ok for name, result in check_sessions(history).items()}
        context = f"seed {seed}: {history}"
        assert sequential or not linearizable, context
        assert levels["causal"] or not sequential, context
        if levels["causal"]:
            assert all(levels.values()), context
        if levels["consistent-prefix"]:
            assert levels["monotonic-writes"] and levels["writes-follow-reads"], context
        key = ("linearizable" if linearizable else "sequential only" if sequential
               else "causal only" if levels["causal"] else "none")
        counts[key] += 1
    # every case was exercised (causal but not sequential is the rarest, about 2%)
    assert all(count >= 5 for count in counts.values()), counts


@st.composite
def small_histories(draw: Any) -> list[Op]:
    """Up to seven operations of three processes on two keys, at whole-number times (each
    process's operations strictly one after the other); a read returns any value written to
    its key, or none. Hypothesis shrinks a failing one to a minimal history."""
    ops: list[Op] = []
    free = {p: 0 for p in "pqr"}
    values: dict[str, list[str]] = {"x": [], "y": []}
    for n in range(draw(st.integers(1, 7))):
        p, key = draw(st.sampled_from("pqr")), draw(st.sampled_from("xy"))
        start = free[p] + draw(st.integers(0, 3))
        end = start + draw(st.integers(1, 4))
        free[p] = end + 1
        if draw(st.booleans()):
            values[key].append(f"v{n}")
            status = draw(st.sampled_from(["ok", "ok", "ok", "info"]))
            ops.append(put(n, p, key, f"v{n}", start, end, status=status))
        else:
            ops.append(get(n, p, key, draw(st.sampled_from([None, *values[key]])), start, end))
    return ops


@settings(max_examples=300, deadline=None)
@given(small_histories())
def test_the_levels_nest_on_any_small_history(history):
    sequential = check_sequential(history, "kv").ok
    assert sequential or not check_linearizability(history, "kv").ok
    levels = {name: result.ok for name, result in check_sessions(history).items()}
    assert levels["causal"] or not sequential
    assert all(levels.values()) or not levels["causal"]
    assert (levels["monotonic-writes"] and levels["writes-follow-reads"]) or not (
        levels["consistent-prefix"])


def test_the_result_draws_the_read_and_what_it_missed():
    import matplotlib.pyplot as plt

    history = [put(0, "w", "x", "a", 0), put(1, "w", "x", "b", 2),
               get(2, "p", "x", "b", 4), get(3, "p", "x", "a", 6)]
    fig = check_session(history, "monotonic-reads").draw()
    ax = fig.axes[0]
    assert "monotonic-reads: violated" in ax.get_title()
    assert len([c for c in ax.get_children() if type(c).__name__ == "Annotation"]) >= 1
    plt.close(fig)
    fig = check_sequential(history, "kv").draw()
    assert "sequential consistency: violated" in fig.axes[0].get_title()
    plt.close(fig)
