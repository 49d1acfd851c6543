"""What running one check gives: `CheckResult`, read by the runner and the report alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distlab.grading.explain import Failure
from distlab.grading.lab import Check


@dataclass
class CheckResult:
    """How one check went over its seeds: totals, and the first failure if any."""

    check: Check
    seeds_run: int
    seeds_total: int
    simulated_ms: float
    messages: int
    wall_seconds: float
    failure: Failure | None = None
    #: True when the check ran real code (a `Trial`), not a simulation
    real: bool = False
    #: the run of the first seed, if it passed (the determinism check compares it)
    first_run: Any = None

    @property
    def passed(self) -> bool:
        return self.failure is None
