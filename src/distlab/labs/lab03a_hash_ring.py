"""Lab 3a: a hash-partitioned key-value store on a consistent-hash ring (the notebook
``lab03a-hash-ring.ipynb``).

Karger et al., "Consistent Hashing and Random Trees" {cite:p}`karger1997consistent`, as
Dynamo uses it {cite:p}`decandia2007dynamo`. The student writes two classes:

* ``Ring``: the ring with virtual nodes. Its layout is fixed, so that the checks know the
  truth: virtual node ``i`` of node ``n`` sits at ``stable_hash(f"{n}#{i}")``, a key at
  ``stable_hash(key)`` (`distlab.partitioning.hashing`, the same in every process), and a key
  belongs to the first virtual node at or after its position, wrapping round past the last.
  ``owner(key)``, ``add(node)`` and ``remove(node)``; refused operations raise ValueError.
* ``StoreNode``: a server of the store. Clients (the workload's `KVClient`) send their
  ``get`` and ``put`` to any server; a server that does not own the key forwards the request
  to the owner (`Forward`), which applies it and answers the client.

Part A checks the ring alone, as `Trial` checks: the body runs the student's ``Ring`` and
returns its answers as data, and the judge compares them, in the grader, with the library's
`ConsistentHashRing` built on the same layout: every key's owner (awkward keys included: a
key whose hash is exactly a virtual node's position, keys past the last position, a single
node), the load of each node within `LOAD_BOUND` times the mean, the keys that move on a join
or a leave against the optimum, and the errors. Part B runs the store on the simulator: every
key ends at its owner, each put takes effect once (a put whose answer was lost is resent, and
must not be done again), and the clients' history is linearizable.

The student's classes may not use the library's ring (`own_code` refuses them).
"""

from __future__ import annotations

import bisect
import textwrap
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.lines import Line2D

from distlab.check.invariants import Invariant, live_nodes
from distlab.grading.lab import Lab, Scenario, Trial, graded, own_code
from distlab.grading.properties import (EveryOperationCompletes, Linearizable, Run, TraceProperty,
                                        Violation)
from distlab.partitioning import ConsistentHashRing
from distlab.partitioning.hashing import stable_hash, unit
from distlab.sim import Network, Node, Simulation, Uniform, stream
from distlab.viz.palette import LIGHT_GREY
from distlab.viz.ring import MOVED_EDGE, RingView, draw_ring, legend_handles, node_colors
from distlab.viz.style import NotebookFigure
from distlab.workloads import kv

__all__ = ["Forward", "HashRingLab", "LOAD_BOUND", "VNODES", "ring_picture", "stable_hash"]

#: virtual nodes per node, unless a ring is built with another number
VNODES = 100
#: the busiest node may hold at most this many times the mean number of keys
LOAD_BOUND = 1.5
#: the library's partitioning: a student's class may neither subclass nor import it
LIBRARY_RING = ("distlab.partitioning.ring", "distlab.partitioning.runs",
                "distlab.partitioning.scheme", "distlab.partitioning.modn",
                "distlab.partitioning.fixed", "distlab.partitioning.jump",
                "distlab.partitioning.rendezvous", "distlab.kv.leaderless")
#: the keys of the store's workload
STORE_KEYS = tuple(f"user:{i}" for i in range(1, 13))


@dataclass(frozen=True)
class Forward:
    """From the server a client asked to the key's owner: do ``request`` (a `kv.Get` or
    `kv.Put`) and answer its client (``request.client``) yourself."""

    request: kv.Get | kv.Put


# -- the truth, and how a wrong answer is explained --------------------------------------------

def truth(nodes: Sequence[str], vnodes: int) -> ConsistentHashRing:
    """The ring the lab specifies, built by the library: the owner every answer must match."""
    return ConsistentHashRing(nodes, vnodes)


def where(ring: ConsistentHashRing, key: str) -> str:
    """Where ``key`` falls on ``ring``, in words: its position and the virtual node it
    belongs to, saying so when the key is exactly on a point or past the last one."""
    h = stable_hash(key)
    i = bisect.bisect_left(ring.positions, h)
    if i == len(ring.positions):
        return (f"its hash {h} is past the last virtual node ({ring.positions[-1]}, of "
                f"{ring.owners[-1]}): the ring wraps round, and it belongs to the first "
                f"virtual node, at {ring.positions[0]}, of {ring.owners[0]}")
    if ring.positions[i] == h:
        return (f"its hash {h} is exactly the position of a virtual node of "
                f"{ring.owners[i]}: a key belongs to the first virtual node *at or after* "
                f"its position, that one (bisect_left, not bisect_right)")
    return (f"its hash {h} ({unit(h):.4f} of a turn) falls before the virtual node at "
            f"{ring.positions[i]}, of {ring.owners[i]}")


