"""A naive global snapshot: every branch records its balance at the same moment ``record_at``.

It looks reasonable, and it is wrong for two reasons. Money in flight at that moment is in no
balance, so the recorded total is short; and with clocks that disagree, "the same moment"
is not the same moment at all, so a transfer can be recorded as received by one branch and
not as sent by the other (counted twice). Either way the recorded state is one the bank was
never in: an inconsistent cut. Compare `distlab.snapshots.chandy_lamport`.
"""

from __future__ import annotations

from distlab.snapshots.bank import Branch


class NaiveSnapshotBranch(Branch):
    """A `Branch` that records its balance when its own clock reads ``record_at``."""

    def __init__(self, balance: int = 100, stop_at: float | None = None,
                 record_at: float = 100.0):
        super().__init__(balance, stop_at)
        self.record_at = record_at
        self.recorded: int | None = None

    def on_start(self) -> None:
        super().on_start()
        self.set_timer(max(0.0, self.record_at - self.now), "record")   # by my own clock

    def on_timer(self, name: str) -> None:
        if name == "record":
            self.recorded = self.balance
            self.note("record", balance=self.balance)
        else:
            super().on_timer(name)
