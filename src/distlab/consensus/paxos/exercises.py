"""The Paxos page's mini-exercise: which value must a proposer propose in phase 2?

A proposer in ballot ``(4, 'p2')`` has collected promises from a majority of five
acceptors, each reporting the last proposal it accepted (``(ballot, value)``, or ``(None,
None)`` for none). The reader names the value it must propose; `check_pick` delivers the same
promises to the library's `Proposer` and compares with the value it proposes.
"""

from __future__ import annotations

from typing import Any

from distlab.consensus.paxos.messages import Ballot, Promise
from distlab.consensus.paxos.nodes import Proposer
from distlab.exercises import Feedback, not_quite, right
from distlab.sim import Node, Simulation

#: The acceptors of the exercise.
ACCEPTORS = ["a1", "a2", "a3", "a4", "a5"]

#: What each acceptor that promised reported: (accepted ballot, accepted value).
Reports = dict[str, tuple[Ballot | None, Any]]


def proposed_value(promises: Reports) -> Any:
    """The value the library's `Proposer` proposes once it holds ``promises``."""
    unknown = sorted(set(promises) - set(ACCEPTORS))
    if unknown:
        raise ValueError(f"the promises come from the acceptors {', '.join(ACCEPTORS)}; "
                         f"{unknown} is not one of them")
    if len(promises) <= len(ACCEPTORS) // 2:
        raise ValueError(f"a proposer proposes only with promises from a majority: at least "
                         f"{len(ACCEPTORS) // 2 + 1} of {len(ACCEPTORS)}; got {len(promises)}")
    sim = Simulation(seed=0)
    sim.add_nodes(Node, ACCEPTORS)  # silent: the promises are delivered by hand below
    proposer = sim.add_node(Proposer, "p2", value="mine", acceptors=ACCEPTORS)
    sim.run(until=0)
    for acceptor, (ballot, value) in promises.items():
        proposer.on_message(acceptor, Promise(proposer.ballot, ballot, value))
    return proposer.proposal


def check_pick(answer: Any, promises: Reports) -> Feedback:
    """Whether ``answer`` is the value a proposer holding ``promises`` must propose (None:
    not answered yet)."""
    truth = proposed_value(promises)
    if answer is None:
        return not_quite("no answer yet: set my_answer in the cell above, then run this cell "
                         "again.")
    if answer == truth:
        return right(f"{answer!r}, the value of the highest ballot reported; the library's "
                     f"proposer proposes it too.")
    if answer == "mine":
        return not_quite("a proposer may propose its own value only when no promise reports "
                         "an accepted proposal.")
    return not_quite(f"you said {answer!r}. Compare the ballots (round first), not the "
                     f"values or the acceptors.")
