"""Lab 2c: push-pull gossip -- the reference solution passes, and each classic bug is caught.

The reference solution is that of ``solutions/lab02c-gossip.ipynb``, loaded from the notebook
itself (`notebook_code.solution`). Each broken variant subclasses a reference class and changes
one thing, a mistake students make; the check written for it must catch it and say what went
wrong in words a student can act on.
"""

from __future__ import annotations

import math

from distlab.grading import check
from distlab.labs.lab02c_gossip import ROUND, GossipLab, round_bound

from notebook_code import solution

GOSSIP = solution("lab02c-gossip")


class PushOnly(GOSSIP.PushPullNode):
    """Pushes what it knows to one random peer each round; never pulls."""

    def on_timer(self, name):
        if self.rumours:
            self.send(self.rng.choice(self.peers), GOSSIP.Reply(frozenset(self.rumours)))
        self.set_timer(ROUND, "round")


class Floods(GOSSIP.PushPullNode):
    """Calls every peer every round."""

    def on_timer(self, name):
        for peer in self.peers:
            self.send(peer, GOSSIP.Gossip(frozenset(self.rumours)))
        self.set_timer(ROUND, "round")


class StopsAfterReliableRounds(GOSSIP.PushPullNode):
    """Gossips for log2 N + 2 rounds, enough on a reliable network, then stops."""

    def on_start(self):
        self.rounds_left = math.ceil(math.log2(len(self.peers) + 1)) + 2
        super().on_start()

    def on_timer(self, name):
        if self.rounds_left > 0:
            self.rounds_left -= 1
            super().on_timer(name)


class WaitsForReplies(GOSSIP.PushPullNode):
    """Calls its next partner only once the last one answered (and answers every call)."""

    def on_start(self):
        self.waiting = False
        super().on_start()

    def on_timer(self, name):
        if not self.waiting:
            self.waiting = True
            super().on_timer(name)
        else:
            self.set_timer(ROUND, "round")

    def on_message(self, src, msg):
        match msg:
            case GOSSIP.Gossip(rumours):
                self.send(src, GOSSIP.Reply(frozenset(self.rumours - rumours)))
                self.rumours |= rumours
            case GOSSIP.Reply(rumours):
                self.rumours |= rumours
                self.waiting = False


class CallsTwoPeers(GOSSIP.PushPullNode):
    """Calls two random peers each round: faster, and within the budget of messages."""

    def on_timer(self, name):
        for partner in self.rng.sample(self.peers, 2):
            self.send(partner, GOSSIP.Gossip(frozenset(self.rumours)))
        self.set_timer(ROUND, "round")


def test_the_gossip_solution_passes_every_check():
    # two seeds of each check, here in a plain process; every seed of every check runs in the
    # solution notebook, under strict nbval (tests/labs/test_lab_notebooks.py)
    report = check(GossipLab(GOSSIP.PushPullNode), seeds=2, timing=False)
    assert report.passed, str(report)
    assert [r.check.seeds for r in report.results] == [20] * 7


def test_push_only_gossip_is_too_slow():
    report = check(GossipLab(PushOnly), name="test_16_nodes_A", timing=False)
    assert report.failures[0].summary == ("violated: every live node knows every rumour "
                                          "within 8 rounds")
    assert "did not know every rumour yet" in report.failures[0].explanation


def test_calling_every_peer_breaks_the_budget():
    # a flood of 64 nodes is slow: a generous wall limit, so that a busy machine does not
    # stop the run on time before the budget is judged
    report = check(GossipLab(Floods), name="test_64_nodes_A", timing=False, wall_limit=60)
    assert report.failures[0].summary == ("violated: at most 3 messages per node and round "
                                          "(2,304 in all)")
    assert "66.9 per node and round: do not contact every peer" in report.failures[0].explanation


def test_stopping_early_passes_a_reliable_network_but_not_loss():
    assert check(GossipLab(StopsAfterReliableRounds), part="A", timing=False).passed
    lossy = check(GossipLab(StopsAfterReliableRounds), name="test_16_nodes_with_loss_B",
                  timing=False)
    assert lossy.failed == ["test_16_nodes_with_loss_B"]
    assert lossy.failures[0].summary.startswith("violated: every live node knows")


def test_waiting_for_a_reply_is_caught_by_crashed_nodes():
    report = check(GossipLab(WaitsForReplies), name="test_crashed_nodes_B", timing=False)
    assert report.failed == ["test_crashed_nodes_B"]
    assert report.failures[0].summary == ("violated: every live node knows every rumour "
                                          "within 15 rounds")


def test_round_bounds_grow_like_log_n():
    assert [round_bound(n, 2) for n in (16, 32, 64)] == [8, 10, 12]
    assert [round_bound(n, 3) for n in (16, 32, 64)] == [12, 15, 18]


def test_calling_two_peers_a_round_is_caught_though_within_the_budget():
    report = check(GossipLab(CallsTwoPeers), name="test_16_nodes_A", timing=False)
    failure = report.failures[0]
    assert failure.summary == "violated: each node calls at most one peer per round"
    assert "called 2 peers (" in failure.explanation
    assert "in the round from t=100 to 200 ms" in failure.explanation
