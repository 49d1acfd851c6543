"""The messages of the ordered broadcasts, one kind per protocol (`distlab.ordering`)."""

from __future__ import annotations

from dataclasses import dataclass

from distlab.clocks.logical import VectorClock


@dataclass(frozen=True)
class Numbered:
    """A post, numbered by its sender: its ``seq``-th post (1, 2, 3...).

    Sent by `ArrivalMember` and `FifoMember`: ``(sender, seq)`` names the post, so a copy of
    it is recognised.
    """

    sender: str
    seq: int
    text: str


@dataclass(frozen=True)
class CausalPost:
    """A post with the vector of its causal past: ``clock[q]`` posts of ``q`` precede it
    (its own sender's included, itself counted)."""

    sender: str
    clock: VectorClock
    text: str


@dataclass(frozen=True)
class Submit:
    """To the sequencer: please order ``sender``'s ``seq``-th post."""

    sender: str
    seq: int
    text: str


@dataclass(frozen=True)
class Sequenced:
    """From the sequencer: the post ``text`` of ``sender`` is number ``number`` of the group."""

    number: int
    sender: str
    text: str


@dataclass(frozen=True)
class Timestamped:
    """Lamport's algorithm: a post stamped with its sender's Lamport clock ``time``.

    ``seq`` numbers everything the sender multicasts (posts and acknowledgements together),
    so that receivers take its messages in the order they were sent (a FIFO channel).
    """

    sender: str
    seq: int
    time: int
    text: str


@dataclass(frozen=True)
class Acknowledgement:
    """Lamport's algorithm: ``sender`` has received a post, and its clock reads ``time``.

    Numbered in the same ``seq`` as the sender's `Timestamped` posts.
    """

    sender: str
    seq: int
    time: int
