"""The first page's runs: one store for the world against one replica per region."""

from __future__ import annotations

import pytest

from distlab.kv.regional import User
from distlab.kv.world import (availability, centralised, completions, latency_by_region, one_way,
                              place, region_of, replica_table, replicated, scale_sweep, with_crash)
from distlab.sim import Simulation


def test_latencies_come_from_the_regions_in_the_ids():
    assert region_of("user-asia-3") == "asia" and one_way("user-eu", "store-us") == 40
    assert one_way("user-us", "server-us") == 1.0
    with pytest.raises(ValueError, match="<role>-<region>"):
        region_of("client7")


def test_place_gives_exact_latencies_without_spread():
    sim = replicated(spread=0.0)
    assert sim.network.links[("user-asia", "store-eu")].latency.sample(None) == 90


def test_one_server_costs_far_users_their_round_trip_and_replicas_do_not():
    one = centralised()
    one.run(until=5_000)
    far = latency_by_region(one)
    assert far["us"] < 10 and 75 < far["eu"] < 90 and 110 < far["asia"] < 135
    three = replicated()
    three.run(until=5_000)
    assert all(ms < 10 for ms in latency_by_region(three).values())


def test_a_crash_stops_one_server_but_not_three_replicas():
    ok, ended = availability(with_crash(centralised, "server-us"))
    assert ok < ended
    three = with_crash(replicated, "store-us")
    ok, ended = availability(three)
    assert ok == ended
    starts, counts = completions(three, ["user-eu"], width=1_000, end=7_000)
    assert starts == [0, 1_000, 2_000, 3_000, 4_000, 5_000, 6_000]
    assert all(n > 0 for n in counts["user-eu"])


def test_the_replica_that_was_down_misses_writes_for_good():
    table = replica_table(with_crash(replicated, "store-us"), ["store-eu", "store-us"])
    assert "<- disagree" in table and table.splitlines()[0].split() == ["key", "store-eu",
                                                                        "store-us"]


def test_one_store_saturates_at_its_capacity():
    loads = scale_sweep(centralised, [1, 40], duration=1_500)
    assert loads[0].users == 3 and loads[0].throughput < 50
    assert 400 < loads[1].throughput <= 500


def test_bad_input_is_refused_with_what_to_do():
    with pytest.raises(ValueError, match="no node 'store-mars'"):
        with_crash(replicated, "store-mars")
    sim = Simulation(seed=0)
    with pytest.raises(ValueError, match="list of store ids"):
        sim.add_node(User, "user-eu", stores="server-us")
    sim2 = Simulation(seed=0)
    sim2.add_nodes(User, ["user-eu", "nowhere"], stores=("x",))
    with pytest.raises(ValueError, match="<role>-<region>"):
        place(sim2)
