"""Client workloads shared by every chapter, in Maelstrom's style: one vocabulary each.

Each workload module holds its request and reply messages (frozen dataclasses), its retrying
client (a `WorkloadClient`, from `distlab.workloads.client`, which records the history) and
``MODEL``, the sequential model of `distlab.check.models` its histories are checked against:

* `distlab.workloads.kv` -- ``get``, ``put``, ``append`` on keys (model `KV`);
* `distlab.workloads.register` -- ``read``, ``write``, ``cas`` on one register (`CASRegister`);
* `distlab.workloads.counter` -- ``add``, ``read`` (`Counter`);
* `distlab.workloads.log` -- ``append`` returning an offset, ``read`` (`Log`);
* `distlab.workloads.broadcast` -- ``broadcast``, ``read``; not linearizable by design, checked
  by `distlab.workloads.broadcast.unseen` instead.

Every request builds its own reply, so that a server never copies a ``msg_id`` by hand:
``msg.ok()`` for a write, ``msg.ok(value)`` for a read (``Read(...).ok(3)`` is
``ReadOk(msg_id, 3)``). A request that cannot be done is answered with the shared
`distlab.workloads.client.Error`.
"""
