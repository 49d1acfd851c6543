"""What the coordination service must guarantee its lock, judged on a run of `LockWorker`s.

`exclusive_grants`: each grant a worker was told of (its ``grants``, the tokens it received)
must be, in the replicated history, the change at revision ``token`` creating the lock's key
for that worker, with the key's previous change, if any, its deletion. So a token names one
grant, and a grant happens only when the lock is free. A compare-and-set that ignored the
version breaks it (`distlab.coordination.bugs.BlindCreateNode`).

It reads the servers' applied histories, which lag the commit on some servers and are
rebuilt after a restart: judge it once the run has calmed down (``AtEnd`` in a soak), not
after every event.
"""

from __future__ import annotations

from distlab.check import invariant
from distlab.coordination.messages import Event
from distlab.coordination.service import CoordinationNode
from distlab.coordination.workers import LOCK, LockWorker
from distlab.sim import Simulation


@invariant("each lock grant creates the free lock's key, for the worker told so")
def exclusive_grants(sim: Simulation) -> str | None:
    servers = [node for node in sim.nodes.values() if isinstance(node, CoordinationNode)]
    history = max((server.machine.history for server in servers), key=len)
    by_revision = {event.revision: event for event in history}
    for worker in (node for node in sim.nodes.values() if isinstance(node, LockWorker)):
        for token in worker.grants:
            event = by_revision.get(token)
            if event != Event("put", LOCK, worker.id, token):
                return (f"{worker.id} was granted the lock with token {token}, but the change "
                        f"at revision {token} is {event}")
            before = [e for e in history if e.key == LOCK and e.revision < token]
            if before and before[-1].kind != "delete":
                return (f"{worker.id} was granted the lock with token {token} while it was "
                        f"held: the change before it was {before[-1]}")
    return None
