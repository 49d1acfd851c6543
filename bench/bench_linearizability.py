"""How fast is the linearizability checker on histories of realistic size?

Two histories, each recorded from a *correct* concurrent execution simulated here in plain
Python (so both must check as linearizable):

* 10 clients, 1,000 operations on one register (reads and writes, 2% with unknown outcome);
* 10 clients, 10,000 operations on a key-value map of 100 keys (get/put/append), which the
  checker splits per key.

Each client runs one operation at a time; an operation takes effect at one instant between
its invocation and its completion (its linearization point), which is how a correct store
behaves. Some operations time out ("info"): they take effect later or never, and the client
moves on. Run with ``python bench/bench_linearizability.py``; it prints one line per history.
"""

from __future__ import annotations

import heapq
import random
import sys
import time
from typing import Any

from distlab.check import Op, check_linearizability


def correct_history(seed: int, clients: int, operations: int, keys: list[Any] | None,
                    info_rate: float = 0.02, fail_rate: float = 0.01) -> list[Op]:
    """A history of a correct store: every operation takes effect inside its interval.

    With ``keys`` None it is a single register (read/write); otherwise a key-value map
    (get/put/append on a random key).
    """
    rng = random.Random(seed)
    # 1. when each client invokes, and when it completes or gives up
    plans = []  # (invoke, complete, process, f, key, argument, status, effect_time)
    ready = [(rng.uniform(0, 5), c) for c in range(clients)]
    heapq.heapify(ready)
    for _ in range(operations):
        start, process = heapq.heappop(ready)
        duration = rng.uniform(1, 10)
        if keys is None:
            key, f = None, rng.choice(["read", "write"])
            argument = rng.randrange(10) if f == "write" else None
        else:
            key = rng.choice(keys)
            f = rng.choice(["get", "put", "append"])
            argument = {"get": None, "put": str(rng.randrange(10)),
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
    effective = sorted((p[7], i) for i, p in enumerate(plans) if p[7] is not None)
    for _, i in effective:
        _, _, _, f, key, argument, _, _ = plans[i]
        match f:
            case "read" | "get":
                outputs[i] = store.get(key)
            case "write" | "put":
                store[key] = argument
            case "append":
                store[key] = (store.get(key) or "") + argument
    # 3. the history, in invocation order
    order = sorted(range(len(plans)), key=lambda i: plans[i][0])
    ops = []
    for n, i in enumerate(order):
        start, end, process, f, key, argument, status, _ = plans[i]
        ops.append(Op(n, process, f, key, argument, outputs.get(i), status, start, end))
    return ops


def bench(label: str, ops: list[Op], model: str) -> float:
    began = time.perf_counter()
    result = check_linearizability(ops, model, timeout=120)
    elapsed = time.perf_counter() - began
    print(f"linearizability {label}: {elapsed:.2f} s ({result.verdict})", flush=True)
    if not result.ok:
        print(result, file=sys.stderr)
    return elapsed


def main() -> None:
    register = correct_history(seed=1, clients=10, operations=1_000, keys=None)
    bench("register 1000 ops", register, "register")
    kv = correct_history(seed=2, clients=10, operations=10_000,
                         keys=[f"k{i}" for i in range(100)])
    bench("kv 10000 ops over 100 keys", kv, "kv")


if __name__ == "__main__":
    main()
