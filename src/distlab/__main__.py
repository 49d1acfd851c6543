"""Commands of the whole library.

    python -m distlab faults [--nodes 3] [--duration 10] [--seed 1] [--clients 2]
                             [--data-dir DIR] [--history FILE]

``faults`` runs page 05.06's experiment (`distlab.failures.injection`): the key-value store
on Raft as real processes on loopback, clients appending and reading while the leader and a
follower are killed with ``kill -9`` and restarted and a node is cut off and healed. A live
line on standard error says what is happening; the last line on standard output is the
verdict. ``--history`` saves the recorded history as JSON lines, for ``python -m
distlab.check FILE --model kv``.

Exit status: 0 if the history is linearizable and no acknowledged write was lost, 1 if not,
2 if the checker could not decide in time, 3 for bad options.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from distlab.failures.injection import Progress, run_with_faults


def _faults(args: argparse.Namespace) -> int:
    live = sys.stderr.isatty()

    def show(progress: Progress) -> None:
        if live:   # one line, redrawn in place
            print(f"\r{progress.line()}", end="", file=sys.stderr, flush=True)

    shown: list[str] = []

    def log(progress: Progress) -> None:
        show(progress)
        if not live and progress.event not in shown:   # a pipe gets one line per event
            shown.append(progress.event)
            print(progress.line(), file=sys.stderr, flush=True)

    try:
        run = run_with_faults(args.nodes, args.duration, args.seed, clients=args.clients,
                              data_dir=args.data_dir, progress=log)
    except ValueError as exc:
        print(f"distlab faults: {exc}", file=sys.stderr)
        return 3
    if live:
        print(file=sys.stderr)
    for at, event in run.events:
        print(f"t={at:4.1f} s  {event}")
    if args.history:
        run.history.to_jsonl(args.history)
        print(f"history written to {args.history}")
    print(run.summary())
    if run.verdict == "unknown":
        return 2
    return 0 if run.verdict == "linearizable" and run.lost == 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m distlab",
                                     description="Commands of distlab's book.")
    commands = parser.add_subparsers(dest="command", required=True)
    faults = commands.add_parser(
        "faults", help="kill -9 and partition a real key-value store on Raft while clients "
                       "use it, then check the history for linearizability")
    faults.add_argument("--nodes", type=int, default=3, help="Raft servers, odd, >= 3")
    faults.add_argument("--duration", type=float, default=10.0,
                        help="seconds of client work (at least 4)")
    faults.add_argument("--seed", type=int, default=1,
                        help="draws the fault schedule and the clients' requests")
    faults.add_argument("--clients", type=int, default=2, help="client threads")
    faults.add_argument("--data-dir", default=None,
                        help="where the nodes keep their logs and storage files")
    faults.add_argument("--history", default=None, help="save the history (JSON lines)")
    args = parser.parse_args(argv)
    if args.command == "faults":
        return _faults(args)
    parser.error(f"unknown command {args.command!r}")


if __name__ == "__main__":
    sys.exit(main())
