"""Retries after an outage: backoff, jitter, a retry budget, and deadlines that stop a server
from working for callers that have given up (distlab.rpc.retries, distlab.rpc.deadlines)."""

import random

import pytest

from distlab.rpc.deadlines import DeadlineExceeded, QueueServer, Work
from distlab.rpc.layer import RpcNode
from distlab.rpc.retries import RetryPolicy
from distlab.rpc.runs import deadline_chain, retry_storm
from distlab.sim import Constant, Network, Simulation

FIXED = RetryPolicy(base=0, multiplier=1)          # retry at once after each timeout
BACKOFF = RetryPolicy()                            # 100, 200, 400 ... 3200 ms
JITTER = RetryPolicy(jitter=True)                  # the same, drawn in [0, backoff]
STORM = {"clients": 100, "service": 3.0, "think": 1_000.0, "outage": (0.0, 1_000.0)}


def test_backoff_doubles_up_to_the_cap_and_jitter_draws_below_it():
    rng = random.Random(1)
    assert [BACKOFF.wait(k, rng) for k in range(7)] == [100, 200, 400, 800, 1600, 3200, 3200]
    assert [FIXED.wait(k, rng) for k in range(3)] == [0, 0, 0]
    waits = [JITTER.wait(3, rng) for _ in range(200)]
    assert all(0 <= w <= 800 for w in waits) and len(set(waits)) == 200


@pytest.mark.parametrize("bad", [{"base": -1}, {"multiplier": 0.5}, {"attempts": 0},
                                 {"budget": 1.5}])
def test_a_policy_that_makes_no_sense_is_refused(bad):
    with pytest.raises(ValueError):
        RetryPolicy(**bad)


def test_retrying_at_once_after_an_outage_keeps_the_server_busy_with_dead_requests():
    run = retry_storm(FIXED, **STORM)
    assert run.succeeded < run.calls / 10          # it never recovers ...
    assert run.wasted > 0.9 * run.served           # ... serving callers that have left


def test_deadlines_let_the_server_recover_from_the_same_storm():
    run = retry_storm(FIXED, deadlines=True, **STORM)
    assert run.succeeded == run.calls and run.refused > 0


def test_backoff_without_jitter_comes_back_in_waves_and_jitter_spreads_them():
    waves = retry_storm(BACKOFF, **STORM)
    spread = retry_storm(JITTER, **STORM)
    assert waves.succeeded == spread.succeeded == waves.calls
    assert max(waves.per_bin(10, since=1_000)) > 5 * max(spread.per_bin(10, since=1_000))
    assert spread.wasted < waves.wasted


def test_a_retry_budget_bounds_the_retries_and_gives_up_calls_instead():
    run = retry_storm(RetryPolicy(jitter=True, budget=0.1), **STORM)
    retries = run.attempts - run.calls
    assert retries <= 0.1 * run.calls + STORM["clients"]
    assert run.given_up > 0 and run.succeeded + run.given_up == run.calls


def test_the_same_seed_gives_the_same_storm():
    assert retry_storm(JITTER, seed=3).arrivals == retry_storm(JITTER, seed=3).arrivals


def test_a_bad_outage_is_refused():
    with pytest.raises(ValueError, match="outage is"):
        retry_storm(FIXED, outage=(500.0, 100.0))


class Asker(RpcNode):
    """Sends Work with each budget in ``budgets`` at time 0, and keeps the replies."""

    def __init__(self, budgets=()):
        self.budgets = budgets
        self.replies = []

    def on_start(self):
        for budget in self.budgets:
            self.call("server", Work(budget), timeout=1_000, on_reply=self.replies.append)


@pytest.mark.parametrize("deadlines, expected", [
    (True, ["done", "done", DeadlineExceeded(late=5.0)]),
    (False, ["done", "done", "done"]),
])
def test_the_server_refuses_a_request_whose_deadline_passed_in_its_queue(deadlines, expected):
    sim = Simulation(seed=0, network=Network(latency=Constant(1)))
    server = sim.add_node(QueueServer, "server", service=10.0, deadlines=deadlines)
    asker = sim.add_node(Asker, "asker", budgets=(100.0, 100.0, 15.0))
    sim.run(until=500)
    assert asker.replies == expected
    assert server.refused == (1 if deadlines else 0)


def test_a_deadline_passed_down_the_chain_spares_the_backend_work_nobody_waits_for():
    propagated, local = deadline_chain(True), deadline_chain(False)
    assert propagated.nodes["backend"].refused == 1
    assert propagated.nodes["backend"].served == 3 and local.nodes["backend"].served == 4
    for sim in (propagated, local):    # either way the caller gets two answers in time
        assert sim.nodes["caller"].results[:2] == ["done", "done"]


def test_a_server_needs_a_positive_service_time():
    sim = Simulation(seed=0)
    with pytest.raises(ValueError, match="service is the ms"):
        sim.add_node(QueueServer, "server", service=0)
