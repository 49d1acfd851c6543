"""How fast is the schedule explorer? States per second on two small configurations.

* Ricart and Agrawala's mutual exclusion on 3 nodes, each entering the critical section
  once: the explorer visits *every* reachable state (a proof of mutual exclusion for this
  configuration), with state hashing.
* Raft-style leader election on 3 nodes whose voters forget their votes: breadth-first
  search for the shortest schedule that elects two leaders in one term (6 steps).
* The same election with votes kept only in memory, and node c allowed to crash and restart
  once: depth-first search for two leaders in one term (8 steps, a larger space).

The explorer re-executes each schedule from a fresh simulation (stateless search), so its
speed is roughly the simulator's speed divided by the schedule length, plus the cost of
building a simulation and hashing each state. Run with ``python bench/bench_explore.py``.
"""

from __future__ import annotations

from distlab.check.examples import (AmnesiacElection, ForgetfulElection, RicartAgrawala,
                                    mutual_exclusion)
from distlab.check.explore import ExplorationResult, explore
from distlab.consensus.raft.invariants import at_most_one_leader_per_term

NODES = ["a", "b", "c"]


def mutex_everywhere() -> ExplorationResult:
    return explore(lambda sim: sim.add_nodes(RicartAgrawala, NODES), [mutual_exclusion],
                   time_budget=300)


def two_leaders() -> ExplorationResult:
    return explore(lambda sim: sim.add_nodes(ForgetfulElection, NODES),
                   [at_most_one_leader_per_term()], time_budget=300)


def crash_and_forget() -> ExplorationResult:
    return explore(lambda sim: sim.add_nodes(AmnesiacElection, NODES),
                   [at_most_one_leader_per_term()], strategy="dfs", crashes=1, restarts=True,
                   crashable=["c"], max_depth=8, time_budget=300)


def measure() -> dict[str, ExplorationResult]:
    """Run the explorations; each result carries its counts and ``elapsed`` seconds."""
    return {"Ricart-Agrawala, 3 nodes, every reachable state": mutex_everywhere(),
            "forgetful election, 3 nodes, shortest violation": two_leaders(),
            "amnesiac election, 3 nodes, crash+restart, dfs": crash_and_forget()}


def main() -> None:
    for name, result in measure().items():
        print(f"{name:50s} {result.status:13s} {result.states:>7,} states "
              f"{result.transitions:>7,} transitions in {result.elapsed:5.2f} s = "
              f"{result.states_per_second:>6,.0f} states/s "
              f"({result.transitions / result.elapsed:,.0f} transitions/s, "
              f"depth {result.depth})")


if __name__ == "__main__":
    main()
