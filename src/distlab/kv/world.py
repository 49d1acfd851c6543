"""Three regions, one store or three: the runs of the book's first page, and what they measure.

Users live in Europe, North America and Asia; a node's id ends with its region
(``user-eu``, ``store-asia``). `place` gives every link the one-way latency between the regions
it joins (`ONE_WAY_MS`, 1 ms inside a region), give or take 10%. `centralised` builds the
service on one store in the US, `replicated` on one `ReplicatedStore` per region, with users
who try the nearest store first. The readers below turn a run's history into the page's
numbers: median latencies per region, operations completed per time window, throughput and
latency as users are added, and the replicas' values side by side.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from itertools import combinations
from typing import Any, NamedTuple

from distlab.kv.regional import ReplicatedStore, Store, User
from distlab.sim import Constant, Network, Simulation, Uniform

REGIONS = ("eu", "us", "asia")
#: typical one-way latency (ms) between two regions
ONE_WAY_MS = {frozenset({"eu", "us"}): 40, frozenset({"us", "asia"}): 60,
              frozenset({"eu", "asia"}): 90}
#: one-way latency (ms) inside a region
LOCAL_MS = 1.0
#: how far (as a fraction) a link's latency strays from the typical one
SPREAD = 0.1


def region_of(node_id: str) -> str:
    """The region a node's id ends with: ``"user-eu-3"`` -> ``"eu"``."""
    parts = node_id.split("-")
    if len(parts) < 2 or parts[1] not in REGIONS:
        raise ValueError(f"a node id here reads <role>-<region>[-<n>] with a region among "
                         f"{REGIONS}; got {node_id!r}")
    return parts[1]


def one_way(a: str, b: str) -> float:
    """The typical one-way latency (ms) between nodes ``a`` and ``b``, from their regions."""
    ra, rb = region_of(a), region_of(b)
    return LOCAL_MS if ra == rb else ONE_WAY_MS[frozenset({ra, rb})]


def place(sim: Simulation, spread: float = SPREAD) -> None:
    """Give every link of ``sim`` the latency of the regions it joins, +- ``spread``."""
    for a, b in combinations(sim.nodes, 2):
        d = one_way(a, b)
        latency = Constant(d) if spread == 0 else Uniform((1 - spread) * d, (1 + spread) * d)
        sim.network.set_link(a, b, latency=latency)


def _user_name(region: str, i: int, users_per_region: int) -> str:
    return f"user-{region}" if users_per_region == 1 else f"user-{region}-{i}"


def centralised(seed: int = 1, users_per_region: int = 1, spread: float = SPREAD,
                server: str = "server-us", **user_options: Any) -> Simulation:
    """One `Store`, ``server`` (in the US unless told), and ``users_per_region`` users in
    each region."""
    sim = Simulation(seed=seed, network=Network(latency=Constant(1)))
    sim.add_node(Store, server)
    for region in REGIONS:
        for i in range(users_per_region):
            sim.add_node(User, _user_name(region, i, users_per_region), stores=(server,),
                         **user_options)
    place(sim, spread)
    return sim


def replicated(seed: int = 1, users_per_region: int = 1, spread: float = SPREAD,
               **user_options: Any) -> Simulation:
    """One `ReplicatedStore` per region, and users who try the nearest store first."""
    sim = Simulation(seed=seed, network=Network(latency=Constant(1)))
    stores = [f"store-{region}" for region in REGIONS]
    sim.add_nodes(ReplicatedStore, stores)
    for region in REGIONS:
        nearest_first = tuple(sorted(stores, key=lambda s: one_way(f"user-{region}", s)))
        for i in range(users_per_region):
            sim.add_node(User, _user_name(region, i, users_per_region), stores=nearest_first,
                         **user_options)
    place(sim, spread)
    return sim


def with_crash(build: Callable[..., Simulation], victim: str, seed: int = 1, *,
               down: tuple[float, float] = (3_000, 5_000), stop: float = 7_000,
               until: float = 8_000, **options: Any) -> Simulation:
    """Run ``build``'s service with ``victim`` down during ``down`` (ms); users stop at
    ``stop``."""
    sim = build(seed, stop=stop, **options)
    if victim not in sim.nodes:
        raise ValueError(f"there is no node {victim!r} to crash; the nodes are {list(sim.nodes)}")
    sim.at(down[0], sim.crash, victim)
    sim.at(down[1], sim.restart, victim)
    sim.run(until=until)
    return sim


def durations(sim: Simulation, *, user: str | None = None, region: str | None = None,
              start: float = 0.0, end: float = float("inf")) -> list[float]:
    """The durations (ms) of the successful operations invoked in [start, end), of one user
    or one region's users (or all)."""
    return [op.complete_time - op.invoke_time for op in sim.history
            if op.status == "ok" and start <= op.invoke_time < end
            and (user is None or op.process == user)
            and (region is None or region_of(op.process) == region)]


def latency_by_region(sim: Simulation) -> dict[str, float]:
    """The median duration (ms) of the successful operations of each region's users."""
    return {region: statistics.median(durations(sim, region=region)) for region in REGIONS}


def availability(sim: Simulation) -> tuple[int, int]:
    """(operations that succeeded, operations that ended)."""
    ended = [op for op in sim.history if op.status != "pending"]
    return sum(op.status == "ok" for op in ended), len(ended)


def completions(sim: Simulation, users: Sequence[str], width: float = 250.0,
                end: float = 7_000) -> tuple[list[float], dict[str, list[int]]]:
    """(window starts, {user: operations completed in each window}) over [0, end)."""
    edges = [i * width for i in range(int(end // width) + 1)]
    counts = {}
    for user in users:
        done = [op.complete_time for op in sim.history
                if op.status == "ok" and op.process == user]
        counts[user] = [sum(a <= t < b for t in done) for a, b in zip(edges, edges[1:])]
    return edges[:-1], counts


class Load(NamedTuple):
    """A design under a number of users: successful operations per second, median latency."""

    users: int
    throughput: float
    median_ms: float


def scale_sweep(build: Callable[..., Simulation], per_region: Sequence[int],
                duration: float = 3_000, **options: Any) -> list[Load]:
    """Run ``build``'s service for ``duration`` ms with each number of users per region."""
    loads = []
    for n in per_region:
        sim = build(users_per_region=n, **options)
        sim.run(until=duration)
        done = durations(sim)
        loads.append(Load(len(REGIONS) * n, len(done) / (duration / 1_000),
                          statistics.median(done)))
    return loads


def replica_table(sim: Simulation, stores: Sequence[str]) -> str:
    """The stores' values of every key side by side, each row that differs marked."""
    data = {store: sim.nodes[store].data for store in stores}
    keys = sorted(set().union(*data.values()))
    lines = [f"{'key':4}" + "".join(f"{store:>16}" for store in stores)]
    for key in keys:
        values = [data[store].get(key) for store in stores]
        flag = "   <- disagree" if len(set(values)) > 1 else ""
        lines.append(f"{key:4}" + "".join(f"{str(v):>16}" for v in values) + flag)
    return "\n".join(lines)
