"""The one client every workload uses: one operation at a time, retried until it is answered.

Maelstrom's clients (Kingsbury and Alvaro's Maelstrom workbench, 2021) send a request with a
``msg_id`` and wait for the reply whose ``in_reply_to`` names it. `WorkloadClient` does the
same over the simulator: it draws an operation, records its invocation in the history, sends
the request, and resends the *same* request (same ``msg_id``) every ``retry`` ms until a
reply to it arrives. A server that remembers the replies it sent (at-most-once) can thus
recognise a resent request; one that does not executes it again -- which is the point of the
labs that use it.

Each workload (`distlab.workloads.kv`, ``register``, ``counter``, ``broadcast``, ``log``)
subclasses it with three small methods: which operation to do next (`choose`), the request
message for it (`request`), and what a reply means (`outcome`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distlab.sim import Client, Operation


@dataclass(frozen=True)
class Error:
    """A server cannot do the request ``in_reply_to``.

    ``definite`` is True when the operation certainly did not take effect (the client records
    ``fail``: a compare-and-set whose expected value was not there, a key that does not
    exist), False when it may have (``info``: the server crashed halfway, a quorum timed out).
    ``text`` says why, for people.
    """

    in_reply_to: int
    definite: bool
    text: str = ""


@dataclass(frozen=True)
class NotLeader:
    """The server is not the one that can do the request ``in_reply_to`` (a follower of a
    replicated service); ``leader`` is the server it believes leads (None: it does not know).

    A client given several servers tries ``leader`` at once, or its next server after its
    retry delay; nothing was done, so the request keeps its ``msg_id``.
    """

    in_reply_to: int
    leader: str | None = None


class WorkloadClient(Client):
    """Runs ``ops`` operations against ``server``, one at a time, recording each in the history.

    ``server`` is one server's id, or a sequence of ids (a replicated service): the client
    then sends to one of them at a time, moves to the next when a request goes unanswered
    for ``retry`` ms, and follows a `NotLeader` reply's hint.

    Every request carries this client's id and a ``msg_id`` that counts 1, 2, 3... The client
    resends the request, unchanged, every ``retry`` ms until a reply whose ``in_reply_to`` is
    that ``msg_id`` arrives; after ``attempts`` sends without a reply (``None``: never) it
    records the outcome as unknown (``info``) and moves on. Replies to an earlier request
    (duplicates, late answers to a resent request) are ignored. Between operations it waits
    ``think`` ms.

    The request counter and the waiting operation are kept in ``storage``: a client that
    crashes and restarts records its waiting operation as unknown, and never mistakes a reply
    to an old request for the answer to a new one.

    Subclasses write `choose`, `request` and `outcome`. (A lab that has students write the
    retry loop itself overrides `transmit`, `on_timer` and `on_message`, and calls `finish`
    with the reply.)
    """

    def __init__(self, server: str | Sequence[str] = "server", ops: int = 10,
                 retry: float = 100.0, attempts: int | None = None, think: float = 0.0):
        if attempts is not None and attempts < 1:
            raise ValueError(f"attempts is how many times a request is sent before the client "
                             f"gives up (None: never); got {attempts!r}")
        servers = (server,) if isinstance(server, str) else (
            tuple(server) if isinstance(server, (list, tuple)) else ())
        if not servers or not all(isinstance(s, str) and s for s in servers):
            raise ValueError(f"server is a server's id, or a sequence of ids; got {server!r}")
        self.servers = servers
        self.server = servers[0]            # where requests go now
        self.ops = ops
        self.retry = retry
        self.attempts = math.inf if attempts is None else attempts
        self.think = think
        self.sent = 0                       # how many times the waiting request was sent
        self.waiting: Any = None            # the request being retried (None: none)

    # -- what a workload defines -------------------------------------------------------------
    def choose(self, number: int) -> tuple[str, Any, Any]:
        """The ``number``-th operation as ``(f, key, value)``, drawn by ``self.rng``."""
        raise NotImplementedError(f"{type(self).__name__}.choose: a workload client says which "
                                  f"operation comes next")

    def request(self, msg_id: int, f: str, key: Any, value: Any) -> Any:
        """The message that asks ``server`` to do the operation."""
        raise NotImplementedError(f"{type(self).__name__}.request: a workload client builds "
                                  f"the request message of an operation")

    def outcome(self, op: Operation, reply: Any) -> tuple[str, Any]:
        """What a reply to ``op``'s request means: ``("ok", output)``, ``("fail", None)``..."""
        raise NotImplementedError(f"{type(self).__name__}.outcome: a workload client reads "
                                  f"its replies")

    # -- the loop: invoke, send, resend, complete ----------------------------------------------
    @property
    def msg_id(self) -> int:
        """The id of the latest request (0: none yet); durable, so it never repeats."""
        return self.storage.get("msg_id", 0)

    def on_start(self) -> None:
        op = self.storage.get("op")
        if op is not None and op.status == "pending":
            self.info(op)                   # crashed while waiting: the outcome is unknown
        self.next_operation()

    def next_operation(self) -> None:
        self.waiting = None
        self.storage["op"] = None
        if self.msg_id >= self.ops:
            return
        msg_id = self.msg_id + 1
        self.storage["msg_id"] = msg_id
        f, key, value = self.choose(msg_id)
        self.storage["op"] = self.invoke(f, value=value, key=key)
        self.waiting = self.request(msg_id, f, key, value)
        self.sent = 0
        self.transmit()

    def transmit(self) -> None:
        self.sent += 1
        self.send(self.server, self.waiting)
        self.set_timer(self.retry, "retry")

    def next_server(self) -> None:
        """Send to the next of ``servers`` from now on (round robin)."""
        self.server = self.servers[(self.servers.index(self.server) + 1) % len(self.servers)]

    def on_timer(self, name: str) -> None:
        match name:
            case "retry" if self.waiting is not None and self.sent < self.attempts:
                self.next_server()          # unanswered: that server may be down
                self.transmit()
            case "retry" if self.waiting is not None:
                self.complete("info", None)  # no reply after every attempt: unknown
            case "think":
                self.next_operation()

    def on_message(self, src: str, msg: Any) -> None:
        if self.waiting is None or getattr(msg, "in_reply_to", None) != self.msg_id:
            return                          # a duplicate, or a reply to an earlier request
        match msg:
            case NotLeader(leader=leader) if leader in self.servers and leader != src:
                self.server = leader        # try the leader it names, now
                if self.sent < self.attempts:
                    self.transmit()
            case NotLeader():
                pass                        # no better server known: the retry timer
                                            # tries the next one
            case _:
                self.finish(msg)

    def finish(self, reply: Any) -> None:
        """The reply to the waiting request arrived: record what it says, go on to the next."""
        if self.waiting is None:
            raise RuntimeError(f"finish({reply!r}) called while no request is waiting: was "
                               f"this request answered already?")
        if getattr(reply, "in_reply_to", None) != self.msg_id:
            raise ValueError(f"{reply!r} does not answer the waiting request (msg_id "
                             f"{self.msg_id}): is it the reply to another request?")
        match reply:
            case Error(definite=definite):
                self.complete("fail" if definite else "info", None)
            case _:
                self.complete(*self.outcome(self.storage["op"], reply))

    def complete(self, status: str, output: Any) -> None:
        """Record the waiting operation's outcome, then start the next after ``think`` ms."""
        self.conclude(self.storage["op"], status, output)
        self.waiting = None
        self.cancel_timer("retry")
        if self.think > 0:
            self.set_timer(self.think, "think")
        else:
            self.next_operation()
