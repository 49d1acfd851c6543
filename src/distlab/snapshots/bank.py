"""The running application of the snapshot page: a bank whose branches send each other money.

Each branch starts with ``balance`` and, every `TRANSFER_EVERY` ms on average, sends a random
part of what it has to a random other branch. No money is created or destroyed: at every
moment, the balances plus the money in flight add up to the initial total. A snapshot must
find exactly that total.

Chandy and Lamport's algorithm needs FIFO channels: what a branch sends to another arrives in
the order it was sent. The simulator's links are *not* FIFO: each message draws its own
latency, so a later message may overtake an earlier one (and the soak adds reordering and
duplication on purpose). So `Branch` numbers the messages of each channel, as TCP does, and a
receiver holds back a message that arrives early until the ones before it have arrived, and
drops a copy of one it has already had (`Branch.on_message`). Loss is not handled (no
retransmission): the algorithm assumes reliable channels.
"""

from __future__ import annotations

from typing import Any

from distlab.sim import Node
from distlab.snapshots.messages import Marker, Sequenced, Transfer

#: mean ms between two transfers of a branch
TRANSFER_EVERY = 20.0
#: the largest transfer
MAX_TRANSFER = 20


class Branch(Node):
    """A bank branch that sends random transfers over FIFO channels until ``stop_at`` ms.

    Invariant: ``next_in[q] - 1`` messages from ``q`` have been received, exactly q's messages
    1 .. ``next_in[q] - 1``, in order; ``held[q]`` holds only later ones.
    """

    def __init__(self, balance: int = 100, stop_at: float | None = None):
        self.balance = balance
        self.stop_at = stop_at
        self.next_out = {peer: 1 for peer in self.peers}   # the seq of my next message, per peer
        self.next_in = {peer: 1 for peer in self.peers}    # the seq I expect next, per peer
        self.held: dict[str, dict[int, Transfer | Marker]] = {peer: {} for peer in self.peers}

    def on_start(self) -> None:
        self.set_timer(self.rng.expovariate(1 / TRANSFER_EVERY), "transfer")

    def on_timer(self, name: str) -> None:
        if name != "transfer" or (self.stop_at is not None and self.now >= self.stop_at):
            return
        if self.balance > 0:
            amount = self.rng.randint(1, min(self.balance, MAX_TRANSFER))
            self.balance -= amount
            self.send_fifo(self.rng.choice(self.peers), Transfer(amount))
        self.set_timer(self.rng.expovariate(1 / TRANSFER_EVERY), "transfer")

    def send_fifo(self, dst: str, body: Transfer | Marker) -> None:
        """Send ``body`` to ``dst`` on the FIFO channel from here to there."""
        seq = self.next_out[dst]
        self.next_out[dst] = seq + 1
        self.send(dst, Sequenced(seq, body))

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Sequenced(seq, body) if seq >= self.next_in[src]:   # (else: a copy)
                self.held[src][seq] = body
                while self.next_in[src] in self.held[src]:
                    body = self.held[src].pop(self.next_in[src])
                    self.next_in[src] += 1
                    self.receive(src, body)

    def receive(self, src: str, body: Transfer | Marker) -> None:
        """``body`` arrived from ``src``, in FIFO order."""
        match body:
            case Transfer(amount):
                self.balance += amount
