"""Experiments on RPC semantics: a client increments a counter over a faulty network, with
at-least-once or at-most-once execution (`distlab.rpc.counter`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from distlab.rpc.counter import CounterClient, CounterServer
from distlab.sim import Latency, Network, Simulation, Uniform


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
