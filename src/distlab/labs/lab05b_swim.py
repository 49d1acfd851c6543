"""Lab 5b: SWIM membership (the notebook ``lab05b-swim.ipynb``).

Das, Gupta and Motivala, "SWIM" {cite:p}`das2002swim`: each protocol period a member pings
one other, asks ``K`` helpers to ping it when the direct ping goes unanswered (`PingReq`),
makes it *suspect* when no ack comes by the end of the period, and declares it *dead* when
the suspicion is not refuted within `SUSPICION_TIMEOUT`; a suspect refutes by raising its
incarnation number; news travels piggybacked on pings and acks.

The student writes the member. This module gives the messages (those of
`distlab.membership.messages`) and holds the checks: crashes detected by every live member
within `DETECT_BOUND`; news of a death spread to all within `spread_bound(n)`; no live member
ever suspected when every member can reach every other through helpers; few live members
declared dead under 10% loss, none when one member is only slow; SWIM's cost, the same at 20
and at 50 members (`MessageLoad`: a ping and its ack per member and period, and `HELP_COST`
more for each probe whose ack is late); and bounded piggybacking (at most `MAX_PIGGYBACK`
updates per message, each sent a bounded number of times by each member).

The checks read one attribute of each member, ``members``: a dict from every *other*
member's id to its state as this member sees it, ``"alive"``, ``"suspect"`` or ``"dead"``.
"""

from __future__ import annotations

import math
from collections import Counter

from distlab.grading.lab import Lab, Scenario, graded, own_code
from distlab.grading.properties import Run, TraceProperty, Violation
from distlab.membership.messages import ALIVE, DEAD, SUSPECT, Ack, Ping, PingReq, Update
from distlab.sim import Network, Node, Simulation, Trace, Uniform, stream
from distlab.sim.helpers import node_ids

__all__ = ["ALIVE", "DEAD", "SUSPECT", "Ack", "Ping", "PingReq", "Update", "SwimLab",
           "PERIOD", "PING_TIMEOUT", "K", "SUSPICION_TIMEOUT", "MAX_PIGGYBACK",
           "PROBE_COST", "HELP_COST", "retransmissions", "spread_bound"]

#: the protocol period, in ms: one probe per member and period
PERIOD = 200.0
#: how long to wait for a direct ack before asking helpers, in ms
PING_TIMEOUT = 40.0
#: how many helpers a member asks to ping an unanswered target
K = 3
#: how long a suspect has to refute before it is declared dead, in ms
SUSPICION_TIMEOUT = 6 * PERIOD
#: at most this many updates on one message
MAX_PIGGYBACK = 6
#: every live member knows a crashed member is dead within this many ms of the crash
DETECT_BOUND = 20 * PERIOD
#: the messages of a probe answered in time: the ping and its ack
PROBE_COST = 2
#: the messages a probe adds when its ack is late: K ping-reqs, K pings, K acks, K acks passed on
HELP_COST = 4 * K
#: live members that may be declared dead in a run with 10% loss (none without loss)
WRONG_DEATHS = 1
#: the library's SWIM, which a student's member may not use
LIBRARY_SWIM = ("distlab.membership.swim",)


def retransmissions(n: int) -> int:
    """How many times a member piggybacks one update: ``ceil(3 * log2(n + 1))`` in a group
    of ``n``, enough for news to reach everyone even with loss (SWIM's lambda log n)."""
    return math.ceil(3 * math.log2(n + 1))


def spread_bound(n: int) -> float:
    """ms from the first member declaring a crashed one dead to the last: ``2 log2 n``
    periods."""
    return 2 * math.log2(n) * PERIOD


def _acted(run: Run) -> set[str]:
    """The members that ran a handler in the events since the last look."""
    return {e.node for e in run.new_events() if e.node is not None}


def _states(run: Run, member: str) -> dict[str, str]:
    """``member``'s view: its ``members`` dict (a `MembersNotADict` if it is not one)."""
    members = run.sim.nodes[member].members
    if not isinstance(members, dict):
        raise MembersNotADict(f"{member}.members is a {type(members).__name__}; it must be a "
                              f"dict from every other member's id to 'alive', 'suspect' or "
                              f"'dead'")
    return members