def wrong_owner(ring: ConsistentHashRing, keys: Sequence[str], answers: Any,
                when: str) -> Violation | None:
    """None if ``answers`` are the owners of ``keys`` on ``ring``; else the first mistake,
    explained, with a picture of the ring and the misplaced keys."""
    if type(answers) is not list or len(answers) != len(keys):
        return Violation("owner(key) answers for every key",
                         f"{when}: expected {len(keys)} owners, got {answers!r:.200}", 0.0)
    wrong = [(key, said) for key, said in zip(keys, answers) if said != ring.owner(key)]
    if not wrong:
        return None
    key, said = wrong[0]
    hint = ("" if said in ring.nodes else
            f" ({said!r} is not one of the nodes {', '.join(ring.nodes)})")
    explanation = (f"{when}: owner({key!r}) returned {said!r}{hint}, but {where(ring, key)}. "
                   f"{len(wrong)} of {len(keys)} keys got a wrong owner. (Are virtual "
                   f"nodes at stable_hash(f'{{node}}#{{i}}') and keys at stable_hash(key)? "
                   f"Python's hash() of a string changes from process to process.)")
    title = f"{when}: {len(wrong)} keys with a wrong owner"
    return Violation("every key's owner is the first virtual node at or after its hash",
                     explanation, 0.0,
                     picture=lambda: ring_picture(ring, [k for k, _ in wrong[:40]], title,
                                                  "key your ring placed wrongly"))


def ring_picture(ring: Any, keys: Sequence[str], title: str = "",
                 marked: str = "key shown") -> NotebookFigure:
    """The ring (any object with ``positions`` and ``owners``, as the lab's ``Ring`` or the
    library's), its arcs coloured by owner, and ``keys`` ringed in black at their positions,
    coloured by their owner on that ring; ``marked`` says in the legend what they are."""
    positions, owners = list(ring.positions), list(ring.owners)
    nodes = tuple(dict.fromkeys(sorted(owners)))

    def owner(key: str) -> str:
        return owners[bisect.bisect_left(positions, stable_hash(key)) % len(owners)]

    view = RingView(nodes, tuple((unit(p), o) for p, o in zip(positions, owners)),
                    tuple((unit(stable_hash(k)), k, owner(k)) for k in keys), frozenset(keys))
    colors = node_colors(nodes)
    fig = NotebookFigure(figsize=(5.2, 5.6), dpi=90)
    ax = fig.subplots()
    draw_ring(ax, view, key_labels=len(keys) <= 12, colors=colors,
              title="\n".join(textwrap.wrap(title or f"{len(nodes)} nodes, {len(positions)} "
                                             f"virtual nodes", 56)))
    handles = legend_handles(list(nodes)[:10], colors, moved=False)
    if keys:
        handles.append(Line2D([], [], marker="o", lw=0, color=LIGHT_GREY, markersize=8,
                              markeredgecolor=MOVED_EDGE, label=marked))
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    return fig


# -- the scenarios of part A: which ring, which keys -------------------------------------------

def awkward_keys(ring: ConsistentHashRing, rng: Any, count: int = 4) -> list[str]:
    """Keys that catch the classic mistakes: keys exactly on a virtual node's position
    (``"n1#3"`` hashes where n1's vnode 3 sits; the last position among them), and keys
    past the last position (they wrap round to the first)."""
    on_points = [f"{node}#{i}" for node in ring.nodes for i in range(ring.vnodes)]
    last = ring.owners[-1]
    on_last = next(k for k in on_points if k.startswith(f"{last}#")
                   and stable_hash(k) == ring.positions[-1])
    wrapping = []
    while len(wrapping) < count:
        key = f"w{rng.randrange(10**9)}"
        if stable_hash(key) > ring.positions[-1]:
            wrapping.append(key)
    return [*rng.sample(on_points, min(count, len(on_points))), on_last, *wrapping]


def random_nodes(rng: Any, n: int, taken: Sequence[str] = ()) -> list[str]:
    """``n`` distinct node names, drawn by ``rng``, none of them in ``taken`` (the ids of
    the run's other nodes, such as its clients ``c1``...)."""
    names: list[str] = []
    while len(names) < n:
        name = f"{rng.choice('abcdefghkmpqrstuvwxyz')}{rng.randrange(100)}"
        if name not in names and name not in taken:
            names.append(name)
    return names


