"""Total order by a fixed sequencer: one member numbers every post, the others follow.

A member sends its post to the sequencer; the sequencer gives it the next number of the
group and multicasts it with that number; every member delivers the posts in the order of
their numbers, holding back one that arrives before its predecessors. One member decides,
so there is one order (Défago, Schiper and Urbán 2004 call this a *fixed sequencer*;
Amoeba's group communication worked this way).

The sequencer takes each member's submissions in the order they were posted (they are
numbered per sender, like FIFO broadcast), so the total order keeps each sender's order, and,
since a member only posts after delivering what it has seen, causal order too.

The price: every post makes an extra hop, the sequencer carries every post, and when it
crashes nothing is delivered any more (until another member takes over: consensus).
"""

from __future__ import annotations

from typing import Any

from distlab.ordering.member import Member
from distlab.ordering.messages import Sequenced, Submit


class SequencerMember(Member):
    """A member of a group ordered by the fixed sequencer ``sequencer`` (a member id).

    Invariant: the posts delivered here are exactly the sequencer's numbers
    1 .. ``next_number - 1``, in order. At the sequencer, ``assigned`` numbers only
    submissions taken in each sender's order.
    """

    def __init__(self, sequencer: str = "a", **kwargs: Any):
        super().__init__(**kwargs)
        self.sequencer = sequencer
        self.sent = 0                       # my posts so far
        self.next_number = 1                # the group's number I deliver next
        self.held: dict[int, str] = {}      # number -> text: arrived before its turn
        # the sequencer's own state
        self.assigned = 0                   # numbers given so far
        self.next_seq = {member: 1 for member in (*self.peers, self.id)}  # per sender
        self.waiting: dict[tuple[str, int], str] = {}  # (sender, seq) -> text, too early

    def multicast(self, text: str) -> None:
        self.sent += 1
        if self.id == self.sequencer:
            self.take(Submit(self.id, self.sent, text))
        else:
            self.send(self.sequencer, Submit(self.id, self.sent, text))

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Submit() if self.id == self.sequencer:
                self.take(msg)
            case Sequenced(number, _, text):
                self.hold(number, text)

    def take(self, submit: Submit) -> None:
        """At the sequencer: number each sender's submissions in their order, once."""
        sender = submit.sender
        if submit.seq >= self.next_seq[sender]:
            self.waiting[(sender, submit.seq)] = submit.text
        while (sender, self.next_seq[sender]) in self.waiting:
            text = self.waiting.pop((sender, self.next_seq[sender]))
            self.next_seq[sender] += 1
            self.assigned += 1
            self.broadcast(Sequenced(self.assigned, sender, text))
            self.hold(self.assigned, text)

    def hold(self, number: int, text: str) -> None:
        """Keep post ``number`` until every smaller number is delivered; deliver in order."""
        if number >= self.next_number:
            self.held[number] = text
        while self.next_number in self.held:
            text = self.held.pop(self.next_number)
            self.next_number += 1
            self.deliver(text)

    def held_back(self) -> list[str]:
        return [self.held[number] for number in sorted(self.held)]
