"""What atomic commitment must guarantee, as `distlab.check.Invariant` objects.

They read three attributes of the live nodes, the names the library's and lab 5c's nodes
share: a coordinator's ``decisions`` and a participant's ``votes`` and ``outcomes`` (each a
dict from transaction to ``"commit"``/``"abort"`` or ``"yes"``/``"no"``). A crashed node's
attributes are gone, so each invariant *remembers* what it has seen: a participant that
committed and then crashed has still committed.

* `Atomicity`: no transaction is committed at one node and aborted at another (the
  coordinator's decision counts as a node's).
* `Validity`: a transaction commits only if every participant voted yes.
* `NothingForgotten`: a vote or an outcome, once a node has it, is still there whenever the
  node is up, across its crashes: what the log is for.

The liveness half (every participant decides once the faults stop and the coordinator is
up) is a property of a run, not of a state: `distlab.txn.runs.everyone_knows`.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from distlab.check import Invariant
from distlab.check.invariants import live_nodes
from distlab.sim import Simulation
from distlab.txn.messages import COMMIT, YES

#: the node attributes the invariants read: the coordinator's, then the participants'
ATTRIBUTES = ("decisions", "votes", "outcomes")


def _seen(sim: Simulation, attribute: str) -> list[tuple[str, str, str]]:
    """(node, transaction, value) for every entry of ``attribute`` of every live node."""
    found = []
    for node_id, node in live_nodes(sim).items():
        for txn, value in (getattr(node, attribute, None) or {}).items():
            found.append((node_id, txn, value))
    return found


class _Remembering(Invariant):
    """An invariant that remembers, per (node, transaction), the last value seen."""

    remembers = True
    reads_only_nodes = True

    def __init__(self, name: str):
        super().__init__(name, self.verdict)
        self.seen: dict[tuple[str, str, str], str] = {}   # (attribute, node, txn) -> value

    def reset(self) -> None:
        self.seen = {}

    def memory(self) -> Hashable:
        return tuple(sorted(self.seen.items()))

    def remember(self, sim: Simulation, attributes: Sequence[str]) -> None:
        for attribute in attributes:
            for node_id, txn, value in _seen(sim, attribute):
                self.seen.setdefault((attribute, node_id, txn), value)

    def verdict(self, sim: Simulation) -> str | None:
        raise NotImplementedError


class Atomicity(_Remembering):
    """No transaction committed at one node and aborted at another, ever."""

    def __init__(self) -> None:
        super().__init__("atomicity: no transaction is committed at one node and aborted at "
                         "another")

    def verdict(self, sim: Simulation) -> str | None:
        self.remember(sim, ("decisions", "outcomes"))
        outcomes: dict[str, dict[str, list[str]]] = {}
        for (_, node_id, txn), outcome in sorted(self.seen.items()):
            outcomes.setdefault(txn, {}).setdefault(outcome, []).append(node_id)
        for txn, by_outcome in sorted(outcomes.items()):
            if len(by_outcome) > 1:
                said = "; ".join(f"{outcome} at {', '.join(nodes)}"
                                 for outcome, nodes in sorted(by_outcome.items()))
                return f"transaction {txn}: {said}"
        return None


class Validity(_Remembering):
    """A transaction is committed only if every one of ``participants`` voted yes on it."""

    def __init__(self, participants: Sequence[str]):
        super().__init__("validity: a transaction commits only if every participant voted yes")
        self.participants = tuple(participants)

    def verdict(self, sim: Simulation) -> str | None:
        self.remember(sim, ("votes",))
        for node_id, txn, outcome in (*_seen(sim, "decisions"), *_seen(sim, "outcomes")):
            if outcome != COMMIT:
                continue
            missing = [p for p in self.participants if self.seen.get(("votes", p, txn)) != YES]
            if missing:
                return (f"{node_id} committed {txn}, but {', '.join(missing)} did not vote yes "
                        f"on it (votes seen: "
                        f"{ {p: self.seen.get(('votes', p, txn)) for p in self.participants} })")
        return None


class NothingForgotten(_Remembering):
    """A node that is up still has every vote, outcome and decision it ever had."""

    def __init__(self) -> None:
        super().__init__("nothing forgotten: a vote, an outcome or a decision survives a "
                         "crash (it is logged before it is sent)")

    def verdict(self, sim: Simulation) -> str | None:
        live = live_nodes(sim)
        for (attribute, node_id, txn), value in sorted(self.seen.items()):
            if node_id not in live:
                continue
            now = (getattr(live[node_id], attribute, None) or {}).get(txn)
            if now != value:
                return (f"{node_id} had {attribute}[{txn!r}] = {value!r} and now has "
                        f"{now!r}: write it to self.storage before sending anything that "
                        f"depends on it, and read it back in __init__")
        self.remember(sim, ATTRIBUTES)
        return None


def commit_invariants(participants: Sequence[str]) -> list[Invariant]:
    """Fresh instances of the three invariants, for one run (they remember)."""
    return [Atomicity(), Validity(participants), NothingForgotten()]
