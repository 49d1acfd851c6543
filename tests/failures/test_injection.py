"""Fault injection for real (`distlab.failures.injection`, ``python -m distlab faults``): the
key-value store on Raft as processes, kill -9 of the leader and of a follower, a partition
through the proxies, and the history checked; the schedule, the loss count and the command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from distlab.__main__ import main
from distlab.check.linearizability import check_linearizability
from distlab.consensus.raft.real import ask
from distlab.failures import injection
from distlab.failures.injection import (WINDOWS, Fault, FaultRun, check_schedule, fault_schedule,
                                        lost_appends, run_with_faults)
from distlab.net.cluster import start_cluster
from distlab.sim import History
from distlab.workloads.kv import Get, GetOk, Put, PutOk

SRC = Path(__file__).resolve().parents[2] / "src"
NODES = ("n1", "n2", "n3")


def test_the_same_seed_draws_the_same_schedule_in_the_planned_order():
    schedule = fault_schedule(4, NODES, 10.0)
    assert schedule == fault_schedule(4, NODES, 10.0)
    assert [f.action for f in schedule] == [action for action, _, _ in WINDOWS]
    assert all(10 * low <= f.at <= 10 * high
               for f, (_, low, high) in zip(schedule, WINDOWS, strict=True))
    isolated = {f.node for f in schedule if f.action in ("isolate", "heal")}
    assert len(isolated) == 1 and isolated <= set(NODES)
    seeds = {tuple(fault_schedule(seed, NODES, 10.0)) for seed in range(10)}
    assert len(seeds) == 10
    assert all(check_schedule(s, NODES) == list(s) for s in seeds)


@pytest.mark.parametrize("nodes, duration, words", [
    (("n1", "n2"), 10.0, "odd number of nodes"), (("n1", "n2", "n3", "n4"), 10.0, "odd"),
    (NODES, 2.0, "at least 4 seconds")])
def test_a_schedule_that_cannot_work_is_refused_with_the_reason(nodes, duration, words):
    with pytest.raises(ValueError, match=words):
        fault_schedule(1, nodes, duration)


@pytest.mark.parametrize("schedule, words", [
    ([Fault(1, "reboot")], "unknown fault action 'reboot'"),
    ([Fault(1, "restart")], "no killed node to restart"),
    ([Fault(1, "kill-leader"), Fault(2, "restart"), Fault(3, "restart")], "no killed node"),
    ([Fault(1, "isolate", "n1"), Fault(2, "heal", "n1"), Fault(3, "isolate", "n2")],
     "one of .* at most"),
    ([Fault(1, "isolate", "n9")], "one of .* at most"),
    ([Fault(1, "heal", "n1")], "heal at 1 s comes with nothing cut"),
    ([Fault(1, "isolate", "n1"), Fault(2, "isolate", "n1")], "while a node is isolated")])
def test_a_hand_written_schedule_that_cannot_be_followed_is_refused(schedule, words):
    with pytest.raises(ValueError, match=words):
        check_schedule(schedule, NODES)


def test_a_hand_written_schedule_is_put_in_time_order():
    steps = [Fault(3, "restart"), Fault(2, "restart"), Fault(1, "kill-leader"),
             Fault(1.5, "kill-follower")]
    assert [f.at for f in check_schedule(steps, NODES)] == [1, 1.5, 2, 3]


def test_lost_appends_are_the_acknowledged_ones_missing_from_the_final_read():
    history = History()
    for value, status in (("c1.1;", "ok"), ("c1.2;", "ok"), ("c1.3;", "info")):
        op = history.invoke("c1", "append", value, "x")
        getattr(history, status)(op)
    op = history.invoke("c2", "append", "c2.1;", "y")
    history.ok(op)
    lost = lost_appends(history, {"x": "c1.1;", "y": "c2.1;"})
    assert [op.value for op in lost] == ["c1.2;"]          # c1.3 timed out: it may be absent
    assert lost_appends(history, {"x": "c1.11;c1.2;", "y": "c2.1;"})[0].value == "c1.1;"


def _run_with_appends_around_a_kill(spans) -> FaultRun:
    """A made-up run: the leader killed at 5.0 s, one append to ``x`` per (start, end) span
    (end None: given up on), and the checker's verdict on them."""
    now = [0.0]
    history = History(clock=lambda: now[0])
    for i, (start, end) in enumerate(spans):
        now[0] = start
        op = history.invoke("c1", "append", f"c1.{i};", "x")
        now[0] = end if end is not None else start + 2.5
        if end is None:
            history.info(op)
        else:
            history.ok(op)
    result = check_linearizability(history, "kv")
    return FaultRun(nodes=NODES, schedule=(), events=((5.0, "killed n1 (leader)"),),
                    history=history, ok=0, unknown=0, retried=0, lost=0, final={},
                    verdict=str(result.verdict), result=result)


