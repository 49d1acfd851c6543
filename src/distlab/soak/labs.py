"""The labs' reference solutions, as soak targets: a lab's own checks, many seeds, a nemesis.

Each target runs the simulated checks of one lab (`distlab.labs`), with the classes of its
reference solution (`distlab.soak.solutions`), seed after seed -- seed ``s`` runs the check
``s mod n`` of its ``n`` checks -- and adds a nemesis of the faults the lab's model allows:

* lab 0 (primary-backup): crashes of the primary (the backup, as in the lab, stays up),
  partitions, loss, duplicates, reordering, clocks; the lab's crash check (part C) is left
  out, since it schedules crashes of its own;
* lab 1 (client-server, part D): partitions, loss, duplicates, reordering, clocks, but no
  crash (its server keeps its data in memory); its real-socket checks are not simulations;
* lab 2a (ordered chat): duplicates, reordering, clocks (a post is sent once: the lab
  promises delivery over a network that loses nothing);
* lab 2b (vector clocks): partitions, loss, duplicates, reordering, clocks, no crash (the
  stamps of a node are its memory);
* lab 2c (gossip): duplicates and reordering, on top of the lab's own loss and crashes (its
  bound in rounds is promised for those, not for partitions or drifting rounds);
* lab 3a (hash-partitioned store, part B): partitions, loss and clocks, but no crash (a
  server keeps its keys in memory) and no duplicate or late message (the lab promises
  linearizability over a network that only loses messages);
* lab 3b (dynamic membership, part B): every fault, the administrator spared (it is the
  lab's, and keeps its plan in memory); its changes are judged by the end of the run;
* lab 3c (quorum replication, part B): duplicates and reordering, on top of the lab's own
  partitions; no loss (a put resent after a lost answer is coordinated again, with a later
  stamp), no crash (replicas keep their data in memory), no clock fault (stamps are clocks).
* lab 4 (Raft, the churns of part C): loss, duplicates and reordering, crashes and
  partitions, on top of the checks' own; no clock fault (the lab's rule on election timers
  measures a full timeout in true time, and a fast clock rightly breaks it);
* lab 5a (a key-value service on Raft): crashes, partitions, loss, duplicates, reordering,
  clocks, on top of the checks' own faults; not the checks of speed, of a majority's progress
  during a partition and of the log's bound (promised without other faults);
* lab 5b (SWIM): reordering, on top of the lab's own crashes, cut links, loss and slowness
  (its bounds are promised for those: more loss or a partition would make any detector
  declare live members dead, and duplicates make members answer twice, which its bound on
  messages per member does not allow for).

The checks' own properties judge every run: their liveness (every operation completes, every
message delivered) after the nemesis has repaired everything, when the lab promises it only
then.
"""

from __future__ import annotations

from collections.abc import Sequence

from distlab.grading.lab import Check, Lab, Scenario
from distlab.labs.lab00_example import PrimaryBackupLab
from distlab.labs.lab01_client_server import ClientServerLab
from distlab.labs.lab02a_ordered_chat import OrderedChatLab
from distlab.labs.lab02b_vector_clocks import VectorClockLab
from distlab.labs.lab02c_gossip import GossipLab
from distlab.labs.lab03a_hash_ring import HashRingLab
from distlab.labs.lab03b_membership import CHURN, SERVERS, MembershipLab
from distlab.labs.lab03c_quorum import QuorumLab
from distlab.labs.lab04_raft import RaftLab
from distlab.labs.lab05a_kv_raft import KVRaftLab
from distlab.labs.lab05b_swim import SwimLab
from distlab.labs.lab05c_two_phase_commit import TwoPhaseCommitLab
from distlab.labs.lab06_mapreduce import MapReduceLab
from distlab.sim import Network, Uniform
from distlab.soak.solutions import solution
from distlab.soak.target import Faults, Target

#: the network's faults and clocks, at the strength the library's targets meet them
NETWORK_FAULTS = dict(loss=0.3, duplicate=0.3, reorder=0.3, skew=100.0, drift=0.01)
#: lab 4's checks that the soak runs: the churns of part C, whose liveness is judged after the
#: repair at 2 s of their 3.7 s
LAB04_CHECKS = ("test_crashes_at_any_point_C", "test_figure8_unreliable_C", "test_churn_C",
                "test_churn_unreliable_C")
