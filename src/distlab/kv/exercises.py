"""The CAP page's mini-exercise: put a small register history in a linearizable order.

Six operations of three clients on one register (`HISTORY`, named ``A`` to ``F``), drawn on
the page as bars from invocation to response. The reader lists them in an order that
respects real time (an operation that returned before another was invoked comes first) and
the register (a read returns the last value written before it). `check_linearization` checks
the order step by step with the register model of `distlab.check.models` and names the first
step that breaks a rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from distlab.check import Op, Register
from distlab.exercises import Feedback, not_quite, right

#: the history: name -> the operation (process, f, value or output, invoked, returned)
HISTORY = {
    "A": Op(0, "c1", "write", value=1, invoke_time=0, complete_time=10),
    "B": Op(1, "c2", "read", output=1, invoke_time=5, complete_time=15),
    "C": Op(2, "c1", "write", value=2, invoke_time=20, complete_time=30),
    "D": Op(3, "c3", "read", output=1, invoke_time=25, complete_time=35),
    "E": Op(4, "c2", "read", output=2, invoke_time=32, complete_time=40),
    "F": Op(5, "c3", "read", output=2, invoke_time=38, complete_time=45),
}


def describe(name: str) -> str:
    """``"D (c3: r→1, 25-35 ms)"``: an operation as the reader sees it on the page."""
    op = HISTORY[name]
    return (f"{name} ({op.process}: {Register().describe(op)}, {op.invoke_time:g}-"
            f"{op.complete_time:g} ms)")


def check_linearization(order: Sequence[str]) -> Feedback:
    """Whether ``order`` (names ``"A"``..``"F"``) is a linearization of `HISTORY`; if not,
    the first step that breaks real time or the register."""
    if isinstance(order, str) or not isinstance(order, Sequence):
        return not_quite("write the order as a list of names, such as ['A', 'B', ...]")
    unknown = [name for name in order if name not in HISTORY]
    if unknown:
        return not_quite(f"{unknown[0]!r} is not an operation of the history "
                         f"({', '.join(HISTORY)})")
    missing = [name for name in HISTORY if name not in order]
    if missing or len(order) != len(HISTORY):
        return not_quite("list every operation exactly once; "
                         + (f"{', '.join(missing)} missing" if missing else "one is repeated"))
    model, state = Register(), Register().init()
    for position, name in enumerate(order):
        op = HISTORY[name]
        for later in order[position + 1:]:
            other = HISTORY[later]
            if other.complete_time < op.invoke_time:
                return not_quite(f"{describe(later)} must come before {describe(name)}: it "
                                 f"returned before {name} was invoked, and a linearization "
                                 f"respects real time")
        possible, state_after = model.step(state, op)
        if not possible:
            holds = ("nothing yet (no write comes before it in your order)" if state is None
                     else f"{state!r}, from the last write before it in your order")
            return not_quite(f"at {describe(name)} the register holds {holds}, so the read "
                             f"cannot return {op.output!r}")
        state = state_after
    return right(f"{' '.join(order)} respects real time and the register, so the history is "
                 f"linearizable: each operation can take effect at one instant between its "
                 f"invocation and its response.")
