"""The coordination service's state machine: keys with revisions, compare-and-set, leases and
watches, applied in the same order on every server by Raft (`distlab.coordination.service`).

It follows etcd's data model (its v3 API, and Burrows's Chubby before it):

* one **revision** counter for the whole store: every change increments it, and each key
  records the revision that created it and the one that last modified it. Revisions only grow,
  so a lock's revision is a fencing token (`distlab.election.fencing`);
* **compare-and-set** on a key's ``version`` (0: the key must not exist), the one atomic
  step every recipe is built from;
* **leases**: a key put with a lease is *ephemeral*: applying `Expire` (or `Revoke`) deletes
  it. The machine knows only each lease's TTL; *when* a lease expires is the leader's decision,
  taken by its clock and written to the log, so every server deletes the same keys at the
  same point of the log;
* **watches**: the machine records every change as an `Event` and which client watches what;
  `notifications` holds the events to send after each command, and `events_since` replays
  history for a watch that starts in the past, or for a new leader.

Like `distlab.kv.machine.KVMachine`, it keeps each client's latest request and its reply, so
that a resent request is answered again and done once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from distlab.coordination.messages import (CompareAndSet, CompareAndSetOk, Delete, DeleteOk, Event,
                                           Expire, Grant, Granted, KeyValue, Put, PutOk, Range,
                                           RangeOk, Revoke, Revoked, Watch, WatchEvent, Watching)
from distlab.workloads.client import Error

#: the requests the machine applies (an `Expire` comes from the leader, not from a client)
REQUESTS = (Put, CompareAndSet, Range, Delete, Grant, Revoke, Watch)


class CoordinationMachine:
    """Keys, revisions, leases and watches (see the module's docstring).

    Invariants: ``revision`` never decreases; every key's ``mod_revision`` is at most
    ``revision``; every key with a lease belongs to a lease that exists.
    """

    def __init__(self) -> None:
        self.revision = 0
        self.keys: dict[str, KeyValue] = {}
        self.leases: dict[int, float] = {}             # lease id -> ttl (ms)
        self.last_lease = 0
        self.history: list[Event] = []
        self.watches: dict[tuple[str, int], Watch] = {}  # (client, msg_id) -> the request
        self.sessions: dict[str, tuple[int, Any]] = {}   # client -> (latest msg_id, reply)
        #: (client, WatchEvent) pairs produced by the last commands, for the leader to send
        self.notifications: list[tuple[str, WatchEvent]] = []

    # -- applying ----------------------------------------------------------------------------
    def apply(self, command: Any) -> Any:
        """Apply one log entry's command; return the reply for its client (None for `Expire`,
        and for a request older than its client's latest)."""
        if isinstance(command, Expire):
            self.end_lease(command.lease)
            return None
        if not isinstance(command, REQUESTS):
            raise TypeError(f"a CoordinationMachine applies the requests of "
                            f"distlab.coordination.messages and Expire; got {command!r}")
        latest = self.sessions.get(command.client)
        if latest is not None and command.msg_id <= latest[0]:
            return latest[1] if command.msg_id == latest[0] else None
        reply = self.execute(command)
        self.sessions[command.client] = (command.msg_id, reply)
        return reply

    def execute(self, request: Any) -> Any:
        match request:
            case Put(key=key, value=value, lease=lease):
                if lease and lease not in self.leases:
                    return self.no_lease(request)
                self.write(key, value, lease)
                return PutOk(request.msg_id, self.revision)
            case CompareAndSet(key=key, version=version, value=value, lease=lease):
                if lease and lease not in self.leases:
                    return self.no_lease(request)
                current = self.keys.get(key)
                succeeded = (current.version if current else 0) == version
                if succeeded:
                    self.write(key, value, lease)
                return CompareAndSetOk(request.msg_id, succeeded, self.revision,
                                       self.keys.get(key))
            case Range(key=key, prefix=prefix):
                kvs = tuple(kv for k, kv in sorted(self.keys.items())
                            if (k.startswith(key) if prefix else k == key))
                return RangeOk(request.msg_id, kvs, self.revision)
            case Delete(key=key, version=version):
                current = self.keys.get(key)
                deleted = current is not None and version in (None, current.version)
                if deleted:
                    self.remove(key)
                return DeleteOk(request.msg_id, deleted, self.revision)
            case Grant(ttl=ttl):
                self.last_lease += 1
                self.leases[self.last_lease] = ttl
                return Granted(request.msg_id, self.last_lease, ttl)
            case Revoke(lease=lease):
                existed = lease in self.leases
                self.end_lease(lease)
                return Revoked(request.msg_id, existed)
            case Watch():
                self.watches[(request.client, request.msg_id)] = request
                for event in self.events_since(request.start_revision):
                    if matches(request, event.key):
                        self.notifications.append((request.client,
                                                   WatchEvent(request.msg_id, event)))
                return Watching(request.msg_id, self.revision)

    @staticmethod
    def no_lease(request: Any) -> Error:
        return Error(request.msg_id, True, f"lease {request.lease} not found (expired or "
                                           f"revoked): grant a new one")

    def write(self, key: str, value: str, lease: int) -> None:
        self.revision += 1
        old = self.keys.get(key)
        self.keys[key] = (replace(old, value=value, mod_revision=self.revision,
                                  version=old.version + 1, lease=lease) if old else
                          KeyValue(key, value, self.revision, self.revision, 1, lease))
        self.record(Event("put", key, value, self.revision))

    def remove(self, key: str) -> None:
        self.revision += 1
        del self.keys[key]
        self.record(Event("delete", key, None, self.revision))

    def end_lease(self, lease: int) -> None:
        """Delete ``lease`` and every key attached to it (nothing if it is gone already)."""
        if self.leases.pop(lease, None) is None:
            return
        for key in [k for k, kv in sorted(self.keys.items()) if kv.lease == lease]:
            self.remove(key)

    def record(self, event: Event) -> None:
        self.history.append(event)
        for (client, watch_id), watch in self.watches.items():
            if matches(watch, event.key):
                self.notifications.append((client, WatchEvent(watch_id, event)))

    def events_since(self, revision: int) -> list[Event]:
        """Every change at ``revision`` or later (the history is kept whole: a toy's)."""
        return [e for e in self.history if e.revision >= revision]

    def reply_to(self, request: Any) -> Any:
        """The reply already given to ``request`` if it was applied, else None."""
        latest = self.sessions.get(getattr(request, "client", None))
        if latest is not None and latest[0] == request.msg_id:
            return latest[1]
        return None

    # -- snapshots -----------------------------------------------------------------------------
    def state(self) -> tuple[Any, ...]:
        """The whole state as immutable values (a snapshot's payload)."""
        return (self.revision, tuple(sorted(self.keys.items())),
                tuple(sorted(self.leases.items())), self.last_lease, tuple(self.history),
                tuple(sorted(self.watches.items())),
                tuple(sorted((c, m, r) for c, (m, r) in self.sessions.items())))

    @classmethod
    def from_state(cls, state: tuple[Any, ...]) -> CoordinationMachine:
        """A machine in the state that `state` returned."""
        revision, keys, leases, last_lease, history, watches, sessions = state
        machine = cls()
        machine.revision, machine.last_lease = revision, last_lease
        machine.keys, machine.leases = dict(keys), dict(leases)
        machine.history, machine.watches = list(history), dict(watches)
        machine.sessions = {client: (msg_id, reply) for client, msg_id, reply in sessions}
        return machine

    def __repr__(self) -> str:
        return (f"CoordinationMachine(revision={self.revision}, "
                f"keys={ {k: kv.value for k, kv in self.keys.items()} })")


def matches(watch: Watch, key: str) -> bool:
    """Whether a change of ``key`` concerns ``watch``."""
    return key.startswith(watch.key) if watch.prefix else key == watch.key
