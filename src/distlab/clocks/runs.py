"""Experiments on clock synchronization: Cristian's algorithm against the simulator's true
clock skew (`distlab.clocks.cristian`)."""

from __future__ import annotations

from dataclasses import dataclass

from distlab.clocks.cristian import CristianClient, TimeServer
from distlab.sim import Latency, Network, Simulation, Uniform


@dataclass(frozen=True)
class CristianResult:
    """One exchange: the round trip, the estimated and the true offset, and the error."""

    rtt: float
    estimated_offset: float
    true_offset: float

    @property
    def error(self) -> float:
        return self.estimated_offset - self.true_offset


def cristian_experiment(*, seed: int = 0, latency: Latency | float = Uniform(1, 50),
                        reply_latency: Latency | float | None = None,
                        client_skew: float = 0.0, client_drift: float = 0.0,
                        server_skew: float = 250.0, server_drift: float = 0.0,
                        samples: int = 50, period: float = 1_000.0) -> list[CristianResult]:
    """Run Cristian's algorithm once per ``period`` and compare each estimate with the truth.

    A clock with skew ``s`` and drift ``d`` reads ``s + (1 + d) * t`` at true time ``t``; the
    true offset is the difference of the two clocks when the reply arrives. With
    ``reply_latency`` the way back has other delays than the way there (asymmetry): the
    estimate's assumption of equal halves fails, and the error shows it.
    """
    sim = Simulation(seed=seed, network=Network(latency=latency))
    sim.add_node(TimeServer, "server")
    client = sim.add_node(CristianClient, "client", server="server", period=period,
                          samples=samples)
    sim.set_clock("server", skew=server_skew, drift=server_drift)
    sim.set_clock("client", skew=client_skew, drift=client_drift)
    if reply_latency is not None:
        sim.network.set_link("server", "client", latency=reply_latency, both_ways=False)
    sim.run(until=period * (samples + 1))
    results = []
    for s in client.samples:
        true_time = (s.received_at - client_skew) / (1 + client_drift)
        server_clock = server_skew + (1 + server_drift) * true_time
        results.append(CristianResult(s.rtt, s.offset, server_clock - s.received_at))
    return results
