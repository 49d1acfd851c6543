"""The command line: check a history recorded from any system for linearizability.

    python -m distlab.check HISTORY --model register|cas-register|kv|queue|counter
                            [--timeout S] [--svg FILE | --png FILE]

``HISTORY`` is a JSON lines file in Jepsen's conventions (see `distlab.check.history_io`),
or ``-`` for standard input. The exit status says the verdict, so scripts can use it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from distlab.check.history_io import HistoryFormatError, read_jsonl
from distlab.check.linearizability import Verdict, check_linearizability
from distlab.check.models import MODELS

EXIT_CODES = {Verdict.LINEARIZABLE: 0, Verdict.NOT_LINEARIZABLE: 1, Verdict.UNKNOWN: 2}
EXIT_BAD_INPUT = 3

EPILOG = """\
exit status:
  0  linearizable
  1  not linearizable (the explanation is printed)
  2  unknown: the time budget ran out
  3  bad input: unreadable file, malformed line (its number is printed), bad arguments

history format, one JSON object per line, in the order the events happened:
  {"process": 0, "type": "invoke", "f": "write", "value": 3}
  {"process": 0, "type": "ok",     "f": "write", "value": 3}
  {"process": 1, "type": "invoke", "f": "read",  "value": null}
  {"process": 1, "type": "ok",     "f": "read",  "value": 3}
type is invoke, ok, fail (did not happen) or info (unknown: may or may not have happened);
an invoke that never completes is unknown too. A cas's value is [expected, new]; a read's
ok carries the value read (null: never written). "key" is only for --model kv.
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits with the bad-input code (2 means "unknown" here)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m distlab.check",
        description="Check a client history (JSON lines, Jepsen conventions) for\n"
                    "linearizability against a sequential model.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("history", metavar="HISTORY",
                        help="the history file (JSON lines), or - for standard input")
    parser.add_argument("--model", required=True, choices=list(MODELS),
                        help="the sequential object the history should behave like")
    parser.add_argument("--timeout", type=float, default=None, metavar="S",
                        help="give up after S seconds of searching and answer 'unknown' "
                             "(default: no limit)")
    picture = parser.add_mutually_exclusive_group()
    picture.add_argument("--svg", metavar="FILE", help="also draw the history to an SVG file")
    picture.add_argument("--png", metavar="FILE", help="also draw the history to a PNG file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.timeout is not None and args.timeout < 0:
        print("error: --timeout must be a number of seconds >= 0", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        if args.history == "-":
            ops = read_jsonl(sys.stdin, args.model)
        else:
            ops = read_jsonl(args.history, args.model)
    except OSError as exc:
        print(f"error: cannot read {args.history}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except UnicodeDecodeError:
        print(f"error: {args.history} is not a UTF-8 text file", file=sys.stderr)
        return EXIT_BAD_INPUT
    except HistoryFormatError as exc:
        print(f"error: {args.history}, {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        result = check_linearizability(ops, args.model, timeout=args.timeout)
    except ValueError as exc:  # a value the model cannot apply, e.g. append to a number
        print(f"error: {args.history}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(result)
    picture = args.svg or args.png
    if picture:
        try:
            result.save(picture)
        except OSError as exc:
            print(f"error: cannot write {picture}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"picture written to {picture}")
    return EXIT_CODES[result.verdict]
