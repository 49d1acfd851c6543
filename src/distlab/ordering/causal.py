"""Causal broadcast: a post is delivered after every post that happened before it.

If a member delivered (or made) post m before posting m', then m -> m' (happens-before),
and every member must deliver m before m': an answer after its question, a correction
after what it corrects. Posts that are concurrent may be delivered in different orders.

Vector timestamps capture exactly that past (Birman, Schiper and Stephenson, "Lightweight
causal and atomic group multicast", 1991, after ISIS's CBCAST, Birman and Joseph 1987).
Each member keeps ``vector``: for each member q, how many of q's posts it has delivered.
A post carries its sender's vector at the time of posting, its own entry counting the post.
A receiver delivers the post when `deliverable`: it is the next post of its sender, and the
receiver has delivered at least as many posts of every other member as the sender had.
Otherwise the post waits in the hold-back queue.
"""

from __future__ import annotations

from typing import Any

from distlab.clocks.logical import VectorClock
from distlab.ordering.member import Member
from distlab.ordering.messages import CausalPost


def deliverable(post: CausalPost, delivered: VectorClock) -> bool:
    """Whether ``post`` may be delivered by a member that has delivered ``delivered``.

    >>> here = VectorClock.of({"a": 1})              # one post of a delivered, nothing else
    >>> deliverable(CausalPost("b", VectorClock.of({"a": 1, "b": 1}), "b.1"), here)
    True
    >>> deliverable(CausalPost("b", VectorClock.of({"a": 2, "b": 1}), "b.1"), here)
    False
    """
    sender = post.sender
    return (post.clock[sender] == delivered[sender] + 1
            and all(n <= delivered[q] for q, n in post.clock.entries if q != sender))


class CausalMember(Member):
    """Causal broadcast with vector timestamps and a hold-back queue.

    Invariant: ``vector[q]`` is the number of ``q``'s posts delivered here (its first ones,
    in order), and every post in ``held`` is neither delivered nor deliverable.
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.vector = VectorClock()            # posts delivered here, per sender
        self.held: list[CausalPost] = []       # the hold-back queue, in order of arrival

    def multicast(self, text: str) -> None:
        self.vector = self.vector.increment(self.id)
        self.broadcast(CausalPost(self.id, self.vector, text))
        self.deliver(text)

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case CausalPost(sender, clock) if clock[sender] > self.vector[sender]:
                if msg not in self.held:       # not a copy of one already waiting
                    self.held.append(msg)
                self.deliver_ready()

    def deliver_ready(self) -> None:
        """Deliver held posts while one of them is deliverable (each may unblock others)."""
        ready = next((post for post in self.held if deliverable(post, self.vector)), None)
        while ready is not None:
            self.held.remove(ready)
            self.vector = self.vector.increment(ready.sender)
            self.deliver(ready.text)
            ready = next((post for post in self.held if deliverable(post, self.vector)), None)

    def held_back(self) -> list[str]:
        return [post.text for post in self.held]
