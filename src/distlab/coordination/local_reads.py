"""ZooKeeper's reads on the toy service: any server answers a read from its own copy of the
state, without asking the others, so a read can be stale; ``sync`` first catches that server
up with the leader (Hunt et al. 2010, section 2.3).

The toy's own reads (`Range`) go through the Raft log, and are linearizable, as etcd's are by
default. These two functions show the other choice. `read_local` answers from a server's
state machine as it is now, the way a ZooKeeper server answers the clients connected to it:
fast, served by every server, and as old as that server's last applied entry. `sync` waits
until the server has applied every entry the leader had committed when it was called: what
ZooKeeper's ``sync`` achieves by sending a marker through the leader, which the follower
receives after all the leader's earlier commits. A ``sync`` then a local read returns a value
at least as recent as any write that completed before the ``sync`` began.
"""

from __future__ import annotations

from distlab.coordination.api import CoordinationError
from distlab.coordination.messages import KeyValue
from distlab.coordination.toy import MS, ToyService


def read_local(service: ToyService, server: str, key: str) -> KeyValue | None:
    """``key`` as server ``server`` knows it now (None: absent there), with no message sent."""
    if server not in service.servers:
        raise KeyError(f"no server {server!r}: the service's servers are {service.servers}")
    return service.sim.nodes[server].machine.keys.get(key)


def sync(service: ToyService, server: str, timeout: float = 10.0) -> int:
    """Run the service until ``server`` has applied everything the leader has committed now;
    that index. Raises `CoordinationError` if no leader is known, or after ``timeout``
    simulated seconds (the server cut off from the leader, for example)."""
    leader = service.leader()
    if leader is None:
        raise CoordinationError("sync needs a leader, and none leads now: wait for an election")
    target = service.sim.nodes[leader].commit_index
    node = service.sim.nodes[server]
    if not service.sim.run_until(lambda: node.last_applied >= target, timeout=timeout * MS):
        raise CoordinationError(f"{server} did not catch up with the leader's commit index "
                                f"{target} within {timeout:g} s (is it cut off from {leader}?)")
    return target