class MembersNotADict(Exception):
    """A member's ``members`` attribute is not the dict the checks read."""


# -- what must hold ----------------------------------------------------------------------------

class Detected(TraceProperty):
    """Every crashed member is declared dead by every live member within `DETECT_BOUND` ms of
    its crash, and from the first such declaration to the last within `spread_bound`."""

    def __init__(self, crashes: dict[str, float], n: int):
        self.crashes = crashes
        self.spread = spread_bound(n)
        self.description = (f"every live member declares each crashed member dead within "
                            f"{DETECT_BOUND:g} ms of the crash, all within "
                            f"{self.spread:.0f} ms of the first")

    def begin(self, run: Run) -> None:
        run.state.dead_at = {}   # (observer, crashed member) -> when it first said "dead"

    def observe(self, run: Run) -> str | None:
        for observer in sorted(_acted(run)):
            if observer in run.sim.crashed or observer not in run.sim.nodes:
                continue
            try:
                states = _states(run, observer)
            except MembersNotADict as problem:
                return str(problem)
            for member in self.crashes:
                if states.get(member) == DEAD:
                    run.state.dead_at.setdefault((observer, member), run.sim.now)
        return None

    def judge(self, run: Run) -> Violation | None:
        live = [m for m in run.sim.nodes if m not in run.sim.crashed]
        for member, crash in sorted(self.crashes.items(), key=lambda item: item[1]):
            times = {o: run.state.dead_at.get((o, member)) for o in live}
            late = sorted(o for o, t in times.items() if t is None or t > crash + DETECT_BOUND)
            if late:
                return Violation(self.description, (
                    f"{member} crashed at t={crash:.0f} ms, but {len(late)} live members did "
                    f"not declare it dead by t={crash + DETECT_BOUND:.0f} ms: "
                    f"{', '.join(late[:6])}{', ...' if len(late) > 6 else ''}"),
                    crash + DETECT_BOUND)
            first, last = min(times.values()), max(times.values())
            if last - first > self.spread:
                return Violation(self.description, (
                    f"the news that {member} is dead took {last - first:.0f} ms to reach "
                    f"every live member (t={first:.0f} to {last:.0f} ms); at most "
                    f"{self.spread:.0f} ms: keep piggybacking each update "
                    f"retransmissions(n) times"), last)
        return None


class FewWrongDeaths(TraceProperty):
    """At most ``allowed`` live members are ever declared dead (by anyone); with
    ``never_suspected``, no live member is ever even suspected."""

    def __init__(self, allowed: int = 0, never_suspected: bool = False):
        self.allowed = allowed
        self.never_suspected = never_suspected
        bad = "suspected or declared dead" if never_suspected else "declared dead"
        self.description = (f"no live member is ever {bad}" if allowed == 0 else
                            f"at most {allowed} live member(s) ever declared dead")

    def begin(self, run: Run) -> None:
        run.state.wrong = {}   # live member declared dead -> (by whom, when)

    def observe(self, run: Run) -> str | None:
        wrong = (DEAD, SUSPECT) if self.never_suspected else (DEAD,)
        for observer in sorted(_acted(run)):
            if observer in run.sim.crashed or observer not in run.sim.nodes:
                continue
            try:
                states = _states(run, observer)
            except MembersNotADict as problem:
                return str(problem)
            for member, state in states.items():
                if state in wrong and member not in run.sim.crashed:
                    if self.never_suspected:
                        return (f"{observer} marked {member} {state!r} at t={run.sim.now:.0f} "
                                f"ms, though {member} was up and reachable through others: "
                                f"when a direct ping goes unanswered, ask {K} helpers "
                                f"(PingReq) before suspecting")
                    run.state.wrong.setdefault(member, (observer, run.sim.now))
                    if len(run.state.wrong) > self.allowed:
                        shown = ", ".join(f"{m} (by {o} at t={t:.0f} ms)"
                                          for m, (o, t) in sorted(run.state.wrong.items()))
                        return (f"{len(run.state.wrong)} live members were declared dead: "
                                f"{shown}. A failed probe should only make its target "
                                f"suspect, and a suspect that hears it should refute it "
                                f"with a higher incarnation")
        return None


