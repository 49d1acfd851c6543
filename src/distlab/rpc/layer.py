"""Remote procedure calls over the simulated network: timeouts, retries, at-most-once.

Birrell and Nelson, "Implementing Remote Procedure Calls" (1984), made a call to another
machine look like a local procedure call. The illusion breaks where the network shows
through: a request or its reply can be lost, duplicated or delayed, and the server can
crash. The caller that hears nothing cannot tell "the request was lost" from "the reply was
lost" from "the server is slow". So it waits for a *timeout* and then either gives up (the
outcome is unknown) or *retries* -- and a retry may run the procedure a second time.

That gives two semantics:

* **at-least-once**: the server executes every request it receives. With retries the call
  takes effect one or more times. Fine for idempotent operations (read, put), wrong for
  others (increment, transfer money).
* **at-most-once**: every request carries an id, unique per client, that stays the same
  across retries; the server remembers the reply of each (client, id) it executed and
  answers a duplicate from that table instead of executing it again (Birrell and Nelson's
  call identifiers; Maelstrom's ``msg_id`` / ``in_reply_to``).

Exactly-once is not on offer end to end: after a `Timeout` the client does not know whether
the call took effect, and no protocol can tell it without hearing from the server.

This module gives nodes a small RPC layer in two styles, on the simulator's own event loop
(no threads, no asyncio):

* callback style: ``self.call(dst, body, timeout=50, retries=3, on_reply=callback)``;
* coroutine style, inside ``async def`` code run by ``self.spawn(...)``::

      reply = await self.call("server", Increment(1), timeout=50, retries=3)

  The coroutine is suspended at ``await`` (it hands the node a `Pending` result), and the
  node resumes it when the reply arrives or the timeout timer fires.

A server answers in ``on_request(src, body)``: it returns the reply body (or is itself an
``async def`` that may call other nodes first: a coordinator).

`distlab.rpc.counter` shows the difference with a counter: an increment that is retried or
duplicated counts twice under at-least-once, once under at-most-once
(`distlab.rpc.runs.counter_experiment` measures it).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from distlab.sim import Node


# -- messages -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    """A call of ``body`` (what to do); ``id`` is unique per client and kept by retries.

    ``done_below``: every call of this client with a smaller id has finished (answered or
    given up), so the server may forget their cached replies (see `RpcNode.at_most_once`).
    """

    id: int
    body: Any
    done_below: int = 0


@dataclass(frozen=True)
class Reply:
    """The answer to the request ``in_reply_to`` (a request id), carrying ``body``."""

    in_reply_to: int
    body: Any


@dataclass(frozen=True)
class Timeout:
    """The result of a call that got no reply after ``attempts`` attempts.

    It does NOT mean that the call did not happen: the request may have been executed and
    only the replies lost. The outcome is unknown (Jepsen's ``info``).
    """

    dst: str
    body: Any
    attempts: int


# -- results that are not known yet ---------------------------------------------------------------
class Pending:
    """A result that is not known yet: a call in flight, a sleep, or a spawned coroutine.

    ``await`` it in a coroutine run by `RpcNode.spawn`, or register a callback with `then`.
    Once ``done``, ``result`` holds the value (a reply body, or a `Timeout`).
    """

    def __init__(self, what: str):
        self.what = what
        self.done = False
        self.result: Any = None
        self._callbacks: list[Callable[[Any], None]] = []

    def then(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(result)`` when the result is known (at once if it already is)."""
        if self.done:
            callback(self.result)
        else:
            self._callbacks.append(callback)

    def complete(self, result: Any) -> None:
        """Set the result and run the callbacks (the node does this; code rarely needs to)."""
        if self.done:
            raise RuntimeError(f"{self.what} was already completed with {self.result!r}")
        self.done, self.result = True, result
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(result)

    def __await__(self):
        if not self.done:
            yield self  # the node's coroutine driver receives this and resumes us later
        return self.result

    def __repr__(self) -> str:
        state = f"done: {self.result!r}" if self.done else "pending"
        return f"<Pending {self.what}, {state}>"


# -- bookkeeping ----------------------------------------------------------------------------------
@dataclass
class RpcStats:
    """Counters of one node's RPC traffic, as client and as server."""

    calls: int = 0          # calls started
    attempts: int = 0       # requests sent (first attempts and retries)
    retries: int = 0        # requests sent again after a timeout
    replies: int = 0        # calls completed by a reply
    timeouts: int = 0       # calls completed by a Timeout
    late_replies: int = 0   # replies to calls already completed (duplicates, or too late)
    requests: int = 0       # requests received (server side)
    executed: int = 0       # requests executed by on_request
    duplicates: int = 0     # requests answered from the at-most-once table, not executed
    stale: int = 0          # requests ignored because the client had finished with them


@dataclass
class _Call:
    """A call in flight, on the client side."""

    dst: str
    body: Any
    id: int
    timeout: float
    retries: int
    pending: Pending
    attempts: int = 0


@dataclass
class _RpcState:
    """A node's volatile RPC state (lost in a crash, like every attribute)."""

    outstanding: dict[int, _Call] = field(default_factory=dict)
    sleeps: dict[int, Pending] = field(default_factory=dict)
    next_sleep: int = 1
    stats: RpcStats = field(default_factory=RpcStats)


#: Marks an at-most-once table entry whose (async) handler has not finished yet.
IN_PROGRESS = "<in progress>"


class RpcNode(Node):
    """A node that makes calls (``call``) and answers them (``on_request``).

    Server side: override ``on_request(src, body)`` and return the reply body. Set
    ``at_most_once = True`` (a class attribute, or an attribute set in ``__init__``) to
    suppress duplicates; otherwise every request received is executed (at-least-once).

    The at-most-once table maps (client, request id) to the cached reply. It lives in
    ``storage`` next to the state it protects: if the state survives a crash but the table
    did not, a retry arriving after the restart would be executed a second time. It is
    garbage-collected with the ``done_below`` mark each request carries: once a client says
    that all its calls below id *k* are finished, their replies are dropped, and any late copy
    of such a request (a duplicate still in the network) is ignored instead of executed. So
    the table holds only the calls each client still has in flight, plus one number per
    client. (Without such a mark the entries could only be dropped after the longest time a
    request can survive in the network, as TCP does with its maximum segment lifetime.)

    Client side: ``call`` needs no setup. If a subclass overrides ``on_message`` or
    ``on_timer``, it must pass what it does not handle itself to ``super()``: RPC requests,
    replies and timers go through them.
    """

    at_most_once: bool = False

    # -- the server's part: override --------------------------------------------------------------
    def on_request(self, src: str, body: Any) -> Any:
        """Execute the request ``body`` from ``src`` and return the reply body.

        May be an ``async def`` that awaits calls to other nodes before it returns.
        """
        raise NotImplementedError(f"{type(self).__name__} received a request {body!r} from "
                                  f"{src!r} but defines no on_request(src, body)")

    # -- the client's part ------------------------------------------------------------------------
    def call(self, dst: str, body: Any, *, timeout: float = 100.0, retries: int = 0,
             on_reply: Callable[[Any], None] | None = None) -> Pending:
        """Call ``body`` at node ``dst``; the result is the reply body or a `Timeout`.

        Each attempt waits ``timeout`` ms of this node's clock; after a timeout the same
        request (same id) is sent again, up to ``retries`` more times. ``on_reply(result)``
        is called with the result; the returned `Pending` can also be awaited.
        """
        if dst == self.id:
            raise ValueError(f"node {self.id!r} called itself; call another node")
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of ms, got {timeout!r}")
        if not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be a whole number >= 0, got {retries!r}")
        # Request ids are durable, so a client that restarts never reuses one.
        request_id = self.storage.get("rpc_next_id", 1)
        self.storage["rpc_next_id"] = request_id + 1
        pending = Pending(f"call #{request_id} {body!r} to {dst!r}")
        call = _Call(dst, body, request_id, float(timeout), retries, pending)
        state = self._rpc
        state.outstanding[request_id] = call
        state.stats.calls += 1
        if on_reply is not None:
            pending.then(on_reply)
        self._attempt(call)
        return pending

    def sleep(self, delay: float) -> Pending:
        """A `Pending` that completes (with None) after ``delay`` ms: ``await self.sleep(50)``."""
        state = self._rpc
        number = state.next_sleep
        state.next_sleep += 1
        pending = Pending(f"sleep #{number} of {delay:g} ms")
        state.sleeps[number] = pending
        self.set_timer(delay, f"rpc-sleep:{number}")
        return pending

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> Pending:
        """Run ``coroutine`` on this node's events; returns a `Pending` for its return value.

        The coroutine runs until its first ``await`` of a `Pending` (``self.call``,
        ``self.sleep``, another spawned coroutine), and is resumed when that completes.
        Calls started before an ``await`` run concurrently:
        ``a, b = self.call(x, m), self.call(y, m)`` then ``await a`` and ``await b``.
        """
        if not inspect.iscoroutine(coroutine):
            raise TypeError(f"spawn() takes a coroutine, the result of calling an async "
                            f"function, e.g. self.spawn(self.run()); got {coroutine!r}")
        finished = Pending(f"coroutine {coroutine.__qualname__}")
        self._resume(coroutine, finished)
        return finished

    @property
    def rpc_stats(self) -> RpcStats:
        """This node's RPC counters (volatile: a restart starts them again)."""
        return self._rpc.stats

    # -- dispatch ---------------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Request():
                self._on_request(src, msg)
            case Reply():
                self._on_reply(src, msg)
            case _:
                raise TypeError(f"{type(self).__name__} {self.id!r} got {msg!r} from {src!r}, "
                                f"which is not an RPC Request or Reply: handle your own "
                                f"messages in on_message and pass the rest to "
                                f"super().on_message(src, msg)")

    def on_timer(self, name: str) -> None:
        kind, _, number = name.partition(":")
        match kind:
            case "rpc-timeout":
                self._on_timeout(int(number))
            case "rpc-sleep":
                self._rpc.sleeps.pop(int(number)).complete(None)
            case _:
                raise ValueError(f"{type(self).__name__} {self.id!r}: timer {name!r} is not an "
                                 f"RPC timer: handle your own timers in on_timer and pass the "
                                 f"rest to super().on_timer(name)")

    # -- client internals -------------------------------------------------------------------------
    @property
    def _rpc(self) -> _RpcState:
        # Created on first use, so that subclasses need not call super().__init__().
        state = self.__dict__.get("_rpc_state")
        if state is None:
            state = self.__dict__["_rpc_state"] = _RpcState()
        return state

    def _attempt(self, call: _Call) -> None:
        state = self._rpc
        call.attempts += 1
        state.stats.attempts += 1
        done_below = min(state.outstanding)  # every id below it has finished
        self.send(call.dst, Request(call.id, call.body, done_below))
        self.set_timer(call.timeout, f"rpc-timeout:{call.id}")

    def _on_timeout(self, request_id: int) -> None:
        state = self._rpc
        call = state.outstanding[request_id]
        if call.attempts <= call.retries:
            state.stats.retries += 1
            self._attempt(call)
            return
        del state.outstanding[request_id]
        state.stats.timeouts += 1
        call.pending.complete(Timeout(call.dst, call.body, call.attempts))

    def _on_reply(self, src: str, reply: Reply) -> None:
        state = self._rpc
        call = state.outstanding.get(reply.in_reply_to)
        if call is None or call.dst != src:
            state.stats.late_replies += 1  # a duplicate, or a reply after we gave up
            return
        del state.outstanding[reply.in_reply_to]
        self.cancel_timer(f"rpc-timeout:{call.id}")
        state.stats.replies += 1
        call.pending.complete(reply.body)

    def _resume(self, coroutine: Coroutine[Any, Any, Any], finished: Pending) -> None:
        """Run ``coroutine`` up to its next ``await``; arrange to come back when it completes."""
        try:
            awaited = coroutine.send(None)
        except StopIteration as stop:
            finished.complete(stop.value)
            return
        if not isinstance(awaited, Pending):
            coroutine.close()
            raise TypeError(f"a coroutine run by {type(self).__name__}.spawn awaited "
                            f"{awaited!r}; it can only await self.call(...), self.sleep(...) or "
                            f"self.spawn(...) (asyncio functions need asyncio's real loop)")
        awaited.then(lambda _result: self._resume(coroutine, finished))

    # -- server internals -------------------------------------------------------------------------
    def _on_request(self, src: str, request: Request) -> None:
        stats = self._rpc.stats
        stats.requests += 1
        if not self.at_most_once:
            self._execute(src, request, None)  # at-least-once: execute every copy
            return
        replies = self.storage.setdefault("rpc_replies", {}).setdefault(src, {})
        done_below = self.storage.setdefault("rpc_done_below", {})
        if request.done_below > done_below.get(src, 0):
            done_below[src] = request.done_below
            for finished in [i for i in replies if i < request.done_below]:
                del replies[finished]
        if request.id < done_below.get(src, 0):
            stats.stale += 1  # a late copy of a call the client has finished with
            return
        if request.id in replies:
            stats.duplicates += 1
            if replies[request.id] is not IN_PROGRESS:
                self.send(src, Reply(request.id, replies[request.id]))
            return
        replies[request.id] = IN_PROGRESS
        self._execute(src, request, replies)

    def _execute(self, src: str, request: Request, replies: dict[int, Any] | None) -> None:
        self._rpc.stats.executed += 1
        result = self.on_request(src, request.body)
        if inspect.iscoroutine(result):
            self.spawn(result).then(
                lambda body: self._respond(src, request.id, body, replies))
        else:
            self._respond(src, request.id, result, replies)

    def _respond(self, src: str, request_id: int, body: Any,
                 replies: dict[int, Any] | None) -> None:
        if replies is not None and request_id in replies:
            replies[request_id] = body
        self.send(src, Reply(request_id, body))
