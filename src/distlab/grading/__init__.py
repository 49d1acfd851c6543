"""distlab.grading: the lab harness -- graded checks over many seeds, reports, replays.

A lab is a `Lab` subclass whose `graded` methods each return a `Scenario`: nodes, network,
faults and client workload, how long to run, and the properties that must hold (invariants
after every event, `Eventually` for liveness, `Linearizable` for the clients' history...).
`check(lab)` runs every check over its seeds and returns a `Report`; `replay(lab.test_x,
seed)` re-runs one run exactly, for debugging. The runs of `check` happen in a child process
and are judged in the grading process from what they send back (`distlab.grading.verdicts`):
student code can neither forge a verdict nor end or hang the grader. The first seed of each
check also runs in a fresh Python process, and must give the same trace there
(`check_determinism` does it for any seed). The checks follow MIT 6.5840's naming (the
behaviour, then the part) and DSLabs' spirit: many random schedules, one seed to replay any
failure. A check that must run real code (sockets on loopback) returns a `Trial` instead:
its body observes the student's code, and its judge decides, here, on what it observed.

This package is the harness only; the labs themselves live in `distlab.labs`, one module per
lab notebook (`distlab.labs.lab00_example` is a complete small lab), and the harness never
imports them. ``python -m distlab.grading.make_labs`` generates the student labs from the
solution notebooks and, with ``--check``, verifies that every lab has its notebook, its
module and its tests.
"""

from distlab.check.invariants import Invariant, invariant, live_nodes
from distlab.grading.determinism import check_determinism
from distlab.grading.explain import CodeLocation, Failure
from distlab.grading.lab import Check, Lab, Scenario, Trial, graded
from distlab.grading.properties import (AsksStudentCode, AtEnd, Eventually,
                                        EveryOperationCompletes, Linearizable, Run, TraceProperty,
                                        Violation)
from distlab.grading.report import Report
from distlab.grading.results import CheckResult
from distlab.grading.runner import check, replay

__all__ = [
    "AsksStudentCode", "AtEnd", "Check", "CheckResult", "CodeLocation", "Eventually",
    "EveryOperationCompletes", "Failure", "Invariant", "Lab", "Linearizable", "Report", "Run",
    "Scenario", "TraceProperty", "Trial", "Violation", "check", "check_determinism", "graded",
    "invariant", "live_nodes", "replay",
]
