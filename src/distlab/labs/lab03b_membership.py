"""Lab 3b: dynamic membership -- handing keys over while clients keep writing (the notebook
``lab03b-membership.ipynb``).

A partitioned store (lab 3a) whose servers join and leave: each change of membership moves
about 1/N of the keys to new owners, and the clients must not notice. The student writes the
server, ``MemberNode``; this module holds what the student does not write:

* the ring (`owner`, the library's consistent-hash ring on the current members);
* an administrator, `Admin`, that applies a plan of joins and leaves one *epoch* at a time:
  it sends ``Membership(epoch, previous, members)`` to every server of the old and the new
  membership, again every `RESEND_EVERY` ms, until each has answered ``Ready(epoch)``, and
  only then starts the next change;
* the messages between servers: ``Transfer(epoch, items, sessions)`` (the keys a server
  hands to a new owner, and its table of the last write applied per client) and
  ``TransferAck(epoch)``; ``Forward(epoch, request)`` (a request sent on to the key's owner);
* the checks: the clients' history is linearizable (reads never go backwards, and no
  acknowledged write disappears), every acknowledged write is held at the end by the key's
  owner in the final membership, every change completes, and every operation completes; on a
  reliable network, then with loss and duplication, then with crashes.

The checks read two attributes: each server's ``data`` (key -> value, the keys it holds) and
the administrator's ``done`` (every change of its plan is complete).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from distlab.check.invariants import Invariant, live_nodes, no_acknowledged_write_lost
from distlab.grading.lab import Lab, Scenario, graded, own_code
from distlab.grading.properties import AtEnd, Eventually, EveryOperationCompletes, Linearizable
from distlab.partitioning import ConsistentHashRing
from distlab.sim import Network, Node, Simulation, Uniform, stream
from distlab.workloads import kv

__all__ = ["Admin", "Forward", "MembershipLab", "Membership", "RESEND_EVERY", "Ready",
           "SERVERS", "Transfer", "TransferAck", "owner"]

#: every server of the checks (not all are members at first)
SERVERS = ("s1", "s2", "s3", "s4", "s5")
#: virtual nodes per server
VNODES = 32
#: how often the administrator, and a server handing keys over, send again, in ms
RESEND_EVERY = 100.0
#: the keys of the workload
KEYS = tuple(f"k{i}" for i in range(1, 7))
#: the library's stores and partitioning: a student's class may neither subclass nor import them
LIBRARY_STORES = ("distlab.kv.leaderless", "distlab.kv.leader_follower", "distlab.kv.register",
                  "distlab.partitioning.ring", "distlab.kv.partitioned")


def owner(members: Sequence[str], key: str) -> str:
    """The member that owns ``key``: the next virtual node clockwise on the ring of
    ``members`` (`VNODES` each; the order of ``members`` does not matter)."""
    return _ring(tuple(sorted(members))).owner(key)


@cache
def _ring(members: tuple[str, ...]) -> ConsistentHashRing:
    return ConsistentHashRing(members, VNODES)


# -- messages -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Membership:
    """Administrator to server: from ``epoch`` on, ``members`` hold the keys, where
    ``previous`` (the members of ``epoch - 1``) held them. Answer `Ready` once done."""

    epoch: int
    previous: tuple[str, ...]
    members: tuple[str, ...]


@dataclass(frozen=True)
class Ready:
    """Server to administrator: I have handed over and received every key of ``epoch``."""

    epoch: int


@dataclass(frozen=True)
class Transfer:
    """Old member to member of ``epoch``: the keys you own now that I held (maybe none), and
    my table of the last write I applied per client (``sessions``: (client, msg_id) pairs)."""

    epoch: int
    items: tuple[tuple[str, str], ...]
    sessions: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class TransferAck:
    """Member to old member: your `Transfer` of ``epoch`` is applied here."""

    epoch: int


@dataclass(frozen=True)
class Forward:
    """A client's ``request`` (a `kv.Get` or `kv.Put`), sent on to the key's owner by a server
    at ``epoch``; the owner answers ``request.client`` itself."""

    epoch: int
    request: kv.Get | kv.Put


# -- the administrator ----------------------------------------------------------------------------

class Admin(Node):
    """Applies ``plan``, a list of (time, members), one epoch at a time: the change to
    epoch ``e + 1`` starts at its time, or once every server has answered ``Ready(e)``,
    whichever is later. ``done`` is True once the last change is complete."""

    def __init__(self, members: Sequence[str], plan: Sequence[tuple[float, Sequence[str]]]):
        self.members = tuple(members)
        self.plan = [(time, tuple(new)) for time, new in plan]
        self.epoch = 0
        self.previous: tuple[str, ...] = ()
        self.waiting: set[str] = set()  # servers that have not answered Ready(epoch) yet
        self.done = not self.plan

    def on_start(self) -> None:
        if self.plan:
            self.set_timer(self.plan[0][0], "next")

    def on_timer(self, name: str) -> None:
        if name == "next" and not self.waiting and self.epoch < len(self.plan):
            self.previous, self.members = self.members, self.plan[self.epoch][1]
            self.epoch += 1
            self.waiting = set(self.previous) | set(self.members)
            self.announce()
        elif name == "resend" and self.waiting:
            self.announce()

    def announce(self) -> None:
        for server in sorted(self.waiting):
            self.send(server, Membership(self.epoch, self.previous, self.members))
        self.set_timer(RESEND_EVERY, "resend")

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Ready(epoch) if epoch == self.epoch and src in self.waiting:
                self.waiting.discard(src)
                if not self.waiting:
                    if self.epoch == len(self.plan):
                        self.done = True
                    else:
                        self.set_timer(max(0.0, self.plan[self.epoch][0] - self.now), "next")


# -- what must hold -------------------------------------------------------------------------------

def held_by_final_owner(final: Sequence[str]) -> Invariant:
    """Every acknowledged write is held by its key's owner among the ``final`` members."""

    def read(sim: Simulation, key: str) -> Any:
        node = live_nodes(sim).get(owner(final, key))
        return None if node is None else getattr(node, "data", {}).get(key)

    check = no_acknowledged_write_lost(read, writes=("put",), appends=())
    return Invariant(f"every acknowledged write is held by its key's owner among the final "
                     f"members {', '.join(sorted(final))}", check.fn)


