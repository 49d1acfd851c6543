"""How fast is the linearizability checker, and how much memory does it take?

Histories from `distlab.check.synthetic`, recorded from *correct* stores (so they must check
as linearizable) unless a violation is injected:

* 10 clients, 1,000 operations on one register (reads and writes, 2% with unknown outcome);
* 10 clients, 10,000 operations on a key-value map of 100 keys (get/put/append), which the
  checker splits per key;
* long single-register histories: 10 clients, 5,000, 20,000 and 50,000 operations (the
  goal for 50,000: under 10 s and 500 MB);
* 50 clients, about 1,700 operations over 10 keys, 4 of them *hard* (20 concurrent writes
  and a read of a value none wrote: 2**20 configurations to refute) and 6 with one read
  changed to a value never written: the answer must come from a cheap violating key.

Each history is checked in a fresh process, so that its peak memory (resident set) is its
own; the time is the check's CPU time, not counting building the history. Run with
``python bench/bench_linearizability.py``; it prints one line per history.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

from distlab.check import Op, check_linearizability
from distlab.check.synthetic import correct_history, with_hard_keys, with_violations

KEYS = [f"k{i}" for i in range(10)]


def history(case: str) -> tuple[list[Op], str]:
    """The operations of a named case, and the model to check them against."""
    kind, size = case.split("-")
    operations = int(size)
    if kind == "register":
        return correct_history(seed=1, clients=10, operations=operations), "register"
    if kind == "kv":
        keys = [f"k{i}" for i in range(100)]
        return correct_history(seed=2, clients=10, operations=operations, keys=keys), "kv"
    ops = correct_history(seed=3, clients=50, operations=operations, keys=KEYS)
    return with_hard_keys(with_violations(ops, KEYS[4:]), KEYS[:4], writers=20), "kv"


def measure(case: str) -> dict:
    """Check one case in this process: CPU time, peak resident memory, the answer."""
    ops, model = history(case)
    began = time.process_time()
    result = check_linearizability(ops, model, timeout=120)
    return {"operations": len(ops), "seconds": time.process_time() - began,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "verdict": str(result.verdict), "key": result.key if model == "kv" else None,
            "explored": result.explored}


def bench(case: str, label: str) -> dict:
    """Measure ``case`` in a fresh Python process and print one line."""
    done = subprocess.run([sys.executable, __file__, case], capture_output=True, text=True,
                          check=True)
    m = json.loads(done.stdout)
    where = f", key {m['key']}" if m["key"] is not None and m["verdict"] != "linearizable" else ""
    print(f"linearizability {label}: {m['seconds']:.2f} s, peak {m['peak_mb']:.0f} MB, "
          f"{m['explored']:,} steps ({m['verdict']}{where})", flush=True)
    return m


def main() -> None:
    bench("register-1000", "register 1000 ops")
    bench("kv-10000", "kv 10000 ops over 100 keys")
    for n in (5_000, 20_000, 50_000):
        bench(f"register-{n}", f"register {n} ops, 10 clients")
    bench("hard-1600", "kv 50 clients, 1684 ops over 10 keys, 4 hard, 6 violated")


if __name__ == "__main__":
    if len(sys.argv) == 2:  # one case, in the fresh process `bench` started
        print(json.dumps(measure(sys.argv[1])))
    else:
        main()