def random_keys(rng: Any, count: int) -> list[str]:
    return [f"k{rng.randrange(10**9)}" for _ in range(count)]


# -- the checks of the store (part B) -------------------------------------------------------------

def keys_at_owners(servers: Sequence[str], vnodes: int) -> Invariant:
    """Every key a server holds in ``data`` is one it owns on the lab's ring."""
    ring = truth(servers, vnodes)

    def fn(sim: Simulation) -> str | None:
        for node_id, node in live_nodes(sim).items():
            if node_id not in ring.nodes:
                continue
            for key in getattr(node, "data", {}):
                if ring.owner(key) != node_id:
                    return (f"{node_id} holds key {key!r}, which belongs to "
                            f"{ring.owner(key)} ({where(ring, key)}): a server that does not "
                            f"own a key forwards the request to its owner (Forward)")
        return None

    return Invariant("every key is stored at its owner on the ring, and nowhere else", fn)


class PutsTakeEffectOnce(TraceProperty):
    """No server's ``data`` ever goes back to a value that was overwritten there. Every put
    writes a value of its own (``"c1.3;"``), so a value that comes back is a put applied a
    second time: a resent request (the client got no answer in time and asked again) done
    again after another client's put, which it then undoes."""

    description = "each put takes effect once: an overwritten value never comes back"

    def __init__(self, servers: Sequence[str]):
        self.servers = tuple(servers)

    def begin(self, run: Run) -> None:
        run.state.held = {}         # (server, key) -> the value it holds now
        run.state.overwritten = {}  # (server, key) -> the values it held before

    def observe(self, run: Run) -> str | None:
        state = run.state
        for node_id, node in live_nodes(run.sim).items():
            if node_id not in self.servers:
                continue
            for key, value in getattr(node, "data", {}).items():
                before = state.held.get((node_id, key))
                if value == before:
                    continue
                gone = state.overwritten.setdefault((node_id, key), set())
                if value in gone:
                    return (f"{node_id} set {key!r} back to {value!r}, which a later put had "
                            f"replaced with {before!r}: the put of {value!r} took effect "
                            f"twice. A client that gets no answer resends the same request "
                            f"(same client, same msg_id); the owner must do each request "
                            f"once, and answer a resent one it has done already without "
                            f"doing it again")
                if before is not None:
                    gone.add(before)
                state.held[(node_id, key)] = value
        return None


class RepliesGoToClients(TraceProperty):
    """No server sends a client's reply (`kv.GetOk`, `kv.PutOk`) to another server: the
    owner answers ``request.client`` itself."""

    description = "the owner of a key answers the client directly"

    def __init__(self, servers: Sequence[str]):
        self.servers = frozenset(servers)

    def observe(self, run: Run) -> str | None:
        for event in run.new_events():
            if (event.kind == "send" and isinstance(event.data, (kv.GetOk, kv.PutOk))
                    and event.peer in self.servers):
                return (f"{event.node} sent {event.data} to {event.peer}, a server: the "
                        f"owner of a key answers the client itself (request.client of the "
                        f"Forward's request), not the server that forwarded it")
        return None


# -- the lab -------------------------------------------------------------------------------------

