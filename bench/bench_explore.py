"""How fast is the schedule explorer? States per second of its two methods, on the book's
configurations, and a full exploration of single-decree Paxos.

Each configuration is explored with both methods, one after the other, in this one process:
with snapshots of each state forked to take one step (``method="fork"``, the default) and by
re-executing each state's schedule from a fresh simulation (``method="replay"``, stateless
search). Both must give the same result -- status, states, transitions, schedule -- and the
benchmark stops if they do not. The pair runs ``ROUNDS`` times (``--rounds N``), so that the
two methods meet the same load of a shared machine; it prints the median states per second
of each, and the median of the rounds' ratios with their range; then the median ratio of the
CPU times the two methods took (``time.process_time``, the whole call: a shared, loaded
machine moves the real-time ratio more).

* Ricart and Agrawala's mutual exclusion on 3 nodes: every reachable state.
* Raft-style election on 3 nodes whose voters forget their votes: breadth-first search for
  the shortest schedule that elects two leaders in one term (6 steps).
* The same election with votes kept only in memory, node c allowed to crash and restart
  once: depth-first search for two leaders in one term (8 steps).
* Raft's election (`distlab.consensus.raft.election.RaftElectionNode`) on 3 nodes, one crash
  and restart: every schedule of up to 6 steps.
* Paxos, 3 acceptors and 2 proposers with different values: the first 5,000 states (the
  stateless search would take minutes for all of them).

Then the full exploration of that Paxos configuration, with snapshots only: every reachable
state, no violation; and the same exploration split over ``WORKERS`` processes
(``explore(..., workers=2)``, `distlab.check.split`), which must count the same states. Then
Multi-Paxos (`distlab.consensus.multipaxos.runs.explore_multipaxos`): one leader proposing two
commands, every reachable state, and two servers competing to lead with a command each, every
schedule of up to 11 steps (all of them is out of reach). Run with
``python bench/bench_explore.py [--rounds N]``.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Callable
from statistics import median
from typing import Any

from distlab.check.examples import (AmnesiacElection, ForgetfulElection, RicartAgrawala,
                                    mutual_exclusion)
from distlab.check.explore import ExplorationResult, explore
from distlab.check.invariants import Invariant
from distlab.consensus.multipaxos.runs import explore_multipaxos
from distlab.consensus.paxos import agreement, validity
from distlab.consensus.paxos.runs import explore_paxos, paxos_setup
from distlab.consensus.raft.election import RaftElectionNode
from distlab.consensus.raft.invariants import at_most_one_leader_per_term
from distlab.sim import Simulation

NODES = ["a", "b", "c"]

#: name -> (setup, a function making fresh invariants, options of explore)
CONFIGURATIONS: dict[str, tuple[Callable[[Simulation], Any], Callable[[], list[Invariant]],
                                dict[str, Any]]] = {
    "Ricart-Agrawala, 3 nodes, every reachable state": (
        lambda sim: sim.add_nodes(RicartAgrawala, NODES), lambda: [mutual_exclusion], {}),
    "forgetful election, 3 nodes, shortest violation": (
        lambda sim: sim.add_nodes(ForgetfulElection, NODES),
        lambda: [at_most_one_leader_per_term()], {}),
    "amnesiac election, 3 nodes, crash+restart, dfs": (
        lambda sim: sim.add_nodes(AmnesiacElection, NODES),
        lambda: [at_most_one_leader_per_term()],
        {"strategy": "dfs", "crashes": 1, "restarts": True, "crashable": ["c"],
         "max_depth": 8}),
    "Raft election, 3 nodes, 1 crash+restart, depth 6": (
        lambda sim: sim.add_nodes(RaftElectionNode, NODES),
        lambda: [at_most_one_leader_per_term()],
        {"crashes": 1, "restarts": True, "max_depth": 6}),
    "Paxos, 3 acceptors, 2 proposers, first 5,000 states": (
        paxos_setup(3, 2), lambda: [agreement(), validity], {"max_states": 5_000}),
}


#: How many times each configuration is explored with each method (interleaved).
ROUNDS = 3

#: How many worker processes explore the full Paxos configuration split.
WORKERS = min(2, os.cpu_count() or 1)


def outcome(result: ExplorationResult) -> tuple:
    """What both methods must agree on."""
    return (result.status, result.states, result.transitions, result.depth,
            [step.text for step in result.schedule])


#: One round of one configuration: the result of each method, and the CPU seconds of each.
Round = tuple[ExplorationResult, ExplorationResult, float, float]


def compare(rounds: int = ROUNDS) -> dict[str, list[Round]]:
    """Explore every configuration with both methods, ``rounds`` times, the two methods one
    after the other: {name: [(fork, replay, fork's CPU s, replay's CPU s) of each round]}."""
    results: dict[str, list[Round]] = {name: [] for name in CONFIGURATIONS}
    for _ in range(rounds):
        for name, (setup, invariants, options) in CONFIGURATIONS.items():
            began = time.process_time()
            fork = explore(setup, invariants(), time_budget=None, **options)
            middle = time.process_time()
            replay = explore(setup, invariants(), time_budget=None, method="replay", **options)
            end = time.process_time()
            if outcome(fork) != outcome(replay):
                raise AssertionError(f"{name}: the two methods disagree:\n{fork}\n{replay}")
            results[name].append((fork, replay, middle - began, end - middle))
    return results


def main() -> None:
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else ROUNDS
    medians = []
    cpu_medians = []
    for name, runs in compare(rounds).items():
        fork, replay = runs[0][:2]
        ratios = sorted(f.states_per_second / r.states_per_second for f, r, _, _ in runs)
        ratio = median(ratios)
        medians.append(ratio)
        cpu = median(replay_cpu / fork_cpu for _, _, fork_cpu, replay_cpu in runs)
        cpu_medians.append(cpu)
        print(f"{name:52s} {fork.status:13s} {fork.states:>7,} states "
              f"{fork.transitions:>7,} transitions: fork "
              f"{median(f.states_per_second for f, *_ in runs):>7,.0f} states/s, replay "
              f"{median(r.states_per_second for _, r, *_ in runs):>6,.0f} states/s = "
              f"{ratio:5.1f}x [{ratios[0]:.1f}-{ratios[-1]:.1f}]; CPU time {cpu:5.1f}x")
    medians.sort()
    cpu_medians.sort()
    print(f"explore: snapshots (fork) vs stateless replay, states/s, median of {rounds} "
          f"interleaved rounds: {medians[0]:.1f}x to {medians[-1]:.1f}x, median "
          f"{median(medians):.1f}x; in CPU time {cpu_medians[0]:.1f}x to "
          f"{cpu_medians[-1]:.1f}x")
    began = time.process_time()
    paxos = explore_paxos(3, 2)
    serial_cpu = time.process_time() - began
    print(f"Paxos, 3 acceptors, 2 proposers, full exploration (fork): {paxos.status} in every "
          f"reachable state: {paxos.states:,} states, {paxos.transitions:,} transitions, "
          f"depth {paxos.depth}, in {paxos.elapsed:.1f} s ({paxos.states_per_second:,.0f} "
          f"states/s; {serial_cpu:.1f} s of CPU)")
    began, children = time.process_time(), _children_cpu()
    split = explore_paxos(3, 2, workers=WORKERS)
    split_cpu = time.process_time() - began + _children_cpu() - children
    if outcome(split) != outcome(paxos):
        raise AssertionError(f"the split exploration disagrees:\n{split}\n{paxos}")
    print(f"  the same over {split.workers} worker processes: {split.states:,} states "
          f"({split.duplicates:,} explored by two workers), {split.transitions:,} "
          f"transitions, in {split.elapsed:.1f} s = {paxos.elapsed / split.elapsed:.2f}x the "
          f"serial search's speed; {split_cpu:.1f} s of CPU in all processes, so on "
          f"{split.workers} idle cores about {serial_cpu / (split_cpu / split.workers):.2f}x "
          f"(projected)")
    for label, options in [("1 leader, 2 commands", {"leaders": 1, "max_depth": 1_000}),
                           ("2 leaders, 2 commands", {"max_depth": 11})]:
        result = explore_multipaxos(**options)
        scope = "up to depth 11" if result.depth_limited else "in every reachable state"
        print(f"Multi-Paxos, 3 servers, {label} (fork): {result.status} {scope}: "
              f"{result.states:,} states, {result.transitions:,} transitions, in "
              f"{result.elapsed:.1f} s ({result.states_per_second:,.0f} states/s)")


def _children_cpu() -> float:
    """CPU seconds of this process's finished child processes (the split's workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime

if __name__ == "__main__":
    main()
