"""The messages of SWIM (`distlab.membership.swim`), shared with lab 5b.

Every message carries ``updates``: membership news piggybacked on the failure detector's own
traffic (SWIM's *infection-style dissemination*), so spreading news costs no message of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

#: a member's state, in the order of precedence at one incarnation
ALIVE, SUSPECT, DEAD = "alive", "suspect", "dead"


@dataclass(frozen=True)
class Update:
    """News about ``member``: it is ``state`` (alive, suspect or dead) at ``incarnation``."""

    member: str
    state: str
    incarnation: int


@dataclass(frozen=True)
class Ping:
    """Probe number ``seq``: answer with an `Ack`. A helper pinging for someone else names
    that member as ``requester``, and the `Ack` comes back to the helper with it."""

    seq: int
    updates: tuple[Update, ...] = ()
    requester: str | None = None


@dataclass(frozen=True)
class Ack:
    """The answer to `Ping` number ``seq``: the pinged member is alive."""

    seq: int
    updates: tuple[Update, ...] = ()
    requester: str | None = None


@dataclass(frozen=True)
class PingReq:
    """Please ping ``target`` for me (probe number ``seq``) and pass its `Ack` on."""

    seq: int
    target: str
    updates: tuple[Update, ...] = ()


@dataclass(frozen=True)
class Join:
    """From a new member to the member it knows: let me in."""


@dataclass(frozen=True)
class Welcome:
    """The answer to `Join`: the membership as the contact sees it, as updates."""

    members: tuple[Update, ...]
