"""The key-value workload as a deterministic state machine, the thing consensus replicates.

State machine replication (Schneider 1990): servers that start in the same state and apply
the same commands in the same order end in the same state. Raft, Multi-Paxos and
Viewstamped Replication agree on the order; `KVMachine` is what they apply. Its commands are
the workload's own requests (`distlab.workloads.kv`), and applying one returns the reply the
client waits for.

A client resends a request until it hears back, so the same request can reach the log
twice. The machine keeps, per client, the ``msg_id`` of its latest request and the reply to
it (a *session*, as in section 6.3 of Ongaro's thesis): a request applied again gets the same
reply and changes nothing. That is what makes an ``append`` happen once however often it was
sent. A client does one operation at a time, so one entry per client is enough.
"""

from __future__ import annotations

from typing import Any

from distlab.workloads.kv import Append, Get, Put


class KVMachine:
    """A dict of string values, with at-most-once sessions (see the module's docstring).

    ``apply(request)`` does a `Get`, `Put` or `Append` and returns its reply (``GetOk``...),
    or None for a request older than the client's latest (the client has moved on: nobody
    waits for it). `state` and `from_state` turn the machine into storable values and back,
    for snapshots.
    """

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.sessions: dict[str, tuple[int, Any]] = {}   # client -> (latest msg_id, its reply)

    def apply(self, request: Get | Put | Append) -> Any:
        """Apply ``request`` once; applying it again returns the first reply unchanged."""
        if not isinstance(request, (Get, Put, Append)):
            raise TypeError(f"a KVMachine applies Get, Put and Append requests "
                            f"(distlab.workloads.kv); got {request!r}")
        latest = self.sessions.get(request.client)
        if latest is not None and request.msg_id <= latest[0]:
            return latest[1] if request.msg_id == latest[0] else None
        match request:
            case Get(key=key):
                reply = request.ok(self.data.get(key))
            case Put(key=key, value=value):
                self.data[key] = value
                reply = request.ok()
            case Append(key=key, value=value):
                self.data[key] = self.data.get(key, "") + value
                reply = request.ok()
        self.sessions[request.client] = (request.msg_id, reply)
        return reply

    def reply_to(self, request: Any) -> Any:
        """The reply already given to ``request`` if it was applied, else None."""
        latest = self.sessions.get(getattr(request, "client", None))
        if latest is not None and latest[0] == request.msg_id:
            return latest[1]
        return None

    def state(self) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, int, Any], ...]]:
        """The whole state as immutable, storable values (a snapshot's payload, which a
        message may carry): the data's pairs, and each session as (client, msg_id, reply)."""
        return (tuple(sorted(self.data.items())),
                tuple(sorted((client, msg_id, reply)
                             for client, (msg_id, reply) in self.sessions.items())))

    @classmethod
    def from_state(cls, state: tuple[Any, Any]) -> KVMachine:
        """A machine in the state that `state` returned."""
        data, sessions = state
        machine = cls()
        machine.data = dict(data)
        machine.sessions = {client: (msg_id, reply) for client, msg_id, reply in sessions}
        return machine

    def __repr__(self) -> str:
        return f"KVMachine({self.data!r})"
