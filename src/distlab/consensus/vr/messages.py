"""Viewstamped Replication's messages (Liskov and Cowling, "Viewstamped Replication
Revisited", 2012), with the paper's names and fields.

The paper's letters become words: ``v`` is ``view``, ``n`` is ``op_number``, ``k`` is
``commit_number``, ``l`` is ``log``, ``i`` is ``replica``, ``x`` is ``nonce``. A log is a tuple
of the clients' requests (`distlab.workloads.kv`), the first at op-number 1.

A message whose log is long prints its length only, so a diagram's labels stay legible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# -- normal operation (section 4.1) ---------------------------------------------------------


@dataclass(frozen=True)
class Prepare:
    """The primary of ``view`` gives the client's ``request`` the op-number ``op_number``;
    ``commit_number`` tells the backups what is committed."""

    view: int
    request: Any
    op_number: int
    commit_number: int


@dataclass(frozen=True)
class PrepareOK:
    """``replica`` has every op up to ``op_number`` of ``view`` in its log."""

    view: int
    op_number: int
    replica: str


@dataclass(frozen=True)
class Commit:
    """An idle primary's heartbeat: everything up to ``commit_number`` is committed."""

    view: int
    commit_number: int


# -- state transfer (section 5.2) -------------------------------------------------------------


@dataclass(frozen=True)
class GetState:
    """``replica`` lacks the ops after ``op_number`` of ``view``: send them."""

    view: int
    op_number: int
    replica: str


@dataclass(frozen=True)
class NewState:
    """The ops after the asker's op-number (``ops``), up to ``op_number``."""

    view: int
    ops: tuple[Any, ...]
    op_number: int
    commit_number: int

    def __repr__(self) -> str:
        return (f"NewState(view={self.view}, {len(self.ops)} ops, op_number={self.op_number}, "
                f"commit_number={self.commit_number})")


# -- view change (section 4.2) ----------------------------------------------------------------


@dataclass(frozen=True)
class StartViewChange:
    """``replica`` has given up on the primary and moved to ``view``."""

    view: int
    replica: str


@dataclass(frozen=True)
class DoViewChange:
    """To the new primary of ``view``: ``replica``'s log, the last view in which it was
    normal (``last_normal_view``), its op-number and commit-number."""

    view: int
    log: tuple[Any, ...]
    last_normal_view: int
    op_number: int
    commit_number: int
    replica: str

    def __repr__(self) -> str:
        return (f"DoViewChange(view={self.view}, {len(self.log)} ops, last_normal_view="
                f"{self.last_normal_view}, commit_number={self.commit_number}, "
                f"replica={self.replica!r})")


@dataclass(frozen=True)
class StartView:
    """The new primary of ``view`` sends the log every replica adopts."""

    view: int
    log: tuple[Any, ...]
    op_number: int
    commit_number: int

    def __repr__(self) -> str:
        return (f"StartView(view={self.view}, {len(self.log)} ops, "
                f"commit_number={self.commit_number})")


# -- recovery (section 4.3) -------------------------------------------------------------------


@dataclass(frozen=True)
class Recovery:
    """``replica`` restarted with nothing: who knows the state? ``nonce`` marks this attempt."""

    replica: str
    nonce: int


@dataclass(frozen=True)
class RecoveryResponse:
    """A normal replica's answer to the recovery ``nonce``: its view; the primary of that
    view adds its log, op-number and commit-number (the others send None)."""

    view: int
    nonce: int
    log: tuple[Any, ...] | None
    op_number: int | None
    commit_number: int | None
    replica: str

    def __repr__(self) -> str:
        carried = "no log" if self.log is None else f"{len(self.log)} ops"
        return (f"RecoveryResponse(view={self.view}, nonce={self.nonce}, {carried}, "
                f"replica={self.replica!r})")
