"""Experiments on single-decree Paxos, for the book's pages and the benchmarks.

`paxos_setup` builds a cluster for a simulation (or for the schedule explorer), `paxos_run`
runs one with the invariants watched, `explore_paxos` model-checks a small configuration,
`random_runs` checks the invariants over many seeds of a lossy network with crashes and
restarts, and `adversarial_duel` runs two proposers over a network that holds back their
``Accept`` messages (FLP's adversary).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from distlab.check.explore import ExplorationResult, explore
from distlab.check.invariants import InvariantViolation, watch
from distlab.consensus.paxos.adversary import AcceptHoldingScheduler
from distlab.consensus.paxos.invariants import agreement, validity
from distlab.consensus.paxos.messages import Accepted, Prepare
from distlab.consensus.paxos.nodes import Acceptor, Proposer
from distlab.sim import Constant, Network, Simulation, Uniform, stream


def acceptor_ids(n: int) -> list[str]:
    return [f"a{i}" for i in range(1, n + 1)]


def proposer_ids(n: int) -> list[str]:
    return [f"p{i}" for i in range(1, n + 1)]


def paxos_setup(acceptors: int = 3, proposers: int = 2, *,
                acceptor_class: type[Acceptor] = Acceptor,
                proposer_class: type[Proposer] = Proposer,
                retry_after: float | None = None) -> Callable[[Simulation], None]:
    """A ``setup(sim)`` that adds ``acceptors`` acceptors (a1, a2...) and ``proposers``
    proposers (p1, p2...); proposer ``pi`` proposes the value ``"vi"``."""
    a_ids = acceptor_ids(acceptors)

    def setup(sim: Simulation) -> None:
        sim.add_nodes(acceptor_class, a_ids)
        for i, proposer in enumerate(proposer_ids(proposers), 1):
            sim.add_node(proposer_class, proposer, value=f"v{i}", acceptors=a_ids,
                         retry_after=retry_after)

    return setup


def paxos_run(seed: int, *, acceptors: int = 3, proposers: int = 2, until: float = 200.0,
              retry_after: float | None = None) -> Simulation:
    """Run `paxos_setup`'s cluster on a network delivering in 1 to 10 ms, agreement and
    validity watched after every event, until ``until`` ms; return the simulation."""
    sim = Simulation(seed=seed, network=Network(latency=Uniform(1, 10)))
    paxos_setup(acceptors, proposers, retry_after=retry_after)(sim)
    watch(sim, agreement(), validity)
    sim.run(until=until)
    return sim


def explore_paxos(acceptors: int = 3, proposers: int = 2, *,
                  acceptor_class: type[Acceptor] = Acceptor,
                  proposer_class: type[Proposer] = Proposer,
                  **options: Any) -> ExplorationResult:
    """Explore every schedule of a Paxos configuration against agreement and validity.

    ``options`` go to `explore` (``crashes``, ``restarts``, ``crashable``, ``method``...);
    by default the search is exhaustive (no state or time bound).
    """
    options = {"max_states": 10_000_000, "max_depth": 1_000, "time_budget": None, **options}
    return explore(paxos_setup(acceptors, proposers, acceptor_class=acceptor_class,
                               proposer_class=proposer_class),
                   [agreement(), validity], **options)


def random_runs(seeds: Iterable[int], *, acceptors: int = 3, proposers: int = 2,
                loss: float = 0.1, crash_every: float = 40.0, until: float = 600.0,
                acceptor_class: type[Acceptor] = Acceptor,
                proposer_class: type[Proposer] = Proposer
                ) -> dict[int, InvariantViolation | str]:
    """Run one simulation per seed (lossy network, random crashes and restarts, proposers
    that retry) with the invariants watched; the outcome of each: the value chosen (or
    "none") or the violation."""
    outcomes: dict[int, InvariantViolation | str] = {}
    for seed in seeds:
        sim = Simulation(seed=seed, network=Network(latency=Uniform(1, 10), loss=loss))
        paxos_setup(acceptors, proposers, acceptor_class=acceptor_class,
                    proposer_class=proposer_class, retry_after=30.0)(sim)
        faults = stream(seed, "faults")
        time = crash_every
        while time < until:
            victim = faults.choice(sim.trace.nodes)
            sim.at(time, _crash_for_a_while, sim, victim, faults.uniform(5, 30))
            time += faults.expovariate(1 / crash_every)
        watch(sim, agreement(), validity)
        try:
            sim.run(until=until)
        except InvariantViolation as exc:
            outcomes[seed] = exc
            continue
        chosen = {node.chosen for node in sim.nodes.values()
                  if isinstance(node, Proposer) and node.chosen is not None}
        outcomes[seed] = ", ".join(sorted(map(str, chosen))) or "none"
    return outcomes


def _crash_for_a_while(sim: Simulation, node_id: str, downtime: float) -> None:
    """Crash ``node_id`` now (if it is up) and restart it ``downtime`` ms later."""
    if sim.is_up(node_id):
        sim.crash(node_id)
        sim.at(sim.now + downtime, sim.restart, node_id)


def adversarial_duel(retry_after: float | tuple[float, float], *,
                     max_hold: float = math.inf, latency: float = 5.0,
                     second_starts: float = 0.0, distinguished: bool = False,
                     seed: int = 0, until: float = 2_000.0) -> Simulation:
    """Run three acceptors and two proposers over `AcceptHoldingScheduler`, and return it.

    Every message takes ``latency`` ms, except that the adversary holds each ``Accept``
    until a higher ballot overtakes it, or ``max_hold`` ms at most (``math.inf``: an
    asynchronous network). ``p1`` prepares at 0 and ``p2`` at ``second_starts``; each starts
    a new ballot ``retry_after`` ms after its last one while it has learned nothing (a
    ``(low, high)`` range: a random delay each time). With ``distinguished``, ``p1`` is the
    distinguished proposer of "Paxos Made Simple", the only one to propose: ``p2`` is left
    out (it would hand its value to ``p1``). Agreement and validity are watched.
    """
    if isinstance(retry_after, tuple):
        low, high = retry_after
        if not 0 < low <= high:
            raise ValueError(f"retry_after as a range must be (low, high) with "
                             f"0 < low <= high, in ms; got {retry_after!r}")
    elif not retry_after > 0:
        raise ValueError(f"retry_after must be a positive delay in ms (or a (low, high) "
                         f"range); got {retry_after!r}")
    sim = Simulation(seed=seed, network=Network(latency=Constant(latency)),
                     scheduler=AcceptHoldingScheduler(max_hold))
    a_ids = acceptor_ids(3)
    sim.add_nodes(Acceptor, a_ids)
    proposers = proposer_ids(1 if distinguished else 2)
    for i, (proposer, start) in enumerate(zip(proposers, (0.0, second_starts)), 1):
        sim.add_node(Proposer, proposer, value=f"v{i}", acceptors=a_ids,
                     retry_after=retry_after, start_after=start)
    watch(sim, agreement(), validity)
    sim.run(until=until)
    return sim


def ballots_started(sim: Simulation) -> int:
    """How many ballots the proposers of a run started (their ``Prepare`` messages to a1)."""
    return sum(1 for event in sim.trace.of_kind("send")
               if event.peer == "a1" and isinstance(event.data, Prepare))


def first_chosen(sim: Simulation) -> tuple[float, Any] | None:
    """When a value was first chosen in a run, and which: ``(ms, value)``, or None.

    Read from the trace: a value is chosen when a majority of the acceptors have sent
    ``Accepted`` for the same ballot (whether or not its proposer heard them in time).
    """
    acceptors = sum(1 for node in sim.nodes.values() if isinstance(node, Acceptor))
    accepted_by: dict[Any, set[str]] = {}
    for event in sim.trace.of_kind("send"):
        if isinstance(event.data, Accepted):
            voters = accepted_by.setdefault(event.data.ballot, set())
            voters.add(event.node)
            if len(voters) > acceptors // 2:
                return event.time, event.data.value
    return None
