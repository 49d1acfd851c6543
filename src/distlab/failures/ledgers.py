"""What an acknowledgement promises under crash-recovery.

Under crash-recovery a node loses its memory in a crash and keeps only its stable storage.
`MemoryLedger` acknowledges a `Deposit` with the balance in memory; `DurableLedger` writes it
to ``storage`` first. Both acknowledge every deposit; after a crash only the second still has
them. Being plain nodes, they also run as real processes
(``start_cluster("distlab.failures.ledgers:DurableLedger", ...)``) and can be killed for real.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distlab.sim import Node


@dataclass(frozen=True)
class Deposit:
    amount: int


@dataclass(frozen=True)
class Balance:
    """A request for the balance; the ledger answers with a number."""


class MemoryLedger(Node):
    """Keeps the balance in memory: fast, and lost in a crash."""

    def __init__(self) -> None:
        self.balance = 0

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Deposit(amount):
                self.balance += amount
                self.send(src, "ack")
            case Balance():
                self.send(src, self.balance)


class DurableLedger(Node):
    """Writes the balance to storage before it acknowledges a deposit."""

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Deposit(amount):
                self.storage["balance"] = self.storage.get("balance", 0) + amount
                self.send(src, "ack")
            case Balance():
                self.send(src, self.storage.get("balance", 0))
