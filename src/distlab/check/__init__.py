"""distlab.check: checking what a distributed system did.

Linearizability of client histories (`check_linearizability`, with the sequential models in
`distlab.check.models` and the JSON lines format in `distlab.check.history_io`); the command
line is ``python -m distlab.check``; `distlab.check.synthetic` makes seeded test histories.
Invariants over node states (`distlab.check.invariants`) and exhaustive schedule exploration
of small configurations (`distlab.check.explore`).

The explorer is imported when first used (``from distlab.check import explore`` works as
before): it costs a tenth of a second to import, and the lab harness, which imports this
package for the invariants and the linearizability checker, never needs it.
"""

import importlib
import sys
from types import ModuleType
from typing import Any

from distlab.check.history_io import HistoryFormatError, read_jsonl, write_jsonl
from distlab.check.invariants import (Invariant, InvariantViolation, check_now, durable_storage,
                                      invariant, live_nodes, no_acknowledged_write_lost, watch)
from distlab.check.linearizability import LinearizabilityResult, Op, Verdict, check_linearizability
from distlab.check.models import (KV, MODELS, UNKNOWN, CASRegister, Counter, Model, Queue,
                                  Register, agrees)

__all__ = [
    "CASRegister", "ChoiceScheduler", "Counter", "ExplorationResult", "HistoryFormatError",
    "Invariant", "InvariantViolation", "KV", "LinearizabilityResult", "MODELS", "Model", "Op",
    "Queue", "Register", "Step", "UNKNOWN", "Verdict", "agrees", "check_linearizability",
    "check_now", "durable_storage", "explore", "invariant", "live_nodes",
    "no_acknowledged_write_lost", "read_jsonl", "watch", "write_jsonl",
]

#: what this package takes from `distlab.check.explore`, when first asked for
_EXPLORER_NAMES = ("ChoiceScheduler", "ExplorationResult", "Step", "explore")


def __getattr__(name: str) -> Any:
    """Import the explorer the first time one of its names is asked for."""
    if name not in _EXPLORER_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    explorer = importlib.import_module("distlab.check.explore")
    for known in _EXPLORER_NAMES:
        setattr(sys.modules[__name__], known, getattr(explorer, known))
    return getattr(explorer, name)


class _Package(ModuleType):
    """This package, whose attribute ``explore`` is always the function.

    Importing the submodule ``distlab.check.explore`` makes Python set the package's
    attribute ``explore`` to that module; here it becomes the module's function instead, as
    when the package imported the explorer eagerly.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "explore" and isinstance(value, ModuleType):
            value = value.explore
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
