"""``python -m distlab.soak``: soak every protocol, one, or replay one seed.

::

    python -m distlab.soak                          # every protocol, 1,000 seeds each
    python -m distlab.soak --runs 50 --jobs 2       # fewer seeds, two worker processes
    python -m distlab.soak --protocol paxos         # one protocol (repeat for more)
    python -m distlab.soak --protocol paxos --seed 17   # replay one run, with its trace
    python -m distlab.soak --list                   # the protocols, their faults and checks

Exit status: 0 when no run violated anything, 1 when one did, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from distlab.soak.runner import PROTOCOLS, replay, row, soak, target, workers
from distlab.soak.target import FAULT_NAMES

#: trace events shown when a replayed run violated something
LAST_EVENTS = 30


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m distlab.soak",
        description="Run the library's protocols and the labs' reference solutions under "
                    "random faults (a seeded nemesis), checking their invariants and "
                    "histories; print one line per protocol.")
    parser.add_argument("--runs", type=int, default=1_000,
                        help="seeds per protocol (1, 2, ... RUNS; default 1000)")
    parser.add_argument("--protocol", action="append", choices=list(PROTOCOLS),
                        metavar="NAME", help="soak only this protocol (repeatable); "
                        f"one of: {', '.join(PROTOCOLS)}")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--seed", type=int, help="replay this one seed of the --protocol, "
                        "and show the end of its trace if it violated something")
    parser.add_argument("--list", action="store_true",
                        help="list the protocols, the faults each meets and what is checked")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.runs < 1 or args.jobs < 1:
        parser.error(f"--runs and --jobs must be at least 1 (got {args.runs} and {args.jobs})")
    names = args.protocol or list(PROTOCOLS)
    if args.seed is not None and len(names) != 1:
        parser.error("--seed replays one run: name its protocol, with one --protocol")
    try:
        if args.list:
            return list_protocols(names)
        if args.seed is not None:
            return replay_one(names[0], args.seed)
        return soak_all(names, args.runs, args.jobs)
    except (OSError, ValueError) as exc:  # a target that cannot be built (no notebook...)
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2


def soak_all(names: Sequence[str], runs: int, jobs: int) -> int:
    """Soak every protocol of ``names``; one line each, and a total."""
    print(f"soak: {runs} seeds per protocol, {jobs} worker{'s' * (jobs > 1)}, "
          f"{len(names)} protocols", flush=True)
    pool = workers(jobs) if jobs > 1 else None
    total_runs = total_violations = 0
    total_seconds = 0.0
    try:
        for name in names:
            summary = soak(name, runs, jobs=jobs, pool=pool)
            print(summary.line(), flush=True)
            for line in summary.details():
                print(line, flush=True)
            total_runs += len(summary.outcomes)
            total_violations += len(summary.violations)
            total_seconds += summary.seconds
    finally:
        if pool is not None:
            pool.shutdown()
    print(row("total", total_runs, total_violations, total_seconds))
    return 1 if total_violations else 0


def list_protocols(names: Sequence[str]) -> int:
    """Print, per protocol, where it comes from, the faults it meets and what is judged."""
    print(f"{'protocol':<22} {'faults (' + ', '.join(FAULT_NAMES) + ')':<46} checks")
    for name in names:
        chosen = target(name)
        calm = ("" if chosen.calm_at is None
                else f"; faults repaired at {chosen.calm_at:.0%} of each run")
        print(f"{name:<22} {' '.join(chosen.faults.kinds()):<46} {chosen.checks}{calm}")
        print(f"{'':<22} {chosen.source}")
    return 0


def replay_one(name: str, seed: int) -> int:
    """Re-run one seed; print its outcome and, if it violated something, its last events."""
    sim, outcome = replay(name, seed)
    if outcome.violation is None:
        print(f"{name}, seed {seed}: every property held ({outcome.simulated_ms:g} ms, "
              f"{outcome.events} trace events)")
        return 0
    print(f"{name}, seed {seed}: VIOLATION\n{outcome.violation}\n")
    print(f"the last {LAST_EVENTS} trace events:")
    print(sim.trace.format(last=LAST_EVENTS))
    return 1


if __name__ == "__main__":
    sys.exit(main())
