"""What the library's protocols promise, for the ones whose packages do not state it yet.

Raft and Paxos state their safety in their own ``invariants`` modules; the other protocols of
the book promise something too, and the soak holds them to it:

* Chang and Roberts' ring election elects the largest id, once (`ring_elects_the_largest`);
* a heartbeat detector (a timeout, or phi accrual) suspects a sender it has not heard from
  for longer than its timeout (`SuspectsTheSilent`: strong completeness, Chandra and Toueg
  1996);
* an at-most-once RPC server applies each call at most once, and every acknowledged one
  (`AppliedAtMostOnce`);
* Cristian's estimate of the offset is wrong by at most half the round trip, plus what the
  clocks' drift adds meanwhile (`CristianWithinBound`);
* gossip spreads only what was written (`gossip_invents_nothing`);
* a last-writer-wins register returns only values that were written (`reads_were_written`);
* liveness after the faults: `OperationsSucceedAfter` (every operation started after the
  repair succeeds) and `follow_one_leader` (every node follows the same leader).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from distlab.check.invariants import Invariant, durable_storage, invariant, live_nodes
from distlab.clocks.cristian import CristianClient
from distlab.election.rank import rank
from distlab.grading.properties import Run, TraceProperty
from distlab.membership.heartbeat import Heartbeat, TimeoutDetector
from distlab.membership.phi_accrual import PhiAccrualDetector
from distlab.sim import Simulation

# -- elections ----------------------------------------------------------------------------------

@invariant("a ring election elects the largest id, and nobody else")
def ring_elects_the_largest(sim: Simulation) -> str | None:
    largest = max(sim.nodes, key=rank)
    for node_id, node in live_nodes(sim).items():
        if node.leader is not None and node.leader != largest:
            return f"{node_id!r} has {node.leader!r} as leader, but the largest id is {largest!r}"
    return None


def follow_one_leader(leader_of: Callable[[Any], str | None], *, leader: str | None = None
                      ) -> Callable[[Simulation], bool]:
    """``happened(sim)`` for `Eventually`: every live node follows the same leader, which is
    up (and is ``leader``, if given). ``leader_of(node)`` reads whom a node follows (None:
    nobody)."""

    def agreed(sim: Simulation) -> bool:
        followed = {leader_of(node) for node in live_nodes(sim).values()}
        if len(followed) != 1:
            return False
        (chosen,) = followed
        if chosen is None or not sim.is_up(chosen):
            return False
        return leader is None or chosen == leader

    return agreed


def raft_leader(node: Any) -> str | None:
    """Whom a Raft node follows: itself as leader, else the leader it heard in its term."""
    return node.id if node.role == "leader" else node.leader_id


# -- failure detection --------------------------------------------------------------------------

class SuspectsTheSilent(TraceProperty):
    """A `TimeoutDetector` that has heard no heartbeat for ``slack`` times its timeout (since
    it last started) suspects the sender. The slack covers a drifting clock: its timers run
    up to ``slack`` times slower. A detector whose ``timeout`` is a method (the phi accrual
    detector's: the silence its model of the gaps allows now) is held to what it returns."""

    def __init__(self, detector: str, slack: float = 1.5):
        self.detector = detector
        self.slack = slack
        self.description = (f"{detector!r} suspects a sender silent for {slack:g} timeouts "
                            f"(completeness)")

    def begin(self, run: Run) -> None:
        run.state.heard = 0.0  # when the detector last heard a heartbeat, or started

    def observe(self, run: Run) -> str | None:
        sim = run.sim
        for e in run.new_events():
            if e.node == self.detector and (e.kind == "restart" or (
                    e.kind == "deliver" and isinstance(e.data, Heartbeat))):
                run.state.heard = e.time
        if not sim.is_up(self.detector):
            return None
        node: TimeoutDetector | PhiAccrualDetector = sim.nodes[self.detector]
        timeout = node.timeout() if callable(node.timeout) else node.timeout
        silence = sim.now - run.state.heard
        if silence > self.slack * timeout and not node.suspected:
            return (f"no heartbeat for {silence:.3f} ms (timeout {timeout:g} ms), yet it "
                    f"does not suspect the sender")
        return None


# -- remote procedure calls ---------------------------------------------------------------------

class AppliedAtMostOnce(TraceProperty):
    """The counter ``server`` holds exactly the increments it applied: at least every
    acknowledged one, and at most one per call (acknowledged, unknown or still pending); and
    no two acknowledged increments returned the same new value. An increment applied twice
    -- a retry or a duplicate executed again -- breaks the first; a reply sent for the wrong
    call, the second."""

    def __init__(self, server: str):
        self.server = server
        self.description = "each increment is applied at most once, and every acknowledged one"

    def judge(self, run: Run) -> str | None:
        sim = run.sim
        value = durable_storage(sim, self.server).get("value", 0)
        ops = [op for op in sim.history.operations if op.f == "increment"]
        acknowledged = sum(op.value for op in ops if op.status == "ok")
        at_most = sum(op.value for op in ops)
        if not acknowledged <= value <= at_most:
            return (f"the counter holds {value}, but the clients called {at_most} increments "
                    f"and {acknowledged} were acknowledged")
        returned = [op.output for op in ops if op.status == "ok"]
        if len(set(returned)) != len(returned):
            twice = sorted({v for v in returned if returned.count(v) > 1})
            return f"two acknowledged increments both returned the new value {twice[0]}"
        return None


# -- clocks ---------------------------------------------------------------------------------------

class CristianWithinBound(TraceProperty):
    """Every offset the ``client`` estimates is within its bound of the true offset.

    The true offset is the server's clock minus the client's when the reply arrives. With
    clock rates ``1 + d_server`` and ``1 + d_client`` (constant during the exchange), the
    error of an exchange of round trip ``rtt`` (on the client's clock) is at most
    ``rtt / 2 + |d_server - d_client| / (1 + d_client) * rtt`` (Cristian 1989).
    """

    description = "each Cristian estimate is within half its round trip (plus drift)"

    def __init__(self, client: str, server: str):
        self.client = client
        self.server = server

    def begin(self, run: Run) -> None:
        run.state.seen = (None, 0)  # (the client instance, how many of its samples are judged)

    def observe(self, run: Run) -> str | None:
        sim = run.sim
        if not sim.is_up(self.client):
            return None
        node: CristianClient = sim.nodes[self.client]
        instance, judged = run.state.seen
        if instance is not node:
            judged = 0  # a restarted client starts a new list
        run.state.seen = (node, len(node.samples))
        c_skew, c_drift = sim.clock_of(self.client)
        s_skew, s_drift = sim.clock_of(self.server)
        for sample in node.samples[judged:]:
            true_offset = (s_skew + (1 + s_drift) * sim.now) - sample.received_at
            error = sample.offset - true_offset
            bound = sample.rtt / 2 + abs(s_drift - c_drift) / (1 + c_drift) * sample.rtt
            if abs(error) > bound + 1e-6:
                return (f"an exchange of round trip {sample.rtt:.3f} ms estimated the offset "
                        f"as {sample.offset:.3f} ms, but it is {true_offset:.3f} ms: off by "
                        f"{abs(error):.3f} ms, more than its bound {bound:.3f} ms")
        return None


# -- gossip and replicated registers --------------------------------------------------------------

def gossip_invents_nothing(rumours: Iterable[str]) -> Invariant:
    """Every rumour a node knows is one of ``rumours`` (the ones written at the start)."""
    written = frozenset(rumours)

    def check(sim: Simulation) -> str | None:
        for node_id, node in live_nodes(sim).items():
            invented = node.known - written
            if invented:
                return f"{node_id!r} knows {sorted(invented)}, which nobody wrote"
        return None

    return Invariant("gossip spreads only the rumours that were written", check)


@invariant("every value read was written by some client")
def reads_were_written(sim: Simulation) -> str | None:
    written = {op.value for op in sim.history.operations if op.f == "write"}
    for op in sim.history.operations:
        if op.f == "read" and op.status == "ok" and op.output is not None and \
                op.output not in written:
            return f"{op} returned {op.output!r}, which no client wrote"
    return None


class OperationsSucceedAfter(TraceProperty):
    """Every client operation started ``after`` ms or later, and completed, succeeded."""

    def __init__(self, after: float):
        self.after = after
        self.description = f"every operation started after t={after:g} ms succeeds"

    def judge(self, run: Run) -> str | None:
        late = [op for op in run.sim.history.operations
                if op.invoke_time >= self.after and op.status in ("fail", "info")]
        if late:
            return f"{len(late)} did not, the first: {late[0]}"
        return None
