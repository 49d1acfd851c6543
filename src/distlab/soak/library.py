"""The library's reference implementations, as soak targets: one function per protocol.

Each function returns the `Target` of one protocol: the cluster a page of the book runs,
the invariants its package states (watched after every event), the liveness it promises once
the faults are over (judged at the end), and the faults its guarantees cover. The classes are
arguments, so that a broken variant (`distlab.consensus.paxos.HastyProposer`...) can be
soaked the same way and be caught.

Not soaked: the two generals (`distlab.failures.generals`) and the memory ledger
(`distlab.failures.ledgers.MemoryLedger`), the book's demonstrations of what cannot be
promised; rumour mongering, whose residue is a measurement, not a guarantee; and, for now,
the durable ledger, which has no client recording a history to judge.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from distlab.check.invariants import Invariant
from distlab.clocks.cristian import CristianClient, TimeServer
from distlab.compute.invariants import OutputCommitted
from distlab.compute.jobs import documents, word_count
from distlab.compute.mapreduce import Coordinator as MapReduceCoordinator
from distlab.compute.mapreduce import Worker
from distlab.compute.model import run_sequential
from distlab.compute.runs import add_cluster
from distlab.consensus.cluster import add_kv_cluster
from distlab.consensus.multipaxos.invariants import multipaxos_invariants
from distlab.consensus.multipaxos.nodes import MultiPaxosServer
from distlab.consensus.paxos import Acceptor, Proposer, agreement, validity
from distlab.consensus.paxos.runs import paxos_setup
from distlab.consensus.raft.election import RaftElectionNode
from distlab.consensus.raft.invariants import at_most_one_leader_per_term, figure3
from distlab.consensus.raft.node import RaftNode
from distlab.consensus.raft.runs import add_raft_kv
from distlab.consensus.vr.invariants import vr_invariants
from distlab.consensus.vr.replica import VRReplica
from distlab.consensus.zab.invariants import zab_invariants
from distlab.consensus.zab.server import ZabServer
from distlab.coordination.invariants import exclusive_grants
from distlab.coordination.service import CoordinationNode
from distlab.coordination.toy import OutsideStore
from distlab.coordination.workers import LockWorker
from distlab.election.bully import BullyNode
from distlab.election.rank import rank
from distlab.election.ring import RingNode
from distlab.gossip.epidemic import AntiEntropyNode
from distlab.grading.lab import Scenario
from distlab.grading.properties import AtEnd, Eventually, Linearizable
from distlab.kv.register import LwwReplica, QuorumReplica, RegisterClient
from distlab.kv.runs import REPLICAS, converged
from distlab.membership.heartbeat import HeartbeatSender, TimeoutDetector
from distlab.membership.invariants import (declared_dead_by_all, incarnations_are_not_invented,
                                           no_live_member_dead)
from distlab.membership.phi_accrual import PhiAccrualDetector
from distlab.membership.swim import SwimMember
from distlab.ordering.causal import CausalMember
from distlab.ordering.fifo import FifoMember
from distlab.ordering.invariants import causal_order, fifo_order, total_order
from distlab.ordering.lamport import LamportMember
from distlab.ordering.member import Member
from distlab.ordering.runs import MEMBERS, conversation
from distlab.ordering.sequencer import SequencerMember
from distlab.rpc.counter import CounterClient, CounterServer
from distlab.sim import Network, Node, Simulation, Uniform, stream
from distlab.sim.helpers import node_ids
from distlab.snapshots.chandy_lamport import ChandyLamportBranch
from distlab.snapshots.invariants import money_conserved, recorded_total, snapshot_conserves_money
from distlab.snapshots.runs import BALANCE as BANK_BALANCE
from distlab.snapshots.runs import BRANCHES as BANK_BRANCHES
from distlab.snapshots.runs import bank
from distlab.soak.properties import (AppliedAtMostOnce, CristianWithinBound,
                                     OperationsSucceedAfter, SuspectsTheSilent, follow_one_leader,
                                     gossip_invents_nothing, raft_leader, reads_were_written,
                                     ring_elects_the_largest)
from distlab.soak.target import Faults, Target
from distlab.txn.invariants import commit_invariants
from distlab.txn.runs import PARTICIPANTS as TXN_PARTICIPANTS
from distlab.txn.runs import commit_cluster, everyone_knows
from distlab.txn.two_phase_commit import Coordinator, Participant

#: every fault a nemesis can inject, for protocols whose guarantees hold under all of them
EVERYTHING = dict(crashes=True, partitions=True, loss=0.3, duplicate=0.3, reorder=0.3,
                  skew=100.0, drift=0.01)
#: the network every target runs on, before the nemesis degrades it
NETWORK = Network(latency=Uniform(1, 10))


def paxos(acceptor: type[Acceptor] = Acceptor, proposer: type[Proposer] = Proposer) -> Target:
    """Single-decree Paxos, 3 acceptors and 2 proposers that retry: agreement and validity
    under every fault. Progress is not promised (two proposers can pre-empt each other)."""
    setup = paxos_setup(3, 2, acceptor_class=acceptor, proposer_class=proposer,
                        retry_after=30.0)
    return Target(
        "paxos", "distlab.consensus.paxos", "agreement, validity (every event)",
        Faults(interval=40.0, max_crashed=2, **EVERYTHING),
        lambda seed: Scenario(setup, run_for=600.0, network=NETWORK,
                              properties=[agreement(), validity]))


def raft_election(node: type[RaftElectionNode] = RaftElectionNode) -> Target:
    """Raft's election on 5 nodes: Election Safety under every fault; once they are over,
    one leader that every node follows."""
    ids = node_ids(5, first=1)

    def scenario(seed: int) -> Scenario:
        return Scenario(lambda sim: sim.add_nodes(node, ids), run_for=4_000.0, network=NETWORK,
                        properties=[at_most_one_leader_per_term(), Eventually(
                            "every node follows one leader", follow_one_leader(raft_leader),
                            until_end=True)])

    return Target("raft-election", "distlab.consensus.raft",
                  "one leader per term (every event); one leader followed by all (end)",
                  Faults(interval=250.0, max_crashed=2, **EVERYTHING), scenario,
                  calm_at=0.6)


def _replicated_kv(name: str, module: str, guarantees: str, setup: Callable[[Simulation], None],
                   invariants: Callable[[], list[Invariant]], *, run_for: float,
                   max_crashed: int = 2) -> Target:
    """A key-value store on 5 replicas, 3 clients, under every fault: the protocol's
    ``invariants()`` (described by ``guarantees``; new ones each run) after every event, a
    linearizable history, and, once the faults are over (at 60% of the run), every operation
    started after the repair succeeds."""
    calm_at = 0.6

    def scenario(seed: int) -> Scenario:
        return Scenario(setup, run_for=run_for, network=NETWORK, properties=[
            *invariants(), Linearizable("kv"), OperationsSucceedAfter(calm_at * run_for + 500.0)])

    return Target(name, module,
                  f"{guarantees} (every event); linearizable (end); operations after the "
                  "repair succeed (end)",
                  Faults(interval=250.0, max_crashed=max_crashed, **EVERYTHING), scenario,
                  calm_at=calm_at)


def raft_kv(node: type[RaftNode] = RaftNode) -> Target:
    """A key-value store on 5 Raft servers with snapshots, 3 clients: the five properties of
    the paper's Figure 3 under every fault, a linearizable history; once the faults are over,
    every operation started after the repair succeeds."""

    def setup(sim: Simulation) -> None:
        add_raft_kv(sim, n=5, clients=3, ops=1_000, node_class=node, snapshot_every=20,
                    retry=60.0)

    return _replicated_kv("raft-kv", "distlab.consensus.raft.node",
                          "the five properties of Figure 3", setup, figure3, run_for=4_000.0)


def multipaxos(server: type[MultiPaxosServer] = MultiPaxosServer) -> Target:
    """A key-value store on 5 Multi-Paxos servers, 3 clients: one value chosen per slot and
    replicas that agree under every fault (safety needs no timing, so clock faults too), a
    linearizable history; once the faults are over, every operation started after the
    repair succeeds (a leader is elected and fills the gaps)."""

    def setup(sim: Simulation) -> None:
        add_kv_cluster(sim, server, n=5, clients=3, ops=1_000, retry=60.0,
                       election_timeout=(100.0, 200.0), heartbeat_interval=30.0)

    return _replicated_kv("multipaxos", "distlab.consensus.multipaxos.nodes",
                          "one value per slot, replicas agree", setup, multipaxos_invariants,
                          run_for=3_000.0)


def bully(node: type[BullyNode] = BullyNode) -> Target:
    """The Bully algorithm on 5 nodes. It assumes a synchronous network, so it promises
    nothing while the faults last; once they are over, every node follows the highest."""
    ids = node_ids(5, first=1)
    agreed = follow_one_leader(lambda n: n.leader, leader=max(ids, key=rank))
    return Target(
        "bully", "distlab.election.bully", "all follow the highest node (end)",
        Faults(interval=250.0, max_crashed=2, **EVERYTHING),
        lambda seed: Scenario(lambda sim: sim.add_nodes(node, ids), run_for=4_000.0,
                              network=NETWORK, properties=[Eventually(
                                  "every node follows the highest node", agreed,
                                  until_end=True)]),
        calm_at=0.6)


def ring_election(node: type[RingNode] = RingNode) -> Target:
    """Chang and Roberts' ring election on 6 nodes in a random ring, every node starting.
    It assumes that no message is lost and no node fails: only duplicates, reordering and
    clocks. The largest id is elected, and nobody else."""
    ids = node_ids(6, first=1)
    largest = max(ids, key=rank)

    def scenario(seed: int) -> Scenario:
        ring = ids[:]
        stream(seed, "soak-ring").shuffle(ring)

        def setup(sim: Simulation) -> None:
            sim.add_nodes(node, ids, ring=ring)

        return Scenario(setup, run_for=1_000.0, network=NETWORK, properties=[
            ring_elects_the_largest,
            Eventually("every node knows the largest id as leader",
                       lambda sim: all(n.leader == largest for n in sim.nodes.values()),
                       until_end=True)])

    return Target("ring-election", "distlab.election.ring",
                  "only the largest id is leader (every event); everyone knows it (end)",
                  Faults(interval=50.0, duplicate=0.3, reorder=0.3, skew=100.0, drift=0.01),
                  scenario)


def heartbeat(detector: type[TimeoutDetector] = TimeoutDetector) -> Target:
    """A heartbeat sender and a timeout detector: the detector suspects a silent sender
    (completeness) under every fault, and trusts it again once they are over."""
    return _detector_target("heartbeat", "distlab.membership.heartbeat", detector,
                            timeout=200.0)


def phi_accrual(detector: type[PhiAccrualDetector] = PhiAccrualDetector) -> Target:
    """A heartbeat sender and a phi accrual detector (threshold 8): the detector suspects a
    sender silent for longer than its model allows (completeness) under every fault, and
    trusts it again once they are over."""
    return _detector_target("phi-accrual", "distlab.membership.phi_accrual", detector,
                            threshold=8.0)


def _detector_target(name: str, module: str, detector: type[Node], **options: float
                     ) -> Target:
    """A sender heartbeating every 50 ms and ``detector(**options)`` watching it."""

    def setup(sim: Simulation) -> None:
        sim.add_node(HeartbeatSender, "sender", every=50.0)
        sim.add_node(detector, "detector", **options)

    def scenario(seed: int) -> Scenario:
        return Scenario(setup, run_for=4_000.0, network=NETWORK, properties=[
            SuspectsTheSilent("detector"),
            Eventually("the detector trusts the sender",
                       lambda sim: sim.is_up("detector") and not sim.nodes["detector"].suspected,
                       until_end=True)])

    return Target(name, module, "a silent sender is suspected (every event); trusted again (end)",
                  Faults(interval=250.0, **EVERYTHING), scenario, calm_at=0.75)


def swim(member: type[SwimMember] = SwimMember) -> Target:
    """SWIM on 8 members: no incarnation invented under every fault; once the faults are
    over, no live member believes another dead (the wrongly dead refute), and ``n8``, which
    crashes then, is declared dead by every other (completeness, accuracy after calm). The
    nemesis never crashes ``n8`` (its repair would restart it), but partitions it like any."""
    ids = node_ids(8, first=1)
    run_for, calm_at, victim = 10_000.0, 0.5, "n8"

    def scenario(seed: int) -> Scenario:
        def setup(sim: Simulation) -> None:
            sim.add_nodes(member, ids)
            sim.at(run_for * calm_at + 200.0, sim.crash, victim)

        return Scenario(setup, run_for=run_for, network=NETWORK, properties=[
            incarnations_are_not_invented,
            Eventually(f"every live member declares {victim} dead",
                       declared_dead_by_all(victim), until_end=True),
            Eventually("no live member believes another live member dead",
                       no_live_member_dead, until_end=True)])

    return Target("swim", "distlab.membership.swim",
                  "no incarnation invented (every event); after the faults, no live member "
                  "dead, a crash detected by all (end)",
                  Faults(interval=250.0, max_crashed=2, **EVERYTHING), scenario,
                  calm_at=calm_at, spared=(victim,))


def rpc_counter(server: type[CounterServer] = CounterServer, at_most_once: bool = True
                ) -> Target:
    """An at-most-once counter server and a retrying client: each increment applied at most
    once, every acknowledged one applied, under every fault of the server and the network
    (the client is spared: its history is what is judged)."""

    def setup(sim: Simulation) -> None:
        sim.add_node(server, "server", at_most_once=at_most_once)
        sim.add_node(CounterClient, "client", server="server", increments=20, timeout=30.0,
                     retries=3)

    return Target(
        "rpc-at-most-once", "distlab.rpc.counter", "no increment applied twice, none lost (end)",
        Faults(interval=100.0, **EVERYTHING),
        lambda seed: Scenario(setup, run_for=3_000.0, network=NETWORK,
                              properties=[AppliedAtMostOnce("server")]))


def cristian(client: type[CristianClient] = CristianClient) -> Target:
    """Cristian's algorithm between a client and a server whose clocks are skewed and drift,
    each run differently: every estimate within its bound, under crashes and every network
    fault. The clocks stay as they are during a run: the bound assumes so."""

    def scenario(seed: int) -> Scenario:
        rng = stream(seed, "soak-cristian-clocks")
        clocks = {node: (rng.uniform(-500, 500), rng.uniform(-0.001, 0.001))
                  for node in ("client", "server")}

        def setup(sim: Simulation) -> None:
            sim.add_node(TimeServer, "server")
            sim.add_node(client, "client", server="server", period=100.0, samples=30)
            for node, (skew, drift) in clocks.items():
                sim.set_clock(node, skew=skew, drift=drift)

        return Scenario(setup, run_for=3_500.0, network=NETWORK,
                        properties=[CristianWithinBound("client", "server")])

    # frequent faults: a crash and a restart within one round trip is what tests the
    # client's request numbers (a late reply to its earlier life's request)
    faults = {**EVERYTHING, "skew": 0.0, "drift": 0.0}
    return Target("cristian", "distlab.clocks.cristian",
                  "every estimate within rtt/2 (+ drift) of the true offset (every event)",
                  Faults(interval=20.0, **faults), scenario)


def gossip(node: type[AntiEntropyNode] = AntiEntropyNode) -> Target:
    """Push-pull anti-entropy on 8 nodes, two rumours: nothing invented under every fault;
    once the faults are over, every node knows both."""
    ids = node_ids(8, first=1)
    rumours = ("r1", "r2")

    def scenario(seed: int) -> Scenario:
        origins = stream(seed, "soak-gossip").sample(ids, 2)

        def setup(sim: Simulation) -> None:
            for node_id in ids:
                known = [r for r, origin in zip(rumours, origins) if origin == node_id]
                sim.add_node(node, node_id, mode="push-pull", rumours=known)

        return Scenario(setup, run_for=3_500.0, network=NETWORK, properties=[
            gossip_invents_nothing(rumours),
            Eventually("every node knows every rumour",
                       lambda sim: all(set(rumours) <= n.known for n in sim.nodes.values()),
                       until_end=True)])

    return Target("gossip", "distlab.gossip.epidemic",
                  "nothing invented (every event); everyone knows everything (end)",
                  Faults(interval=200.0, max_crashed=3, **EVERYTHING), scenario,
                  calm_at=0.6)


#: how long a register run lasts, and the share of it with faults
REGISTER_RUN, REGISTER_CALM = 3_000.0, 0.6


def register_setup(replica: type[Node], stop: float = math.inf, **options: float
                   ) -> Callable[[Simulation], None]:
    """A ``setup(sim)``: three replicas of ``replica`` and a client next to each, which
    starts no operation after ``stop`` ms."""

    def setup(sim: Simulation) -> None:
        sim.add_nodes(replica, REPLICAS, **options)
        for i, replica_id in enumerate(REPLICAS, start=1):
            sim.add_node(RegisterClient, f"c{i}", replica=replica_id, timeout=300.0,
                         first_value=100 * i + 1, stop=stop)

    return setup


def quorum_register(replica: type[QuorumReplica] = QuorumReplica) -> Target:
    """The consistent (majority quorum, ABD) register of `distlab.kv.register`: linearizable
    under every fault; once they are over, every operation succeeds."""
    setup = register_setup(replica, quorum_timeout=100.0)
    # a request sent just before the repair may still meet its effects: 100 ms of grace
    after_repair = REGISTER_CALM * REGISTER_RUN + 100.0
    return Target(
        "kv-quorum-register", "distlab.kv.register",
        "linearizable (end); every operation after the repair succeeds (end)",
        Faults(interval=200.0, **EVERYTHING),
        lambda seed: Scenario(setup, run_for=REGISTER_RUN, network=NETWORK, properties=[
            Linearizable("register"), OperationsSucceedAfter(after_repair)]),
        calm_at=REGISTER_CALM)


def lww_register(replica: type[LwwReplica] = LwwReplica) -> Target:
    """The available (last writer wins) register: not linearizable, by design; it reads only
    values that were written, and once the faults are over and the clients stop writing, the
    replicas converge."""
    setup = register_setup(replica, stop=REGISTER_RUN - 500.0, sync_every=100.0)
    return Target(
        "kv-lww-register", "distlab.kv.register",
        "reads return written values (end); replicas converge (end)",
        Faults(interval=200.0, **EVERYTHING),
        lambda seed: Scenario(setup, run_for=REGISTER_RUN, network=NETWORK, properties=[
            AtEnd(reads_were_written), Eventually("the replicas converge", converged,
                                                  until_end=True)]),
        calm_at=REGISTER_CALM)


def _ordered_broadcast(name: str, member: type[Member], orders: tuple[str, ...]) -> Target:
    """A chat of four ``member``s (`distlab.ordering`), every post answered by the next
    member: the ``orders`` the protocol promises, after every event; once the faults are
    over, every member has delivered every post.

    The broadcasts assume reliable channels, and the total-order ones that no member
    crashes: so only duplicates, reordering and clocks (which only move the posts' times).
    """
    invariants = {"FIFO": fifo_order, "causal": causal_order, "total": total_order}

    def scenario(seed: int) -> Scenario:
        script, answers = conversation(seed)
        posts = ({text for texts in script.values() for _, text in texts}
                 | {answer for answered in answers.values() for answer in answered.values()})

        def setup(sim: Simulation) -> None:
            sim.add_nodes(member, MEMBERS, script=script, answers=answers)

        return Scenario(setup, run_for=2_000.0, network=NETWORK, properties=[
            *(invariants[order]() for order in orders),
            Eventually("every member delivers every post",
                       lambda sim: all(posts <= set(sim.nodes[m].delivered) for m in MEMBERS),
                       until_end=True)])

    return Target(name, member.__module__,
                  f"{', '.join(orders)} order (every event); everything delivered (end)",
                  Faults(interval=50.0, duplicate=0.3, reorder=0.3, skew=100.0, drift=0.01),
                  scenario, calm_at=0.6)


def fifo_broadcast(member: type[Member] = FifoMember) -> Target:
    """FIFO broadcast: FIFO order."""
    return _ordered_broadcast("ordering-fifo", member, ("FIFO",))


def causal_broadcast(member: type[Member] = CausalMember) -> Target:
    """Causal broadcast: FIFO and causal order."""
    return _ordered_broadcast("ordering-causal", member, ("FIFO", "causal"))


def sequencer_broadcast(member: type[Member] = SequencerMember) -> Target:
    """Total order by a fixed sequencer: FIFO, causal and total order."""
    return _ordered_broadcast("ordering-sequencer", member, ("FIFO", "causal", "total"))


def lamport_broadcast(member: type[Member] = LamportMember) -> Target:
    """Lamport's totally ordered multicast: FIFO, causal and total order."""
    return _ordered_broadcast("ordering-lamport", member, ("FIFO", "causal", "total"))


def coordination_lock(node: type[CoordinationNode] = CoordinationNode) -> Target:
    """The coordination service of page 04.06 (3 servers) and three `LockWorker`s taking turns
    at its lock and writing to a fenced store: the five properties of Raft's Figure 3 (every
    event); each grant creates the free lock's key for the worker told so (`exclusive_grants`,
    at the end, once the servers have applied every commit); once the faults are over, a
    worker gets the lock again.

    Every fault but the clocks': a lease is timed by the leader's clock and promises its TTL
    only if clocks run at the same rate (etcd and ZooKeeper make the same assumption); the
    lock's safety does not depend on it, its liveness after a change of leader does.
    """
    run_for, calm_at = 3_000.0, 0.6
    servers = node_ids(3, first=1)

    def setup(sim: Simulation) -> None:
        sim.add_nodes(node, servers)
        sim.add_node(OutsideStore, "store")
        sim.add_nodes(LockWorker, ["w1", "w2", "w3"], servers=servers)

    def granted_after_repair(sim: Simulation) -> bool:
        return any((sim.nodes[w].granted_at or 0) > calm_at * run_for + 500
                   for w in ["w1", "w2", "w3"])

    def scenario(seed: int) -> Scenario:
        return Scenario(setup, run_for=run_for, network=NETWORK, properties=[
            *figure3(), AtEnd(exclusive_grants),
            Eventually("a worker gets the lock after the repair", granted_after_repair)])

    faults = {kind: value for kind, value in EVERYTHING.items() if kind not in ("skew", "drift")}
    return Target("coordination-lock", "distlab.coordination.service",
                  "the five properties of Figure 3 (every event); each lock grant creates the "
                  "free lock's key (end); a worker gets the lock after the repair (end)",
                  Faults(interval=250.0, max_crashed=1, **faults), scenario, calm_at=calm_at)


def mapreduce(coordinator: type[MapReduceCoordinator] = MapReduceCoordinator,
              worker: type[Worker] = Worker
              ) -> Target:
    """Word count on a coordinator and four workers, map outputs on their writers' disks:
    output files appear whole, never change, and are right when the coordinator is done
    (every event); once the faults are over, the job is done. Every fault but crashes of the
    coordinator (its state is in memory: the paper's master failing aborts the job) and
    clock faults (the timeouts only need a working clock)."""
    inputs = documents(12, 300, seed=0)
    expected = run_sequential(word_count, inputs, 3)

    def scenario(seed: int) -> Scenario:
        def setup(sim: Simulation) -> None:
            add_cluster(sim, word_count, inputs, local_outputs=True, coordinator=coordinator,
                        worker=worker)

        return Scenario(setup, run_for=12_000.0, network=NETWORK, properties=[
            OutputCommitted(expected),
            Eventually("the job is done", lambda sim: sim.nodes["coordinator"].done)])

    faults = {**EVERYTHING, "skew": 0.0, "drift": 0.0}
    return Target("mapreduce", "distlab.compute.mapreduce",
                  "outputs whole, unchanged, right when done (every event); done (end)",
                  Faults(interval=50.0, max_crashed=3, **faults), scenario, calm_at=0.5,
                  spared=("coordinator",))

def vr_kv(replica: type[VRReplica] = VRReplica) -> Target:
    """A key-value store on 5 Viewstamped Replication replicas, 3 clients: VR's four
    invariants under every fault, a linearizable history; once the faults are over, every
    operation started after the repair succeeds.

    A crash loses the replica's memory (VR keeps nothing on disk) and a restart runs the
    recovery protocol. VR survives ``f`` = 2 failed replicas of 5, counting a recovering
    one as failed: the nemesis crashes at most one at a time, so that a replica still
    recovering and one crashed stay within ``f``. More amnesia at once is outside VR's
    model (the committed state may then be on no replica at all). A run lasts 2.5 s: the
    log has no snapshots, so the invariants' cost grows with it."""

    def setup(sim: Simulation) -> None:
        add_kv_cluster(sim, replica, n=5, clients=3, ops=1_000, retry=60.0)

    return _replicated_kv("vr", "distlab.consensus.vr.replica",
                          "one primary per view, committed ops agree, later primaries have "
                          "them, a primary only appends", setup, vr_invariants,
                          run_for=2_500.0, max_crashed=1)


def zab_kv(server: type[ZabServer] = ZabServer) -> Target:
    """A key-value store on 5 Zab servers, 3 clients: Zab's four invariants under every
    fault (a crash keeps the durable epochs and history), a linearizable history; once the
    faults are over, every operation started after the repair succeeds. A run lasts 2.5 s:
    the history has no snapshots, so the invariants' cost grows with it."""

    def setup(sim: Simulation) -> None:
        add_kv_cluster(sim, server, n=5, clients=3, ops=1_000, retry=60.0)

    return _replicated_kv("zab", "distlab.consensus.zab.server",
                          "one leader per epoch, zxid order, leaders have every committed "
                          "transaction, one delivery order", setup, zab_invariants,
                          run_for=2_500.0)


def two_phase_commit(coordinator: type[Node] = Coordinator,
                     participant: type[Node] = Participant) -> Target:
    """Two-phase commit (`distlab.txn.two_phase_commit`): a coordinator and three participants
    run three transactions, one participant refusing one of them. Atomicity, validity and
    nothing forgotten after every event; once the faults are over, every node knows every
    outcome.

    2PC promises safety under every fault (crashes with restarts from the log, partitions,
    loss, duplicates, reordering, clocks); its liveness needs the coordinator back, which the
    repair at ``calm_at`` brings. The nemesis acts every 15 ms on average, so its first
    faults fall while the transactions are under way.
    """
    transactions = ("t1", "t2", "t3")

    def scenario(seed: int) -> Scenario:
        refuser = stream(seed, "soak-2pc").choice(TXN_PARTICIPANTS)

        def setup(sim: Simulation) -> None:
            commit_cluster(sim, TXN_PARTICIPANTS, transactions=transactions,
                           refuse={refuser: {"t2"}}, coordinator=coordinator,
                           participant=participant)

        return Scenario(setup, run_for=3_000.0, network=NETWORK, properties=[
            *commit_invariants(TXN_PARTICIPANTS),
            Eventually("every node that is up knows every outcome",
                       lambda sim: everyone_knows(sim, TXN_PARTICIPANTS, transactions),
                       until_end=True)])

    return Target("two-phase-commit", coordinator.__module__,
                  "atomicity, validity, nothing forgotten (every event); every node decides "
                  "(end)", Faults(interval=15.0, max_crashed=2, **EVERYTHING), scenario,
                  calm_at=0.3)


def chandy_lamport(branch: type[ChandyLamportBranch] = ChandyLamportBranch) -> Target:
    """A Chandy-Lamport snapshot of four bank branches sending each other money
    (`distlab.snapshots`): the recorded global state conserves money (every event); the
    snapshot finishes, and the balances add up once the transfers stop (end).

    The algorithm assumes reliable channels and no crashes; its FIFO layer makes duplicated
    and reordered messages harmless, and clocks do not matter to it: so only duplicates,
    reordering and clocks.
    """
    total = BANK_BALANCE * len(BANK_BRANCHES)

    def scenario(seed: int) -> Scenario:
        def setup(sim: Simulation) -> None:
            bank(sim, branch, snapshot_at=100.0)

        return Scenario(setup, run_for=1_500.0, network=NETWORK, properties=[
            snapshot_conserves_money(total), money_conserved(total),
            Eventually("the snapshot finishes", lambda sim: recorded_total(sim) is not None)])

    return Target("chandy-lamport", branch.__module__,
                  "the recorded state conserves money (every event); it finishes (end)",
                  Faults(interval=50.0, duplicate=0.3, reorder=0.3, skew=100.0, drift=0.01),
                  scenario, calm_at=0.6)
