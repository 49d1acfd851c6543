"""Deadlines: a call says how long its caller will wait, and the callee refuses late work.

A caller that times out goes away, but its request does not: it may still sit in a server's
queue, and the server will do the work and send a reply that nobody reads. Under overload
that is the worst possible use of the server's time. So a request carries its *deadline*,
and each server on the way checks it: a request whose deadline has passed when its turn
comes is refused at once (`DeadlineExceeded`), and a server that calls another server passes
down what is left of the deadline, not a fresh timeout of its own (*deadline propagation*,
as gRPC does).

Here the deadline travels as a budget in ms, relative to the moment the request arrives, as
gRPC's timeout header does: no two machines need agree on the time of day. The time the
request spent in the network is not subtracted, so a server errs on the side of working.

* `QueueServer` serves `Work` one request at a time, first come first served, ``service`` ms
  each; with ``deadlines=True`` it refuses requests whose deadline passed in its queue.
* `Frontend` does some work of its own, then calls a backend, passing the deadline down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distlab.rpc.layer import RpcNode, Timeout


@dataclass(frozen=True)
class Work:
    """A request for some of the server's time; ``budget``: the ms its caller will wait for
    the answer, from now (None: no deadline)."""

    budget: float | None = None


@dataclass(frozen=True)
class DeadlineExceeded:
    """The reply to a request refused because its deadline had passed ``late`` ms before."""

    late: float


class QueueServer(RpcNode):
    """Serves `Work` in order of arrival, one at a time, ``service`` ms each.

    ``free_at`` is the time at which everything accepted so far will have been served. With
    ``deadlines``, a request whose deadline has passed when its turn comes is refused without
    being served. ``served`` and ``refused`` count them; ``served_late`` counts requests
    served after their deadline (work for a caller that had already given up).
    """

    def __init__(self, service: float = 2.0, deadlines: bool = False):
        if service <= 0:
            raise ValueError(f"service is the ms one request takes, above 0; got {service!r}")
        self.service = service
        self.deadlines = deadlines
        self.free_at = 0.0
        self.served = 0
        self.refused = 0
        self.served_late = 0

    async def on_request(self, src: str, body: Any) -> Any:
        match body:
            case Work(budget):
                deadline = None if budget is None else self.now + budget
                turn = max(self.now, self.free_at)
                if self.deadlines and deadline is not None and turn >= deadline:
                    await self.sleep(turn - self.now)      # its turn comes: too late
                    self.refused += 1
                    return DeadlineExceeded(late=turn - deadline)
                self.free_at = turn + self.service
                await self.sleep(self.free_at - self.now)
                self.served += 1
                if deadline is not None and self.now > deadline:
                    self.served_late += 1
                return "done"
            case _:
                raise ValueError(f"QueueServer serves Work(budget), not {body!r}")


class Frontend(RpcNode):
    """Does ``work`` ms of its own, then calls ``backend`` and relays its answer.

    With ``propagate``, the backend gets what is left of the caller's deadline, and the
    frontend waits no longer than that; without, it gives the backend ``timeout`` ms, as if
    the call were its own. A caller's deadline that has passed after the frontend's own work
    is refused there.
    """

    def __init__(self, backend: str = "backend", work: float = 30.0, propagate: bool = True,
                 timeout: float = 1_000.0):
        self.backend = backend
        self.work = work
        self.propagate = propagate
        self.timeout = timeout

    async def on_request(self, src: str, body: Any) -> Any:
        match body:
            case Work(budget):
                deadline = None if budget is None else self.now + budget
                await self.sleep(self.work)
                if not self.propagate or deadline is None:
                    reply = await self.call(self.backend, Work(), timeout=self.timeout)
                elif self.now >= deadline:
                    return DeadlineExceeded(late=self.now - deadline)
                else:
                    left = deadline - self.now
                    reply = await self.call(self.backend, Work(left), timeout=left)
                if isinstance(reply, Timeout):
                    return DeadlineExceeded(late=0.0)
                return reply
            case _:
                raise ValueError(f"Frontend serves Work(budget), not {body!r}")
