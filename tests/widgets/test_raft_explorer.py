"""Tests of the Raft explorer: it builds, each control does what its label says, and going
back in time replays the very same run."""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")

from distlab.consensus.raft.runs import client_request, explorer_cluster  # noqa: E402
from distlab.widgets.raft import RaftExplorer  # noqa: E402

SERVERS = ["n1", "n2", "n3", "n4", "n5"]


@pytest.fixture
def explorer() -> RaftExplorer:
    explorer = RaftExplorer(explorer_cluster, request=client_request, servers=SERVERS)
    explorer.run_ms.value = 600
    explorer.run_button.click()
    return explorer


def leader(explorer: RaftExplorer) -> str:
    (found,) = [s for s in SERVERS
                if explorer.sim.is_up(s) and explorer.sim.nodes[s].role == "leader"]
    return found


def states(explorer: RaftExplorer) -> dict:
    return {s: explorer.sim.nodes[s].show() for s in SERVERS}


def test_it_builds_a_png_of_the_logs_a_status_and_the_messages_in_flight(explorer):
    assert bytes(explorer.image.value).startswith(b"\x89PNG")
    assert explorer.sim.now == 600
    assert f"leader {leader(explorer)} (term 1)" in explorer.status.value
    assert "messages in flight" in explorer.flight.value
    for _ in range(10):  # until a heartbeat is on its way (one every 50 ms)
        explorer.run(5)
        if flying := explorer.in_flight():
            break
    assert flying and all(arrival > explorer.sim.now for arrival, _ in flying)
    explorer.redraw()
    assert f"{len(flying)} messages in flight" in explorer.flight.value


def test_crash_button_crashes_the_chosen_server_and_then_restarts_it(explorer):
    explorer.server.value = "n2"
    explorer.crash_button.click()
    assert not explorer.sim.is_up("n2") and explorer.crash_button.description == "restart"
    explorer.crash_button.click()
    assert explorer.sim.is_up("n2") and explorer.crash_button.description == "crash"


def test_time_out_button_starts_an_election_in_the_next_term(explorer):
    follower = next(s for s in SERVERS if s != leader(explorer))
    explorer.server.value = follower
    explorer.timeout_button.click()
    node = explorer.sim.nodes[follower]
    assert node.role == "candidate" and node.term == 2 and node.voted_for == follower


def test_timing_out_the_leader_is_refused_with_a_reason(explorer):
    explorer.server.value = leader(explorer)
    explorer.timeout_button.click()
    assert "is the leader: it has no election timer" in explorer.status.value
    assert explorer.actions == []


def test_isolate_cuts_the_server_off_from_the_others_and_heal_joins_it_again(explorer):
    explorer.server.value = "n3"
    explorer.isolate_button.click()
    assert explorer.sim.is_cut("n3", "n1") and explorer.sim.is_cut("n5", "n3")
    assert not explorer.sim.is_cut("client", "n3")  # clients still reach it
    assert not explorer.sim.is_cut("n1", "n2")
    assert "isolated: n3;" in explorer.status.value
    explorer.heal_button.click()
    assert not explorer.sim.cut_links


def test_client_request_button_puts_an_entry_in_every_log(explorer):
    explorer.request_button.click()
    explorer.run(100)
    for s in SERVERS:
        assert explorer.sim.nodes[s].machine.data == {"x": "v1"}
    explorer.request_button.click()
    explorer.run(100)
    assert explorer.sim.nodes["n1"].machine.data == {"x": "v2"}


def test_going_back_in_time_replays_the_same_run_and_coming_back_restores_it(explorer):
    explorer.server.value = "n2"
    explorer.crash_button.click()
    explorer.request_button.click()
    explorer.run_ms.value = 300
    explorer.run_button.click()
    at_900, trace_at_900 = states(explorer), len(explorer.sim.trace)
    explorer.time.value = 550.0          # the slider: back to before the crash
    assert explorer.sim.now == 550 and explorer.sim.is_up("n2")
    assert len(explorer.sim.trace) < trace_at_900
    explorer.time.value = 900.0          # and forward again
    assert states(explorer) == at_900 and len(explorer.sim.trace) == trace_at_900
    assert not explorer.sim.is_up("n2")


def test_an_action_after_going_back_starts_a_new_future(explorer):
    explorer.crash("n2")
    explorer.run(300)
    explorer.go_to(300)
    explorer.crash("n4")
    assert [a[1:] for a in explorer.actions] == [("crash", "n4")]
    explorer.redraw()  # (what a button does after its action)
    assert explorer.end == 300 and explorer.time.max == 300


def test_a_time_outside_the_run_is_refused(explorer):
    with pytest.raises(ValueError, match="between 0 and 600"):
        explorer.go_to(5_000)


def test_an_isolated_leader_takes_a_request_it_cannot_commit(explorer):
    old = leader(explorer)
    explorer.isolate(old)
    explorer.client_request()
    explorer.run(20)
    node = explorer.sim.nodes[old]
    assert node.log[-1].command.value == "v1" and node.commit_index < len(node.log)
