"""Three-phase commit (Skeen 1981, "Nonblocking commit protocols").

2PC blocks because a participant in doubt cannot tell whether the coordinator committed.
3PC adds a phase between the vote and the commit: once every vote is yes, the coordinator
sends `PreCommit`, waits for every participant to acknowledge it (or to time out), and only
then commits. So no participant commits while another is still *uncertain* (voted yes,
no PreCommit yet), and a participant's state tells its peers what may have happened:

* if anyone is *precommitted* (or committed), every participant voted yes, so committing
  is safe;
* if everyone reachable is *uncertain* (or aborted), nobody can have committed, so
  aborting is safe.

That is the *termination protocol* a participant runs when the coordinator falls silent
(`TIMEOUT` ms after its last step): it asks the other participants for their states, waits
`POLL` ms, and decides by those two rules. It never waits for the coordinator, so crashes do
not block it.

The rules assume that a silent node has crashed. Under a partition that is false: each side
runs the termination protocol on what it can see, a side with a precommitted participant
commits and a side of uncertain ones aborts, and atomicity is lost
(`distlab.txn.runs.three_phase_partition` shows it). Consensus-based commit (Paxos Commit,
Gray and Lamport 2006) is the non-blocking protocol that survives partitions too.

States and decisions are logged in ``storage`` as in `distlab.txn.two_phase_commit`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from distlab.sim import Node
from distlab.txn.messages import (ABORT, COMMIT, NO, YES, Decision, PreCommit, PreCommitAck,
                                  Prepare, StateReply, StateRequest, Vote)

#: ms a participant waits for the coordinator's next step before it runs the termination protocol
TIMEOUT = 300.0
#: ms the termination protocol waits for the others' states
POLL = 100.0
#: ms the coordinator waits for votes (then aborts), and for PreCommit acknowledgements
#: (then commits: a participant that did not acknowledge has crashed)
PHASE_TIMEOUT = 200.0

UNCERTAIN = "uncertain"
PRECOMMITTED = "precommitted"


class Coordinator3PC(Node):
    """The 3PC coordinator of one transaction ``txn``: votes, pre-commit, commit."""

    def __init__(self, participants: Sequence[str], txn: str = "t1"):
        self.participants = tuple(participants)
        self.txn = txn
        self.decisions: dict[str, str] = dict(self.storage.get("decisions", {}))
        self.yes_votes: set[str] = set()
        self.precommitted: set[str] = set()
        self.phase = "voting"

    def on_start(self) -> None:
        if self.storage.get("started"):
            return            # a recovered coordinator leaves the outcome to the participants
        self.storage["started"] = True
        for participant in self.participants:
            self.send(participant, Prepare(self.txn))
        self.set_timer(PHASE_TIMEOUT, "timeout")

    def decide(self, outcome: str) -> None:
        self.decisions[self.txn] = outcome
        self.storage["decisions"] = dict(self.decisions)
        self.phase = outcome
        self.note("decide", txn=self.txn, outcome=outcome)
        for participant in self.participants:
            self.send(participant, Decision(self.txn, outcome))

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Vote(_, vote) if self.phase == "voting" and vote == NO:
                self.decide(ABORT)
            case Vote(_, vote) if self.phase == "voting":
                self.yes_votes.add(src)
                if self.yes_votes == set(self.participants):
                    self.phase = "precommitting"
                    for participant in self.participants:
                        self.send(participant, PreCommit(self.txn))
                    self.set_timer(PHASE_TIMEOUT, "timeout")
            case PreCommitAck(_) if self.phase == "precommitting":
                self.precommitted.add(src)
                if self.precommitted == set(self.participants):
                    self.decide(COMMIT)

    def on_timer(self, name: str) -> None:
        if self.phase == "voting":
            self.decide(ABORT)
        elif self.phase == "precommitting":
            self.decide(COMMIT)


class Participant3PC(Node):
    """A 3PC participant of one transaction ``txn``, which votes no if ``txn`` is in ``refuse``.

    ``state`` is ``"initial"``, ``"uncertain"``, ``"precommitted"``, or the outcome.
    """

    def __init__(self, coordinator: str = "coordinator", txn: str = "t1",
                 refuse: Collection[str] = ()):
        self.coordinator = coordinator
        self.txn = txn
        self.refuse = frozenset(refuse)
        self.state: str = self.storage.get("state", "initial")
        self.votes: dict[str, str] = dict(self.storage.get("votes", {}))
        self.outcomes: dict[str, str] = dict(self.storage.get("outcomes", {}))
        self.replies: dict[str, str] = {}

    def others(self) -> list[str]:
        return [peer for peer in self.peers if peer != self.coordinator]

    def on_start(self) -> None:
        if self.state in (UNCERTAIN, PRECOMMITTED):
            self.set_timer(TIMEOUT, "timeout")

    def enter(self, state: str) -> None:
        """Log the new state; an outcome is final."""
        self.state = state
        self.storage["state"] = state
        if state in (COMMIT, ABORT):
            self.outcomes[self.txn] = state
            self.storage["outcomes"] = dict(self.outcomes)
            self.note(state, txn=self.txn)
            self.cancel_timer("timeout")
            self.cancel_timer("poll")
        else:
            self.set_timer(TIMEOUT, "timeout")

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Prepare(txn) if self.state == "initial":
                vote = NO if txn in self.refuse else YES
                self.votes[txn] = vote
                self.storage["votes"] = dict(self.votes)
                self.enter(ABORT if vote == NO else UNCERTAIN)
                self.send(src, Vote(txn, vote))
            case PreCommit(txn) if self.state == UNCERTAIN:
                self.enter(PRECOMMITTED)
                self.send(src, PreCommitAck(txn))
            case Decision(_, outcome) if self.state not in (COMMIT, ABORT):
                self.enter(outcome)
            case StateRequest(txn):
                self.send(src, StateReply(txn, self.state))
            case StateReply(_, state):
                self.replies[src] = state

    def on_timer(self, name: str) -> None:
        if name == "timeout":          # the coordinator is silent: ask the others
            self.replies = {}
            for peer in self.others():
                self.send(peer, StateRequest(self.txn))
            self.set_timer(POLL, "poll")
        elif name == "poll" and self.state not in (COMMIT, ABORT):
            states = {self.state, *self.replies.values()}
            if COMMIT in states or (PRECOMMITTED in states and ABORT not in states):
                self.enter(COMMIT)
            else:                      # everyone I can reach is uncertain, initial or aborted
                self.enter(ABORT)
