"""Lab 5b: SWIM -- the reference solution passes, and each classic mistake is caught.

The reference solution is that of ``solutions/lab05b-swim.ipynb``, loaded from the notebook
itself (`notebook_code.solution`). Each broken variant subclasses it and changes one thing, a
mistake students make; the check written for it must catch it and say what went wrong.
"""

from __future__ import annotations

import pytest

from distlab.grading import check
from distlab.labs.lab05b_swim import (DEAD, HELP_COST, MAX_PIGGYBACK, PERIOD, PING_TIMEOUT,
                                      PROBE_COST, SUSPECT, K, SwimLab, retransmissions,
                                      spread_bound)
from distlab.membership.swim import SwimMember as LibrarySwimMember
from distlab.sim import ConfigurationError

from notebook_code import solution

SWIM = solution("lab05b-swim")


class NoPingReq(SWIM.SwimMember):
    """Suspects a member as soon as its direct ping goes unanswered: no helpers asked."""

    def on_timer(self, name):
        if name != "ping timeout":
            super().on_timer(name)


class NoRefutation(SWIM.SwimMember):
    """Ignores news of its own suspicion: never raises its incarnation."""

    def learn(self, update):
        if update.member != self.id:
            super().learn(update)


class DeadWithoutSuspicion(SWIM.SwimMember):
    """Declares a member dead at the first failed probe (no suspicion sub-protocol)."""

    def learn(self, update):
        if update.state == SUSPECT and update.member != self.id:
            update = SWIM.Update(update.member, DEAD, update.incarnation)
        super().learn(update)


class UnboundedPiggyback(SWIM.SwimMember):
    """Keeps every piece of news forever and puts all of it on every message."""

    def piggyback(self, to):
        return tuple(item[0] for item in self.buffer.values())


class NoPiggybackLimit(SWIM.SwimMember):
    """Retransmits each update a bounded number of times, but puts every update of its buffer
    on each message, however many there are (MAX_PIGGYBACK ignored)."""

    def piggyback(self, to):
        chosen = list(self.buffer.values())
        for item in chosen:
            item[1] += 1
            if item[1] >= retransmissions(len(self.members) + 1):
                del self.buffer[item[0].member]
        return tuple(item[0] for item in chosen)


class NeverRetransmits(SWIM.SwimMember):
    """Piggybacks each update once, then drops it."""

    def piggyback(self, to):
        updates = tuple(item[0] for item in self.buffer.values())[:MAX_PIGGYBACK]
        for update in updates:
            del self.buffer[update.member]
        return updates


class PingsEveryone(SWIM.SwimMember):
    """Pings every member every period (heartbeats to all, with SWIM's messages)."""

    def on_timer(self, name):
        super().on_timer(name)
        if name == "probe":
            for member in sorted(self.members):
                if member != self.probing and self.members[member] != DEAD:
                    self.send(member, SWIM.Ping(0, ()))


def test_the_swim_solution_passes_every_check():
    # two seeds of each check, here in a plain process; every seed of every check runs in the
    # solution notebook, under strict nbval (tests/labs/test_lab_notebooks.py)
    report = check(SwimLab(SWIM.SwimMember), seeds=2, timing=False)
    assert report.passed, str(report)
    assert [r.check.seeds for r in report.results] == [10] * 6


def test_no_ping_req_suspects_members_behind_a_cut_link():
    report = check(SwimLab(NoPingReq), name="test_cut_links_ping_req_A", timing=False)
    failure = report.failures[0]
    assert failure.summary == "violated: no live member is ever suspected or declared dead"
    assert f"ask {K} helpers (PingReq) before suspecting" in failure.explanation


def test_no_refutation_lets_a_slow_member_be_declared_dead():
    report = check(SwimLab(NoRefutation), name="test_slow_member_refutes_B", timing=False)
    failure = report.failures[0]
    assert failure.summary == "violated: no live member is ever declared dead"
    assert "should refute it with a higher incarnation" in failure.explanation


def test_declaring_dead_without_suspicion_is_caught_under_loss():
    report = check(SwimLab(DeadWithoutSuspicion), name="test_loss_B", timing=False)
    failure = report.failures[0]
    assert failure.summary == "violated: at most 1 live member(s) ever declared dead"
    assert "live members were declared dead" in failure.explanation


def test_an_unbounded_piggyback_buffer_is_caught():
    report = check(SwimLab(UnboundedPiggyback), name="test_crashes_20_members_A", timing=False)
    failure = report.failures[0]
    limit = 2 * retransmissions(20)
    assert failure.summary == (f"violated: at most {MAX_PIGGYBACK} updates per message, each "
                               f"sent at most {limit} times by a member")
    assert "drop an update from the buffer after retransmissions(n) sends" in (
        failure.explanation)


def test_more_than_max_piggyback_updates_on_a_message_is_caught():
    report = check(SwimLab(NoPiggybackLimit), timing=False, seeds=3)
    assert report.failed == ["test_many_crashes_A"], str(report)
    failure = report.failures[0]
    assert failure.summary.startswith(f"violated: at most {MAX_PIGGYBACK} updates per message")
    assert f"put at most {MAX_PIGGYBACK} on a message" in failure.explanation


def test_sending_news_once_spreads_it_too_slowly():
    report = check(SwimLab(NeverRetransmits), name="test_crashes_50_members_A", timing=False)
    failure = report.failures[0]
    assert failure.summary.startswith("violated: every live member declares each crashed "
                                      "member dead")


LOAD_RULE = (f"violated: at most {PROBE_COST} messages per member and period, and {HELP_COST} "
             f"more for each probe not answered within {PING_TIMEOUT:g} ms")


def test_pinging_everyone_breaks_the_constant_load():
    report = check(SwimLab(PingsEveryone), name="test_crashes_20_members_A", timing=False)
    failure = report.failures[0]
    assert failure.summary == LOAD_RULE
    assert "SWIM pings one member per period, not every member" in failure.explanation


class AsksHelpersAtOnce(SWIM.SwimMember):
    """Sends its PingReqs with every ping, without waiting for the ack (PING_TIMEOUT)."""

    def on_timer(self, name):
        super().on_timer(name)
        if name == "probe" and self.probing is not None:
            super().on_timer("ping timeout")


def test_asking_helpers_before_the_ping_times_out_is_caught():
    report = check(SwimLab(AsksHelpersAtOnce), name="test_crashes_20_members_A", timing=False)
    failure = report.failures[0]
    assert failure.summary == LOAD_RULE
    assert f"asks {K} helpers only when the ack is late" in failure.explanation



def test_the_library_swim_is_refused():
    with pytest.raises(ConfigurationError, match="library's own SWIM"):
        SwimLab(LibrarySwimMember)

    class Borrows(SWIM.SwimMember):
        def on_start(self):
            self.helper = LibrarySwimMember.probe   # reaches the library through a global
            super().on_start()

    with pytest.raises(ConfigurationError, match="library's own SWIM"):
        SwimLab(Borrows)


def test_the_bounds_grow_like_log_n():
    assert retransmissions(20) == 14 and retransmissions(50) == 18
    assert spread_bound(16) == 8 * PERIOD


class MembersAsAList(SWIM.SwimMember):
    """Keeps the members the checks read as a list of (id, state) pairs."""

    def on_timer(self, name):
        super().on_timer(name)
        self.members = sorted(dict(self.members).items())


def test_members_that_are_not_a_dict_are_named():
    report = check(SwimLab(MembersAsAList), name="test_crashes_20_members_A", timing=False)
    assert "members is a list; it must be a dict from every other member's id" in (
        report.failures[0].explanation)
