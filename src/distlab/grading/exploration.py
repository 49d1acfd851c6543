"""A lab check that explores every schedule of a small configuration of the student's code.

`exploration_trial` turns an exhaustive search (`distlab.check.explore`, wrapped by a lab as,
say, ``explore_election(YourClass)``) into a check. Its bounds decide what the check covers:
every schedule of up to the search's depth, in at most ``states`` distinct states. So the
check passes only if the search covered them: a search stopped by its cap of states, or by
its guard of real time against a node that hangs or crawls, fails and says how far it got and
what to do. A search cut short proves nothing about the schedules it never reached.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from distlab.check import ExplorationResult
from distlab.grading.lab import Trial
from distlab.grading.properties import Violation

#: how long a check waits, beyond its guard, for an exploration to hand back its result (the
#: guard is checked between two steps: a step that never ends is stopped here), in seconds
EXPLORE_GRACE = 15.0


def exploration_trial(search: Callable[..., ExplorationResult], name: str, see_it: str, *,
                      states: int, seconds: float, reference_states: int) -> Trial:
    """A check that runs ``search(max_states=states, time_budget=seconds)`` (the student's
    classes already bound to it) and reports the shortest schedule that breaks a property.

    ``name`` names the search in the report (``"explore_election"``), ``see_it`` is the call
    a student runs to see it (``"explore_election(YourClass)"``), and ``reference_states`` is
    how many states the reference needs at most (for the report of a search that hit its
    cap)."""

    def body() -> dict[str, Any]:
        """What the exploration found, as data: how far it went, and what broke if anything."""
        result = search(max_states=states, time_budget=seconds)
        found = {"status": result.status, "states": result.states,
                 "transitions": result.transitions, "depth": result.depth,
                 "max_depth": result.max_depth, "seconds": result.elapsed,
                 "stopped_by": result.stopped_by}
        if result.found:
            found["schedule"] = [str(step) for step in result.schedule]
            found["broken"] = [result.violation.invariant, result.violation.explanation]
        return found

    def judge(found: dict[str, Any]) -> Violation | None:
        if found["status"] == "violation":
            schedule = found["schedule"]
            what, broken = found["broken"]
            steps = "\n".join(f"  {i:2d}. {step}" for i, step in enumerate(schedule, 1))
            return Violation(
                f"{what}, in every schedule explored",
                f"the shortest schedule that breaks it ({len(schedule)} steps):\n{steps}"
                f"\n  => {broken}\n"
                f"See it: result = {see_it}; "
                f"spacetime(result.simulation, show_timers=True)", 0.0)
        if found["status"] == "incomplete":
            return unfinished(found, name, see_it, states, seconds, reference_states)
        return None

    stuck = (f"A handler that never returns? {name} stops between two steps when its "
             f"{seconds:g} s are up; a step still running {EXPLORE_GRACE:g} s later is stopped "
             f"here. A handler must return at once: never wait in a loop for a message or a "
             f"time (set a timer, and act when it fires).")
    return Trial(body, time_limit=seconds + EXPLORE_GRACE, judge=judge, stuck_hint=stuck)


def unfinished(found: dict[str, Any], name: str, see_it: str, states: int, seconds: float,
               reference_states: int) -> Violation:
    """The failure of an exploration that its cap of ``states`` states or its guard of
    ``seconds`` of real time stopped before it covered every schedule (``found``: what
    `exploration_trial`'s body observed)."""
    depth, most = found["depth"], found["max_depth"]
    explored = (f"{name} explored {found['states']:,} states ({found['transitions']:,} "
                f"steps) and reached depth {depth} of {most}")
    stopped_by = str(found["stopped_by"])
    if stopped_by.startswith("max_states"):
        return Violation(
            f"the exploration covers every schedule of up to {most} steps within "
            f"{states:,} states", f"{explored} when it hit its limit of "
            f"{states:,} states, before it covered every schedule of up to {most} steps: "
            f"the reference needs fewer than {reference_states:,}. The exploration merges two "
            f"states only when every attribute of every node is equal: does your node keep "
            f"something that differs in nearly every state, such as a counter, a time "
            f"(self.now) or a list that only grows? Keep only what the handlers need to "
            f"decide.", 0.0)
    per_step = 1000 * found["seconds"] / max(found["transitions"], 1)
    where = " (stopped inside a handler)" if "inside a handler" in stopped_by else ""
    return Violation(
        f"the exploration covers every schedule of up to {most} steps within "
        f"{seconds:g} s", f"{explored} in {found['seconds']:.0f} s, its time "
        f"limit{where}, without covering every schedule of up to {most} steps: it must, to "
        f"pass. Your node's steps took {per_step:.1f} ms each, where the reference's take "
        f"under a millisecond on an idle machine: does a handler sleep, wait, loop or copy "
        f"much? A handler only reads its message, changes the node's state and sends; run "
        f"{see_it} and print the result to see how far it gets.", 0.0)
