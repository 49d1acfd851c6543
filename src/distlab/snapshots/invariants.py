"""Money is conserved: in the bank once it is quiet, and in a snapshot's recorded state.

* `money_conserved(total)`: when no transfer is in flight or held back, the branches'
  balances add up to ``total`` (what the bank started with). While transfers fly, money is
  on the wire, where no node's variables show it: that is exactly what a snapshot must find.
* `snapshot_conserves_money(total)`: once every branch has finished its part of the
  snapshot, the recorded balances plus the recorded channel states add up to ``total``.
"""

from __future__ import annotations

from distlab.check import Invariant
from distlab.sim import Simulation


def quiet(sim: Simulation) -> bool:
    """Whether every transfer sent has been received and applied: on every channel, the
    receiver expects next the number the sender will use next (none on the wire, none held
    back; copies and reordering do not fool it, as a count of the trace's events would be)."""
    return all(node.next_out[peer] == sim.nodes[peer].next_in[node_id]
               for node_id, node in sim.nodes.items() for peer in node.peers)


def money_conserved(total: int) -> Invariant:
    """When the bank is quiet, the balances add up to ``total``."""

    def check(sim: Simulation) -> str | None:
        balances = sum(node.balance for node in sim.nodes.values())
        if quiet(sim) and balances != total:
            return f"nothing is in flight and the balances add up to {balances}, not {total}"
        return None

    return Invariant(f"money is conserved: once nothing is in flight, the balances add up to "
                     f"{total}", check, reads_only_nodes=True)


def recorded_total(sim: Simulation) -> int | None:
    """The total of a finished Chandy-Lamport snapshot, or None while it is not finished."""
    nodes = sim.nodes.values()
    if not all(getattr(node, "done", False) for node in nodes):
        return None
    return sum(node.recorded + sum(sum(c) for c in node.channels.values()) for node in nodes)


def snapshot_conserves_money(total: int) -> Invariant:
    """Once the snapshot is finished, its recorded global state holds exactly ``total``."""

    def check(sim: Simulation) -> str | None:
        recorded = recorded_total(sim)
        if recorded is not None and recorded != total:
            parts = {node_id: (node.recorded, {q: c for q, c in node.channels.items() if c})
                     for node_id, node in sim.nodes.items()}
            return f"the snapshot holds {recorded}, not {total}: {parts}"
        return None

    return Invariant(f"the recorded global state conserves money ({total})", check,
                     reads_only_nodes=True)
