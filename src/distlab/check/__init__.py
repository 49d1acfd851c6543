"""distlab.check: checking what a distributed system did.

Linearizability of client histories (`check_linearizability`, with the sequential models in
`distlab.check.models` and the JSON lines format in `distlab.check.history_io`); the command
line is ``python -m distlab.check``.
"""

from distlab.check.history_io import HistoryFormatError, read_jsonl, write_jsonl
from distlab.check.linearizability import (LinearizabilityResult, Op, Verdict,
                                           check_linearizability)
from distlab.check.models import (KV, MODELS, UNKNOWN, CASRegister, Counter, Model, Queue,
                                  Register, agrees)

# Invariants over node states, and exhaustive schedule exploration (distlab.check.invariants,
# distlab.check.explore).
from distlab.check.explore import ChoiceScheduler, ExplorationResult, Step, explore
from distlab.check.invariants import (Invariant, InvariantViolation, check_now, durable_storage,
                                      invariant, live_nodes, no_acknowledged_write_lost, watch)