def only_owners_hold_keys(final: Sequence[str]) -> Invariant:
    """No server holds a key that another server owns among the ``final`` members: each
    server removed the keys it handed over."""

    def fn(sim: Simulation) -> str | None:
        for node_id, node in sorted(live_nodes(sim).items()):
            for key in sorted(getattr(node, "data", {}) if node_id in SERVERS else ()):
                if owner(final, key) != node_id:
                    return (f"{node_id} still holds {key!r}, which {owner(final, key)} owns "
                            f"among the final members {', '.join(sorted(final))}: on a change, "
                            f"a server removes from data every key it no longer owns (it "
                            f"sends it in a Transfer)")
        return None

    return Invariant("only a key's owner holds it", fn)


def all_changes_done(sim: Simulation) -> bool:
    return getattr(sim.nodes["admin"], "done", False) is True


# -- the lab --------------------------------------------------------------------------------------

class MembershipLab(Lab):
    """The checks of lab 3b, for the student's ``MemberNode``."""

    title = "Lab 3b: dynamic membership"
    node_attributes = ("data", "done")

    def __init__(self, node: type[Node]):
        if not (isinstance(node, type) and issubclass(node, Node)):
            raise TypeError(f"MembershipLab takes your node class (a subclass of "
                            f"distlab.sim.Node), such as MembershipLab(MemberNode); got "
                            f"{node!r}")
        self.node = own_code(node, LIBRARY_STORES, "replicated store")

    def scenario(self, seed: int, initial: Sequence[str],
                 plan: Sequence[tuple[float, Sequence[str]]], *, network: Network,
                 run_for: float, changes_within: float, crashes: int = 0) -> Scenario:
        """All five servers (members or not), the administrator with ``plan``, and three
        clients doing 20 gets and puts on six keys, each starting at a random server; with
        ``crashes`` crashes of as many random servers for 150 ms each, at random times of the
        changes."""
        rng = stream(seed, "lab3b", len(plan), crashes)
        starts = [rng.randrange(len(SERVERS)) for _ in range(3)]
        faults = [(rng.uniform(100, plan[-1][0] + 300), server)
                  for server in rng.sample(SERVERS, crashes)]
        operations = tuple((f, key) for key in KEYS for f in ("get", "put"))
        final = plan[-1][1]

        def setup(sim: Simulation) -> None:
            sim.add_nodes(self.node, SERVERS, members=list(initial))
            sim.add_node(Admin, "admin", members=list(initial), plan=list(plan))
            for c, start in enumerate(starts, 1):
                sim.add_node(kv.KVClient, f"c{c}", server=[*SERVERS[start:], *SERVERS[:start]],
                             ops=20, retry=RESEND_EVERY, operations=operations)
            for time, server in faults:
                sim.at(time, sim.crash, server)
                sim.at(time + 150, sim.restart, server)

        return Scenario(setup, run_for=run_for, network=network,
                        properties=[Linearizable(kv.MODEL.name), EveryOperationCompletes(),
                                    Eventually("every change of membership completes",
                                               all_changes_done, within=changes_within),
                                    AtEnd(held_by_final_owner(final)),
                                    AtEnd(only_owners_hold_keys(final))])

    # -- part A: a reliable network -------------------------------------------------------------
    @graded(part="A", seeds=20, description="s4 joins s1, s2, s3 at 0.2 s while 3 clients read "
            "and write: linearizable; the change completes within 1 s; every acknowledged "
            "write ends at its key's owner")
    def test_join_A(self, seed: int) -> Scenario:
        return self.scenario(seed, SERVERS[:3], [(200.0, SERVERS[:4])],
                             network=Network(latency=Uniform(1, 10)), run_for=3_000,
                             changes_within=1_200)

    @graded(part="A", seeds=20, description="s2 leaves s1..s4 at 0.2 s: its keys move to "
            "the others; nothing is lost")
    def test_leave_A(self, seed: int) -> Scenario:
        return self.scenario(seed, SERVERS[:4], [(200.0, ("s1", "s3", "s4"))],
                             network=Network(latency=Uniform(1, 10)), run_for=3_000,
                             changes_within=1_200)

    @graded(part="A", seeds=20, description="four changes in a row (s4 joins, s1 leaves, s5 "
            "joins, s3 leaves): linearizable, every change completes within 2 s")
    def test_joins_and_leaves_A(self, seed: int) -> Scenario:
        return self.scenario(seed, SERVERS[:3], CHURN,
                             network=Network(latency=Uniform(1, 10)), run_for=4_000,
                             changes_within=2_000)

    # -- part B: faults ---------------------------------------------------------------------------
    @graded(part="B", seeds=20, description="the four changes with 10% of messages lost, "
            "30% delivered twice and 20% held back up to 400 ms: a put is applied once, a "
            "transfer once")
    def test_lost_and_duplicated_messages_B(self, seed: int) -> Scenario:
        network = Network(latency=Uniform(1, 10), loss=0.1, duplicate=0.3, reorder=0.2,
                          reorder_delay=400)
        return self.scenario(seed, SERVERS[:3], CHURN, network=network, run_for=8_000,
                             changes_within=4_000)

    @graded(part="B", seeds=20, description="the four changes while two servers crash for "
            "150 ms each (restarted from their storage): nothing acknowledged is lost")
    def test_crashes_B(self, seed: int) -> Scenario:
        return self.scenario(seed, SERVERS[:3], CHURN,
                             network=Network(latency=Uniform(1, 10)), run_for=6_000,
                             changes_within=3_000, crashes=2)


    @graded(part="B", seeds=5, description="a client puts a key twice; the key then moves "
            "to s4, which joins; a copy of the first put, held back by the network, reaches "
            "s4: it must not be applied again (the sessions table travels with the keys)")
    def test_late_copy_of_a_moved_put_B(self, seed: int) -> Scenario:
        initial, members = SERVERS[:3], SERVERS[:4]
        key = moving_key(initial, members)

        def setup(sim: Simulation) -> None:
            sim.add_nodes(self.node, SERVERS, members=list(initial))
            sim.add_node(Admin, "admin", members=list(initial), plan=[(300.0, members)])
            sim.add_node(LateCopy, "c1", key=key, first=owner(initial, key),
                         late=owner(members, key), late_at=1_000.0)

        return Scenario(setup, run_for=1_500, network=Network(latency=Uniform(1, 10)),
                        properties=[Eventually("every change of membership completes",
                                               all_changes_done, within=1_000),
                                    AtEnd(second_put_kept(members, key, late_at=1_000.0))])


