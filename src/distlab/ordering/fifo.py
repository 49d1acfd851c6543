"""FIFO broadcast: every member delivers each sender's posts in the order they were sent.

Each sender numbers its posts 1, 2, 3...; a receiver keeps, per sender, the number it
expects next, and holds back a post that arrives early until the ones before it have been
delivered. A post whose number was delivered already is a copy, dropped. TCP does the same
for one connection with its sequence numbers; FIFO broadcast does it per sender.

FIFO says nothing about posts of *different* senders: an answer from one member can still
be delivered before the question of another.
"""

from __future__ import annotations

from typing import Any

from distlab.ordering.member import Member
from distlab.ordering.messages import Numbered


class FifoMember(Member):
    """FIFO broadcast with per-sender sequence numbers and a hold-back queue.

    Invariant: ``next_seq[q] - 1`` posts of ``q`` have been delivered here, exactly ``q``'s
    posts 1 .. ``next_seq[q] - 1``, in that order; ``held[q]`` holds only later ones.
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.sent = 0                                        # my posts so far
        self.next_seq = {peer: 1 for peer in self.peers}     # the post I expect next, per sender
        self.held = {peer: {} for peer in self.peers}        # per sender: seq -> text, too early

    def multicast(self, text: str) -> None:
        self.sent += 1
        self.broadcast(Numbered(self.id, self.sent, text))
        self.deliver(text)

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Numbered(sender, seq, text) if seq >= self.next_seq[sender]:
                self.held[sender][seq] = text
                while self.next_seq[sender] in self.held[sender]:
                    text = self.held[sender].pop(self.next_seq[sender])
                    self.next_seq[sender] += 1
                    self.deliver(text)

    def held_back(self) -> list[str]:
        return [held[seq] for sender, held in sorted(self.held.items()) for seq in sorted(held)]
