"""Zab's messages (Junqueira, Reed and Serafini, "Zab: High-performance broadcast for
primary-backup systems", 2011), with the paper's names, and those of a small leader election.

A transaction is a `Txn`: a client's request and its ``zxid = (epoch, counter)``; zxids
compare as tuples, so every transaction of a later epoch comes after every one of an earlier
epoch. A history is a tuple of transactions in zxid order. A message that carries a history
prints its length only, so a diagram's labels stay legible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Zxid = tuple[int, int]
#: the zxid before every transaction
NO_ZXID: Zxid = (0, 0)


@dataclass(frozen=True)
class Txn:
    """The ``command`` (a client's request) proposed as transaction ``zxid``."""

    zxid: Zxid
    command: Any


# -- leader election (phase 0; in the style of ZooKeeper's Fast Leader Election) --------------


@dataclass(frozen=True)
class Vote:
    """In election ``round``, the sender proposes ``leader``, whose last transaction and
    current epoch are ``zxid`` and ``epoch``."""

    round: int
    leader: str
    epoch: int
    zxid: Zxid


@dataclass(frozen=True)
class LeaderIs:
    """The established ``leader`` of ``epoch`` answers a server still looking."""

    leader: str
    epoch: int


# -- phase 1: discovery ---------------------------------------------------------------------


@dataclass(frozen=True)
class FollowerInfo:
    """A follower tells its prospective leader the last epoch it accepted."""

    accepted_epoch: int


@dataclass(frozen=True)
class NewEpoch:
    """The prospective leader proposes ``epoch``, later than every quorum member's."""

    epoch: int


@dataclass(frozen=True)
class AckEpoch:
    """A follower accepts ``epoch`` and sends its current epoch and history."""

    epoch: int
    current_epoch: int
    history: tuple[Txn, ...]

    def __repr__(self) -> str:
        return (f"AckEpoch(epoch={self.epoch}, current_epoch={self.current_epoch}, "
                f"{len(self.history)} txns)")


# -- phase 2: synchronisation ------------------------------------------------------------------


@dataclass(frozen=True)
class NewLeader:
    """The leader of ``epoch`` sends the initial history every follower adopts."""

    epoch: int
    history: tuple[Txn, ...]

    def __repr__(self) -> str:
        return f"NewLeader(epoch={self.epoch}, {len(self.history)} txns)"


@dataclass(frozen=True)
class AckNewLeader:
    """A follower has adopted the initial history of ``epoch``; its last zxid is ``zxid``."""

    epoch: int
    zxid: Zxid


# -- phase 3: broadcast -------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """The leader of ``epoch`` proposes ``txn``."""

    epoch: int
    txn: Txn


@dataclass(frozen=True)
class Ack:
    """A follower has every transaction of the leader up to ``zxid``."""

    epoch: int
    zxid: Zxid


@dataclass(frozen=True)
class Commit:
    """Every transaction up to ``zxid`` is committed: deliver them."""

    epoch: int
    zxid: Zxid


@dataclass(frozen=True)
class Heartbeat:
    """An idle leader's ping: its last transaction and the last committed one."""

    epoch: int
    zxid: Zxid
    committed: Zxid
