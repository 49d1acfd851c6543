"""A partitioned key-value store on a consistent-hash ring whose servers join and leave, and
hand their keys over while clients keep reading and writing.

Each key lives on one server, its *owner* on the ring of the current members
(`distlab.partitioning.ConsistentHashRing`, `VNODES` points each). A client sends its
``get`` or ``put`` (`distlab.workloads.kv`) to any server; one that does not own the key
sends it on (`Forward`), and the owner answers the client itself (`GetOk`, `PutOk`: the
replies are built by name, so that the real processes' codec, which reads this module, knows
them). Membership changes in
numbered *epochs*, driven by an administrator (`MembershipAdmin` in the simulator, the
notebook in `distlab.kv.real`):

1. The administrator sends ``ChangeMembership(epoch, previous, members)`` to every server of
   the old and the new membership, and waits until each answers ``Ready(epoch)`` before the
   next change.
2. A server of ``previous`` hands every key it no longer owns to its new owner in one
   ``Handover(epoch, items)`` per new member (empty ones too: they say "nothing else is
   coming from me") and forgets those keys at once, so it never answers for them again.
3. A new member serves its keys only once it has a ``Handover`` of the epoch from every old
   member; requests for them wait until then. It then answers ``Ready``.

A server that was neither an old nor a new member of some changes never heard of them: it held
no keys then, so it simply jumps to the epoch of the next change that names it.

So a key has at most one server answering for it at any time, and that server holds every
write acknowledged before it took over: the history stays linearizable. A message from a
later epoch than the server knows (a `Forward` or `Handover` that overtook the change)
waits until the server reaches that epoch, so requests never bounce between two servers
with different views. The store assumes what TCP on one machine gives: messages are not
lost, and no server crashes during a change (lab 3b's servers also survive loss,
duplication and crashes).

`membership_sim` runs it on the simulator with clients (`KVClient`) and a plan of changes;
`distlab.kv.real` runs it as real processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from distlab.partitioning import ConsistentHashRing
from distlab.sim import Network, Node, Simulation, Uniform
from distlab.workloads.kv import Get, GetOk, KVClient, Put, PutOk

__all__ = ["ChangeMembership", "Forward", "Handover", "MembershipAdmin", "PartitionedKV",
           "Ready", "VNODES", "membership_sim", "owner"]

#: virtual nodes per server on the ring
VNODES = 32


def owner(members: Sequence[str], key: str) -> str:
    """The member that owns ``key`` on the ring of ``members`` (their order does not matter)."""
    return _ring(tuple(sorted(members))).owner(key)


@cache
def _ring(members: tuple[str, ...]) -> ConsistentHashRing:
    return ConsistentHashRing(members, VNODES)


# -- messages -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChangeMembership:
    """Administrator to server: from ``epoch`` on, ``members`` own the keys that
    ``previous`` owned. Answer `Ready` once your part of the handover is done."""

    epoch: int
    previous: tuple[str, ...]
    members: tuple[str, ...]


@dataclass(frozen=True)
class Ready:
    """Server to administrator: I have handed over, and received, every key of ``epoch``."""

    epoch: int
    moved: int = 0          # how many keys this server handed to others


@dataclass(frozen=True)
class Handover:
    """Old member to new member: the keys of ``epoch`` you own that I held (maybe none)."""

    epoch: int
    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Forward:
    """A client's ``request``, sent on by a server that knew ``epoch``; the owner answers
    ``request.client`` itself."""

    epoch: int
    request: Get | Put


# -- the server -----------------------------------------------------------------------------------

class PartitionedKV(Node):
    """One server of the store. ``members``: the members of epoch 0 (this server may not be
    one of them yet: it then owns nothing until a change makes it a member).

    Durable state (``storage``): ``data`` (the keys this server owns, with their values),
    ``epoch`` and ``members``. Invariant: every key in ``data`` is owned by this server in
    ``members``, and while ``handovers`` misses an old member, its keys are not served.
    """

    def __init__(self, members: Sequence[str]) -> None:
        if not members or not all(isinstance(m, str) and m for m in members):
            raise ValueError(f"members are the ids of the servers that own the keys at first, "
                             f"a non-empty list such as ['n1', 'n2']; got {members!r}")
        self.initial = tuple(members)
        self.expected: set[str] = set()     # old members whose Handover has not come yet
        self.waiting: list[tuple[str, Any]] = []   # messages held until a handover completes
        self.moved = 0                      # keys handed over in the current epoch
        self.admin = ""                     # who asked for the current change

    def on_start(self) -> None:
        self.storage.setdefault("data", {})
        self.storage.setdefault("epoch", 0)
        self.storage.setdefault("members", list(self.initial))

    @property
    def data(self) -> dict[str, str]:
        """The keys this server owns, with their values."""
        return self.storage["data"]

    @property
    def epoch(self) -> int:
        return self.storage["epoch"]

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Get() | Put():
                self.serve(Forward(self.epoch, msg))
            case Forward() | Handover() if self.held_back(msg):
                self.waiting.append((src, msg))
            case Forward():
                self.serve(msg)
            case Handover(items=items):
                self.data.update(items)
                self.expected.discard(src)
                if not self.expected:
                    self.send(self.admin, Ready(self.epoch, self.moved))
                    self.replay()
            case ChangeMembership(epoch=epoch) if epoch > self.epoch and not self.expected:
                self.change(src, msg)
                self.replay()
            case ChangeMembership(epoch=epoch) if epoch == self.epoch and not self.expected:
                self.send(src, Ready(self.epoch, self.moved))   # asked again: it is done

    def held_back(self, msg: Forward | Handover) -> bool:
        """Must ``msg`` wait? A message of an epoch this server has not reached yet waits for
        the change; a request waits while a handover of the current epoch is due (a
        `Handover` of the current epoch is what it waits for)."""
        if msg.epoch > self.epoch:
            return True
        return isinstance(msg, Forward) and bool(self.expected)

    def serve(self, forward: Forward) -> None:
        """Answer the request if this server owns its key now, or send it to the owner."""
        request = forward.request
        target = owner(self.storage["members"], request.key)
        if target != self.id:
            self.send(target, Forward(self.epoch, request))
        elif self.expected:
            self.waiting.append((self.id, forward))   # a key still on its way here
        elif isinstance(request, Put):
            self.data[request.key] = request.value
            self.send(request.client, PutOk(request.msg_id))
        else:
            self.send(request.client, GetOk(request.msg_id, self.data.get(request.key)))

    def change(self, admin: str, msg: ChangeMembership) -> None:
        """Enter ``msg.epoch``: hand over what moves away, expect what moves here, and answer
        ``admin`` at once if nothing is expected."""
        self.storage["epoch"], self.storage["members"] = msg.epoch, list(msg.members)
        self.admin, self.moved = admin, 0
        if self.id in msg.previous:
            leaving: dict[str, list[tuple[str, str]]] = {m: [] for m in msg.members
                                                         if m != self.id}
            for key in sorted(self.data):
                target = owner(msg.members, key)
                if target != self.id:
                    leaving[target].append((key, self.data.pop(key)))
                    self.moved += 1
            for target, items in leaving.items():
                self.send(target, Handover(msg.epoch, tuple(items)))
        self.expected = set(msg.previous) - {self.id} if self.id in msg.members else set()
        if not self.expected:
            self.send(admin, Ready(self.epoch, self.moved))

    def replay(self) -> None:
        """Handle again the held messages that need not wait any longer, in arrival order."""
        held, self.waiting = self.waiting, []
        for src, msg in held:
            if self.held_back(msg):
                self.waiting.append((src, msg))
            else:
                self.on_message(src, msg)


# -- the administrator (in the simulator) ---------------------------------------------------------

class MembershipAdmin(Node):
    """Applies ``plan``, a list of (time, members), one epoch at a time: change ``e + 1``
    starts at its time, or once every server of change ``e`` has answered `Ready`, whichever
    is later. ``done`` is True once the last change is complete; ``moved[e]`` counts the keys
    handed over in epoch ``e``."""

    def __init__(self, members: Sequence[str],
                 plan: Sequence[tuple[float, Sequence[str]]]) -> None:
        self.members = tuple(members)
        self.plan = [(time, tuple(new)) for time, new in plan]
        self.epoch = 0
        self.waiting: set[str] = set()     # servers that have not answered Ready(epoch)
        self.moved: dict[int, int] = {}
        self.done = not self.plan

    def on_start(self) -> None:
        if self.plan:
            self.set_timer(self.plan[0][0], "next")

    def on_timer(self, name: str) -> None:
        previous, self.members = self.members, self.plan[self.epoch][1]
        self.epoch += 1
        self.moved[self.epoch] = 0
        self.waiting = set(previous) | set(self.members)
        for server in sorted(self.waiting):
            self.send(server, ChangeMembership(self.epoch, previous, self.members))

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Ready(epoch=epoch, moved=moved) if epoch == self.epoch and src in self.waiting:
                self.waiting.discard(src)
                self.moved[epoch] += moved
                if self.waiting:
                    return
                if self.epoch == len(self.plan):
                    self.done = True
                else:
                    self.set_timer(max(0.0, self.plan[self.epoch][0] - self.now), "next")


def membership_sim(seed: int = 1, *, servers: Sequence[str] = ("n1", "n2", "n3", "n4"),
                   initial: Sequence[str] = ("n1", "n2", "n3"),
                   plan: Sequence[tuple[float, Sequence[str]]] = (
                       (200.0, ("n1", "n2", "n3", "n4")), (500.0, ("n1", "n3", "n4"))),
                   clients: int = 3, ops: int = 40, keys: int = 12,
                   network: Network | None = None,
                   server: type[PartitionedKV] = PartitionedKV) -> Simulation:
    """``servers`` (``initial`` the members at first), an administrator ``admin`` that applies
    ``plan`` (by default n4 joins at 200 ms, n2 leaves at 500 ms), and ``clients``
    `KVClient`s doing ``ops`` gets and puts on ``keys`` keys, each starting at another server.
    ``server``: the servers' class (a variant of `PartitionedKV`, to see what breaks).
    """
    unknown = sorted({*initial, *(m for _, members in plan for m in members)} - set(servers))
    if unknown:
        raise ValueError(f"the plan names {unknown}, which are not among the servers "
                         f"{list(servers)}; add them to servers")
    sim = Simulation(seed=seed, network=network or Network(latency=Uniform(1, 10)))
    sim.add_nodes(server, servers, members=list(initial))
    sim.add_node(MembershipAdmin, "admin", members=list(initial), plan=list(plan))
    operations = tuple((f, f"user:{k}") for k in range(1, keys + 1) for f in ("get", "put"))
    for c in range(clients):
        start = c % len(servers)
        sim.add_node(KVClient, f"c{c + 1}", server=[*servers[start:], *servers[:start]],
                     ops=ops, retry=300.0, think=10.0, operations=operations)
    return sim