class HashRingLab(Lab):
    """The checks of lab 3a, for the student's ``Ring`` and ``StoreNode`` classes.

    Refuses classes that reuse the library's ring (`own_code`): the point is to write it.
    """

    title = "Lab 3a: a hash-partitioned key-value store"
    node_attributes = ("data",)

    def __init__(self, ring: type, store: type[Node]):
        if not isinstance(ring, type) or not (isinstance(store, type)
                                              and issubclass(store, Node)):
            raise TypeError(f"HashRingLab takes your two classes, HashRingLab(Ring, "
                            f"StoreNode) (StoreNode a subclass of distlab.sim.Node); got "
                            f"{ring!r}, {store!r}")
        self.ring = own_code(ring, LIBRARY_RING, "consistent-hash ring")
        self.store = own_code(store, LIBRARY_RING, "consistent-hash ring")

    def trial(self, body: Callable[[], Any], judge: Callable[[Any], Any]) -> Trial:
        return Trial(body, time_limit=10.0, judge=judge)

    def movement_trial(self, nodes: list[str], vnodes: int, keys: list[str], *,
                       joining: str | None = None, leaving: str | None = None) -> Trial:
        """A trial of one join (``joining``) or one leave (``leaving``) on the student's ring
        of ``nodes``: the owners of ``keys`` before and after it, judged by `judge_movement`."""
        cls = self.ring
        after = [*nodes, joining] if joining else [n for n in nodes if n != leaving]
        when = (f"add({joining!r}) to" if joining else f"remove({leaving!r}) from") + \
            f" Ring({nodes}, vnodes={vnodes})"

        def body() -> tuple[list[Any], list[Any]]:
            student = cls(nodes, vnodes)
            before = [student.owner(key) for key in keys]
            if joining:
                student.add(joining)
            else:
                student.remove(leaving)
            return before, [student.owner(key) for key in keys]

        def judge(answers: Any) -> Violation | None:
            return judge_movement(truth(nodes, vnodes), truth(after, vnodes), keys, answers,
                                  when, joining, leaving)

        return self.trial(body, judge)

    # -- part A: the ring ---------------------------------------------------------------------
    @graded(part="A", seeds=20, description="1 to 8 nodes, 1 to 100 virtual nodes each: "
            "every key's owner, with keys exactly on a virtual node and keys past the last "
            "one (seed 1: a single node)")
    def test_owner_of_every_key_A(self, seed: int) -> Trial:
        rng = stream(seed, "lab3a-owner")
        nodes = random_nodes(rng, 1 if seed == 1 else rng.randint(2, 8))
        vnodes = rng.choice((1, 3, 16, VNODES))
        ring = truth(nodes, vnodes)
        keys = [*random_keys(rng, 200), *awkward_keys(ring, rng)]
        cls = self.ring

        def body() -> list[Any]:
            student = cls(nodes, vnodes)
            return [student.owner(key) for key in keys]

        return self.trial(body, lambda answers: wrong_owner(
            ring, keys, answers, f"Ring({nodes}, vnodes={vnodes})"))

    @graded(part="A", seeds=20, description=f"8 nodes, {VNODES} virtual nodes each, 5,000 "
            f"keys: the busiest node holds at most {LOAD_BOUND} times the mean")
    def test_balanced_load_A(self, seed: int) -> Trial:
        rng = stream(seed, "lab3a-load")
        nodes = random_nodes(rng, 8)
        keys = random_keys(rng, 5_000)
        cls = self.ring

        def body() -> list[Any]:
            student = cls(nodes)
            return [student.owner(key) for key in keys]

        def judge(answers: Any) -> Violation | None:
            if type(answers) is not list or len(answers) != len(keys):
                return Violation("owner(key) answers for every key",
                                 f"expected {len(keys)} owners, got {answers!r:.200}", 0.0)
            counts = Counter(answers)
            mean = len(keys) / len(nodes)
            busiest = max(nodes, key=lambda node: counts[node])
            if counts[busiest] <= LOAD_BOUND * mean:
                return None
            loads = ", ".join(f"{node} {counts[node]}" for node in nodes)
            return Violation(
                f"the busiest node holds at most {LOAD_BOUND} times the mean number of keys",
                f"Ring({nodes}) (default vnodes): {busiest} holds {counts[busiest]} of "
                f"{len(keys)} keys, {counts[busiest] / mean:.2f} times the mean {mean:.0f} "
                f"(keys per node: {loads}). Does each node get VNODES = {VNODES} points at "
                f"distinct positions, stable_hash(f'{{node}}#{{i}}') for i in "
                f"range(vnodes)?", 0.0)

        return self.trial(body, judge)

    @graded(part="A", seeds=20, description="a node joins 2 to 8 nodes: the only keys that "
            "move go to the new node (its share, about 1/(N+1) of them: the optimum), and "
            "every key's owner is right after the join")
    def test_join_moves_keys_to_the_new_node_only_A(self, seed: int) -> Trial:
        rng = stream(seed, "lab3a-join")
        nodes = random_nodes(rng, rng.randint(3, 9))
        joining, nodes = nodes[-1], nodes[:-1]
        vnodes = rng.choice((1, 16, VNODES))
        return self.movement_trial(nodes, vnodes, random_keys(rng, 1_000), joining=joining)

    @graded(part="A", seeds=20, description="a node leaves 2 to 8 nodes: the only keys that "
            "move are the leaving node's (about 1/N of them: the optimum), and every key's owner "
            "is right after the leave")
    def test_leave_moves_only_the_leaving_nodes_keys_A(self, seed: int) -> Trial:
        rng = stream(seed, "lab3a-leave")
        nodes = random_nodes(rng, rng.randint(2, 8))
        leaving = rng.choice(nodes)
        vnodes = rng.choice((1, 16, VNODES))
        return self.movement_trial(nodes, vnodes, random_keys(rng, 1_000), leaving=leaving)

    @graded(part="A", seeds=1, description="refused with a ValueError that names the node, "
            "leaving the ring as it was: adding a node twice, removing an unknown node, "
            "removing the last node; and no ring of no nodes or of 0 virtual nodes")
    def test_bad_changes_are_refused_A(self, seed: int) -> Trial:
        cls = self.ring
        keys = [f"k{i}" for i in range(50)]

        def attempt(action: Callable[[], Any]) -> tuple[str, str]:
            """What ``action`` raised, as (kind, message); ("", what it returned) if nothing."""
            try:
                returned = action()
            except Exception as error:  # what it raised is what is judged
                return type(error).__name__, str(error)
            return "", repr(returned)

        def layout(ring: Any) -> tuple[list[Any], list[Any]]:
            return list(getattr(ring, "positions", ())), list(getattr(ring, "owners", ()))

        def body() -> dict[str, Any]:
            ring = cls(["a", "b", "c"], 4)
            before = [ring.owner(key) for key in keys]
            solo = cls(["solo"], 4)
            seen, changed = {}, []
            for what, target, action in (
                    ("add 'b' to a ring that has it", ring, lambda: ring.add("b")),
                    ("remove 'z', not in the ring", ring, lambda: ring.remove("z")),
                    ("remove 'solo', the last node", solo, lambda: solo.remove("solo"))):
                lists = layout(target)
                seen[what] = attempt(action)
                if layout(target) != lists:
                    changed.append((what, len(lists[0]), len(layout(target)[0])))
            seen["build a ring of no nodes, Ring([])"] = attempt(lambda: cls([], 4))
            seen["build Ring(['a'], vnodes=0)"] = attempt(lambda: cls(["a"], 0))
            return {"raised": seen, "before": before, "changed": changed,
                    "after": [ring.owner(key) for key in keys],
                    "solo": attempt(lambda: solo.owner("k1"))}

        def judge(seen: Any) -> Violation | None:
            description = "a refused change raises ValueError, names the node, changes nothing"
            if type(seen) is not dict or set(seen) != {"raised", "before", "changed", "after",
                                                       "solo"}:
                return Violation(description, f"unexpected answers {seen!r:.200}", 0.0)
            names = {"add 'b' to a ring that has it": "b", "remove 'z', not in the ring": "z",
                     "remove 'solo', the last node": "solo"}
            for what, (kind, message) in seen["raised"].items():
                if kind != "ValueError":
                    got = f"it raised {kind}: {message}" if kind else "it raised nothing"
                    return Violation(description, f"{what}: expected a ValueError that says "
                                     f"what is wrong; {got}", 0.0)
                if what in names and names[what] not in message:
                    return Violation(description, f"{what}: the ValueError's message "
                                     f"{message!r} does not name the node {names[what]!r}",
                                     0.0)
            if seen["changed"]:
                what, before, after = seen["changed"][0]
                return Violation(description, f"{what}: it raised, but changed positions and "
                                 f"owners ({before} virtual nodes before, {after} after): "
                                 f"check everything before changing the ring", 0.0)
            if seen["after"] != seen["before"] or seen["solo"] != ("", "'solo'"):
                return Violation(description, "a refused add or remove changed the owners of "
                                 "keys: check everything before changing the ring", 0.0)
            return None

        return self.trial(body, judge)

    # -- part B: the store --------------------------------------------------------------------
    def store_scenario(self, seed: int, loss: float, run_for: float) -> Scenario:
        """5 servers, 4 clients each starting at a random server, 15 gets and puts each on
        12 keys; ``loss`` of the messages lost."""
        rng = stream(seed, "lab3a-store")
        clients = [f"c{c}" for c in range(1, 5)]
        servers = random_nodes(rng, 5, taken=clients)
        starts = [rng.randrange(len(servers)) for _ in range(4)]
        operations = tuple((f, key) for key in STORE_KEYS for f in ("get", "put"))

        def setup(sim: Simulation) -> None:
            sim.add_nodes(self.store, servers, servers=list(servers))
            for client, start in zip(clients, starts):
                order = servers[start:] + servers[:start]
                sim.add_node(kv.KVClient, client, server=order, ops=15, retry=100.0,
                             operations=operations)

        return Scenario(setup, run_for=run_for,
                        network=Network(latency=Uniform(1, 10), loss=loss),
                        properties=store_properties(servers))

    @graded(part="B", seeds=20, description="5 servers, 4 clients asking any server, "
            "reliable network: every key is stored at its owner only; every operation "
            "completes; the history is linearizable")
    def test_requests_reach_the_owner_B(self, seed: int) -> Scenario:
        return self.store_scenario(seed, 0.0, 3_000)

    @graded(part="B", seeds=20, description="the same with 10% of messages lost (clients "
            "retry at the next server): still at the owner, complete, linearizable")
    def test_lost_messages_B(self, seed: int) -> Scenario:
        return self.store_scenario(seed, 0.1, 10_000)

    @graded(part="B", seeds=5, description="a put's answer is lost (its owner's messages to "
            "the client are cut for 60 ms), and the client resends it through another server "
            "after 100 ms; meanwhile another client reads the put's value and a third "
            "overwrites it: the resent put must not be done again (the last read sees the "
            "overwrite), and the history is linearizable")
    def test_resent_put_takes_effect_once_B(self, seed: int) -> Scenario:
        servers = random_nodes(stream(seed, "lab3a-resent"), 5, taken=("c1", "c2", "c3", "c4"))
        key = STORE_KEYS[seed % len(STORE_KEYS)]
        owner = truth(servers, VNODES).owner(key)
        other = next(server for server in servers if server != owner)

        def client(node_id: str, f: str, order: Sequence[str]) -> Callable[[Simulation], None]:
            def start(sim: Simulation) -> None:
                sim.add_node(kv.KVClient, node_id, server=list(order), ops=1, retry=100.0,
                             operations=((f, key),))
            return start

        def setup(sim: Simulation) -> None:
            sim.add_nodes(self.store, servers, servers=list(servers))
            client("c1", "put", [owner, other])(sim)
            sim.cut(owner, "c1", both_ways=False)   # the put's answer is lost...
            sim.at(60.0, sim.heal)                   # ...and its resend's is not
            sim.at(20.0, client("c2", "get", [owner]), sim)
            sim.at(50.0, client("c3", "put", [owner]), sim)
            sim.at(300.0, client("c4", "get", [owner]), sim)

        return Scenario(setup, run_for=1_000, network=Network(latency=Uniform(1, 10)),
                        properties=store_properties(servers))