class MessageLoad(TraceProperty):
    """SWIM's cost, counted on the run's own network: at most `PROBE_COST` messages per member
    and period (one probe each, and its ack), plus `HELP_COST` for each probe whose ack did
    not come back within `PING_TIMEOUT` (its helpers' ping-reqs, pings, acks and acks passed
    on).

    What SWIM keeps constant is the *expected* load per member, whatever the size of the group
    (Das, Gupta and Motivala): how many probes need helpers is the network's doing (a slow
    member, a late message, a cut link), so a fixed number of messages per period would
    blame a correct member for a slow network. A run of ``run_for`` ms holds up to
    ``run_for / PERIOD + 1`` probes per member (the first may come at its very start).
    """

    def __init__(self, n: int, run_for: float):
        self.n, self.periods = n, run_for / PERIOD
        self.probes = math.floor(self.periods) + 1   # per member, at most
        self.description = (f"at most {PROBE_COST} messages per member and period, and "
                            f"{HELP_COST} more for each probe not answered within "
                            f"{PING_TIMEOUT:g} ms")

    def judge(self, run: Run) -> str | None:
        trace = run.sim.trace
        sent = trace.counts().get("send", 0)
        late = late_probes(trace)
        allowed = PROBE_COST * self.n * self.probes + HELP_COST * late
        if sent <= allowed:
            return None
        per_member = self.n * self.periods
        return (f"the {self.n} members sent {sent:,} messages in {self.periods:g} periods, "
                f"{sent / per_member:.1f} per member and period, where SWIM's cost on this "
                f"run is at most {allowed:,} ({allowed / per_member:.1f}): a ping and its ack "
                f"per member and period, and {HELP_COST} more for each of the {late} probes "
                f"not answered within {PING_TIMEOUT:g} ms. SWIM pings one member per period, "
                f"not every member, and asks {K} helpers only when the ack is late")


def late_probes(trace: Trace) -> int:
    """The direct pings (`Ping` without a requester) whose `Ack` did not come back from their
    target within `PING_TIMEOUT`: the probes that may ask helpers."""
    sent: list[tuple[float, str, str, object]] = []   # (time, prober, target, seq)
    acked: dict[tuple[str, str, object], list[float]] = {}
    for event in trace:
        match event.kind, event.data:
            case "send", Ping(seq, _, None):
                sent.append((event.time, event.node, event.peer, seq))
            case "deliver", Ack(seq, _, None):
                acked.setdefault((event.node, event.peer, seq), []).append(event.time)
    return sum(1 for time, prober, target, seq in sent
               if not any(time <= t <= time + PING_TIMEOUT
                          for t in acked.get((prober, target, seq), ())))


class BoundedPiggyback(TraceProperty):
    """No message carries more than `MAX_PIGGYBACK` updates, and no member sends one update
    about another member more than twice ``retransmissions(n)`` times (news about the
    sender or the receiver, a refutation or a warning, is not counted)."""

    def __init__(self, n: int):
        self.limit = 2 * retransmissions(n)
        self.description = (f"at most {MAX_PIGGYBACK} updates per message, each sent at most "
                            f"{self.limit} times by a member")

    def judge(self, run: Run) -> Violation | None:
        sent: Counter[tuple[str, Update]] = Counter()
        for event in run.sim.trace.of_kind("send"):
            updates = getattr(event.data, "updates", ())
            if not isinstance(event.data, (Ping, Ack, PingReq)):
                continue
            if len(updates) > MAX_PIGGYBACK:
                return Violation(self.description, (
                    f"{event.node} sent {type(event.data).__name__} with {len(updates)} "
                    f"updates: put at most {MAX_PIGGYBACK} on a message, the least sent "
                    f"first"), event.time)
            for update in updates:
                if isinstance(update, Update) and update.member not in (event.node, event.peer):
                    sent[(event.node, update)] += 1
                    if sent[(event.node, update)] > self.limit:
                        return Violation(self.description, (
                            f"{event.node} sent {update} more than {self.limit} times: drop "
                            f"an update from the buffer after retransmissions(n) sends"),
                            event.time)
        return None


# -- the lab -----------------------------------------------------------------------------------

