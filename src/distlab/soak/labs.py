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
  bound in rounds is promised for those, not for partitions or drifting rounds).

The checks' own properties judge every run: their liveness (every operation completes, every
message delivered) after the nemesis has repaired everything, when the lab promises it only
then.
"""

from __future__ import annotations

from collections.abc import Sequence

from distlab.grading.lab import Check, Lab
from distlab.labs.lab00_example import PrimaryBackupLab
from distlab.labs.lab01_client_server import ClientServerLab
from distlab.labs.lab02a_ordered_chat import OrderedChatLab
from distlab.labs.lab02b_vector_clocks import VectorClockLab
from distlab.labs.lab02c_gossip import GossipLab
from distlab.labs.lab05c_two_phase_commit import TwoPhaseCommitLab
from distlab.soak.solutions import solution
from distlab.soak.target import Faults, Target

#: the network's faults and clocks, at the strength the library's targets meet them
NETWORK_FAULTS = dict(loss=0.3, duplicate=0.3, reorder=0.3, skew=100.0, drift=0.01)


def lab_target(name: str, lab: Lab, parts: Sequence[str], faults: Faults, *,
               calm_at: float | None = None, spared: Sequence[str] = ()) -> Target:
    """The target that runs ``lab``'s checks of ``parts`` in turn, one per seed."""
    chosen = [check for check in lab.checks() if check.part in parts]

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


def lab05c() -> Target:
    """Lab 5c's reference coordinator and participant, parts A and B (part C is an
    exploration, not a run). Two-phase commit is safe under every fault, and live once the
    coordinator is back: the repair at ``calm_at`` brings it."""
    code = solution("lab05c-two-phase-commit")
    lab = TwoPhaseCommitLab(code.Coordinator, code.Participant)
    return lab_target("lab05c-two-phase-commit", lab, "AB",
                      Faults(interval=50.0, crashes=True, partitions=True, max_crashed=2,
                             **NETWORK_FAULTS), calm_at=0.3)
