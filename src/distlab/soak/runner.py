"""Soaking: many seeds of each target, on worker processes, and one line per protocol.

`PROTOCOLS` names every target the soak knows: the library's (`distlab.soak.library`) and the
labs' (`distlab.soak.labs`). `soak` runs one target over seeds 1..n -- on ``jobs`` worker
processes, each building the target once and running chunks of seeds -- and returns a
`Summary`: its runs, its violations (each with its seed and the command that replays it) and
the wall-clock time. Which process runs a seed changes nothing: a run depends only on the
target and the seed.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass

from distlab.sim import Simulation
from distlab.soak import labs, library
from distlab.soak.run import Outcome, replay_command, run_seed
from distlab.soak.target import Target

#: every protocol the soak runs, by name: the library's first, then the labs'
PROTOCOLS: dict[str, Callable[[], Target]] = {
    "paxos": library.paxos,
    "raft-election": library.raft_election,
    "raft-kv": library.raft_kv,
    "multipaxos": library.multipaxos,
    "bully": library.bully,
    "ring-election": library.ring_election,
    "heartbeat": library.heartbeat,
    "rpc-at-most-once": library.rpc_counter,
    "cristian": library.cristian,
    "gossip": library.gossip,
    "phi-accrual": library.phi_accrual,
    "swim": library.swim,
    "kv-quorum-register": library.quorum_register,
    "kv-lww-register": library.lww_register,
    "ordering-fifo": library.fifo_broadcast,
    "ordering-causal": library.causal_broadcast,
    "ordering-sequencer": library.sequencer_broadcast,
    "ordering-lamport": library.lamport_broadcast,
    "coordination-lock": library.coordination_lock,
    "mapreduce": library.mapreduce,
    "vr": library.vr_kv,
    "zab": library.zab_kv,
    "two-phase-commit": library.two_phase_commit,
    "chandy-lamport": library.chandy_lamport,
    "lab00-example": labs.lab00,
    "lab01-client-server": labs.lab01,
    "lab02a-ordered-chat": labs.lab02a,
    "lab02b-vector-clocks": labs.lab02b,
    "lab02c-gossip": labs.lab02c,
    "lab03a-hash-ring": labs.lab03a,
    "lab03b-membership": labs.lab03b,
    "lab03c-quorum": labs.lab03c,
    "lab04-raft": labs.lab04,
    "lab06-mapreduce": labs.lab06,
    "lab05b-swim": labs.lab05b,
    "lab05a-kv-raft": labs.lab05a,
    "lab05c-two-phase-commit": labs.lab05c,
}
#: seeds per task sent to a worker: enough to keep the cost of a task small
CHUNK = 25
#: how many violations of one protocol are shown (all are counted)
SHOWN = 3


def target(name: str) -> Target:
    """The target called ``name``; a clear error for a name the soak does not know."""
    if name not in PROTOCOLS:
        raise ValueError(f"no protocol {name!r} in the soak; the protocols are: "
                         f"{', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]()


@dataclass(frozen=True)
class Summary:
    """One target's soak: every run's outcome, in seed order, and the time it all took."""

    target: Target
    outcomes: list[Outcome]
    seconds: float

    @property
    def violations(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.violation is not None]

    def line(self) -> str:
        """The protocol's line: name, runs, violations, time, and the faults it met."""
        return (row(self.target.name, len(self.outcomes), len(self.violations), self.seconds)
                + "   " + " ".join(self.target.faults.kinds()))

    def details(self, shown: int = SHOWN) -> list[str]:
        """The first ``shown`` violations: seed, what it runs, what broke, how to replay it."""
        lines = []
        for outcome in self.violations[:shown]:
            which = f" ({self.target.which(outcome.seed)})" if self.target.which else ""
            first, *_ = outcome.violation.splitlines()
            lines.append(f"    seed {outcome.seed}{which}: {first}")
            lines.append(f"      replay: {replay_command(self.target, outcome.seed)}")
        if len(self.violations) > shown:
            lines.append(f"    ... and {len(self.violations) - shown} more")
        return lines


def row(name: str, runs: int, violations: int, seconds: float) -> str:
    """One line of the soak's table: a protocol (or the total), its runs, violations, time."""
    return f"{name:<22} {runs:>6} runs {violations:>4} violations {seconds:7.1f} s"


def soak(chosen: Target | str, runs: int, *, jobs: int = 1,
         pool: Executor | None = None) -> Summary:
    """Run ``chosen`` (a target, or the name of one) over seeds 1..``runs``.

    With ``jobs`` > 1 (or a ``pool`` of worker processes) the seeds run in workers, which
    build the target from its name: a target object that is not one of `PROTOCOLS` (a
    broken variant, say) runs in this process only.
    """
    if not isinstance(runs, int) or isinstance(runs, bool) or runs < 1:
        raise ValueError(f"runs is how many seeds to run, a whole number >= 1; got {runs!r}")
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs is how many worker processes to use, >= 1; got {jobs!r}")
    began = time.perf_counter()
    seeds = list(range(1, runs + 1))
    if isinstance(chosen, str):
        name, built = chosen, target(chosen)
    else:
        name, built = None, chosen
    if pool is None and jobs == 1:
        outcomes = [run_seed(built, seed)[1] for seed in seeds]
    else:
        if name is None:
            raise ValueError(f"target {built.name!r} is an object, not a protocol name: it can "
                             f"run in this process only (jobs=1)")
        owned = pool is None
        pool = pool or workers(jobs)
        try:
            chunks = [seeds[i:i + CHUNK] for i in range(0, len(seeds), CHUNK)]
            outcomes = [o for part in pool.map(_run_chunk, [name] * len(chunks), chunks)
                        for o in part]
        finally:
            if owned:
                pool.shutdown()
    return Summary(built, outcomes, time.perf_counter() - began)


def workers(jobs: int) -> ProcessPoolExecutor:
    """A pool of ``jobs`` worker processes (forked: they start with the library loaded)."""
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"))


_BUILT: dict[str, Target] = {}  # in a worker: the targets it has built, by name


def _run_chunk(name: str, seeds: Iterable[int]) -> list[Outcome]:
    """In a worker: run ``seeds`` of target ``name`` (built once per worker)."""
    if name not in _BUILT:
        _BUILT[name] = target(name)
    return [run_seed(_BUILT[name], seed)[1] for seed in seeds]


def replay(chosen: Target | str, seed: int) -> tuple[Simulation, Outcome]:
    """Re-run one seed of ``chosen`` exactly: the simulation (draw it, read its trace) and
    its outcome."""
    return run_seed(target(chosen) if isinstance(chosen, str) else chosen, seed)