def moving_key(initial: Sequence[str], members: Sequence[str]) -> str:
    """The first key ``k1``, ``k2``, ... whose owner changes from ``initial`` to ``members``."""
    return next(key for key in (f"k{i}" for i in range(1, 1_000))
                if owner(initial, key) != owner(members, key))


class LateCopy(Node):
    """A client that puts ``key`` twice through ``first`` (its owner), then, at ``late_at``
    ms, sends ``late`` (the key's owner by then) a copy of its first put: what a network
    that duplicates and holds back messages may deliver. ``done`` once both puts were
    acknowledged."""

    def __init__(self, key: str, first: str, late: str, late_at: float):
        self.key, self.first, self.late, self.late_at = key, first, late, late_at
        self.acked: set[int] = set()  # the puts acknowledged (the late copy's reply ignored)
        self.done = False

    def on_start(self) -> None:
        self.send(self.first, kv.Put(self.id, 1, self.key, "first"))
        self.set_timer(self.late_at, "late copy")

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case kv.PutOk(1) if not self.acked:
                self.acked.add(1)
                self.send(self.first, kv.Put(self.id, 2, self.key, "second"))
            case kv.PutOk(2):
                self.acked.add(2)
                self.done = True

    def on_timer(self, name: str) -> None:
        self.send(self.late, kv.Put(self.id, 1, self.key, "first"))


def second_put_kept(members: Sequence[str], key: str, late_at: float) -> Invariant:
    """The owner of ``key`` among ``members`` holds c1's second put, not the copy of its
    first that arrives at ``late_at`` ms."""

    def fn(sim: Simulation) -> str | None:
        if not getattr(sim.nodes["c1"], "done", False):
            return f"c1's two puts of {key!r}, before the change, were not both acknowledged"
        holder = owner(members, key)
        value = getattr(live_nodes(sim).get(holder), "data", {}).get(key)
        if value == "second":
            return None
        return (f"{holder}, the owner of {key!r} since s4 joined, holds {value!r}, not 'second': "
                f"c1's put #1, delivered again at {late_at:g} ms after its put #2, "
                f"was applied again. A put is applied only if its msg_id is higher than the "
                f"client's in sessions, and sessions must travel with the keys (Transfer's "
                f"sessions, merged by taking the higher number)")

    return Invariant("a put delivered again after its key moved is not applied again", fn)


#: the four changes of the longer checks: (when, the new members)
CHURN = ((200.0, ("s1", "s2", "s3", "s4")), (500.0, ("s2", "s3", "s4")),
         (800.0, ("s2", "s3", "s4", "s5")), (1_100.0, ("s2", "s4", "s5")))
