"""The delivery orders as invariants: FIFO order, causal order, one total order.

Each reads the ``post`` and ``deliver`` notes that members write (`distlab.ordering.member`),
so it judges what the users saw, whatever the protocol, and keeps judging after a member
crashes. Each remembers the posts and deliveries seen so far and reads only the new events
at each check: `watch` them during a run, or `check_now` after it.

* `fifo_order` -- a member delivers each sender's posts in the order they were posted, with
  no gap: its k-th delivery from q is q's k-th post.
* `causal_order` -- a member delivers a post only after every post that happened before it:
  those its author had delivered or made before posting it, and, transitively, their past.
* `total_order` -- every member delivers the same sequence: each member's ``delivered`` is a
  prefix of one common sequence.

All three also refuse a post delivered twice by the same member.
"""

from __future__ import annotations

from collections.abc import Hashable

from distlab.check.canonical import canonical
from distlab.check.invariants import Invariant
from distlab.sim import Simulation, TraceEvent


class DeliveryOrder(Invariant):
    """The common part: follow the notes, and judge each delivery with `judge`.

    Remembers: ``author`` (text -> who posted it), ``posts`` (member -> its posts in order),
    ``past`` (text -> the texts that happened before it), ``delivered`` (member -> what it
    has delivered, in order, since it last started).
    """

    remembers = True

    def __init__(self, name: str):
        super().__init__(name, self._check)
        self.reset()

    def reset(self) -> None:
        self.read = 0
        self.author: dict[str, str] = {}
        self.posts: dict[str, list[str]] = {}
        self.past: dict[str, frozenset[str]] = {}
        self.delivered: dict[str, list[str]] = {}

    def memory(self) -> Hashable:
        return canonical((self.read, self.past, self.delivered))

    def _check(self, sim: Simulation) -> str | None:
        for event in sim.trace[self.read:]:
            self.read += 1
            problem = self._follow(event)
            if problem is not None:
                return f"at t={event.time:.3f} ms, {problem}"
        return None

    def _follow(self, event: TraceEvent) -> str | None:
        member = event.node
        if event.kind == "restart":
            self.delivered[member] = []   # a restarted member starts a new life
            return None
        if event.kind != "note" or event.data.what not in ("post", "deliver"):
            return None
        text = event.data["text"]
        delivered = self.delivered.setdefault(member, [])
        if event.data.what == "post":
            if text in self.author:
                return f"{member} posted {text!r}, already posted by {self.author[text]}"
            own = self.posts.setdefault(member, [])
            # what happened before: what the author delivered or posted, and their pasts
            seen = set(delivered) | set(own)
            self.past[text] = frozenset(seen.union(*(self.past.get(t, ()) for t in seen)))
            self.author[text] = member
            own.append(text)
            return None
        if text not in self.author:
            return f"{member} delivered {text!r}, which nobody posted"
        if text in delivered:
            return (f"{member} delivered {text!r} twice (as its delivery "
                    f"{delivered.index(text) + 1} and {len(delivered) + 1})")
        problem = self.judge(member, text, delivered)
        delivered.append(text)
        return problem

    def judge(self, member: str, text: str, before: list[str]) -> str | None:
        """``member`` delivers ``text`` after ``before``: None, or what is wrong."""
        raise NotImplementedError


class FifoOrder(DeliveryOrder):
    """Each sender's posts are delivered in the order it posted them, with no gap."""

    def __init__(self) -> None:
        super().__init__("FIFO order: each sender's posts delivered in the order it sent them")

    def judge(self, member: str, text: str, before: list[str]) -> str | None:
        author = self.author[text]
        own = self.posts[author]
        expected = own[sum(1 for t in before if self.author[t] == author)]
        if text != expected:
            return (f"{member} delivered {author}'s {text!r} before {author}'s earlier "
                    f"{expected!r}")
        return None


class CausalOrder(DeliveryOrder):
    """A post is delivered after every post that happened before it."""

    def __init__(self) -> None:
        super().__init__("causal order: a post delivered after every post that happened "
                         "before it")

    def judge(self, member: str, text: str, before: list[str]) -> str | None:
        missing = sorted(self.past[text] - set(before))
        if missing:
            return (f"{member} delivered {text!r} before {missing[0]!r}, which happened "
                    f"before it ({self.author[text]} had seen {missing[0]!r} when it posted "
                    f"{text!r}, directly or through others)")
        return None


class TotalOrder(DeliveryOrder):
    """Every member's deliveries are a prefix of one common sequence."""

    def __init__(self) -> None:
        super().__init__("total order: every member delivers the same sequence")

    def reset(self) -> None:
        super().reset()
        self.sequence: list[str] = []      # the common sequence, as far as anyone delivered
        self.first: list[str] = []         # who delivered each of its entries first

    def memory(self) -> Hashable:
        return canonical((super().memory(), self.sequence))

    def judge(self, member: str, text: str, before: list[str]) -> str | None:
        position = len(before)
        if position == len(self.sequence):
            self.sequence.append(text)
            self.first.append(member)
            return None
        if self.sequence[position] != text:
            return (f"{member}'s delivery {position + 1} is {text!r}, but "
                    f"{self.first[position]}'s delivery {position + 1} was "
                    f"{self.sequence[position]!r}")
        return None


def fifo_order() -> FifoOrder:
    """FIFO order: every member delivers each sender's posts in the order it posted them."""
    return FifoOrder()


def causal_order() -> CausalOrder:
    """Causal order: every member delivers a post after all the posts that happened before
    it (which implies FIFO order)."""
    return CausalOrder()


def total_order() -> TotalOrder:
    """Total order: every member delivers the same posts in the same sequence (a member that
    crashed, or lags, has delivered a prefix of it)."""
    return TotalOrder()
