"""What does checking storage writes cost, and how long does a real request take?

* A node's ``storage`` is a `distlab.sim.Storage`, which checks every value written into it
  (`distlab.sim.storage.check_storable`): this prints the time of one write into it next to
  one into a plain dict, for three shapes of value.
* In real mode, the time of one request from an `Endpoint` to a node process and back, over
  200 requests in a row (each send once waited 2 s to ask whether its connection was open).

Run with ``python bench/bench_storage.py``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import timeit
from dataclasses import dataclass

from distlab.sim import Storage


@dataclass(frozen=True)
class Entry:
    term: int
    command: str


def storage_writes() -> None:
    shapes = {"an int": 5, "a tuple of 3 scalars": (1, "x", None),
              "a list of 100 dataclasses": [Entry(i, "x") for i in range(100)]}
    for name, value in shapes.items():
        plain, checked = {}, Storage()
        number = 200 if isinstance(value, list) else 20_000
        times = [min(timeit.repeat(lambda d=d: d.__setitem__("k", value), number=number,
                                   repeat=5)) / number for d in (plain, checked)]
        print(f"storage write of {name:26s}: dict {times[0] * 1e6:8.2f} us, "
              f"Storage {times[1] * 1e6:8.2f} us ({times[1] / times[0]:5.1f}x)")


def real_requests(count: int = 200) -> None:
    from distlab.failures.ledgers import Balance
    from distlab.net import start_cluster

    with tempfile.TemporaryDirectory() as data_dir, \
            start_cluster("distlab.failures.ledgers:DurableLedger", ["a"], data_dir=data_dir,
                          clients=["me"]) as cluster:
        me = cluster.client("me")
        me.request("a", Balance())                # the first one opens the connections
        times = []
        for _ in range(count):
            started = time.perf_counter()
            me.request("a", Balance())
            times.append(time.perf_counter() - started)
    print(f"real request and reply over loopback, {count} in a row: median "
          f"{statistics.median(times) * 1000:.2f} ms, max {max(times) * 1000:.2f} ms, "
          f"total {sum(times):.2f} s")


def main() -> None:
    storage_writes()
    real_requests()


if __name__ == "__main__":
    main()
