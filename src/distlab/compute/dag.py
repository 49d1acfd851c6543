"""Datasets with lineage, after Spark's resilient distributed datasets (RDDs).

Zaharia et al. {cite:p}`zaharia2012rdd` replace MapReduce's two fixed phases by a graph of
*datasets*, each split into partitions and defined by how it is computed from its parents:
its *lineage*. A dependency is **narrow** when each partition of the child needs one
partition of the parent (``map``, ``filter``, ``flat_map``): the two can run in one task,
on one machine, one after the other. It is **wide** when a partition of the child needs
pieces of *every* partition of the parent (``reduce_by_key``): a *shuffle*, as between
MapReduce's map and reduce. The scheduler cuts the graph into *stages* at the wide
dependencies (`stages`); inside a stage the narrow steps are pipelined.

Nothing is replicated. Partition ``i`` of every dataset lives on machine ``i mod n`` of the
`Context`; the map side of a shuffle writes its buckets there too (the *shuffle files*), and
a cached dataset (`Dataset.cache`) keeps its partitions there. When a machine is lost
(`Context.lose`), its cached partitions and shuffle files go with it, and the next action
recomputes exactly what is missing from the lineage -- no more: a partition whose inputs are
still cached, or whose shuffle files survive, is not recomputed. ``Context.computed`` counts
every partition computed, so a page can measure what a failure cost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx

from distlab.compute.model import hash_partition

Record = Any


@dataclass(eq=False)
class Dataset:
    """A dataset: ``n_partitions`` partitions computed from ``parent`` (None for a source).

    ``wide`` says whether the dependency on the parent is a shuffle; ``step`` computes one
    partition from its input -- the parent's partition of the same number (narrow), or the
    records of the shuffle bucket (wide). Build datasets with `Context.source` and the
    transformations; nothing is computed until an action (`collect`, `count`) asks.
    """

    context: Context
    name: str
    n_partitions: int
    parent: Dataset | None = None
    wide: bool = False
    step: Callable[[list[Record]], list[Record]] | None = None
    cached: bool = False

    # -- transformations (lazy) ---------------------------------------------------------------
    def map(self, fn: Callable[[Record], Record], name: str = "map") -> Dataset:
        """Narrow: ``fn`` applied to every record."""
        return self._narrow(name, lambda records: [fn(r) for r in records])

    def flat_map(self, fn: Callable[[Record], Iterable[Record]], name: str = "flat_map"
                 ) -> Dataset:
        """Narrow: every record replaced by the records ``fn`` returns for it."""
        return self._narrow(name, lambda records: [out for r in records for out in fn(r)])

    def filter(self, keep: Callable[[Record], bool], name: str = "filter") -> Dataset:
        """Narrow: the records for which ``keep`` is true."""
        return self._narrow(name, lambda records: [r for r in records if keep(r)])

    def reduce_by_key(self, fn: Callable[[Any, Any], Any], n_partitions: int | None = None,
                      name: str = "reduce_by_key") -> Dataset:
        """Wide: ``(key, value)`` records shuffled by key into ``n_partitions`` partitions
        (`hash_partition`), the values of each key folded with ``fn``, in key order."""
        def fold(records: list[Record]) -> list[Record]:
            totals: dict[Any, Any] = {}
            for key, value in records:
                totals[key] = fn(totals[key], value) if key in totals else value
            return sorted(totals.items())
        parts = n_partitions or self.n_partitions
        if parts < 1:
            raise ValueError(f"a shuffle needs at least 1 partition; got {parts}")
        return Dataset(self.context, name, parts, self, wide=True, step=fold)

    def cache(self) -> Dataset:
        """Keep this dataset's partitions in memory once computed (on their machines)."""
        self.cached = True
        return self

    def _narrow(self, name: str, step: Callable[[list[Record]], list[Record]]) -> Dataset:
        return Dataset(self.context, name, self.n_partitions, self, wide=False, step=step)

    # -- actions ------------------------------------------------------------------------------
    def collect(self) -> list[Record]:
        """Every record, partition after partition: computes what is needed."""
        return [r for i in range(self.n_partitions) for r in self.context.partition(self, i)]

    def count(self) -> int:
        """The number of records."""
        return len(self.collect())

    def lineage(self) -> list[Dataset]:
        """This dataset and its ancestors, the source first."""
        chain = [] if self.parent is None else self.parent.lineage()
        return chain + [self]

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, {self.n_partitions} partitions)"


