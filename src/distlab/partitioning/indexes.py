"""Secondary indexes on partitioned data: partitioned by document, or by term.

A store partitioned by primary key answers "get document 1234" from one node. A query on
another attribute ("every red car") needs a secondary index, and the index must be
partitioned too. Two ways (Kleppmann, *Designing Data-Intensive Applications*, ch. 6):

* `DocumentPartitionedIndex` (a *local* index): each node indexes only its own documents. A
  write touches one node; a query must ask every node and merge the answers (scatter/gather).
* `TermPartitionedIndex` (a *global* index): the entry for a term lives on the node that owns
  the term. A query asks that one node; a write must update the entry of every term of the
  document, on whichever nodes own them.

Both record which nodes each operation contacts, which is what the book measures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from distlab.partitioning.scheme import Partitioner


@dataclass(frozen=True)
class Answer:
    """What a query found, and the nodes it had to contact to find it."""

    documents: frozenset[str]
    contacted: frozenset[str]


class DocumentPartitionedIndex:
    """Each node indexes the documents it holds: ``postings[node][term]`` -> document ids.

    >>> from distlab.partitioning.modn import ModN
    >>> index = DocumentPartitionedIndex(ModN(["a", "b", "c"]))
    >>> len(index.add("car-1", ["colour:red"]))
    1
    >>> answer = index.query("colour:red")
    >>> sorted(answer.documents), sorted(answer.contacted)
    (['car-1'], ['a', 'b', 'c'])
    """

    def __init__(self, scheme: Partitioner) -> None:
        self.scheme = scheme
        self.postings: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))

    def add(self, document: str, terms: Iterable[str]) -> frozenset[str]:
        """Store and index a document; return the nodes the write touched (its own only)."""
        node = self.scheme.owner(document)
        for term in terms:
            self.postings[node][term].add(document)
        return frozenset([node])

    def query(self, term: str) -> Answer:
        """Ask every node for its documents with ``term`` and merge (scatter/gather)."""
        found = set()
        for node in self.scheme.nodes:
            found |= self.postings[node].get(term, set())
        return Answer(frozenset(found), frozenset(self.scheme.nodes))


class TermPartitionedIndex:
    """The entry of each term lives on the term's owner: ``postings[owner(term)][term]``.

    >>> from distlab.partitioning.modn import ModN
    >>> index = TermPartitionedIndex(ModN(["a", "b", "c"]))
    >>> touched = index.add("car-1", ["colour:red", "make:fiat"])
    >>> len(index.query("colour:red").contacted)
    1
    """

    def __init__(self, scheme: Partitioner) -> None:
        self.scheme = scheme
        self.postings: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))

    def add(self, document: str, terms: Iterable[str]) -> frozenset[str]:
        """Store a document on its owner and add it to each term's entry, on the term's
        owner; return every node the write touched."""
        touched = {self.scheme.owner(document)}
        for term in terms:
            node = self.scheme.owner(term)
            self.postings[node][term].add(document)
            touched.add(node)
        return frozenset(touched)

    def query(self, term: str) -> Answer:
        """Ask the one node that owns ``term``."""
        node = self.scheme.owner(term)
        return Answer(frozenset(self.postings[node].get(term, set())), frozenset([node]))