def store_properties(servers: Sequence[str]) -> list[Any]:
    """What every run of the store must show: keys at their owners only, replies sent to
    the clients, each put done once, every operation complete, a linearizable history."""
    return [keys_at_owners(servers, VNODES), RepliesGoToClients(servers),
            PutsTakeEffectOnce(servers), EveryOperationCompletes(), Linearizable(kv.MODEL.name)]


def judge_movement(before: ConsistentHashRing, after: ConsistentHashRing, keys: Sequence[str],
                   answers: Any, when: str, joining: str | None,
                   leaving: str | None) -> Violation | None:
    """Judge the owners a student's ring gave before and after one join or leave: each must
    be right, and the keys that moved must be exactly those the change had to move."""
    if type(answers) is not tuple or len(answers) != 2:
        return Violation("owner(key) answers before and after the change",
                         f"unexpected answers {answers!r:.200}", 0.0)
    said_before, said_after = answers
    problem = wrong_owner(before, keys, said_before, f"before {when}")
    if problem is not None:
        return problem
    moved = [(k, old, new) for k, old, new in zip(keys, said_before, said_after) if old != new]
    optimum = len(keys) / len(after.nodes if joining else before.nodes)
    description = ("a join moves keys only to the new node, a leave only the leaving node's "
                   "keys, and every owner is right after the change")
    for key, old, new in moved:
        if (joining and new != joining) or (leaving and old != leaving):
            rule = (f"only keys the new node {joining} takes may move" if joining
                    else f"only the keys of the leaving node {leaving} may move")
            return Violation(description, f"after {when}: key {key!r} moved from {old} to "
                             f"{new}, but {rule} ({len(moved)} of {len(keys)} keys moved; "
                             f"the optimum is about 1/N of them, {optimum:.0f})", 0.0,
                             picture=lambda: ring_picture(after, [k for k, _, _ in moved[:40]],
                                                          f"after {when}: the keys that moved",
                                                          "key that moved"))
    return wrong_owner(after, keys, said_after, f"after {when}")