class Context:
    """Where datasets are computed: ``machines`` machines, partition ``i`` on machine
    ``machines[i % len(machines)]``.

    ``computed`` counts the partitions computed, by ``(dataset name, partition)``; ``log``
    lists them in order. Invariant: a partition is computed only if no machine holds it
    (cached) or, for a wide dependency, only its lost shuffle files are rebuilt.
    """

    def __init__(self, machines: Sequence[str] = ("m1", "m2", "m3")):
        if not machines:
            raise ValueError("a context needs at least one machine, e.g. ('m1', 'm2')")
        self.machines = tuple(machines)
        self.cache: dict[tuple[int, int], list[Record]] = {}   # (dataset id, partition)
        self.shuffle_files: dict[tuple[int, int], list[list[Record]]] = {}  # map side
        self.computed: Counter[tuple[str, int]] = Counter()
        self.log: list[tuple[str, int]] = []

    def machine(self, partition: int) -> str:
        """The machine that computes and holds partition ``partition`` of any dataset."""
        return self.machines[partition % len(self.machines)]

    def source(self, name: str, partitions: Sequence[Sequence[Record]]) -> Dataset:
        """A dataset read from stable storage (replicated: never lost), one list per
        partition."""
        if not partitions:
            raise ValueError(f"source {name!r} needs at least one partition")
        return _Source(self, name, [list(p) for p in partitions])

    def partition(self, dataset: Dataset, i: int) -> list[Record]:
        """Partition ``i`` of ``dataset``: from the cache if a machine holds it, otherwise
        computed from its lineage (and cached if the dataset is)."""
        key = (id(dataset), i)
        if key in self.cache:
            return self.cache[key]
        if isinstance(dataset, _Source):
            return dataset.data[i]
        assert dataset.parent is not None and dataset.step is not None
        if dataset.wide:
            records = [r for m in range(dataset.parent.n_partitions)
                       for r in self.bucket(dataset, m)[i]]
        else:
            records = self.partition(dataset.parent, i)
        result = dataset.step(records)
        self.computed[dataset.name, i] += 1
        self.log.append((dataset.name, i))
        if dataset.cached:
            self.cache[key] = result
        return result

    def bucket(self, dataset: Dataset, m: int) -> list[list[Record]]:
        """The shuffle files written by map-side task ``m`` for wide ``dataset``: partition
        ``m`` of the parent split by key into ``dataset.n_partitions`` buckets."""
        key = (id(dataset), m)
        if key not in self.shuffle_files:
            assert dataset.parent is not None
            buckets: list[list[Record]] = [[] for _ in range(dataset.n_partitions)]
            for record in self.partition(dataset.parent, m):
                buckets[hash_partition(str(record[0]), dataset.n_partitions)].append(record)
            self.shuffle_files[key] = buckets
            self.computed[f"{dataset.name} (map side)", m] += 1
            self.log.append((f"{dataset.name} (map side)", m))
        return self.shuffle_files[key]

    def lose(self, machine: str) -> int:
        """Machine ``machine`` fails: its cached partitions and shuffle files are gone.
        Returns how many pieces were lost."""
        if machine not in self.machines:
            raise ValueError(f"no machine {machine!r}; the machines are {self.machines}")
        lost = [k for k in self.cache if self.machine(k[1]) == machine]
        lost_files = [k for k in self.shuffle_files if self.machine(k[1]) == machine]
        for k in lost:
            del self.cache[k]
        for k in lost_files:
            del self.shuffle_files[k]
        return len(lost) + len(lost_files)

    def reset_counts(self) -> None:
        """Forget the counts (not the caches): to measure the next action alone."""
        self.computed.clear()
        self.log.clear()


class _Source(Dataset):
    """A dataset read from replicated storage: its partitions are always there."""

    def __init__(self, context: Context, name: str, data: list[list[Record]]):
        super().__init__(context, name, len(data))
        self.data = data


@dataclass(frozen=True)
class Stage:
    """A stage: datasets computed in one task per partition, pipelined; ``after`` are the
    stages whose shuffle output it reads."""

    number: int
    datasets: tuple[Dataset, ...]
    after: tuple[int, ...]

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.datasets]


def stages(dataset: Dataset) -> list[Stage]:
    """``dataset``'s lineage cut into stages at each wide dependency, the first stage first."""
    result: list[Stage] = []
    current: list[Dataset] = []
    for d in dataset.lineage():
        if d.wide and current:
            result.append(Stage(len(result), tuple(current),
                                (len(result) - 1,) if result else ()))
            current = []
        current.append(d)
    result.append(Stage(len(result), tuple(current), (len(result) - 1,) if result else ()))
    return result


def lineage_graph(dataset: Dataset) -> nx.DiGraph:
    """The lineage as a graph of partitions: a node ``(name, i)`` per partition with its
    ``stage`` and ``machine``, an edge per dependency, marked ``wide`` for a shuffle."""
    graph = nx.DiGraph()
    context = dataset.context
    for stage in stages(dataset):
        for d in stage.datasets:
            for i in range(d.n_partitions):
                graph.add_node((d.name, i), stage=stage.number, machine=context.machine(i))
                if d.parent is None:
                    continue
                sources = range(d.parent.n_partitions) if d.wide else (i,)
                for j in sources:
                    graph.add_edge((d.parent.name, j), (d.name, i), wide=d.wide)
    return graph
