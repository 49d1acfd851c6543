"""distlab.check: checking what a distributed system did.

Linearizability of client histories (`check_linearizability`, with the sequential models in
`distlab.check.models` and the JSON lines format in `distlab.check.history_io`); the command
line is ``python -m distlab.check``; `distlab.check.synthetic` makes seeded test histories.
Invariants over node states (`distlab.check.invariants`) and exhaustive schedule exploration
of small configurations (`distlab.check.explore`). Weaker levels: sequential consistency
(`check_sequential`), causal consistency and the session guarantees (`check_session`), whose
verdict is a `ConsistencyResult`.
"""

from distlab.check.consistency import Anomaly, ConsistencyResult, Outcome
from distlab.check.explore import ChoiceScheduler, ExplorationResult, Step, explore
from distlab.check.history_io import HistoryFormatError, read_jsonl, write_jsonl
from distlab.check.invariants import (Invariant, InvariantViolation, check_now, durable_storage,
                                      invariant, live_nodes, no_acknowledged_write_lost, watch)
from distlab.check.linearizability import LinearizabilityResult, Op, Verdict, check_linearizability
from distlab.check.models import (KV, MODELS, UNKNOWN, CASRegister, Counter, Model, Queue,
                                  Register, agrees)
from distlab.check.sequential import check_sequential
from distlab.check.sessions import GUARANTEES, check_session, check_sessions

__all__ = [
    "Anomaly", "ConsistencyResult", "GUARANTEES", "Outcome", "check_sequential",
    "check_session", "check_sessions", "CASRegister", "ChoiceScheduler", "Counter",
    "ExplorationResult", "HistoryFormatError",
    "Invariant", "InvariantViolation", "KV", "LinearizabilityResult", "MODELS", "Model", "Op",
    "Queue", "Register", "Step", "UNKNOWN", "Verdict", "agrees", "check_linearizability",
    "check_now", "durable_storage", "explore", "invariant", "live_nodes",
    "no_acknowledged_write_lost", "read_jsonl", "watch", "write_jsonl",
]
