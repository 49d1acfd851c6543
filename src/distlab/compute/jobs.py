"""Four MapReduce jobs, and inputs to run them on.

* `word_count` -- how often each word occurs (the paper's first example), with a combiner;
* `inverted_index` -- for each word, the documents that contain it;
* `join` -- a reduce-side join of two tables on a shared key (customers and their orders):
  map tags each row with its table, reduce meets the two sides of one key;
* `sort_job` -- sort records by key, with a range partitioner (`sort_boundaries` samples
  the keys), so that the R outputs in order are the sorted whole.

The inputs are made up from a seed (`documents`, `tables`, `records`), so an experiment can
make as many as it needs, the same on every run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from distlab.compute.model import Job, Pair, RangePartition
from distlab.sim import stream

WORD = re.compile(r"[a-z]+")


# -- word count ---------------------------------------------------------------------------------
def count_words(name: str, text: str) -> Iterator[Pair]:
    """Map: a ``(word, "1")`` pair for every word of the text (lower case, letters only)."""
    for word in WORD.findall(text.lower()):
        yield word, "1"


def add_counts(word: str, counts: list[str]) -> str:
    """Reduce (and combiner): the sum of the counts."""
    return str(sum(int(c) for c in counts))


word_count = Job("word count", count_words, add_counts, combiner=add_counts)


# -- inverted index -----------------------------------------------------------------------------
def words_of_document(name: str, text: str) -> Iterator[Pair]:
    """Map: a ``(word, document)`` pair for each distinct word of the document."""
    for word in sorted(set(WORD.findall(text.lower()))):
        yield word, name


def list_documents(word: str, names: list[str]) -> str:
    """Reduce: the documents that hold the word, sorted, comma-separated."""
    return ",".join(sorted(set(names)))


inverted_index = Job("inverted index", words_of_document, list_documents)


# -- reduce-side join ---------------------------------------------------------------------------
def tag_rows(name: str, text: str) -> Iterator[Pair]:
    """Map: each row keyed by the customer id, its value tagged with its table.

    A ``customers`` file holds ``id,name`` rows; an ``orders`` file ``order,customer,amount``.
    """
    table = name.split("-")[0]
    for line in text.splitlines():
        fields = line.split(",")
        if table == "customers":
            yield fields[0], f"C|{fields[1]}"
        elif table == "orders":
            yield fields[1], f"O|{fields[0]} {fields[2]}"
        else:
            raise ValueError(f"the join reads files named customers-* or orders-*; got {name!r}")


def join_rows(customer: str, tagged: list[str]) -> str:
    """Reduce: the customer's name and its orders, sorted (no name: an order without
    customer; no orders: an empty list)."""
    names = [value[2:] for value in tagged if value.startswith("C|")]
    orders = sorted(value[2:] for value in tagged if value.startswith("O|"))
    return f"{names[0] if names else '?'}: {'; '.join(orders)}"


join = Job("join", tag_rows, join_rows)


# -- sort ---------------------------------------------------------------------------------------
def emit_records(name: str, text: str) -> Iterator[Pair]:
    """Map: each record (a line) as a key, with an empty value."""
    for line in text.splitlines():
        yield line, ""


def count_copies(key: str, values: list[str]) -> str:
    """Reduce: how many times the record occurred (a sort keeps duplicates)."""
    return str(len(values))


def sort_boundaries(keys: list[str], n_reduce: int) -> tuple[str, ...]:
    """``n_reduce - 1`` boundaries at the quantiles of a sample of the keys, so that the
    partitions are about equal (the paper samples the keys the same way)."""
    ordered = sorted(keys)
    if len(ordered) < n_reduce:
        raise ValueError(f"{len(ordered)} sample keys cannot cut {n_reduce} ranges")
    return tuple(ordered[i * len(ordered) // n_reduce] for i in range(1, n_reduce))


def sort_job(boundaries: tuple[str, ...]) -> Job:
    """A sort by key into ``len(boundaries) + 1`` ordered ranges."""
    return Job("sort", emit_records, count_copies, partition=RangePartition(boundaries))


# -- inputs -------------------------------------------------------------------------------------
#: the vocabulary of the made-up documents: a few frequent words, many rare ones
VOCABULARY = ("the of and to in is that it for on was with as by at from this be are or "
              "node message clock leader replica quorum log commit crash partition network "
              "lease vote term shard key value map reduce shuffle worker task split output "
              "file rename backup straggler locality rack disk timeout retry").split()


def documents(n: int, words: int = 200, seed: int = 0) -> dict[str, str]:
    """``n`` made-up documents ``doc-00``, ... of ``words`` words each, drawn with a skew
    (the k-th word of `VOCABULARY` about 1/k as often as the first), like real text."""
    rng = stream(seed, "compute-documents")
    weights = [1 / (k + 1) for k in range(len(VOCABULARY))]
    width = len(str(n - 1))
    return {f"doc-{i:0{width}d}": " ".join(rng.choices(VOCABULARY, weights, k=words))
            for i in range(n)}


def tables(customers: int = 6, orders: int = 12, seed: int = 0) -> dict[str, str]:
    """A ``customers-0`` and an ``orders-0`` table for the join; some orders name a customer
    the table does not have, as real data does."""
    rng = stream(seed, "compute-tables")
    names = ["ada", "bob", "cyd", "dee", "eve", "fay", "gus", "hal", "ivy", "jon"]
    people = "\n".join(f"c{i},{names[i % len(names)]}" for i in range(customers))
    bought = "\n".join(f"o{i},c{rng.randrange(customers + 1)},{rng.randrange(1, 100)}"
                       for i in range(orders))
    return {"customers-0": people, "orders-0": bought}


def records(n_files: int, per_file: int = 50, seed: int = 0) -> dict[str, str]:
    """``n_files`` files of random 6-letter records, one a line, to sort."""
    rng = stream(seed, "compute-records")
    return {f"records-{i}": "\n".join("".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=6))
                                      for _ in range(per_file)) for i in range(n_files)}
