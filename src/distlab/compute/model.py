"""The MapReduce programming model, run sequentially: the reference every framework must match.

Dean and Ghemawat {cite:p}`dean2004mapreduce` ask the programmer for two functions. ``map``
turns one input (a file's name and its text) into intermediate *pairs* ``(key, value)``;
``reduce`` turns one key and *all* the values emitted for it into one output value. Between
them the framework does the *shuffle*: it sends every pair to reduce partition
``partition(key, R)`` and groups each partition's pairs by key, in key order. An optional
``combiner`` -- often the reduce function itself -- folds a map task's own pairs for a key
before they leave the machine, so that a word seen 1,000 times crosses the network once.

`Job` holds the functions; `map_task` and `reduce_task` are one task of each kind, exactly as
a worker of `distlab.compute.mapreduce` runs it; `run_sequential` runs a whole job in one
loop, the answer a distributed run must reproduce. Keys and values are text, and a file of
pairs is one ``key<TAB>value`` line per pair (`encode`, `decode`), as in the classic
course's lab. The four jobs of the paper's section 2.3 are in `distlab.compute.jobs`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import groupby

from distlab.partitioning.hashing import stable_hash

#: an intermediate or output pair: (key, value), both text
Pair = tuple[str, str]
MapFunction = Callable[[str, str], Iterable[Pair]]
ReduceFunction = Callable[[str, list[str]], str]
PartitionFunction = Callable[[str, int], int]


def hash_partition(key: str, n_reduce: int) -> int:
    """The default partitioning function: a stable hash of the key, modulo R.

    Stable (the same in every process), unlike Python's salted ``hash()``: every map task
    must send a key to the same reduce partition, or one word is counted in two places.
    """
    return stable_hash(key) % n_reduce


@dataclass(frozen=True)
class RangePartition:
    """A partitioning function that keeps key order: partition ``i`` holds the keys from
    ``boundaries[i-1]`` (included) to ``boundaries[i]`` (excluded). With it, the reduce
    outputs read one after the other are globally sorted (the sort of the paper's 5.3).

    >>> part = RangePartition(("g", "p"))
    >>> [part(k, 3) for k in ("apple", "grape", "zebra")]
    [0, 1, 2]
    """

    boundaries: tuple[str, ...]

    def __call__(self, key: str, n_reduce: int) -> int:
        if n_reduce != len(self.boundaries) + 1:
            raise ValueError(f"{len(self.boundaries)} boundaries make "
                             f"{len(self.boundaries) + 1} ranges, so run the job with "
                             f"n_reduce={len(self.boundaries) + 1}, not {n_reduce}")
        return sum(1 for b in self.boundaries if key >= b)


@dataclass(frozen=True)
class Job:
    """A MapReduce job: what to do with each input, and with each key's values.

    ``map(name, text)`` yields pairs; ``reduce(key, values)`` returns the key's output value
    (the values come in the order the map tasks ran, so reduce must not depend on it);
    ``combiner(key, values)``, if given, folds one map task's values for a key into one (it
    must give the same final answer as folding them all in reduce: a sum can, an average
    cannot); ``partition(key, R)`` chooses the reduce partition.
    """

    name: str
    map: MapFunction
    reduce: ReduceFunction
    combiner: ReduceFunction | None = None
    partition: PartitionFunction = field(default=hash_partition)


def encode(pairs: Iterable[Pair]) -> str:
    """Pairs as text, one ``key<TAB>value`` line each (how the files of a job hold them)."""
    lines = []
    for key, value in pairs:
        if not (isinstance(key, str) and isinstance(value, str)):
            raise TypeError(f"keys and values are text: a map or reduce function must emit "
                            f"str, str pairs; got ({key!r}, {value!r})")
        if "\t" in key or "\n" in key or "\n" in value:
            raise ValueError(f"a key may hold no tab or newline and a value no newline (they "
                             f"separate the pairs in a file); got ({key!r}, {value!r})")
        lines.append(f"{key}\t{value}\n")
    return "".join(lines)


def decode(text: str) -> list[Pair]:
    """The pairs of a file written by `encode`."""
    pairs = []
    for line in text.splitlines():
        key, tab, value = line.partition("\t")
        if not tab:
            raise ValueError(f"not a line of pairs (key<TAB>value): {line!r}")
        pairs.append((key, value))
    return pairs


def map_task(job: Job, name: str, text: str, n_reduce: int) -> list[list[Pair]]:
    """One map task: ``job.map`` over one input, combined, split into ``n_reduce`` partitions.

    Returns one list of pairs per reduce partition, each sorted by key (what the task writes
    as its R intermediate files).
    """
    if not isinstance(n_reduce, int) or n_reduce < 1:
        raise ValueError(f"n_reduce is the number of reduce partitions, a whole number >= 1; "
                         f"got {n_reduce!r}")
    partitions: list[list[Pair]] = [[] for _ in range(n_reduce)]
    for key, value in job.map(name, text):
        r = job.partition(key, n_reduce)
        if not (isinstance(r, int) and 0 <= r < n_reduce):
            raise ValueError(f"the partition function sent key {key!r} to partition {r!r}, "
                             f"not one of 0..{n_reduce - 1}")
        partitions[r].append((key, value))
    if job.combiner is None:
        return [sorted(pairs) for pairs in partitions]
    return [[(key, job.combiner(key, values)) for key, values in group(pairs)]
            for pairs in partitions]


def group(pairs: Iterable[Pair]) -> list[tuple[str, list[str]]]:
    """The pairs grouped by key, in key order, each key with its values in arrival order:
    the "sort" half of the shuffle."""
    ordered = sorted(pairs, key=lambda pair: pair[0])  # stable: values keep their order
    return [(key, [value for _, value in same]) for key, same in
            groupby(ordered, key=lambda pair: pair[0])]


def reduce_task(job: Job, pairs: Iterable[Pair]) -> list[Pair]:
    """One reduce task: its partition's pairs grouped by key, each group reduced."""
    return [(key, job.reduce(key, values)) for key, values in group(pairs)]


@dataclass(frozen=True)
class Result:
    """What a sequential run computed: the output of every reduce partition, and the traffic.

    ``map_pairs`` counts the pairs the map functions emitted; ``shuffled_pairs`` those that
    crossed to the reducers (fewer with a combiner).
    """

    partitions: tuple[tuple[Pair, ...], ...]
    map_pairs: int
    shuffled_pairs: int

    def pairs(self) -> list[Pair]:
        """Every output pair, partition after partition."""
        return [pair for partition in self.partitions for pair in partition]

    def as_dict(self) -> dict[str, str]:
        """The output as a dict key -> value (every key is in exactly one partition)."""
        return dict(self.pairs())


def run_sequential(job: Job, inputs: Mapping[str, str], n_reduce: int) -> Result:
    """Run ``job`` over ``inputs`` (name -> text) in one process: every map task, the
    shuffle, every reduce task."""
    if not inputs:
        raise ValueError("a job needs at least one input: pass {name: text, ...}")
    shuffled: list[list[Pair]] = [[] for _ in range(n_reduce)]
    map_pairs = 0
    for name in sorted(inputs):
        map_pairs += sum(1 for _ in job.map(name, inputs[name]))
        for r, pairs in enumerate(map_task(job, name, inputs[name], n_reduce)):
            shuffled[r].extend(pairs)
    partitions = tuple(tuple(reduce_task(job, pairs)) for pairs in shuffled)
    return Result(partitions, map_pairs, sum(len(p) for p in shuffled))
