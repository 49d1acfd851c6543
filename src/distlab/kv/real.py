"""The partitioned store (`distlab.kv.partitioned`) as real processes over TCP on loopback
(`distlab.net`): a node joins and another leaves while a client keeps writing.

`join_and_leave` is the experiment of page 03.02's last section (and of
``tests/kv/test_kv_real.py``). Four `PartitionedKV` processes start, of which three own the
keys; the notebook, one client, reads and writes twelve keys without pausing, and, as the
administrator, asks for two changes in the middle of it: ``n4`` joins, then ``n2`` leaves
(and its process is stopped once it has handed its keys over). Times are real, so what it
returns is what does not depend on them: counts, where the keys are, the linearizability
checker's verdict on the history it recorded.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path

from distlab.check.linearizability import check_linearizability
from distlab.kv.partitioned import ChangeMembership, Ready, owner
from distlab.net.cluster import start_cluster
from distlab.net.endpoint import Endpoint
from distlab.sim import History
from distlab.workloads.kv import Get, GetOk, Put, PutOk

SERVERS = ("n1", "n2", "n3", "n4")
#: the members at first, after n4 joins, after n2 leaves
MEMBERSHIPS = (("n1", "n2", "n3"), ("n1", "n2", "n3", "n4"), ("n1", "n3", "n4"))
KEYS = tuple(f"user:{i}" for i in range(1, 13))


@dataclass(frozen=True)
class ChurnRun:
    """What `join_and_leave` found: the operations answered ``ok`` (of ``operations``), the
    keys the servers handed over in each change, whether every key's latest acknowledged value
    is at its owner among the final members (and nowhere else), the keys still held by the
    server that left, and the checker's verdict."""

    operations: int
    ok: int
    moved: tuple[int, ...]
    all_at_final_owner: bool
    left_behind: int
    verdict: str


class Administrator:
    """The notebook's side of a change: send ``ChangeMembership`` to the servers of the old
    and the new membership, then collect their ``Ready`` answers as they come in (between the
    client's requests, so that the client never waits for a change)."""

    def __init__(self, me: Endpoint) -> None:
        self.me = me
        self.epoch = 0
        self.members = MEMBERSHIPS[0]
        self.waiting: set[str] = set()
        self.moved: list[int] = []

    def start(self, members: tuple[str, ...]) -> None:
        previous, self.members = self.members, members
        self.epoch += 1
        self.moved.append(0)
        self.waiting = set(previous) | set(members)
        for server in sorted(self.waiting):
            self.me.send(server, ChangeMembership(self.epoch, previous, members))

    def heard(self, src: str, msg: Ready) -> None:
        if msg.epoch == self.epoch and src in self.waiting:
            self.waiting.discard(src)
            self.moved[-1] += msg.moved

    @property
    def busy(self) -> bool:
        return bool(self.waiting)


def join_and_leave(data_dir: str | Path | None = None, operations: int = 72,
                   deadline: float = 30.0) -> ChurnRun:
    """Run ``operations`` puts and gets on `KEYS` (a put, then a get of the same key), with
    n4 joining after a third of them and n2 leaving after two thirds: the client does not
    wait for the join, nor for the leave (it waits for the join to end before asking for the
    leave). With 72 operations every key has been written before the first change, so the
    number of keys handed over does not depend on timing. Raises `TimeoutError` if a
    request or a change takes longer than ``deadline`` seconds."""
    history = History(clock=time.monotonic)
    with start_cluster("distlab.kv.partitioned:PartitionedKV", SERVERS, clients=["me"],
                       data_dir=data_dir, args={"members": list(MEMBERSHIPS[0])}) as cluster:
        me = cluster.client("me")
        admin = Administrator(me)

        def request(number: int) -> None:
            """Operation ``number``: send it to a member and wait for its answer, taking the
            administrator's ``Ready`` answers as they arrive."""
            key = KEYS[(number // 2) % len(KEYS)]
            if number % 2 == 0:
                msg, op = Put("me", number, key, f"v{number}"), history.invoke(
                    "me", "put", value=f"v{number}", key=key)
            else:
                msg, op = Get("me", number, key), history.invoke("me", "get", key=key)
            me.send(admin.members[number % len(admin.members)], msg)   # any member will do
            give_up = time.monotonic() + deadline
            while True:
                src, reply = me.receive(max(0.0, give_up - time.monotonic()))
                match reply:
                    case Ready():
                        admin.heard(src, reply)
                    case PutOk(in_reply_to=n) if n == number:
                        history.ok(op)
                        return
                    case GetOk(in_reply_to=n, value=value) if n == number:
                        history.ok(op, value)
                        return

        for number in range(operations):
            if number == operations // 3:
                admin.start(MEMBERSHIPS[1])
            if number == 2 * operations // 3:
                wait_until_done(admin, deadline)
                admin.start(MEMBERSHIPS[2])
            request(number)
        wait_until_done(admin, deadline)
        cluster.kill("n2", signal.SIGTERM)         # n2 has left: stop its process
        stored = {server: cluster.storage(server)["data"] for server in SERVERS}
    latest = {op.key: op.value for op in history if op.f == "put" and op.status == "ok"}
    final = MEMBERSHIPS[-1]
    placed = all(stored[owner(final, key)].get(key) == value for key, value in latest.items())
    strays = any(owner(final, key) != server for server in SERVERS for key in stored[server])
    result = check_linearizability(history, "kv", timeout=30)
    return ChurnRun(operations=len(history), ok=sum(op.status == "ok" for op in history),
                    moved=tuple(admin.moved),
                    all_at_final_owner=placed and not strays, left_behind=len(stored["n2"]),
                    verdict=str(result.verdict))


def wait_until_done(admin: Administrator, deadline: float) -> None:
    """Wait for the rest of the current change's ``Ready`` answers."""
    give_up = time.monotonic() + deadline
    while admin.busy:
        src, msg = admin.me.receive(max(0.0, give_up - time.monotonic()), kind=Ready)
        admin.heard(src, msg)
