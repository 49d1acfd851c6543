"""Tests of distlab.check.synthetic: seeded histories with known verdicts."""

from __future__ import annotations

import pytest

from distlab.check import check_linearizability
from distlab.check.synthetic import NEVER_WRITTEN, correct_history, with_hard_keys, with_violations


def test_the_same_seed_gives_the_same_history_and_another_seed_another():
    assert correct_history(7, clients=5, operations=300) == correct_history(7, 5, 300)
    assert correct_history(7, clients=5, operations=300) != correct_history(8, 5, 300)


@pytest.mark.parametrize("seed", range(3))
def test_correct_histories_are_linearizable_and_have_every_status(seed):
    ops = correct_history(seed, clients=5, operations=300, keys=["a", "b"], info_rate=0.05,
                          fail_rate=0.05)
    assert {op.status for op in ops} == {"ok", "info", "fail"}
    assert check_linearizability(ops, "kv", timeout=60).ok


def test_a_violation_is_injected_on_exactly_the_keys_chosen():
    ops = correct_history(1, clients=5, operations=400, keys=["a", "b", "c"])
    broken = with_violations(ops, ["b"])
    assert [op.key for op in broken if op.output == NEVER_WRITTEN] == ["b"]
    result = check_linearizability(broken, "kv", timeout=60)
    assert (result.verdict, result.key) == ("not linearizable", "b")
    with pytest.raises(ValueError, match="key 'z' has no completed read to change"):
        with_violations(ops, ["z"])


def test_hard_keys_come_first_and_are_not_linearizable():
    ops = with_hard_keys(correct_history(1, clients=3, operations=50), [None], writers=4)
    assert [op.id for op in ops] == list(range(len(ops)))
    assert [op.f for op in ops[:5]] == ["write"] * 4 + ["read"]
    assert min(op.invoke_time for op in ops[5:]) >= 20
    assert check_linearizability(ops, "register").verdict == "not linearizable"
