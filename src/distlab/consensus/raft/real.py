"""The whole Raft as real processes over TCP on loopback (`distlab.net`), with a client that
finds the leader, and a run that kills the leader with ``kill -9`` in the middle of a
workload and checks the history it recorded for linearizability.

`kill_the_leader` is the experiment of page 04.06's "Raft for real" section (and of
``tests/consensus/test_raft_real.py``): three `RaftNode` processes replicate the key-value
store; the notebook appends to a key and reads it, the leader's process receives SIGKILL
(no goodbye, nothing flushed), and the client carries on with the survivors. Times are real,
so what it returns is what does not depend on them: counts, values, the checker's verdict.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distlab.check.linearizability import check_linearizability
from distlab.net.cluster import start_cluster
from distlab.net.endpoint import Endpoint, EndpointError
from distlab.sim import History
from distlab.workloads.client import NotLeader
from distlab.workloads.kv import Append, AppendOk, Get, GetOk, PutOk

SERVERS = ("n1", "n2", "n3")


def ask(me: Endpoint, request: Any, first: str, servers: Sequence[str] = SERVERS,
        deadline: float = 20.0, on_retry: Callable[[], None] | None = None
        ) -> tuple[str, Any]:
    """Send ``request`` until a server answers it: follow `NotLeader` hints, skip servers
    that are down or silent. Returns (who answered, the reply); raises `TimeoutError` if no
    server answers within ``deadline`` seconds. ``on_retry`` is called each time the request
    is sent again (to count the retries a fault caused)."""
    target, give_up, sent = first, time.monotonic() + deadline, False
    while time.monotonic() < give_up:
        if sent and on_retry is not None:
            on_retry()
        sent = True
        try:
            me.send(target, request)
            src, reply = me.receive(0.5, src=target)
            while getattr(reply, "in_reply_to", None) != request.msg_id:   # a late reply
                src, reply = me.receive(0.5, src=target)
        except (EndpointError, TimeoutError):     # down, or silent (a follower cut off...)
            target = servers[(servers.index(target) + 1) % len(servers)]
            continue
        if isinstance(reply, NotLeader):
            target = reply.leader or servers[(servers.index(target) + 1) % len(servers)]
            time.sleep(0.05)
            continue
        return src, reply
    raise TimeoutError(f"no server answered {request!r} within {deadline} s")


@dataclass(frozen=True)
class KillRun:
    """What `kill_the_leader` found: the operations answered ``ok`` (of ``operations``),
    whether another server led after the kill, the final value of the key, whether the
    restarted server found its term and snapshot in its storage file, and the linearizability
    checker's verdict on the recorded history."""

    operations: int
    ok: int
    new_leader: bool
    value: str | None
    restarted_from_disk: bool
    verdict: str


def kill_the_leader(data_dir: str | Path | None = None, appends: int = 8,
                    node_class: str = "distlab.consensus.raft.node:RaftNode",
                    args: dict[str, Any] | None = None) -> KillRun:
    """Start three `RaftNode` processes, append ``appends`` values to ``x`` (reading it after
    each), ``kill -9`` the leader halfway, restart it at the end, and check the history.

    ``node_class`` (``"module:Class"``) and ``args`` run another server of the key-value
    requests instead (lab 5a runs a student's service this way); by default `RaftNode`
    with a snapshot every 5 entries."""
    history = History(clock=time.monotonic)
    args = {"snapshot_every": 5} if args is None else args
    with start_cluster(node_class, SERVERS, clients=["me"], data_dir=data_dir,
                       args=args) as cluster:
        me = cluster.client("me")
        server, killed, msg_id = SERVERS[0], None, 0

        def run(request: Any, f: str, value: str | None = None) -> None:
            nonlocal server
            op = history.invoke("me", f, value=value, key="x")
            try:
                server, reply = ask(me, request, server)
            except TimeoutError:
                history.info(op)
                return
            match reply:
                case GetOk(value=read):
                    history.ok(op, read)
                case PutOk() | AppendOk():
                    history.ok(op)

        for number in range(1, appends + 1):
            if number == appends // 2 + 1:
                killed = server
                cluster.kill(killed)          # SIGKILL, as kill -9 does
            msg_id += 1
            run(Append("me", msg_id, "x", f"{number};"), "append", f"{number};")
            msg_id += 1
            run(Get("me", msg_id, "x"), "get")
        cluster.restart(killed)
        stored = cluster.storage(killed)
        msg_id += 1
        _, final = ask(me, Get("me", msg_id, "x"), server)
    result = check_linearizability(history, "kv", timeout=30)
    return KillRun(operations=len(history), ok=sum(op.status == "ok" for op in history),
                   new_leader=server != killed, value=final.value,
                   restarted_from_disk=stored.get("term", 0) >= 1 and "snapshot" in stored,
                   verdict=str(result.verdict))
