"""Two broken variants of Paxos, for the model checker to catch (see `runs.explore_paxos`).

* `HastyProposer` ignores what the promises report and always proposes its own value: once
  a value is chosen, a later ballot can choose another one (twelve steps, no fault needed).
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
