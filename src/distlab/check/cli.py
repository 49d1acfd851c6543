"""The command line: check a history recorded from any system for linearizability.

    python -m distlab.check HISTORY --model register|cas-register|kv|queue|counter|log
                            [--timeout S] [--max-memory MB] [--svg FILE | --png FILE]

``HISTORY`` is a JSON lines file in Jepsen's conventions (see `distlab.check.history_io`),
or ``-`` for standard input. The exit status says the verdict, so scripts can use it; no
error, however unexpected, exits with 1, which means "not linearizable".
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from distlab.check.history_io import HistoryFormatError, read_jsonl
from distlab.check.linearizability import (DEFAULT_MEMORY_LIMIT, LinearizabilityResult, Op,
                                           Verdict, check_linearizability)
from distlab.check.models import MODELS

EXIT_CODES = {Verdict.LINEARIZABLE: 0, Verdict.NOT_LINEARIZABLE: 1, Verdict.UNKNOWN: 2}
EXIT_BAD_INPUT = 3
EXIT_INTERNAL_ERROR = 4
EXIT_INTERRUPTED = 130
#: Seconds of searching when no --timeout is given: generous, but not forever.
DEFAULT_TIMEOUT = 600.0

EPILOG = f"""\
exit status:
  0  linearizable (also an empty history, with a warning)
  1  not linearizable (the explanation is printed)
  2  unknown: the time budget (--timeout, default {DEFAULT_TIMEOUT:g} s) or the memory limit
     (--max-memory, default {DEFAULT_MEMORY_LIMIT >> 20} MB) was reached first; what was explored
     is printed
  3  bad input: unreadable file, malformed line (its number is printed), a value the
     model cannot apply, bad arguments
  4  internal error of the checker (please report it, with the history)
  130  interrupted (Ctrl-C)

history format, one JSON object per line, in the order the events happened:
  {{"process": 0, "type": "invoke", "f": "write", "value": 3}}
  {{"process": 0, "type": "ok",     "f": "write", "value": 3}}
  {{"process": 1, "type": "invoke", "f": "read",  "value": null}}
  {{"process": 1, "type": "ok",     "f": "read",  "value": 3}}
type is invoke, ok, fail (did not happen) or info (unknown: may or may not have happened);
an invoke that never completes is unknown too. A cas's value is [expected, new]; a read's
ok carries the value read (null: never written). "key" is only for --model kv. A history
written as one JSON array of such objects is read too. NaN and infinities are refused.
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
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                        help="give up after S seconds of searching and answer 'unknown' "
                             f"(default: {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--max-memory", type=float, default=DEFAULT_MEMORY_LIMIT >> 20,
                        metavar="MB", help="give up when the search would hold more than MB "
                        f"megabytes and answer 'unknown' (default: {DEFAULT_MEMORY_LIMIT >> 20})")
    picture = parser.add_mutually_exclusive_group()
    picture.add_argument("--svg", metavar="FILE", help="also draw the history to an SVG file "
                         "(.svg is added to FILE unless it ends with it)")
    picture.add_argument("--png", metavar="FILE", help="also draw the history to a PNG file "
                         "(.png is added to FILE unless it ends with it)")
    return parser


class _BadInput(Exception):
    """Input the checker cannot use; the message says what and where."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (see `EPILOG`)."""
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except _BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: say so in one line, never exit 1 ("not linearizable")
        print(f"error: internal error of the checker ({type(exc).__name__}: {exc}); please "
              f"report it, with the history", file=sys.stderr)
        return EXIT_INTERNAL_ERROR


def _run(args: argparse.Namespace) -> int:
    """Read, check, print and draw; bad input raises `_BadInput`."""
    for option, value in (("--timeout", args.timeout), ("--max-memory", args.max_memory)):
        if not (math.isfinite(value) and value > 0):
            raise _BadInput(f"{option} must be a positive number; got {value:g}")
    picture = _picture_path(args.svg, ".svg") or _picture_path(args.png, ".png")
    ops = _read(args.history, args.model)
    if not ops:
        print(f"warning: {args.history} holds no operations; an empty history is "
              f"linearizable", file=sys.stderr)
    try:
        result = check_linearizability(ops, args.model, timeout=args.timeout,
                                       memory_limit=max(1, int(args.max_memory * (1 << 20))))
    except ValueError as exc:  # a value the model cannot apply, e.g. append to a number
        raise _BadInput(f"{args.history}: {exc}") from None
    _print(str(result))
    if picture:
        _draw(result, picture)
        _print(f"picture written to {picture}")
    return EXIT_CODES[result.verdict]


def _read(history: str, model: str) -> list[Op]:
    """The operations of the history file (or of standard input for ``-``)."""
    if history == "-" and sys.stdin is None:
        raise _BadInput("standard input is closed; give a history file, or pipe one in")
    try:
        return read_jsonl(sys.stdin if history == "-" else history, model)
    except OSError as exc:
        raise _BadInput(f"cannot read {history}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise _BadInput(f"{history} is not a UTF-8 text file") from None
    except HistoryFormatError as exc:
        raise _BadInput(f"{history}, {exc}") from None


def _picture_path(name: str | None, suffix: str) -> Path | None:
    """Where a picture goes: ``name``, with ``suffix`` added unless it ends with it."""
    if name is None:
        return None
    return Path(name if name.lower().endswith(suffix) else name + suffix)


def _draw(result: LinearizabilityResult, path: Path) -> None:
    try:
        result.save(str(path))
    except OSError as exc:
        raise _BadInput(f"cannot write {path}: {exc.strerror or exc}") from None


def _print(text: str) -> None:
    """Print to standard output; a reader that went away (``| head``) is not an error."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # Python would complain again when it flushes at exit: send the rest nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
