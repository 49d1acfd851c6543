"""The two generals: a lost message that its sender cannot see.

Two generals, ``A`` and ``B``, must attack at dawn together or not at all; they talk only
through messengers who cross a valley and may be caught (a lossy link). `General` plays the
obvious protocol: ``A`` sends the plan (messenger 1), each general that receives messenger *k*
sends messenger *k + 1* back, up to ``messengers``; at dawn a general attacks if it has
received every messenger addressed to it. Whatever the number of messengers, the *last* one may
be lost, and its sender cannot see the difference: it attacks while the other does not.
Removing that messenger gives a shorter protocol that must decide the same way, and so on down
to no messenger at all -- so no protocol with finitely many messages reaches certainty over a
link that can lose them (Akkoyunlu, Ekanadham and Huber 1975; Gray 1978 named the generals).
`distlab.failures.runs.two_generals` runs it, optionally losing a chosen messenger on purpose,
and `generals_odds` measures the outcomes over many seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distlab.sim import Node


@dataclass(frozen=True)
class Messenger:
    """Messenger ``number``: 1 carries the plan, 2 acknowledges it, 3 acknowledges 2..."""

    number: int


class General(Node):
    """One of two generals: relays messengers, and at ``dawn`` ms decides to attack or not.

    ``A`` (the first id) sends messenger 1. On messenger *k*, a general sends *k + 1* back
    unless *k* was the last (``messengers``). With ``resend`` (ms) a general sends its latest
    messenger again and again until the next one arrives or dawn comes. At dawn it attacks if
    it has received every messenger addressed to it (``A`` gets the even ones, ``B`` the odd).
    """

    def __init__(self, messengers: int = 4, resend: float | None = None,
                 dawn: float = 1_000.0) -> None:
        if messengers < 1:
            raise ValueError(f"the protocol needs at least one messenger (the plan); got "
                             f"{messengers!r}")
        self.messengers = messengers
        self.resend = resend
        self.dawn = dawn
        self.received = 0          # the highest messenger number received
        self.sent = 0              # the number of the latest messenger sent
        self.decision: str | None = None

    @property
    def leads(self) -> bool:
        """True for the general who sends the plan."""
        return self.id < min(self.peers)

    @property
    def last_expected(self) -> int:
        """The number of the last messenger addressed to this general (0: none)."""
        mine = [k for k in range(1, self.messengers + 1) if (k % 2 == 0) == self.leads]
        return max(mine, default=0)

    def on_start(self) -> None:
        self.set_timer(self.dawn, "dawn")
        if self.leads:
            self.dispatch(1)

    def dispatch(self, number: int) -> None:
        self.sent = number
        self.send(self.peers[0], Messenger(number))
        if self.resend is not None:
            self.set_timer(self.resend, "resend")

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Messenger(number) if number > self.received and self.decision is None:
                self.received = number
                self.cancel_timer("resend")
                if number < self.messengers:
                    self.dispatch(number + 1)

    def on_timer(self, name: str) -> None:
        match name:
            case "resend" if self.decision is None:
                self.dispatch(self.sent)
            case "dawn":
                self.cancel_timer("resend")
                self.decision = "attack" if self.received >= self.last_expected else "wait"
                self.note(f"{self.decision}s")