def test_the_fault_window_shows_the_operations_near_the_fault_with_it_in_the_middle():
    run = _run_with_appends_around_a_kill([(0.5, 0.6), (3.0, 3.1), (4.4, 4.5), (4.9, None),
                                           (4.95, 5.7), (5.6, 5.65), (5.8, 5.9), (9.0, 9.1)])
    window = injection.history_window(run, seconds=1.0)
    # the ones more than a second away (0.5, 3.0, 9.0 s) are left out, the one given up on in
    # flight at the fault is kept
    assert [op.invoke_time for op in window] == [4.4, 4.9, 4.95, 5.6, 5.8]
    # one each side: the last answered before the fault, the nearest of the others
    assert [op.invoke_time for op in injection.history_window(run, max_ops=2)] == [4.4, 4.9]
    figure = injection.draw_fault_window(run)
    left, right = figure.axes[0].get_xlim()
    plt.close(figure)
    assert (left + right) / 2 == pytest.approx(5.0) and right - 5.0 <= 1.05 + 1e-9


@pytest.mark.timeout(90)
def test_an_acknowledged_write_survives_kill_9_of_every_node(tmp_path):
    with start_cluster("distlab.consensus.raft.node:RaftNode", NODES, clients=["me"],
                       data_dir=tmp_path) as cluster:
        me = cluster.client("me")
        _, reply = ask(me, Put("me", 1, "x", "kept"), "n1", NODES)
        assert reply == PutOk(1)
        for node in NODES:        # nothing of any process's memory survives this
            cluster.kill(node)
        for node in NODES:
            cluster.restart(node)
        _, reply = ask(me, Get("me", 2, "x"), "n1", NODES, deadline=60)
        assert reply == GetOk(2, "kept")


@pytest.mark.timeout(240)
def test_a_workload_under_the_whole_schedule_loses_nothing_and_stays_linearizable(tmp_path):
    seen = []
    run = run_with_faults(3, 5.0, seed=2, data_dir=tmp_path,
                          progress=lambda p: seen.append(p.event))
    actions = [event.split()[0] for _, event in run.events]
    assert actions == ["killed", "restarted", "killed", "restarted", "isolated", "healed"]
    assert "(leader)" in run.events[0][1] and "(follower)" in run.events[2][1]
    assert run.events[0][1].split()[1] == run.events[1][1].split()[1]   # the killed restarts
    assert run.ok > 0 and run.lost == 0 and run.verdict == "linearizable"
    assert set(run.final) == set(injection.KEYS)
    assert seen[0] == "starting" and seen[-1] == "checking the history"
    assert isinstance(run, FaultRun) and run.summary().endswith("verdict: linearizable")


@pytest.mark.timeout(240)
def test_a_hand_written_schedule_kills_two_of_three_and_still_loses_nothing(tmp_path):
    schedule = [Fault(1.0, "kill-leader"), Fault(1.5, "kill-follower"), Fault(3.0, "restart"),
                Fault(3.5, "restart")]
    run = run_with_faults(3, 4.0, schedule=schedule, data_dir=tmp_path)
    assert [event.split()[0] for _, event in run.events] == ["killed", "killed", "restarted",
                                                             "restarted"]
    assert {event.split()[1] for _, event in run.events[:2]} == {
        event.split()[1] for _, event in run.events[2:]}       # both came back
    assert run.lost == 0 and run.verdict == "linearizable"


@pytest.mark.timeout(240)
def test_the_command_runs_the_scenario_and_ends_with_the_verdict(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(SRC))
    done = subprocess.run([sys.executable, "-m", "distlab", "faults", "--duration", "5",
                           "--seed", "3", "--data-dir", str(tmp_path / "nodes"),
                           "--history", str(tmp_path / "h.jsonl")],
                          capture_output=True, text=True, env=env, timeout=200)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].endswith("acknowledged appends lost: 0; verdict: linearizable")
    assert "(leader)" in done.stderr and "isolated" in done.stderr   # the progress lines
    checked = subprocess.run([sys.executable, "-m", "distlab.check", str(tmp_path / "h.jsonl"),
                              "--model", "kv"], capture_output=True, text=True, env=env,
                             timeout=100)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_command_refuses_bad_options_with_the_reason(capsys):
    assert main(["faults", "--nodes", "4"]) == 3
    assert "odd number of nodes" in capsys.readouterr().err


@pytest.mark.parametrize("verdict, lost, code", [("linearizable", 0, 0),
                                                 ("linearizable", 1, 1),
                                                 ("not linearizable", 0, 1),
                                                 ("unknown", 0, 2)])
def test_the_exit_status_says_the_verdict_and_counts_lost_writes(monkeypatch, capsys,
                                                                  verdict, lost, code):
    def fake_run(*args, **kwargs):
        return FaultRun(nodes=NODES, schedule=(), events=((1.0, "killed n1 (leader)"),),
                        history=History(), ok=3, unknown=0, retried=1, lost=lost,
                        final={}, verdict=verdict)

    monkeypatch.setattr("distlab.__main__.run_with_faults", fake_run)
    assert main(["faults"]) == code
    assert capsys.readouterr().out.splitlines()[-1].endswith(f"verdict: {verdict}")