LAB04_CALM = 2_000 / 3_700


def lab_target(name: str, lab: Lab, parts: Sequence[str], faults: Faults, *,
               calm_at: float | None = None, spared: Sequence[str] = (),
               only: Sequence[str] | None = None,
               leave_out: Sequence[str] = ()) -> Target:
    """The target that runs ``lab``'s checks of ``parts`` (those named ``only``, if given;
    never those named in ``leave_out``) in turn, one per seed."""
    chosen = [check for check in lab.checks() if check.part in parts
              and (only is None or check.name in only) and check.name not in leave_out]

    def check_of(seed: int) -> Check:
        return chosen[seed % len(chosen)]

    return Target(name, f"solutions/{name}.ipynb",
                  f"{len(chosen)} checks of part{'s' * (len(parts) > 1)} {', '.join(parts)}",
                  faults, lambda seed: check_of(seed).scenario(seed), calm_at=calm_at,
                  spared=spared, which=lambda seed: check_of(seed).name)


def lab00() -> Target:
    """Lab 0's reference Primary and Backup."""
    code = solution("lab00-example")
    lab = PrimaryBackupLab(code.Primary, code.Backup)
    return lab_target("lab00-example", lab, "AB",
                      Faults(interval=300.0, crashes=True, partitions=True, **NETWORK_FAULTS),
                      calm_at=0.5, spared=("backup",))


def lab01() -> Target:
    """Lab 1's reference key-value state and simulated client (part D)."""
    code = solution("lab01-client-server")
    lab = ClientServerLab(code.KVState, code.KVHandler, code.KVClient, code.SimKVClient)
    return lab_target("lab01-client-server", lab, "D",
                      Faults(interval=300.0, partitions=True, **NETWORK_FAULTS), calm_at=0.5)


def lab02a() -> Target:
    """Lab 2a's reference chat members, both parts."""
    code = solution("lab02a-ordered-chat")
    lab = OrderedChatLab(code.ChatMember, code.OrderedChatMember)
    return lab_target("lab02a-ordered-chat", lab, "AB",
                      Faults(interval=100.0, duplicate=0.3, reorder=0.3, skew=100.0,
                             drift=0.01))


def lab02b(clock: type | None = None) -> Target:
    """Lab 2b's reference vector clock (or the ``clock`` class given) and stamping node."""
    code = solution("lab02b-vector-clocks")
    lab = VectorClockLab(clock or code.VectorClock, code.VectorNode)
    return lab_target("lab02b-vector-clocks", lab, "AB",
                      Faults(interval=100.0, partitions=True, **NETWORK_FAULTS))


def lab02c() -> Target:
    """Lab 2c's reference push-pull node, both parts."""
    code = solution("lab02c-gossip")
    return lab_target("lab02c-gossip", GossipLab(code.PushPullNode), "AB",
                      Faults(interval=100.0, duplicate=0.3, reorder=0.3))


def lab06() -> Target:
    """Lab 6's reference coordinator and worker, both parts, with messages reordered. Not
    lost or duplicated: the lab's own unreliable check does that, and its task-count check
    demands exactly M + R hand-outs on a healthy network; not crashes: the checks crash
    workers themselves, within their time bounds; not clock faults: a worker whose clock runs
    fast finishes its tasks too early in true time, which the checks rightly refuse."""
    code = solution("lab06-mapreduce")
    return lab_target("lab06-mapreduce", MapReduceLab(code.Coordinator, code.Worker), "AB",
                      Faults(interval=100.0, reorder=0.3))


def lab03a(store: type | None = None, only: Sequence[str] | None = None) -> Target:
    """Lab 3a's reference ring and store (or the ``store`` class given), the simulated checks
    (part B; those named ``only``, if given)."""
    code = solution("lab03a-hash-ring")
    return lab_target("lab03a-hash-ring", HashRingLab(code.Ring, store or code.StoreNode), "B",
                      Faults(interval=200.0, partitions=True, loss=0.3, skew=100.0,
                             drift=0.01), calm_at=0.5, only=only)


