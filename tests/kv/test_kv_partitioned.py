"""The partitioned store on the simulator: servers join and leave while clients read and
write; every key ends at its owner in the final membership, and the history stays
linearizable. Two broken variants show what the checks catch."""

from __future__ import annotations

import pytest

from distlab.check.linearizability import check_linearizability
from distlab.kv.partitioned import (ChangeMembership, Forward, Handover, PartitionedKV,
                                    membership_sim, owner)


def run(seed: int, server: type[PartitionedKV] = PartitionedKV, **kwargs):
    sim = membership_sim(seed, server=server, **kwargs)
    sim.run(until=5_000)
    return sim


def keys_off_their_owner(sim, final) -> list[str]:
    return sorted(f"{key}@{node}" for node in ("n1", "n2", "n3", "n4")
                  for key in sim.nodes[node].data if owner(final, key) != node)


@pytest.mark.parametrize("seed", range(1, 6))
def test_a_join_and_a_leave_keep_the_history_linearizable(seed):
    sim = run(seed)
    assert sim.nodes["admin"].done
    assert all(op.status == "ok" for op in sim.history) and len(sim.history) == 120
    assert str(check_linearizability(sim.history, "kv").verdict) == "linearizable"
    assert keys_off_their_owner(sim, ("n1", "n3", "n4")) == []
    assert sim.nodes["n2"].data == {}


def test_keys_move_on_each_change():
    sim = run(1, plan=((300.0, ("n1", "n2", "n3", "n4")), (600.0, ("n1", "n3", "n4"))))
    moved = sim.nodes["admin"].moved
    assert moved[1] >= 1 and moved[2] >= 1


def test_a_plan_naming_an_unknown_server_is_refused():
    with pytest.raises(ValueError, match="n9.*not among the servers"):
        membership_sim(plan=((100.0, ("n1", "n9")),))


class ForgetsToHandOver(PartitionedKV):
    """Drops the keys it no longer owns instead of handing them over."""

    def change(self, admin: str, msg: ChangeMembership) -> None:
        for key in [key for key in self.data if owner(msg.members, key) != self.id]:
            del self.data[key]
        super().change(admin, msg)


class ServesBeforeTheHandover(PartitionedKV):
    """Serves its new keys at once, without waiting for the old owners' handovers."""

    def on_message(self, src, msg):
        super().on_message(src, msg)
        if isinstance(msg, ChangeMembership):
            self.expected = set()
            self.replay()

    def held_back(self, msg: Forward | Handover) -> bool:
        return msg.epoch > self.epoch


def test_forgetting_the_handover_loses_acknowledged_writes():
    verdicts = {str(check_linearizability(run(seed, ForgetsToHandOver).history, "kv").verdict)
                for seed in range(1, 4)}
    assert "not linearizable" in verdicts


def test_serving_before_the_handover_reads_stale_values():
    plan = ((300.0, ("n1", "n2", "n3", "n4")), (600.0, ("n1", "n3", "n4")))
    verdicts = {str(check_linearizability(run(seed, ServesBeforeTheHandover, plan=plan,
                                              ops=60).history, "kv").verdict)
                for seed in range(1, 6)}
    assert "not linearizable" in verdicts


@pytest.mark.parametrize("seed", range(1, 4))
def test_four_changes_in_a_row_with_a_server_left_out_of_some_of_them(seed):
    # s5 hears of no change until the third, which makes it a member: it jumps to that epoch
    servers = ("s1", "s2", "s3", "s4", "s5")
    plan = ((200.0, servers[:4]), (500.0, ("s2", "s3", "s4")),
            (800.0, ("s2", "s3", "s4", "s5")), (1_100.0, ("s2", "s4", "s5")))
    sim = membership_sim(seed, servers=servers, initial=servers[:3], plan=plan, ops=60)
    sim.run(until=8_000)
    assert sim.nodes["admin"].done and sim.nodes["s5"].epoch == 4
    assert all(op.status == "ok" for op in sim.history)
    assert str(check_linearizability(sim.history, "kv").verdict) == "linearizable"
    assert sorted(key for s in ("s1", "s3") for key in sim.nodes[s].data) == []
    assert all(owner(plan[-1][1], key) == s for s in servers for key in sim.nodes[s].data)
