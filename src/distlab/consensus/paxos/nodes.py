"""The two roles of single-decree Paxos {cite:p}`lamport2001paxos`: `Acceptor` and `Proposer`.

A proposer that wants its value chosen runs two phases, each with a majority of acceptors:

1. **Prepare.** It picks a ballot higher than any it used before and sends ``Prepare`` to
   the acceptors. An acceptor that has promised no higher ballot promises this one and
   reports the last proposal it accepted.
2. **Accept.** With promises from a majority, the proposer proposes the value of the
   highest-ballot proposal reported to it -- or, if none was, its own value -- and sends
   ``Accept``. An acceptor accepts unless it has promised a higher ballot.

A value is *chosen* when a majority of acceptors have accepted it in the same ballot; the
proposer learns it from their ``Accepted`` replies. Safety needs no timing assumption;
progress does (two proposers can keep pre-empting each other), so a proposer here retries
only if given ``retry_after``: a fixed delay, or a ``(low, high)`` range to draw each delay
from at random, which is what gets two dueling proposers out of their livelock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distlab.consensus.paxos.messages import Accept, Accepted, Ballot, Prepare, Promise
from distlab.sim import Node


class Acceptor(Node):
    """Promises and accepts; all its state is durable, in ``self.storage``.

    ``storage["promised"]``: the highest ballot it promised (None at first);
    ``storage["accepted"]``: ``(ballot, value)`` of the last proposal it accepted, or None.

    Invariants: ``promised`` never decreases; it accepts a proposal only if its ballot is at
    least ``promised``; the accepted ballot is never above ``promised``. Both are saved before
    any reply leaves, so a restart cannot make it break a promise it made.
    """

    def __init__(self) -> None:
        self.storage.setdefault("promised", None)
        self.storage.setdefault("accepted", None)

    def on_message(self, src: str, msg: Any) -> None:
        promised = self.storage["promised"]
        match msg:
            case Prepare(ballot) if promised is None or ballot > promised:
                self.storage["promised"] = ballot
                accepted_ballot, accepted_value = self.storage["accepted"] or (None, None)
                self.send(src, Promise(ballot, accepted_ballot, accepted_value))
            case Accept(ballot, value) if promised is None or ballot >= promised:
                self.storage["promised"] = ballot
                self.storage["accepted"] = (ballot, value)
                self.send(src, Accepted(ballot, value))
            # anything else is a ballot lower than promised: ignored (the proposer gives up
            # on it, or retries with a higher one)


class Proposer(Node):
    """Proposes ``value`` to the ``acceptors``, and learns what is chosen in its ballot.

    ``retry_after``: how long it waits for its value to be chosen before it prepares again
    with a higher ballot (None: never), a fixed delay or a ``(low, high)`` range drawn from
    anew at each attempt; ``start_after``: when it first prepares (ms after it starts).

    ``ballot``: the ballot of its current attempt (its round is durable, so a restarted
    proposer never reuses a ballot); ``promises``: the acceptors that promised it, with the
    proposal each reported; ``proposal``: the value it asked to accept in phase 2 (None
    before); ``accepted_by``: the acceptors that accepted it; ``chosen``: the value it
    learned is chosen (None until a majority accepted its proposal; then it stops counting).

    Invariant: the value of phase 2 is the value of the highest-ballot proposal among the
    promises of a majority, or its own value if none of them accepted any. That is what keeps
    a value, once chosen, the only one any later ballot can propose.
    """

    def __init__(self, value: Any, acceptors: Sequence[str],
                 retry_after: float | tuple[float, float] | None = None,
                 start_after: float = 0.0):
        self.value = value
        self.acceptors = tuple(acceptors)
        self.retry_after = retry_after
        self.start_after = start_after
        self.ballot: Ballot | None = None
        self.promises: dict[str, tuple[Ballot | None, Any]] = {}
        self.proposal: Any = None
        self.accepted_by: frozenset[str] = frozenset()
        self.chosen: Any = None

    def majority(self) -> int:
        return len(self.acceptors) // 2 + 1

    def on_start(self) -> None:
        if self.start_after > 0:
            self.set_timer(self.start_after, "retry")
        else:
            self.prepare()

    def prepare(self) -> None:
        """Phase 1a: a new ballot, higher than any this proposer used, sent to all."""
        round_ = self.storage.get("round", 0) + 1
        self.storage["round"] = round_
        self.ballot = (round_, self.id)
        self.promises = {}
        self.proposal = None
        self.accepted_by = frozenset()
        for acceptor in self.acceptors:
            self.send(acceptor, Prepare(self.ballot))
        if isinstance(self.retry_after, tuple):
            self.set_timer(self.rng.uniform(*self.retry_after), "retry")
        elif self.retry_after is not None:
            self.set_timer(self.retry_after, "retry")

    def on_timer(self, name: str) -> None:
        if name == "retry" and self.chosen is None:
            self.prepare()

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Promise(ballot, accepted_ballot, accepted_value) if (
                    ballot == self.ballot and self.proposal is None):
                self.promises[src] = (accepted_ballot, accepted_value)
                if len(self.promises) >= self.majority():
                    self.proposal = self.pick_value()
                    for acceptor in self.acceptors:
                        self.send(acceptor, Accept(self.ballot, self.proposal))
            case Accepted(ballot, value) if ballot == self.ballot and self.chosen is None:
                self.accepted_by |= {src}
                if len(self.accepted_by) >= self.majority():
                    self.chosen = value
                    self.note("chosen", value=value, ballot=ballot)

    def pick_value(self) -> Any:
        """The value of the highest-ballot proposal the promises report, else our own."""
        reported = [(ballot, value) for ballot, value in self.promises.values()
                    if ballot is not None]
        if reported:
            return max(reported, key=lambda proposal: proposal[0])[1]
        return self.value
