"""The coordination service's vocabulary: what a client asks, what it is answered, what a watch
delivers. The operations are etcd's (v3 API), cut to what the recipes need; ZooKeeper's map
onto them (a lease is a session, a revision a zxid).

Every request names its ``client`` and a ``msg_id`` that counts 1, 2, 3... per client, so the
replicated machine can answer a resent request without doing it twice (its sessions, as in
`distlab.kv.machine`). A `KeepAlive` is the exception: it goes to the leader alone and never
into the log (renewing a lease changes no replicated state, as in etcd).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeyValue:
    """One key as stored: its ``value``, the revision that created it and the one that last
    changed it, how many times it was written (``version``: 1 when created) and the ``lease``
    it lives by (0: none; the key is deleted when its lease expires: an *ephemeral* key)."""

    key: str
    value: str
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0


@dataclass(frozen=True)
class Event:
    """A change, as a watch reports it: ``kind`` is "put" or "delete"; ``value`` is the new
    value (None for a delete); ``revision`` the store's revision after the change."""

    kind: str
    key: str
    value: str | None
    revision: int


# -- requests (through the log) ----------------------------------------------------------------

@dataclass(frozen=True)
class Put:
    """Set ``key`` to ``value``; with a ``lease`` (not 0), the key is deleted when it expires."""

    client: str
    msg_id: int
    key: str
    value: str
    lease: int = 0


@dataclass(frozen=True)
class CompareAndSet:
    """Set ``key`` to ``value`` only if its ``version`` is the one given (0: only if the key does
    not exist, which makes this a *create*). An etcd transaction with one compare."""

    client: str
    msg_id: int
    key: str
    version: int
    value: str
    lease: int = 0


@dataclass(frozen=True)
class Range:
    """Read ``key``, or with ``prefix`` every key that starts with it (in key order)."""

    client: str
    msg_id: int
    key: str
    prefix: bool = False


@dataclass(frozen=True)
class Delete:
    """Delete ``key``; with a ``version`` (not None), only if the key has that version."""

    client: str
    msg_id: int
    key: str
    version: int | None = None


@dataclass(frozen=True)
class Grant:
    """Create a lease of ``ttl`` ms: it expires unless renewed (`KeepAlive`) within ``ttl``."""

    client: str
    msg_id: int
    ttl: float


@dataclass(frozen=True)
class Revoke:
    """End ``lease`` now, deleting the keys attached to it."""

    client: str
    msg_id: int
    lease: int


@dataclass(frozen=True)
class Watch:
    """Send this client every change of ``key`` (or of the keys under it, with ``prefix``) from
    revision ``start_revision`` on, as `WatchEvent` messages, until the client goes away."""

    client: str
    msg_id: int
    key: str
    prefix: bool = False
    start_revision: int = 1


@dataclass(frozen=True)
class Expire:
    """The leader's decision that ``lease`` was not renewed in time (a log entry, never a
    client's request): applying it deletes the lease and its keys on every server alike."""

    lease: int


# -- replies -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PutOk:
    in_reply_to: int
    revision: int


@dataclass(frozen=True)
class CompareAndSetOk:
    """``succeeded``: the compare held and the key was set. ``current`` is the key after the
    request (the winner's key when it failed; None if there is none)."""

    in_reply_to: int
    succeeded: bool
    revision: int
    current: KeyValue | None


@dataclass(frozen=True)
class RangeOk:
    in_reply_to: int
    kvs: tuple[KeyValue, ...]
    revision: int


@dataclass(frozen=True)
class DeleteOk:
    in_reply_to: int
    deleted: bool
    revision: int


@dataclass(frozen=True)
class Granted:
    in_reply_to: int
    lease: int
    ttl: float


@dataclass(frozen=True)
class Revoked:
    in_reply_to: int
    existed: bool


@dataclass(frozen=True)
class Watching:
    """The watch is registered; its events come as `WatchEvent` with ``watch`` = the
    request's ``msg_id``."""

    in_reply_to: int
    revision: int


@dataclass(frozen=True)
class WatchEvent:
    """One change seen by the client's watch number ``watch``."""

    watch: int
    event: Event


# -- lease renewal (leader only, not in the log) -------------------------------------------------

@dataclass(frozen=True)
class KeepAlive:
    """Renew ``lease``: the leader restarts its countdown of ``ttl`` ms."""

    client: str
    lease: int


@dataclass(frozen=True)
class KeptAlive:
    """The answer to a `KeepAlive`: ``ttl`` ms from now (0: the lease no longer exists)."""

    lease: int
    ttl: float