class SwimLab(Lab):
    """The checks of lab 5b, for the student's SWIM member class."""

    title = "Lab 5b: SWIM"
    node_attributes = ("members",)

    def __init__(self, member: type[Node]):
        self.member = own_code(member, LIBRARY_SWIM, "SWIM")

    def scenario(self, seed: int, n: int, *, crashes: int = 0, loss: float = 0.0,
                 cuts: int = 0, slow: bool = False, run_for: float = 6_000.0) -> Scenario:
        """``n`` members; ``crashes`` of them crash between 500 and 1,500 ms; ``cuts`` pairs
        cannot talk directly; with ``slow``, one member's messages take 60-120 ms from 1 s to
        4 s (its round trips are longer than `PING_TIMEOUT`)."""
        ids = node_ids(n, padded=True)
        rng = stream(seed, "lab5b-scenario")
        chosen = rng.sample(ids, crashes + 2 * cuts + slow)
        crashed = {member: rng.uniform(500, 1_500) for member in chosen[:crashes]}
        pairs = [(chosen[crashes + 2 * i], chosen[crashes + 2 * i + 1]) for i in range(cuts)]
        slowed = chosen[-1] if slow else None

        def slow_links(sim: Simulation, latency: Uniform | None) -> None:
            for other in ids:
                if other != slowed:
                    sim.network.set_link(slowed, other, latency=latency)

        def setup(sim: Simulation) -> None:
            sim.add_nodes(self.member, ids)
            for member, time in crashed.items():
                sim.at(time, sim.crash, member)
            for a, b in pairs:
                sim.cut(a, b)
            if slowed is not None:
                sim.at(1_000, slow_links, sim, Uniform(60, 120))
                sim.at(4_000, slow_links, sim, None)

        properties: list[TraceProperty] = [
            FewWrongDeaths(WRONG_DEATHS if loss else 0, never_suspected=bool(cuts)),
            BoundedPiggyback(n), MessageLoad(n, run_for)]
        if crashed:
            properties.insert(0, Detected(crashed, n))
        network = Network(latency=Uniform(1, 10), loss=loss)
        return Scenario(setup, run_for=run_for, network=network, properties=properties,
                        wall_limit=10.0)

    # -- part A: a reliable network ------------------------------------------------------------
    @graded(part="A", seeds=10, description="20 members, 2 crash: every live member declares "
            "them dead within 4 s, the news spread within 2 log2 n periods; nobody else "
            "declared dead; at most 2 messages per member and period, and 4K more for a "
            "probe whose ack is late")
    def test_crashes_20_members_A(self, seed: int) -> Scenario:
        return self.scenario(seed, 20, crashes=2)

    @graded(part="A", seeds=10, description="50 members, 2 crash: the same bounds (the load "
            "per member must not grow with the group)")
    def test_crashes_50_members_A(self, seed: int) -> Scenario:
        return self.scenario(seed, 50, crashes=2)

    @graded(part="A", seeds=10, description="30 members, 8 crash within a second: all "
            f"detected within 4 s, with at most {MAX_PIGGYBACK} updates on any message however "
            "much news there is")
    def test_many_crashes_A(self, seed: int) -> Scenario:
        return self.scenario(seed, 30, crashes=8)

    @graded(part="A", seeds=10, description="20 members, 2 pairs cannot talk directly: "
            "nobody is ever suspected (helpers probe for them)")
    def test_cut_links_ping_req_A(self, seed: int) -> Scenario:
        return self.scenario(seed, 20, cuts=2)

    # -- part B: loss and slowness -------------------------------------------------------------
    @graded(part="B", seeds=10, description="30 members, 10% of messages lost, 1 crash: "
            "detected within 4 s, at most 1 live member ever declared dead")
    def test_loss_B(self, seed: int) -> Scenario:
        return self.scenario(seed, 30, crashes=1, loss=0.1, run_for=8_000.0)

    @graded(part="B", seeds=10, description="20 members, one slow for 3 s (round trips of "
            "120-240 ms): it may be suspected, but it refutes; nobody is declared dead")
    def test_slow_member_refutes_B(self, seed: int) -> Scenario:
        return self.scenario(seed, 20, slow=True, run_for=8_000.0)

