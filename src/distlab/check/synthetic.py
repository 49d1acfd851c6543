"""Synthetic client histories, seeded, for testing and measuring the linearizability checker.

* `correct_history`: what clients of a *correct* register or key-value store would record.
  Each operation takes effect at one instant between its invocation and its completion (its
  linearization point); some time out (``"info"``: they take effect later, or never) and some
  are refused (``"fail"``: no effect). Such a history is linearizable by construction.
* `with_violations`: the same history with, on each chosen key, one read changed to return a
  value nobody wrote: a violation the checker finds quickly.
* `with_hard_keys`: the same history preceded, on each chosen key, by a block the search can
  only refute by trying every subset of many concurrent writes (a read, concurrent with all
  of them, returns a value none of them wrote): expensive keys, like those that hid a cheap
  violation from a checker that searched one key after the other.

The same seed gives the same history.
"""

from __future__ import annotations

import dataclasses
import heapq
import random
from collections.abc import Hashable, Sequence
from typing import Any

from distlab.check.linearizability import Op

#: What an injected read returns: no operation of a synthetic history writes it.
NEVER_WRITTEN = "never written"


def correct_history(seed: int, clients: int, operations: int,
                    keys: Sequence[Hashable] | None = None, *, values: int = 10,
                    info_rate: float = 0.02, fail_rate: float = 0.01) -> list[Op]:
    """A linearizable history of ``operations`` operations by ``clients`` clients.

    With ``keys`` None it is one register (``read``/``write`` of ``0..values-1``); otherwise a
    key-value map (``get``/``put``/``append`` on a random key; models ``register`` and ``kv``).
    Each client runs one operation at a time, 1 to 10 time units long.
    """
    rng = random.Random(seed)
    # 1. when each client invokes, and when it completes or gives up
    plans = []  # (invoke, complete, process, f, key, argument, status, effect time or None)
    ready = [(rng.uniform(0, 5), c) for c in range(clients)]
    heapq.heapify(ready)
    for _ in range(operations):
        start, process = heapq.heappop(ready)
        duration = rng.uniform(1, 10)
        if keys is None:
            key, f = None, rng.choice(["read", "write"])
            argument = rng.randrange(values) if f == "write" else None
        else:
            key = rng.choice(keys)
            f = rng.choice(["get", "put", "append"])
            argument = {"get": None, "put": str(rng.randrange(values)),
                        "append": "abcdefghij"[rng.randrange(10)]}[f]
        roll = rng.random()
        if roll < info_rate:  # times out; took effect later (even after the timeout), or never
            status = "info"
            effect = start + rng.uniform(0, 2 * duration) if rng.random() < 0.5 else None
        elif roll < info_rate + fail_rate:  # refused: no effect
            status, effect = "fail", None
        else:
            status, effect = "ok", start + rng.uniform(0, duration)
        plans.append((start, start + duration, process, f, key, argument, status, effect))
        heapq.heappush(ready, (start + duration + rng.uniform(0, 2), process))
    # 2. apply the operations in the order of their effects, to learn what reads returned
    store: dict[Any, Any] = {}
    outputs: dict[int, Any] = {}
    for _, i in sorted((p[7], i) for i, p in enumerate(plans) if p[7] is not None):
        _, _, _, f, key, argument, _, _ = plans[i]
        match f:
            case "read" | "get":
                outputs[i] = store.get(key)
            case "write" | "put":
                store[key] = argument
            case "append":
                store[key] = (store.get(key) or "") + argument
    # 3. the history, numbered in invocation order
    order = sorted(range(len(plans)), key=lambda i: plans[i][0])
    ops = []
    for n, i in enumerate(order):
        start, end, process, f, key, argument, status, _ = plans[i]
        ops.append(Op(n, process, f, key, argument, outputs.get(i), status, start, end))
    return ops


def with_violations(ops: Sequence[Op], keys: Sequence[Hashable]) -> list[Op]:
    """``ops`` with, on each of ``keys``, the middle completed read returning `NEVER_WRITTEN`.

    For a single register pass ``keys=[None]``.
    """
    changed = list(ops)
    for key in keys:
        reads = [i for i, op in enumerate(changed)
                 if op.key == key and op.f in ("read", "get") and op.status == "ok"]
        if not reads:
            raise ValueError(f"key {key!r} has no completed read to change into a violation")
        i = reads[len(reads) // 2]
        changed[i] = dataclasses.replace(changed[i], output=NEVER_WRITTEN)
    return changed


def with_hard_keys(ops: Sequence[Op], keys: Sequence[Hashable], writers: int = 20) -> list[Op]:
    """``ops`` preceded, on each of ``keys``, by ``writers`` concurrent writes of distinct
    values and a read, concurrent with them all, of `NEVER_WRITTEN`.

    To prove such a key not linearizable, the search tries every subset of the writes
    (2 ** ``writers`` configurations). The writes are ``put`` (``write`` when ``keys`` is
    ``[None]``, a register). The block comes first: its operations get the first ids.
    """
    block = []
    for key in keys:
        write, read = ("write", "read") if key is None else ("put", "get")
        for i in range(writers):
            block.append(Op(len(block), f"hard {key} {i}", write, key, f"{key}:{i}", None,
                            "ok", 0.0, 10.0))
        block.append(Op(len(block), f"hard {key} reader", read, key, None, NEVER_WRITTEN,
                        "ok", 1.0, 9.0))
    shifted = [dataclasses.replace(op, id=op.id + len(block), invoke_time=op.invoke_time + 20,
                                   complete_time=None if op.complete_time is None
                                   else op.complete_time + 20) for op in ops]
    return block + shifted
