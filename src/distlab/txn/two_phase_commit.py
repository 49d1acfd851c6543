"""Two-phase commit with durable logs and recovery (Gray 1978; Bernstein, Hadzilacos and
Goodman 1987, chapter 7).

A coordinator asks every participant of a transaction to *prepare* it and vote; it commits
the transaction only if every participant voted yes, and aborts it otherwise (a no, or a vote
that does not come within `VOTE_TIMEOUT`). The rules that make it survive crashes are about
the order of writes: each node writes to its durable log (``self.storage``) *before* it sends
the message that depends on it.

* A participant logs its vote before sending it. Once it has voted yes it is *in doubt*: it
  may no longer abort on its own, because the coordinator may already have committed.
* The coordinator logs its decision before sending it, and re-sends it until every
  participant has acknowledged it.

Recovery reads the logs. A coordinator that restarts re-sends each logged decision, and
aborts every transaction it had not decided (*presumed abort*: it never sent a commit it
did not log, so nobody can have committed). A participant that restarts in doubt asks for
the outcome, as it does every `ASK_EVERY` ms while in doubt: it asks the coordinator and,
with the *cooperative termination protocol*, the other participants. A participant that
knows the outcome tells it; one that has not voted yet may vote no, abort, and tell that.

What remains is 2PC's blocking: if the coordinator crashes after every participant voted
yes and before any of them learned the outcome, nobody can decide until it recovers.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from distlab.sim import Node
from distlab.txn.messages import (ABORT, COMMIT, NO, YES, Ack, Decision, DecisionRequest, Prepare,
                                  Vote)

#: ms the coordinator waits for the votes before it aborts
VOTE_TIMEOUT = 300.0
#: ms between two sendings of a decision that is not acknowledged yet
RESEND = 100.0
#: ms between two rounds of questions of a participant in doubt
ASK_EVERY = 150.0


class Coordinator(Node):
    """The coordinator of the ``transactions``, all begun when it first starts.

    Durable: ``storage["decisions"]`` (transaction -> ``"commit"`` or ``"abort"``), written
    before any `Decision` that carries it is sent, and never changed; and
    ``storage["started"]``, which tells a restart from the first start.
    """

    def __init__(self, participants: Sequence[str], transactions: Sequence[str] = ("t1",)):
        self.participants = tuple(participants)
        self.transactions = tuple(transactions)
        self.decisions: dict[str, str] = dict(self.storage.get("decisions", {}))
        self.yes_votes: dict[str, set[str]] = {txn: set() for txn in self.transactions}
        self.acked: dict[str, set[str]] = {txn: set() for txn in self.transactions}

    def on_start(self) -> None:
        if self.storage.get("started"):          # a restart: recover from the log
            for txn in self.transactions:
                if txn not in self.decisions:    # presumed abort: no commit was ever sent
                    self.decide(txn, ABORT)
            self.set_timer(RESEND, "resend")     # re-send the logged decisions
            return
        self.storage["started"] = True
        for txn in self.transactions:
            for participant in self.participants:
                self.send(participant, Prepare(txn))
        self.set_timer(VOTE_TIMEOUT, "vote-timeout")

    def decide(self, txn: str, outcome: str) -> None:
        """Log the outcome of ``txn``, then tell every participant."""
        self.decisions[txn] = outcome
        self.storage["decisions"] = dict(self.decisions)   # the log first...
        self.note("decide", txn=txn, outcome=outcome)
        for participant in self.participants:              # ...then the messages
            self.send(participant, Decision(txn, outcome))
        self.set_timer(RESEND, "resend")

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Vote(txn, vote) if txn not in self.decisions:
                if vote == NO:
                    self.decide(txn, ABORT)
                else:
                    self.yes_votes[txn].add(src)
                    if self.yes_votes[txn] == set(self.participants):
                        self.decide(txn, COMMIT)
            case Vote(txn, _) | DecisionRequest(txn) if txn in self.decisions:
                self.send(src, Decision(txn, self.decisions[txn]))
            case Ack(txn):
                self.acked[txn].add(src)

    def on_timer(self, name: str) -> None:
        if name == "vote-timeout":               # a vote is missing: abort
            for txn in self.transactions:
                if txn not in self.decisions:
                    self.decide(txn, ABORT)
        elif name == "resend":
            waiting = False
            for txn, outcome in self.decisions.items():
                for participant in self.participants:
                    if participant not in self.acked[txn]:
                        self.send(participant, Decision(txn, outcome))
                        waiting = True
            if waiting:
                self.set_timer(RESEND, "resend")


class Participant(Node):
    """A participant: votes yes on every transaction except those in ``refuse``.

    Durable: ``storage["votes"]`` (transaction -> ``"yes"`` or ``"no"``), written before the
    `Vote` is sent; ``storage["outcomes"]`` (transaction -> ``"commit"`` or ``"abort"``),
    written when the outcome is learned and never changed. A transaction with a yes vote
    and no outcome is *in doubt*: only a `Decision` may end it.
    """

    def __init__(self, coordinator: str = "coordinator", refuse: Collection[str] = ()):
        self.coordinator = coordinator
        self.refuse = frozenset(refuse)
        self.votes: dict[str, str] = dict(self.storage.get("votes", {}))
        self.outcomes: dict[str, str] = dict(self.storage.get("outcomes", {}))

    def in_doubt(self) -> list[str]:
        """The transactions this participant voted yes on and does not know the outcome of."""
        return [txn for txn, vote in self.votes.items()
                if vote == YES and txn not in self.outcomes]

    def on_start(self) -> None:
        if self.in_doubt():                      # a restart in doubt: ask at once
            self.on_timer("ask")

    def vote(self, txn: str, vote: str) -> None:
        """Log the vote on ``txn``; a no vote aborts it at once (the coordinator cannot
        commit it without this participant)."""
        self.votes[txn] = vote
        self.storage["votes"] = dict(self.votes)
        self.note("vote", txn=txn, vote=vote)
        if vote == NO:
            self.learn(txn, ABORT)

    def learn(self, txn: str, outcome: str) -> None:
        """Log the outcome of ``txn`` (commit or abort its effects here)."""
        self.outcomes[txn] = outcome
        self.storage["outcomes"] = dict(self.outcomes)
        self.note(outcome, txn=txn)

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Prepare(txn):
                if txn not in self.votes:
                    self.vote(txn, NO if txn in self.refuse else YES)
                    if txn in self.in_doubt():
                        self.set_timer(ASK_EVERY, "ask")
                self.send(src, Vote(txn, self.votes[txn]))        # after the log
            case Decision(txn, outcome):
                if txn not in self.outcomes:
                    self.learn(txn, outcome)
                if src == self.coordinator:
                    self.send(src, Ack(txn))
            case DecisionRequest(txn):                # another participant is in doubt
                if txn not in self.votes:             # not voted yet: free to abort
                    self.vote(txn, NO)
                if txn in self.outcomes:
                    self.send(src, Decision(txn, self.outcomes[txn]))

    def on_timer(self, name: str) -> None:
        doubtful = self.in_doubt()
        for txn in doubtful:                          # the coordinator, and the others
            for peer in self.peers:
                self.send(peer, DecisionRequest(txn))
        if doubtful:
            self.set_timer(ASK_EVERY, "ask")
