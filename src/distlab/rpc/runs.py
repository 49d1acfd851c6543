"""Experiments on RPC: a client increments a counter over a faulty network, with
at-least-once or at-most-once execution (`distlab.rpc.counter`); a fleet of clients retries
against a server coming back from an outage (`distlab.rpc.retries`); a deadline travels
down a chain of calls (`distlab.rpc.deadlines`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from distlab.rpc.counter import CounterClient, CounterServer
from distlab.rpc.deadlines import Frontend, QueueServer, Work
from distlab.rpc.layer import Request, RpcNode
from distlab.rpc.retries import RetryingClient, RetryPolicy
from distlab.sim import Client, Latency, Network, Simulation, Uniform, stream


@dataclass(frozen=True)
class CounterRun:
    """What `counter_experiment` observed."""

    semantics: str        # "at-most-once" or "at-least-once"
    increments: int       # increments the client asked for
    acknowledged: int     # ... that got a reply
    unknown: int          # ... that ended in a Timeout
    final_value: int      # the counter at the end: the increments actually applied
    executed: int         # requests the server executed
    duplicates: int       # requests the server answered from its table instead
    sim: Simulation = field(repr=False, compare=False)


def counter_experiment(at_most_once: bool, *, seed: int = 0, increments: int = 20,
                       loss: float = 0.0, duplicate: float = 0.0,
                       latency: Latency | float = Uniform(1, 10), timeout: float = 50.0,
                       retries: int = 3, until: float = 60_000) -> CounterRun:
    """One client increments a `CounterServer` ``increments`` times over a faulty network."""
    sim = Simulation(seed=seed, network=Network(latency=latency, loss=loss, duplicate=duplicate))
    server = sim.add_node(CounterServer, "server", at_most_once=at_most_once)
    client = sim.add_node(CounterClient, "client", server="server", increments=increments,
                          timeout=timeout, retries=retries)
    sim.run(until=until)
    return CounterRun(
        semantics="at-most-once" if at_most_once else "at-least-once",
        increments=increments, acknowledged=client.acknowledged, unknown=client.unknown,
        final_value=server.value, executed=server.rpc_stats.executed,
        duplicates=server.rpc_stats.duplicates, sim=sim)


# -- retries after an outage --------------------------------------------------------------------

@dataclass(frozen=True)
class StormRun:
    """What `retry_storm` observed: the requests reaching the server, and the clients' fate."""

    arrivals: tuple[float, ...]   # times at which requests reached the server (while up)
    calls: int                    # calls the clients made
    succeeded: int                # ... that got an answer
    given_up: int                 # ... that ran out of attempts or of retry budget
    attempts: int                 # requests the clients sent, retries included
    served: int                   # requests the server served
    wasted: int                   # ... after the caller's deadline: for nobody
    refused: int                  # requests refused because their deadline had passed
    finished_at: float | None     # when the last call ended (None: some never did)
    sim: Simulation = field(repr=False, compare=False)

    def per_bin(self, width: float, since: float = 0.0, until: float | None = None
                ) -> list[int]:
        """Requests reaching the server in each ``width``-ms bin from ``since`` to ``until``."""
        end = until if until is not None else self.sim.now
        counts = [0] * max(1, math.ceil((end - since) / width))
        for time in self.arrivals:
            if since <= time < end:
                counts[int((time - since) // width)] += 1
        return counts


def retry_storm(policy: RetryPolicy, *, clients: int = 50, calls: int = 5,
                think: float = 100.0, timeout: float = 100.0, service: float = 3.0,
                outage: tuple[float, float] = (0.0, 1_000.0), stagger: float = 20.0,
                deadlines: bool = False, latency: Latency | float = Uniform(1, 10),
                seed: int = 0, until: float = 20_000.0) -> StormRun:
    """A fleet of ``clients`` (`RetryingClient`) against one `QueueServer` that is down
    during ``outage``.

    Every client starts within ``stagger`` ms of time 0 and makes ``calls`` calls, retrying
    by ``policy``. The server serves one request at a time, ``service`` ms each. Requests
    carry the clients' timeout as their deadline, so that the server can count the requests
    it serves for nobody; with ``deadlines`` it also refuses those that expired in its queue.
    """
    if not 0 <= outage[0] <= outage[1]:
        raise ValueError(f"outage is (down at, up again at) in ms, in that order; got {outage}")
    sim = Simulation(seed=seed, network=Network(latency=latency))
    server = sim.add_node(QueueServer, "server", service=service, deadlines=deadlines)
    starts = stream(seed, "storm-starts")
    fleet = [sim.add_node(RetryingClient, f"c{i:02d}", server="server", calls=calls,
                          think=think, timeout=timeout, policy=policy, deadline=True,
                          start=starts.uniform(0, stagger))
             for i in range(clients)]
    sim.at(outage[0], sim.crash, "server")
    sim.at(outage[1], sim.restart, "server")
    sim.run(until=until)
    server = sim.nodes["server"]           # the node rebuilt by the restart
    ends = [op.complete_time for op in sim.history if op.complete_time is not None]
    finished = len(ends) == clients * calls
    return StormRun(
        arrivals=tuple(e.time for e in sim.trace.of_kind("deliver")
                       if e.node == "server" and isinstance(e.data, Request)),
        calls=clients * calls, succeeded=sum(c.done for c in fleet),
        given_up=sum(c.given_up for c in fleet),
        attempts=sum(c.rpc_stats.attempts for c in fleet), served=server.served,
        wasted=server.served_late, refused=server.refused,
        finished_at=max(ends) if finished else None, sim=sim)


# -- a deadline passed down a chain -------------------------------------------------------------

class ChainCaller(RpcNode, Client):
    """Calls ``frontend`` once at each time in ``at``, waiting ``timeout`` ms, and keeps the
    results in ``results`` (a reply, or a `Timeout`)."""

    def __init__(self, frontend: str = "frontend", at: tuple[float, ...] = (0.0,),
                 timeout: float = 100.0, deadline: bool = True):
        self.frontend = frontend
        self.at = tuple(at)
        self.timeout = timeout
        self.deadline = deadline
        self.results: list[Any] = []

    def on_start(self) -> None:
        for time in self.at:
            self.spawn(self.call_at(time))

    async def call_at(self, time: float) -> None:
        await self.sleep(time)
        budget = self.timeout if self.deadline else None
        reply = await self.call(self.frontend, Work(budget), timeout=self.timeout)
        self.results.append(reply)


def deadline_chain(propagate: bool, *, calls: tuple[float, ...] = (0.0, 5.0, 10.0, 15.0),
                   timeout: float = 100.0, frontend_work: float = 30.0,
                   backend_service: float = 30.0, seed: int = 0) -> Simulation:
    """A caller, a frontend and a backend: the caller calls at each of ``calls`` (ms), with
    ``timeout``; the frontend works ``frontend_work`` ms, then calls the backend, which
    serves one request at a time, ``backend_service`` ms each.

    With ``propagate`` the deadline travels down and the backend refuses requests that
    expired in its queue; without, the backend serves everything, late or not.
    """
    sim = Simulation(seed=seed, network=Network(latency=Uniform(1, 3)))
    sim.add_node(QueueServer, "backend", service=backend_service, deadlines=propagate)
    sim.add_node(Frontend, "frontend", backend="backend", work=frontend_work,
                 propagate=propagate)
    sim.add_node(ChainCaller, "caller", frontend="frontend", at=calls, timeout=timeout)
    sim.run(until=2_000)
    return sim
