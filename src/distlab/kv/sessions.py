"""A client session over leader-follower stores that serve reads from followers.

Writes go to a key's leader; where a read goes is the session's *routing* (Kleppmann, DDIA
ch. 5, "Problems with replication lag"; Terry et al. 1994):

* ``"leader"``: to the leader. Every read sees every acknowledged write (one copy answers
  everything), at the price of the leader's distance and load.
* ``"sticky"``: always to the same follower (the session's *home*). A follower applies the
  log in order and never goes back, so the session's reads are monotonic; but the home may
  not have the session's own last write yet.
* ``"any"``: to a follower drawn at random each time: the cheapest and the weakest; two
  reads may go backwards.

With ``tokens`` the session also keeps a *version token* per store (the highest log index it
has seen there, from the `At` of its writes and reads) and sends it with every read; the
follower answers once it has applied that far (`distlab.kv.leader_follower.SessionGet`).
Then the session reads its writes and its reads are monotonic, whatever follower it asks.

A *store* is one leader-follower group; a session may use several (the shards of a
partitioned store), each key living in one (``stores`` maps a key to its store's
``(leader, followers)``). Tokens of different stores say nothing about each other: that is
how a partitioned store loses consistent prefix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from distlab.kv.leader_follower import At, SessionGet, SessionPut
from distlab.sim import Client, Operation
from distlab.workloads.kv import GetOk, PutOk

ROUTINGS = ("leader", "sticky", "any")

#: A store: its leader and its followers.
Store = tuple[str, tuple[str, ...]]


class SessionClient(Client):
    """One client session (module docstring).

    ``stores`` maps each key to ``(leader, followers)``; ``home`` is the index of the
    session's follower in each store (``"sticky"``). The session either follows ``script``,
    ((time, f, key, value), ...) with f "get" or "put" (value None for a get; a step due
    while an operation runs starts when it ends), or, without
    one, does ``ops`` random operations (``writes``: the share of puts), waiting between 0
    and ``2 * think`` ms after each. Values written are ``"<id>.<n>"``, unique.
    """

    def __init__(self, stores: Mapping[str, Store], routing: str = "any", tokens: bool = False,
                 home: int = 0, script: Sequence[tuple[float, str, str, Any]] | None = None,
                 ops: int = 20, writes: float = 0.3,
                 think: float = 20.0) -> None:
        if routing not in ROUTINGS:
            raise ValueError(f"unknown routing {routing!r}: use one of {', '.join(ROUTINGS)}")
        for step in script or ():
            if len(step) != 4 or step[1] not in ("get", "put") or step[2] not in stores:
                raise ValueError(f"a script step is (time, 'get' or 'put', key, value) with a "
                                 f"key among {sorted(stores)}; got {step!r}")
        self.stores = dict(stores)
        self.routing, self.tokens, self.home = routing, tokens, home
        self.script = tuple(script) if script is not None else None
        self.ops, self.writes, self.think = ops, writes, think
        self.token: dict[str, int] = {}            # store (its leader) -> highest index seen
        self.current: Operation | None = None
        self.queued: list[tuple[str, str, Any]] = []   # script steps due while one ran
        self.done = 0

    def on_start(self) -> None:
        if self.script is not None:
            for n, (time, *_) in enumerate(self.script):
                self.set_timer(time, f"step {n}")
        else:
            self.set_timer(self.rng.uniform(0, 2 * self.think), "next")

    def on_timer(self, name: str) -> None:
        if self.script is not None:
            _, f, key, value = self.script[int(name.split()[1])]
            self.queued.append((f, key, value))
            if self.current is None:
                self.start(*self.queued.pop(0))
        elif self.done < self.ops:
            key = self.rng.choice(sorted(self.stores))
            f = "put" if self.rng.random() < self.writes else "get"
            self.start(f, key, f"{self.id}.{self.done + 1}" if f == "put" else None)

    def start(self, f: str, key: str, value: Any) -> None:
        """Invoke an operation and send its request where the routing says."""
        self.done += 1
        self.current = self.invoke(f, value=value, key=key)
        leader, followers = self.stores[key]
        if f == "put":
            self.send(leader, SessionPut(self.id, self.done, key, value))
            return
        server = {"leader": leader, "sticky": followers[self.home % len(followers)],
                  "any": self.rng.choice(followers) if followers else leader}[self.routing]
        after = self.token.get(leader, 0) if self.tokens else 0
        self.send(server, SessionGet(self.id, self.done, key, after))

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case At(reply, index) if self.current is not None and (
                    reply.in_reply_to == self.done):
                leader = self.stores[self.current.key][0]
                self.token[leader] = max(self.token.get(leader, 0), index)
                self.ok(self.current, reply.value if isinstance(reply, GetOk) else None)
                self.current = None
                if self.script is None:
                    self.set_timer(self.rng.uniform(0, 2 * self.think), "next")
                elif self.queued:                      # a step came due while this one ran
                    self.start(*self.queued.pop(0))
            case At(PutOk() | GetOk()):
                pass                                   # a reply to an earlier operation
