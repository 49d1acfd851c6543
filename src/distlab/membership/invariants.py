"""What SWIM (`distlab.membership.swim`) promises, as checks the tests and the soak share.

* `incarnations_are_not_invented` (safety, every event): only a member raises its own
  incarnation, so no member has heard of an incarnation of another that is higher than that
  member's own (which its storage keeps across crashes).
* `declared_dead_by_all` (completeness, once the network is calm): every live member
  declares a crashed member dead.
* `no_live_member_dead` (accuracy, once the network is calm): no live member believes
  another live member dead.

The last two are conditions for `distlab.grading.properties.Eventually` (with
``until_end=True``): no failure detector can promise them while messages are lost or delayed
without bound (Chandra and Toueg's eventual accuracy), only once the faults are over.
"""

from __future__ import annotations

from collections.abc import Callable

from distlab.check.invariants import durable_storage, invariant, live_nodes
from distlab.membership.messages import DEAD
from distlab.membership.swim import UNHEARD
from distlab.sim import Simulation


@invariant("no member has heard of an incarnation of another higher than that member's own")
def incarnations_are_not_invented(sim: Simulation) -> str | None:
    for observer, node in live_nodes(sim).items():
        for member, (state, incarnation) in node.heard.items():
            if member not in sim.nodes:
                continue
            own = durable_storage(sim, member).get("incarnation", 0)
            if incarnation > own:
                return (f"{observer} heard {member} is {state} at incarnation {incarnation}, "
                        f"but {member} is only at incarnation {own}")
    return None


def declared_dead_by_all(member: str) -> Callable[[Simulation], bool]:
    """A condition: every live member declares ``member`` dead."""

    def declared(sim: Simulation) -> bool:
        return all((node.state_of(member) or UNHEARD)[0] == DEAD
                   for node_id, node in live_nodes(sim).items() if node_id != member)

    return declared


def no_live_member_dead(sim: Simulation) -> bool:
    """A condition: no live member believes another live member dead."""
    live = live_nodes(sim)
    return not any((node.state_of(other) or UNHEARD)[0] == DEAD
                   for node in live.values() for other in live if other != node.id)
