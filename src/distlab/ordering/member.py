"""What every member of an ordered broadcast shares, and the naive member that delivers on
arrival.

A member *receives* messages from the network and *delivers* them to its user: it appends
the text to ``delivered`` (what the user sees, in order). A broadcast protocol decides when
an arrived message may be delivered; the order guarantees (`distlab.ordering.invariants`)
are about ``delivered``, never about arrivals.

The users are scripted, like actors reading a play: every member gets the whole group's
``script`` and plays its own part. ``script[m]`` lists ``(time, text)``: at that time (ms, on
its clock) the user of member ``m`` posts ``text``. ``answers[m]`` maps a text to a reply:
when ``m`` delivers the first, its user posts the second at once (an answer written after
reading its question, so causally after it). Texts are unique in a run, so a text names a
post. (All members get the same arguments, so a group is added with one ``add_nodes``, and
each member's ``__init__`` sees all its peers.)

Two trace notes record what the users saw, for the invariants and the drawings:
``post text=...`` when a user posts, and ``deliver text=...`` when a member delivers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from distlab.ordering.messages import Numbered
from distlab.sim import Node


class Member(Node):
    """A member of a broadcast group: a subclass says how to `multicast` a post and when an
    arrived message may be `deliver`-ed; the script, the answers and the notes are here.

    ``delivered``: the texts delivered to the user, in order, its own posts included.
    """

    def __init__(self, script: Mapping[str, Sequence[tuple[float, str]]] | None = None,
                 answers: Mapping[str, Mapping[str, str]] | None = None):
        self.script = tuple((script or {}).get(self.id, ()))     # my part of the script
        self.answers = dict((answers or {}).get(self.id, {}))    # what I answer, and with what
        for entry in self.script:
            if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], str)):
                raise ValueError(f"a script entry is (time in ms, text), such as (10, 'a.1'); "
                                 f"member {self.id!r} got {entry!r}")
        self.delivered: list[str] = []

    def on_start(self) -> None:
        for time, text in self.script:
            self.set_timer(time, f"post {text}")

    def on_timer(self, name: str) -> None:
        self.post(name.removeprefix("post "))

    def post(self, text: str) -> None:
        """The user posts ``text``: record it, and hand it to the protocol."""
        self.note("post", text=text)
        self.multicast(text)

    def deliver(self, text: str) -> None:
        """Show ``text`` to the user; if the user answers it, post the answer."""
        self.delivered.append(text)
        self.note("deliver", text=text)
        if text in self.answers:
            self.post(self.answers[text])

    # -- what a protocol writes ------------------------------------------------------------
    def multicast(self, text: str) -> None:
        """Send the post ``text`` to the group (and deliver it here, now or later)."""
        raise NotImplementedError(f"{type(self).__name__} must define multicast(text)")

    def held_back(self) -> list[str]:
        """The texts that have arrived here but are not delivered yet, in the order they
        would be delivered if they could."""
        return []

    def show(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "held back": self.held_back()}


class ArrivalMember(Member):
    """The naive member: it delivers every post as soon as it arrives, once.

    Every member delivers every post exactly once, but each in its own order: no FIFO, no
    causal, no total order. Its posts are numbered only to recognise duplicates.
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.sent = 0
        self.seen: set[tuple[str, int]] = set()

    def multicast(self, text: str) -> None:
        self.sent += 1
        self.broadcast(Numbered(self.id, self.sent, text))
        self.deliver(text)

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Numbered(sender, seq, text) if (sender, seq) not in self.seen:
                self.seen.add((sender, seq))
                self.deliver(text)
