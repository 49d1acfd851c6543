"""The checker's cost is bounded: keys searched side by side, a memory limit, long histories.

The histories come from `distlab.check.synthetic`: correct histories (linearizable by
construction), with violations injected on chosen keys and with *hard* keys, whose search
tries every subset of many concurrent writes.
"""

from __future__ import annotations

import tracemalloc

import pytest

from distlab.check import check_linearizability
from distlab.check.linearization_search import LinearizationSearch
from distlab.check.models import Register
from distlab.check.synthetic import correct_history, with_hard_keys, with_violations

KEYS = [f"k{i}" for i in range(10)]


def kv_history(hard: list[str], violated: list[str], writers: int = 24, clients: int = 50,
               operations: int = 1_600):
    """By default 50 clients, about 1,700 operations over 10 keys; the ``hard`` keys first."""
    ops = correct_history(seed=3, clients=clients, operations=operations, keys=KEYS)
    return with_hard_keys(with_violations(ops, violated), hard, writers=writers)


def test_a_key_whose_search_blows_up_does_not_hide_another_keys_violation():
    # k0..k3 each need 2**24 configurations; k4..k9 fail within a few thousand steps. Searched
    # one key after the other, k0 alone used up the 60 s budget (and gigabytes).
    ops = kv_history(hard=KEYS[:4], violated=KEYS[4:])
    result = check_linearizability(ops, "kv", timeout=60)
    assert result.verdict == "not linearizable"
    assert result.key in KEYS[4:]
    assert result.explored < 1_000_000  # a few rounds over the 10 keys, not 2**24
    assert "never written" in str(result)


def test_the_first_violation_found_is_the_answer_whatever_the_order_of_the_keys():
    ops = kv_history(hard=KEYS[:1], violated=["k1"])
    assert check_linearizability(ops, "kv", timeout=60).key == "k1"


def test_searching_keys_side_by_side_is_deterministic():
    ops = kv_history(hard=KEYS[:2], violated=KEYS[5:], clients=10, operations=400)
    first, second = (check_linearizability(ops, "kv", timeout=60) for _ in range(2))
    assert (first.key, first.explored, str(first)) == (second.key, second.explored, str(second))


def test_past_the_memory_limit_the_answer_is_unknown_and_says_what_was_explored():
    ops = with_hard_keys([], [None], writers=24)
    result = check_linearizability(ops, "register", memory_limit=20 << 20)
    assert result.verdict == "unknown"
    reason = str(result).splitlines()[2].strip()
    assert reason.startswith("memory limit of 20 MB reached: explored ")
    assert int(reason.split("explored ")[1].split()[0].replace(",", "")) == result.explored > 0


def test_the_memory_estimate_bounds_what_the_search_really_holds():
    ops = with_hard_keys([], [None], writers=24)
    limit = 5 << 20
    tracemalloc.start()
    try:
        result = check_linearizability(ops, "register", memory_limit=limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.verdict == "unknown"
    assert peak < 1.5 * limit


def test_a_key_given_up_for_memory_leaves_the_others_searched():
    def history(violated: list[str]):
        return kv_history(hard=KEYS[:1], violated=violated, clients=10, operations=400)

    result = check_linearizability(history([]), "kv", memory_limit=5 << 20)
    assert result.verdict == "unknown"
    text = str(result)
    assert "memory limit of 5 MB reached on key 'k0'" in text
    assert "9 of 10 keys are linearizable; no key was found not linearizable" in text
    assert result.key == "k0"
    violated = check_linearizability(history(["k7"]), "kv", memory_limit=5 << 20)
    assert (violated.verdict, violated.key) == ("not linearizable", "k7")


def test_past_the_time_budget_each_unfinished_key_is_named():
    result = check_linearizability(kv_history(hard=KEYS[:2], violated=[], clients=10,
                                              operations=400), "kv", timeout=0.5)
    assert result.verdict == "unknown"
    text = str(result)
    assert "no answer within the time budget of 0.5 s on key 'k0': explored " in text
    assert "no answer within the time budget of 0.5 s on key 'k1': explored " in text


def test_an_unknown_answer_names_at_most_five_keys():
    ops = kv_history(hard=KEYS[:7], violated=[], clients=10, operations=400)
    text = str(check_linearizability(ops, "kv", timeout=0.5))
    assert text.count("no answer within the time budget of 0.5 s on key") == 5
    assert "... and 2 more keys given up" in text


@pytest.mark.parametrize("limits, message", [
    ({"timeout": -1}, "timeout must be a finite number of seconds >= 0"),
    ({"timeout": float("nan")}, "timeout must be a finite number of seconds >= 0"),
    ({"memory_limit": 0}, "memory_limit must be a number of bytes > 0"),
    ({"memory_limit": 1.5e9}, "memory_limit must be a number of bytes > 0"),
])
def test_bad_limits_get_a_clear_error(limits, message):
    with pytest.raises(ValueError, match=message):
        check_linearizability([], "register", **limits)


def memory_per_step(operations: int) -> float:
    """Peak bytes allocated while checking a correct 10-client register history, per step."""
    ops = correct_history(seed=1, clients=10, operations=operations)
    tracemalloc.start()
    try:
        result = check_linearizability(ops, "register")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok
    return peak / result.explored


def test_the_memory_per_step_does_not_grow_with_the_history():
    # A set of linearized operations over the whole history costs each cached configuration
    # bytes in proportion to the history's length: 8 times the history, twice the memory per
    # step. Relative to the first operation in progress it stays a few bits.
    assert memory_per_step(3_200) < 1.3 * memory_per_step(400)


def test_a_configuration_is_cached_with_a_few_bits_however_long_the_history():
    search = LinearizationSearch(Register(), correct_history(seed=4, clients=10,
                                                             operations=3_000))
    steps = search.steps()
    with pytest.raises(StopIteration) as finished:
        while True:
            next(steps)
    assert finished.value.value is True
    assert max(after.bit_length() for _, after, _ in search.seen) <= 64
    assert max(low for low, _, _ in search.seen) == search.completed
