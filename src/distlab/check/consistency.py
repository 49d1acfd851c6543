"""The verdict of a consistency check weaker than linearizability, and its picture.

`distlab.check.sessions` (the session guarantees, causal consistency) and
`distlab.check.sequential` (sequential consistency) answer with a `ConsistencyResult`: whether
the level holds, and if not, the operations that break it -- for a session guarantee the
`Anomaly` (the read that went backwards, the write it should have seen), for sequential
consistency the operations no order could place next.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from distlab.check.linearizability import Op
from distlab.check.models import Model


class Outcome(StrEnum):
    """Whether the level holds; compares equal to its string."""

    HOLDS = "holds"
    VIOLATED = "violated"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Anomaly:
    """One violation: ``read`` returned the value of ``returned`` (None: the initial value, or
    a value no write wrote), though the level says it had to see ``missed`` or a newer write
    (None when the anomaly is a read from thin air or a causal cycle). ``why`` says it in a
    sentence."""

    read: Op
    returned: Op | None
    missed: Op | None
    why: str


@dataclass
class ConsistencyResult:
    """What a check of ``level`` found in a history.

    ``anomalies``: the violations a session or causal check found (all of them, in the order
    of the reads). ``order``: for sequential consistency, a total order of the operations
    that explains the history (when it holds) or the longest prefix of one found (when it
    does not), and ``stuck`` the operations none of which could come next after that prefix.
    ``explored`` counts the configurations the search visited (0 for the session checks,
    which do not search).
    """

    level: str
    outcome: Outcome
    model: Model
    operations: tuple[Op, ...]
    anomalies: tuple[Anomaly, ...] = ()
    order: tuple[Op, ...] = ()
    stuck: tuple[Op, ...] = ()
    reason: str = ""
    explored: int = 0

    @property
    def ok(self) -> bool:
        """True only when the history is known to satisfy the level."""
        return self.outcome is Outcome.HOLDS

    def __str__(self) -> str:
        lines = [f"{self.level}: {self.outcome.value} ({len(self.operations)} operations)"]
        describe = self.model.describe
        shown = 5
        for anomaly in self.anomalies[:shown]:
            lines.append(f"  {_line(anomaly.read, describe)}")
            lines.append(f"      {anomaly.why}")
        if len(self.anomalies) > shown:
            lines.append(f"  ... and {len(self.anomalies) - shown} more")
        if self.stuck:
            lines.append(f"  longest order found: {len(self.order)} operations; then none of "
                         f"the next operations of the processes can go:")
            lines.extend(f"    {_line(op, describe)}" for op in self.stuck)
        lines.extend(f"  {line}" for line in self.reason.splitlines())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<ConsistencyResult: {self.level} {self.outcome.value}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def draw(self, ax: Any = None, max_ops: int = 30) -> Any:
        """Draw the history (one lane per process) and return the figure: the reads that broke
        the level in red, a dashed arrow from each write they should have seen; for
        sequential consistency, the order found as numbered points (it may go back in time)."""
        from distlab.check.history_plot import draw_history

        title = f"{self.level}: {self.outcome.value}"
        if self.anomalies:
            title += " (red: the read that saw too little; arrow: what it missed)"
        elif self.stuck:
            title += " (red: no order lets these go next)"
        elif self.order:
            title += " (numbered points: an order that explains every read)"
        impossible = [a.read for a in self.anomalies] + list(self.stuck)
        arrows = [(a.missed, a.read) for a in self.anomalies if a.missed is not None]
        labels = {"linearized": "in the order (dots)", "not placed": "operation",
                  "impossible": "breaks it" if self.anomalies else "cannot go next"}
        return draw_history(self.operations, self.model, linearization=self.order,
                            impossible=impossible, ax=ax, title=title, max_ops=max_ops,
                            arrows=arrows, legend_labels=labels)


def _line(op: Op, describe: Any) -> str:
    return f"process {op.process}: {describe(op)} (operation {op.id}, at {op.invoke_time:g})"