def lab03b() -> Target:
    """Lab 3b's reference member node: the four changes of its longer checks, which must be
    complete by the end of the run (not within the checks' own bound: the nemesis slows
    them down)."""
    code = solution("lab03b-membership")
    lab = MembershipLab(code.MemberNode)

    def scenario(seed: int) -> Scenario:
        return lab.scenario(seed, SERVERS[:3], CHURN, network=Network(latency=Uniform(1, 10)),
                            run_for=8_000, changes_within=8_000)

    return Target("lab03b-membership", "solutions/lab03b-membership.ipynb",
                  "the four changes of membership, every property of the lab's checks",
                  Faults(interval=200.0, crashes=True, partitions=True, **NETWORK_FAULTS),
                  scenario, calm_at=0.5, spared=("admin",))


def lab03c(node: type | None = None, only: Sequence[str] | None = None) -> Target:
    """Lab 3c's reference quorum node (or the ``node`` class given), the sloppy checks (part
    B; those named ``only``, if given)."""
    code = solution("lab03c-quorum")
    return lab_target("lab03c-quorum", QuorumLab(node or code.QuorumNode), "B",
                      Faults(interval=100.0, duplicate=0.3, reorder=0.3), only=only)


def lab04(node: type | None = None) -> Target:
    """Lab 4's reference Raft server (or the ``node`` class given), in the churns of part C
    (`RaftLab.churning`): crashes at any point, partitions, unreliable networks, with a command
    every 100 ms. Safety -- part A's rules and the log's, after every event -- must hold under
    every fault: the servers keep term, vote and log in storage. Liveness -- the last command
    applied by every server -- is judged after the repair, when the checks themselves demand
    it (their ``calm_at``, a share ``LAB04_CALM`` of the run). No clock fault: the lab's rule
    on election timers measures a full timeout in true time."""
    lab = RaftLab(node or solution("lab04-raft").RaftNode)
    return lab_target("lab04-raft", lab, "C",
                      Faults(interval=200.0, crashes=True, partitions=True, max_crashed=2,
                             loss=0.3, duplicate=0.3, reorder=0.3),
                      calm_at=LAB04_CALM, only=LAB04_CHECKS)


def lab05b() -> Target:
    """Lab 5b's reference SWIM member, both parts."""
    code = solution("lab05b-swim")
    return lab_target("lab05b-swim", SwimLab(code.SwimMember), "AB",
                      Faults(interval=100.0, reorder=0.3))


def lab05a() -> Target:
    """Lab 5a's reference key-value service and clerk on the library's Raft, parts A and B
    (part C runs real processes), under every fault: a service on Raft is linearizable
    whatever the network and the crashes do, and completes every operation once they are
    over. Left out: the two speed checks, the progress of a majority during a partition, and
    the checks of the log's bound, which the lab promises on a network without other faults
    (a leader cut off with its clients takes their retries into its log until it learns that
    it was replaced)."""
    code = solution("lab05a-kv-raft")
    lab = KVRaftLab(code.KVServer, code.Clerk)
    return lab_target("lab05a-kv-raft", lab, "AB",
                      Faults(interval=200.0, crashes=True, partitions=True, **NETWORK_FAULTS),
                      calm_at=0.4,
                      leave_out=("test_speed_A", "test_speed_snapshots_B",
                                 "test_majority_goes_on_A",
                                 "test_snapshot_size_B", "test_restart_from_snapshot_B",
                                 "test_install_snapshot_B"))


def lab05c() -> Target:
    """Lab 5c's reference coordinator and participant, parts A and B (part C is an
    exploration, not a run). Two-phase commit is safe under every fault, and live once the
    coordinator is back: the repair at ``calm_at`` brings it."""
    code = solution("lab05c-two-phase-commit")
    lab = TwoPhaseCommitLab(code.Coordinator, code.Participant)
    return lab_target("lab05c-two-phase-commit", lab, "AB",
                      Faults(interval=50.0, crashes=True, partitions=True, max_crashed=2,
                             **NETWORK_FAULTS), calm_at=0.3)
