"""Broken variants of Paxos, each removing one rule, for the model checker to catch.

Each class changes one thing of `nodes.Acceptor` or `nodes.Proposer`, and
`runs.explore_paxos` finds a schedule in which two values are chosen:

* `HastyProposer` ignores what the promises report and always proposes its own value: once
  a value is chosen, a later ballot can choose another one (twelve steps, no fault needed).
* `PromiseBreakingAcceptor` accepts a proposal whatever it promised: a ballot that was
  overtaken can still be accepted by a majority, after a higher ballot chose another value.
* `MinorityProposer` counts half of the acceptors as a majority (it forgot the ``+ 1``):
  with three acceptors, one is enough, and two proposers that talk to different acceptors
  each learn their own value.
* `ForgetfulAcceptor` keeps its promise in memory only: after a crash and a restart it
  accepts a ballot lower than one it promised, which lets a proposer that saw no accepted
  value choose a second one.
"""

from __future__ import annotations

from typing import Any

from distlab.consensus.paxos.messages import Accept, Accepted, Prepare, Promise
from distlab.consensus.paxos.nodes import Acceptor, Proposer


class HastyProposer(Proposer):
    """The bug: phase 2 proposes its own value, whatever the promises reported."""

    def pick_value(self) -> Any:
        return self.value


class PromiseBreakingAcceptor(Acceptor):
    """The bug: phase 2 ignores the promise; every ``Accept`` is accepted."""

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Accept(ballot, value):
                self.storage["accepted"] = (ballot, value)
                self.send(src, Accepted(ballot, value))
            case _:
                super().on_message(src, msg)


class MinorityProposer(Proposer):
    """The bug: a "quorum" of half the acceptors, rounded down (not more than half)."""

    def majority(self) -> int:
        return len(self.acceptors) // 2


class ForgetfulAcceptor(Acceptor):
    """The bug: ``promised`` lives in memory (lost on a crash); only ``accepted`` is durable."""

    def __init__(self) -> None:
        self.storage.setdefault("accepted", None)
        self.promised = None

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Prepare(ballot) if self.promised is None or ballot > self.promised:
                self.promised = ballot
                accepted_ballot, accepted_value = self.storage["accepted"] or (None, None)
                self.send(src, Promise(ballot, accepted_ballot, accepted_value))
            case Accept(ballot, value) if self.promised is None or ballot >= self.promised:
                self.promised = ballot
                self.storage["accepted"] = (ballot, value)
                self.send(src, Accepted(ballot, value))
