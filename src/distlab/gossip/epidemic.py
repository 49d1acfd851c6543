"""Gossip (epidemic) protocols: push, pull and push-pull; anti-entropy and rumour mongering.

Demers, Greene, Hauser, Irish, Larson, Shenker, Sturgis, Swinehart and Terry, "Epidemic
Algorithms for Replicated Database Maintenance" (1987), spread updates the way diseases
spread: every round each node contacts a few random others. No node needs to know the whole
cluster's state, no message is essential, and yet everyone hears an update within a number
of rounds that grows like log N.

* `AntiEntropyNode` -- *anti-entropy*: every round, every node exchanges its whole state with
  ``fanout`` random partners, forever. In ``"push"`` mode it sends what it knows; in
  ``"pull"`` mode it sends a digest and gets back what it lacks; in ``"push-pull"`` mode both.
  Reliable (it repairs anything eventually) but it costs messages every round even when
  nothing is new. Push spreads fast while few know; pull finishes fast when few do not
  (the fraction still ignorant is squared each round); push-pull has both.
* `RumourMongeringNode` -- *rumour mongering* (complex epidemics): a node pushes a *hot*
  rumour each round, and loses interest after ``k`` contacts that already knew it (Demers'
  "feedback, counter" variant). Traffic stops by itself, but a *residue* of nodes may never
  hear the rumour (about 18% with k = 1, 4% with k = 2 in the paper); anti-entropy in the
  background catches them.

A node gossips with every peer, or only with its ``neighbours`` (a topology). The experiments
that measure rounds, residue and traffic are in `distlab.gossip.runs`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from distlab.sim import Node

MODES = ("push", "pull", "push-pull")


# -- messages -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Push:
    """The sender's state: the receiver adds it to its own."""

    rumours: frozenset[str]


@dataclass(frozen=True)
class Pull:
    """A digest of the sender's state, asking for whatever else the receiver knows."""

    known: frozenset[str]


@dataclass(frozen=True)
class PushPull:
    """The sender's state, asking for whatever else the receiver knows."""

    rumours: frozenset[str]


@dataclass(frozen=True)
class PullReply:
    """What the asker was missing."""

    rumours: frozenset[str]


@dataclass(frozen=True)
class Rumour:
    """A hot rumour, pushed by rumour mongering."""

    rumour: str


@dataclass(frozen=True)
class Feedback:
    """The reply to a `Rumour`: did the receiver already know it?"""

    rumour: str
    already_knew: bool


# -- the common part: rounds and partners ---------------------------------------------------------
class GossipNode(Node):
    """A node that acts once per round (every ``period`` ms of its clock) and talks to
    ``fanout`` partners drawn at random from its ``neighbours`` (default: all peers).

    What a node knows (``known``, a set of rumour ids) is kept in ``storage``, like a
    database on disk: it survives crashes. ``rumours`` are known from the start.
    """

    def __init__(self, fanout: int = 1, period: float = 100.0,
                 neighbours: Sequence[str] | None = None, rumours: Iterable[str] = ()):
        if not isinstance(fanout, int) or fanout < 1:
            raise ValueError(f"fanout must be a whole number >= 1, got {fanout!r}")
        self.fanout = fanout
        self.period = period
        self.neighbours = None if neighbours is None else tuple(neighbours)
        self.known: set[str] = self.storage.setdefault("known", set())
        self.known.update(rumours)

    def on_start(self) -> None:
        self.set_timer(self.period, "round")

    def partners(self) -> list[str]:
        candidates = self.peers if self.neighbours is None else self.neighbours
        return self.rng.sample(candidates, min(self.fanout, len(candidates)))

    def on_timer(self, name: str) -> None:
        match name:
            case "round":
                self.gossip_round()
                self.set_timer(self.period, "round")

    def gossip_round(self) -> None:
        raise NotImplementedError


class AntiEntropyNode(GossipNode):
    """Anti-entropy: every round, exchange state with random partners (Demers et al. 1987).

    ``mode`` is ``"push"``, ``"pull"`` or ``"push-pull"``. A node that knows nothing has
    nothing to push, so in push mode it stays silent.
    """

    def __init__(self, mode: str = "push-pull", **kwargs: Any):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        super().__init__(**kwargs)
        self.mode = mode

    def gossip_round(self) -> None:
        state = frozenset(self.known)
        for partner in self.partners():
            match self.mode:
                case "push" if state:
                    self.send(partner, Push(state))
                case "pull":
                    self.send(partner, Pull(state))
                case "push-pull":
                    self.send(partner, PushPull(state))

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Push(rumours) | PullReply(rumours):
                self.known.update(rumours)
            case Pull(known):
                self.reply_missing(src, known)
            case PushPull(rumours):
                self.reply_missing(src, rumours)
                self.known.update(rumours)

    def reply_missing(self, src: str, theirs: frozenset[str]) -> None:
        missing = frozenset(self.known - theirs)
        if missing:
            self.send(src, PullReply(missing))


class RumourMongeringNode(GossipNode):
    """Rumour mongering with feedback and a counter (Demers et al. 1987, section 1.4).

    ``hot`` maps each rumour this node still spreads to the number of partners that already
    knew it; at ``k`` such unnecessary contacts the rumour is no longer hot here ("removed").
    When no node has a hot rumour left, the traffic stops.
    """

    def __init__(self, k: int = 2, **kwargs: Any):
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a whole number >= 1, got {k!r}")
        super().__init__(**kwargs)
        self.k = k
        self.hot: dict[str, int] = {rumour: 0 for rumour in self.known}

    def gossip_round(self) -> None:
        for rumour in sorted(self.hot):
            for partner in self.partners():
                self.send(partner, Rumour(rumour))

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Rumour(rumour):
                already_knew = rumour in self.known
                if not already_knew:
                    self.known.add(rumour)
                    self.hot[rumour] = 0
                self.send(src, Feedback(rumour, already_knew))
            case Feedback(rumour, already_knew=True) if rumour in self.hot:
                self.hot[rumour] += 1
                if self.hot[rumour] >= self.k:
                    del self.hot[rumour]
            case Feedback():
                pass
