"""Total order by Lamport timestamps and acknowledgements (Lamport 1978).

The totally ordered multicast of Lamport's "Time, Clocks, and the Ordering of Events in a
Distributed System", where every process keeps a queue of timestamped requests. Each member
keeps a Lamport clock and stamps its posts with it; the group's order is the order of
``(timestamp, sender)``, the same for everyone, and it extends happens-before. A member
holds received posts in a queue sorted by that order, and delivers the head of the queue
once it is *stable*: from every other member it has received a message stamped later than
the head. Every member acknowledges every post to everyone, so that such a message comes
soon even when nobody posts.

Its assumptions are the paper's: channels are FIFO (here: per-sender numbers, and a
receiver takes each sender's messages in order) and reliable, and no member crashes. When
one does, no message of its will ever come, no head is ever stable again, and every member
blocks for ever.

Lab 2a has the reader write this algorithm; the book shows its runs, not this code.
"""

from __future__ import annotations

import heapq
from typing import Any

from distlab.ordering.member import Member
from distlab.ordering.messages import Acknowledgement, Timestamped


class LamportMember(Member):
    """A member of Lamport's totally ordered multicast.

    Invariants: ``queue`` (a heap of ``(time, sender, text)``) holds the posts received and
    not delivered; ``latest[q]`` is the timestamp of the last message taken from ``q``, and
    messages are taken from each sender in the order it sent them, so ``latest[q]`` only
    grows and no later message of ``q`` can be stamped below it. Hence a head with
    ``(latest[q], q) >= (time, sender)`` for every other ``q`` has nothing left to wait for.
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.clock = 0                                     # the Lamport clock
        self.sent = 0                                      # messages multicast: posts and acks
        self.queue: list[tuple[int, str, str]] = []        # the hold-back queue, a heap
        self.next_seq = {peer: 1 for peer in self.peers}   # per sender: the seq to take next
        self.early: dict[str, dict[int, Timestamped | Acknowledgement]] = {
            peer: {} for peer in self.peers}               # per sender: seq -> came too early
        self.latest = {peer: 0 for peer in self.peers}     # per sender: last timestamp taken

    def multicast(self, text: str) -> None:
        self.clock += 1
        self.sent += 1
        heapq.heappush(self.queue, (self.clock, self.id, text))
        self.broadcast(Timestamped(self.id, self.sent, self.clock, text))
        self.deliver_stable()

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Timestamped(sender, seq) | Acknowledgement(sender, seq) \
                    if seq >= self.next_seq[sender]:
                self.early[sender][seq] = msg
                while self.next_seq[sender] in self.early[sender]:
                    taken = self.early[sender].pop(self.next_seq[sender])
                    self.next_seq[sender] += 1
                    self.take(taken)
                self.deliver_stable()

    def take(self, msg: Timestamped | Acknowledgement) -> None:
        """Take the next message of its sender: advance the clock; queue and ack a post."""
        self.clock = max(self.clock, msg.time) + 1
        self.latest[msg.sender] = msg.time
        if isinstance(msg, Timestamped):
            heapq.heappush(self.queue, (msg.time, msg.sender, msg.text))
            self.clock += 1
            self.sent += 1
            self.broadcast(Acknowledgement(self.id, self.sent, self.clock))

    def stable(self, time: int, sender: str) -> bool:
        """Whether nothing stamped before ``(time, sender)`` can still arrive."""
        return all((self.latest[q], q) >= (time, sender) for q in self.peers)

    def deliver_stable(self) -> None:
        """Deliver the head of the queue for as long as it is stable."""
        while self.queue and self.stable(*self.queue[0][:2]):
            _, _, text = heapq.heappop(self.queue)
            self.deliver(text)

    def held_back(self) -> list[str]:
        return [text for _, _, text in sorted(self.queue)]
