"""Each workload's MODEL on small hand-written histories: one it must accept, one it must
reject (the log model is new with the log workload; the others are distlab.check's)."""

from __future__ import annotations

import pytest

from distlab.check import check_linearizability
from distlab.check.models import MODELS, Log
from distlab.sim import History
from distlab.workloads import counter, kv, log, register


def history(*ops: tuple[str, str, object, object, float, float], key: str | None = None
            ) -> History:
    """Operations (process, f, value, output, invoke, complete), all ok, on ``key``."""
    h = History()
    for process, f, value, output, invoke, complete in sorted(ops, key=lambda o: o[4]):
        op = h.invoke(process, f, value=value, key=key)
        op.invoke_time, op.complete_time = invoke, complete
        op.status, op.output = "ok", output
    return h


CASES = {
    log: (history(("a", "append", "e1", 0, 0, 10), ("b", "append", "e2", 1, 5, 15),
                  ("a", "read", None, ("e1", "e2"), 20, 30)),
          history(("a", "append", "e1", 0, 0, 10), ("b", "append", "e2", 0, 20, 30))),
    counter: (history(("a", "add", 2, None, 0, 10), ("b", "read", None, 2, 20, 30)),
              history(("a", "add", 2, None, 0, 10), ("b", "read", None, 4, 20, 30))),
    register: (history(("a", "write", 1, None, 0, 10), ("b", "cas", (1, 2), None, 20, 30),
                       ("a", "read", None, 2, 40, 50)),
               history(("a", "write", 1, None, 0, 10), ("b", "read", None, None, 20, 30))),
    kv: (history(("a", "append", "x1;", None, 0, 10), ("b", "append", "x2;", None, 0, 10),
                 ("a", "get", None, "x2;x1;", 20, 30), key="x"),
         history(("a", "put", "v", None, 0, 10), ("b", "get", None, "w", 20, 30), key="x")),
}


@pytest.mark.parametrize("workload", CASES, ids=lambda w: w.__name__.rsplit(".", 1)[-1])
def test_the_model_accepts_a_legal_history_and_rejects_an_illegal_one(workload):
    legal, illegal = CASES[workload]
    assert check_linearizability(legal, workload.MODEL()).ok
    assert not check_linearizability(illegal, workload.MODEL()).ok


def test_the_log_model_is_known_to_the_command_line_by_name():
    assert MODELS["log"] is Log
    assert Log().describe(type("Op", (), {"f": "append", "value": "e", "output": 3})()) == \
        "app('e')→3"
