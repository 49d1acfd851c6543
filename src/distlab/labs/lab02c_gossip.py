"""Lab 2c: push-pull gossip within a bound of rounds and a budget of messages
(the notebook ``lab02c-gossip.ipynb``).

Demers et al., "Epidemic Algorithms for Replicated Database Maintenance"
{cite:p}`demers1987epidemic`, spread an update the way a disease spreads: every round, every
node contacts a random other node. In *push-pull* the caller sends what it knows and the
callee answers with what the caller lacks, so the rumour spreads fast both while few know it
(push) and when few are left who do not (pull): everyone knows after about log2 N rounds, with
a constant number of messages per node and round.

The student writes the node. This module holds the checks: a rumour or two start at random
nodes, and every live node must know every rumour within ``c * log2 N`` rounds (a round is
`ROUND` ms), while all nodes together send at most ``k`` messages per node and round, over
N = 16, 32 and 64 nodes, with and without message loss, and with nodes that crash; and each
node calls one peer per round.

The checks read one attribute of each node, ``rumours``: the set of the rumours it knows
(empty at the start). A rumour starts at a node by being added to that set at time 0, as a
local client would write it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from distlab.grading.lab import Lab, Scenario, graded
from distlab.grading.properties import Run, TraceProperty, Violation
from distlab.sim import Network, Node, Simulation, Uniform, stream
from distlab.sim.helpers import node_ids

#: the length of a gossip round, in ms
ROUND = 100.0
#: rounds allowed: RELIABLE_ROUNDS * log2 N on a reliable network, LOSSY_ROUNDS * log2 N with loss
RELIABLE_ROUNDS = 2.0
LOSSY_ROUNDS = 3.0
#: messages allowed per node and round, on average over the run
BUDGET = 3


def round_bound(n: int, factor: float) -> int:
    """``factor * log2(n)``, rounded up: the rounds allowed to reach every node."""
    return math.ceil(factor * math.log2(n))


# -- what must hold ----------------------------------------------------------------------------

class EveryoneKnows(TraceProperty):
    """Every node that is up knows every rumour by the end of round ``rounds``.

    Knowledge is read half a round after the round's start, so that the messages of the
    round have arrived.
    """

    def __init__(self, rumours: Sequence[str], rounds: int):
        self.rumours = frozenset(rumours)
        self.rounds = rounds
        self.deadline = rounds * ROUND + ROUND / 2
        self.description = f"every live node knows every rumour within {rounds} rounds"

    def lacking(self, sim: Simulation) -> list[str]:
        """The live nodes that do not know every rumour yet."""
        return [node_id for node_id, node in sim.nodes.items()
                if node_id not in sim.crashed and not self.rumours <= node.rumours]

    def begin(self, run: Run) -> None:
        run.state.done = False  # whether every live node knew every rumour by the deadline

    def observe(self, run: Run) -> None:
        if not run.state.done and run.sim.now <= self.deadline:
            run.state.done = not self.lacking(run.sim)

    def judge(self, run: Run) -> str | None:
        if run.state.done:
            return None
        sim = run.sim
        lacking = self.lacking(sim)
        live = len(sim.nodes) - len(sim.crashed)
        shown = ", ".join(lacking[:8]) + (", ..." if len(lacking) > 8 else "")
        return (f"after round {self.rounds} (t={sim.now:g} ms), {len(lacking)} of the {live} "
                f"live nodes did not know every rumour yet: {shown}")


class MessageBudget(TraceProperty):
    """All nodes together send at most ``per_node_round`` messages per node and round."""

    def __init__(self, n: int, rounds: int, per_node_round: int = BUDGET):
        self.limit = per_node_round * n * rounds
        self.n = n
        self.rounds = rounds
        self.per_node_round = per_node_round
        self.description = (f"at most {per_node_round} messages per node and round "
                            f"({self.limit:,} in all)")

    def judge(self, run: Run) -> str | None:
        sent = run.sim.trace.counts().get("send", 0)
        if sent <= self.limit:
            return None
        return (f"the {self.n} nodes sent {sent:,} messages in {self.rounds} rounds, "
                f"{sent / (self.n * self.rounds):.1f} per node and round: do not contact "
                f"every peer every round")


#: the events after which a node's sends are no longer those of the handler that ran before
HANDLERS = frozenset({"deliver", "timer", "crash", "restart", "partition", "cut", "heal"})


class OneCallPerRound(TraceProperty):
    """Each node calls at most one peer per round: at most one message in each round's
    ``ROUND`` ms that it did not send while handling a message it received (an answer)."""

    description = "each node calls at most one peer per round"

    def judge(self, run: Run) -> Violation | None:
        handling: tuple[str, str | None] = ("", None)  # the kind of event handled, by whom
        calls: dict[tuple[str, int], list[str]] = {}
        for event in run.sim.trace:
            if event.kind in HANDLERS:
                handling = (event.kind, event.node)
            elif event.kind == "send" and handling != ("deliver", event.node):
                window = calls.setdefault((event.node, int(event.time // ROUND)), [])
                window.append(event.peer)
                if len(window) > 1:
                    start = (event.time // ROUND) * ROUND
                    return Violation(self.description, (
                        f"{event.node} called {len(window)} peers ({', '.join(window)}) in the "
                        f"round from t={start:g} to {start + ROUND:g} ms: call one "
                        f"random peer per round (a Reply, sent while handling a Gossip, does "
                        f"not count)"), event.time)
        return None


# -- the lab -----------------------------------------------------------------------------------

class GossipLab(Lab):
    """The checks of lab 2c, for the student's push-pull node class."""

    title = "Lab 2c: push-pull gossip"
    node_attributes = ("rumours",)

    def __init__(self, node: type[Node]):
        self.node = node

    def scenario(self, seed: int, n: int, loss: float = 0.0, crashes: int = 0) -> Scenario:
        """``n`` nodes; two rumours start at two random nodes; ``crashes`` other nodes crash
        at random moments of the first rounds (and stay down)."""
        ids = node_ids(n, padded=True)  # n00, n01...: they sort in their numeric order
        rng = stream(seed, "lab2c-scenario")
        chosen = rng.sample(ids, 2 + crashes)
        origins = dict(zip(chosen[:2], ("r1", "r2")))
        crashed = [(rng.uniform(0, 3 * ROUND), node_id) for node_id in chosen[2:]]
        rounds = round_bound(n, LOSSY_ROUNDS if loss or crashes else RELIABLE_ROUNDS)

        def setup(sim: Simulation) -> None:
            sim.add_nodes(self.node, ids)
            for node_id, rumour in origins.items():  # a client writes it there
                sim.nodes[node_id].rumours.add(rumour)
            for time, node_id in crashed:
                sim.at(time, sim.crash, node_id)

        properties = [EveryoneKnows(origins.values(), rounds), MessageBudget(n, rounds),
                      OneCallPerRound()]
        return Scenario(setup, run_for=rounds * ROUND + ROUND / 2,
                        network=Network(latency=Uniform(1, 10), loss=loss),
                        properties=properties)

    # -- part A: a reliable network ------------------------------------------------------------
    @graded(part="A", seeds=20, description="16 nodes, reliable network: everyone knows both "
            "rumours within 2 log2 N = 8 rounds, at most 3 messages per node and round")
    def test_16_nodes_A(self, seed: int) -> Scenario:
        return self.scenario(seed, 16)

    @graded(part="A", seeds=20, description="32 nodes, reliable network: within 10 rounds")
    def test_32_nodes_A(self, seed: int) -> Scenario:
        return self.scenario(seed, 32)

    @graded(part="A", seeds=20, description="64 nodes, reliable network: within 12 rounds")
    def test_64_nodes_A(self, seed: int) -> Scenario:
        return self.scenario(seed, 64)

    # -- part B: loss and crashes --------------------------------------------------------------
    @graded(part="B", seeds=20, description="16 nodes, 20% of messages lost: within "
            "3 log2 N = 12 rounds")
    def test_16_nodes_with_loss_B(self, seed: int) -> Scenario:
        return self.scenario(seed, 16, loss=0.2)

    @graded(part="B", seeds=20, description="32 nodes, 20% of messages lost: within 15 rounds")
    def test_32_nodes_with_loss_B(self, seed: int) -> Scenario:
        return self.scenario(seed, 32, loss=0.2)

    @graded(part="B", seeds=20, description="64 nodes, 20% of messages lost: within 18 rounds")
    def test_64_nodes_with_loss_B(self, seed: int) -> Scenario:
        return self.scenario(seed, 64, loss=0.2)

    @graded(part="B", seeds=20, description="32 nodes, 3 of them crash in the first rounds: "
            "every live node still knows both rumours within 15 rounds")
    def test_crashed_nodes_B(self, seed: int) -> Scenario:
        return self.scenario(seed, 32, crashes=3)
