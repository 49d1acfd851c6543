"""Mini-exercises checked by the library: the verdict on a reader's answer, and why.

A page asks the reader to work something out by hand -- the timestamps of a small run, the
posts a member may deliver, the time a transfer takes -- and to write the answer in a code
cell. A checker next to the topic (`distlab.clocks.exercises`,
`distlab.ordering.exercises`, ...) computes the truth with the library's own code and returns
a `Feedback`: "Right: ..." or "Not quite: ..." with the first thing that is wrong and the
reason, so that the reader can correct one step at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Feedback:
    """Whether an answer is right, and a sentence saying why (or what to look at)."""

    right: bool
    message: str

    def __str__(self) -> str:
        return ("Right: " if self.right else "Not quite: ") + self.message

    def __repr__(self) -> str:
        return str(self)

    def __bool__(self) -> bool:
        return self.right

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def right(message: str) -> Feedback:
    """The answer is right; ``message`` says what it shows."""
    return Feedback(True, message)


def not_quite(message: str) -> Feedback:
    """The answer is wrong; ``message`` names the first wrong part and why."""
    return Feedback(False, message)


def close_to(answer: Any, truth: float, tolerance: float) -> bool:
    """Whether ``answer`` is a number within ``tolerance`` of ``truth``."""
    return (isinstance(answer, int | float) and not isinstance(answer, bool)
            and abs(answer - truth) <= tolerance)
