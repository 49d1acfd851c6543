"""The safety properties of consensus, for Paxos's nodes, as `distlab.check.Invariant` objects.

* **Agreement** -- at most one value is chosen (`agreement`, which returns a fresh
  `AtMostOneValueChosen`: it remembers what it saw chosen, so each run needs its own).
* **Validity** -- only a value that some proposer proposed can be chosen (`validity`).

A value is *chosen* when a majority of acceptors have accepted it in the same ballot; the
invariants also count a value as chosen when a proposer says it learned it. They read the
acceptors' durable storage (which a crash does not erase) and the proposers that are up.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from distlab.check.canonical import canonical
from distlab.check.invariants import Invariant, durable_storage, invariant, live_nodes
from distlab.consensus.paxos.nodes import Acceptor, Proposer
from distlab.sim import Simulation


def chosen_now(sim: Simulation) -> dict[Any, str]:
    """The values chosen in the current state, each with the reason it counts as chosen."""
    accepted: dict[Any, int] = {}
    acceptors = 0
    for node_id, node in sim.nodes.items():
        if isinstance(node, Acceptor):
            acceptors += 1
            proposal = durable_storage(sim, node_id)["accepted"]
            if proposal is not None:
                accepted[proposal] = accepted.get(proposal, 0) + 1
    chosen = {}
    for (ballot, value), votes in accepted.items():
        if votes > acceptors // 2:
            chosen[value] = f"a majority of acceptors accepted {value!r} in ballot {ballot}"
    for node_id, node in live_nodes(sim).items():
        if isinstance(node, Proposer) and node.chosen is not None:
            chosen.setdefault(node.chosen, f"proposer {node_id!r} learned {node.chosen!r}")
    return chosen


class AtMostOneValueChosen(Invariant):
    """Agreement: once a value is chosen, no other value is ever chosen.

    It remembers every value it saw chosen (a majority of acceptors may later accept a
    higher ballot and forget, a proposer may crash: the value stays chosen).
    """

    remembers = True
    reads_only_nodes = True

    def __init__(self) -> None:
        super().__init__("at most one value is chosen", self._check)
        self.chosen: dict[Any, str] = {}

    def _check(self, sim: Simulation) -> str | None:
        for value, why in chosen_now(sim).items():
            self.chosen.setdefault(value, why)
        if len(self.chosen) > 1:
            return "; and ".join(f"{why}" for why in self.chosen.values())
        return None

    def reset(self) -> None:
        self.chosen.clear()

    def memory(self) -> Hashable:
        return canonical(set(self.chosen))


def agreement() -> AtMostOneValueChosen:
    """Agreement (a new invariant object for each run: it remembers what was chosen)."""
    return AtMostOneValueChosen()


@invariant("a chosen value was proposed", reads_only_nodes=True)
def validity(sim: Simulation) -> str | None:
    """Validity: every value accepted or learned is the input of some proposer.

    (Stronger than "every chosen value was proposed", and as cheap: a value is chosen only
    after acceptors accepted it.)
    """
    proposed = {node.value for node in sim.nodes.values() if isinstance(node, Proposer)}
    for node_id, node in sim.nodes.items():
        if isinstance(node, Acceptor):
            accepted = durable_storage(sim, node_id)["accepted"]
            if accepted is not None and accepted[1] not in proposed:
                return (f"acceptor {node_id!r} accepted {accepted[1]!r}, which no proposer "
                        f"proposed (they proposed {sorted(proposed)})")
        elif (isinstance(node, Proposer) and sim.is_up(node_id) and node.chosen is not None
              and node.chosen not in proposed):
            return (f"proposer {node_id!r} learned {node.chosen!r}, which no proposer "
                    f"proposed (they proposed {sorted(proposed)})")
    return None
