"""The `Node` base class: a process that reacts to events.

A node never does I/O and never blocks. It reacts to three kinds of event --

* ``on_start()``: the node (re)starts;
* ``on_message(src, msg)``: a message arrived from node ``src``;
* ``on_timer(name)``: a timer it set went off --

and acts only through ``send``, ``broadcast``, ``set_timer``, ``cancel_timer``, ``note`` and
its durable ``storage``. That discipline (the one of Stateright and DSLabs) is what lets the
same class run in the deterministic simulator, be explored exhaustively by the model checker,
and run as real processes over TCP (`distlab.net`).

Every action is handed to the node's *runtime*, the `distlab.sim.runtime.Runtime` that
`build_node` binds it to: the `Simulation`, or `distlab.net.host.NodeHost` in a real
process. That protocol names the whole contract (``_send``, ``_set_timer``,
``_cancel_timer``, ``_clock``, ``_note``, and the ``history`` a `Client` records into);
the runtime also hands the node its durable ``storage`` when it builds it.

The framework's names stay out of the protocols' vocabulary: a Raft node can call its own
attributes ``log``, ``state``, ``term``, ``votes`` or ``commit_index``. What the framework
does own is listed in `FRAMEWORK_NAMES`; `build_node` refuses a node whose ``__init__``
hides one of them, and names the attribute to rename.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from distlab.sim.errors import ConfigurationError
from distlab.sim.trace import Note

if TYPE_CHECKING:
    from distlab.sim.runtime import Runtime


class NodeRandom(random.Random):
    """A node's own random stream, ``self.rng``: a `random.Random` the framework made.

    Its only attribute of Python's own, ``gauss_next``, is a slot, so the stream never
    makes a ``__dict__``: 2,577 bytes a stream instead of 2,904, and a method called on it
    (``self.rng.choice``, then ``self.getrandbits`` inside `choice`) reads no instance
    dictionary, which with 100,000 nodes is one more object far away in memory when a node
    next draws (a draw among 100,000 streams: 1.4 trips to memory instead of 2.0, counted by
    callgrind; README, "The simulator at scale"). The draws are the same.
    """

    __slots__ = ("gauss_next",)

    def choice(self, seq: Sequence[Any]) -> Any:
        """A random element of the non-empty sequence ``seq``: exactly `random.Random.choice`.

        The same draws give the same element (``tests/sim/test_node_random.py`` compares
        the two), in one call instead of two: `random.Random.choice` asks a second method,
        ``_randbelow``, for the index, and a protocol draws a random peer for most of the
        messages it sends (``self.rng.choice(self.peers)``), so the call saved is one of
        the simulator's most frequent.
        """
        n = len(seq)
        if not n:
            raise IndexError("Cannot choose from an empty sequence")
        # random.Random._randbelow_with_getrandbits, inlined: k random bits, drawn again
        # until they make a number below n. (``self.getrandbits(k)`` each time, not a local
        # ``getrandbits = self.getrandbits``: a method called where it is looked up costs no
        # bound-method object, and the interpreter specialises that lookup.)
        k = n.bit_length()
        r = self.getrandbits(k)
        while r >= n:
            r = self.getrandbits(k)
        return seq[r]


class StreamToBe:
    """``self.rng`` until the node first uses it: a stand-in that makes the real stream then.

    A node's `NodeRandom` holds the generator's whole state (2.5 KB): made for every node at
    once, it would cost 100,000 idle nodes 250 MB. So `build_node` gives each node this
    small stand-in instead; the first time the node asks it for anything (``rng.random``,
    ``rng.choice``...), it has the node's runtime make the stream, puts it in ``node.rng``
    in its place, and hands the request on. From then on ``self.rng`` is the stream itself.
    Made late or early, it is the same stream (``stream(seed, "node", id, incarnation)``),
    so traces do not change.

    Why a stand-in on the node rather than a descriptor on the class (as
    `functools.cached_property` is)? The interpreter specialises ``self.rng`` into a quick
    read of the node's own attribute only when the class has no attribute of that name:
    with a descriptor on `Node`, every ``self.rng.choice(self.peers)`` -- behind most
    sends -- took the slow generic path.
    """

    __slots__ = ("_node",)

    def __init__(self, node: Node):
        self._node = node

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # (copy and pickle asking for their hooks: nothing here)
            raise AttributeError(name)
        node = self._node
        rng = vars(node).get("rng")
        if rng is self or rng is None:
            rng = node.rng = node._runtime._rng(node)
        return getattr(rng, name)

    def __repr__(self) -> str:
        return f"<the random stream of node {self._node.id!r}, made when first used>"


class Node:
    """Subclass this and override the ``on_*`` handlers.

    Available inside the handlers (and in ``__init__``, which takes only the keyword
    arguments given to ``add_node``):

    ``self.id``       this node's id;
    ``self.peers``    the ids of the other nodes, sorted (clients excluded); in ``__init__``
                      only the nodes added so far, so add a cluster with one ``add_nodes``;
    ``self.now``      this node's clock in milliseconds (skew and drift applied);
    ``self.rng``      a `random.Random` of its own, seeded from the simulation's seed;
    ``self.storage``  a dict that survives crashes (everything else is lost on a crash); it
                      keeps only values a real process could write to disk and read back
                      (`distlab.sim.storage`).

    In a cluster of more than 64 servers ``self.peers`` reads like a tuple but is a view of
    one list the whole simulation shares (`distlab.sim.peers.Peers`), and ``self.rng`` is
    always made the first time the node uses it: so an idle node costs under a kilobyte,
    and a laptop can hold 100,000 of them.
    """

    id: str
    peers: Sequence[str]
    storage: dict[str, Any]
    _runtime: Runtime
    rng: random.Random

    # -- handlers: override these ------------------------------------------------------------
    def on_start(self) -> None:
        """Called when the node starts, and again after each restart."""

    def on_message(self, src: str, msg: Any) -> None:
        """Called when a message from ``src`` is delivered."""

    def on_timer(self, name: str) -> None:
        """Called when the timer ``name`` set by this node goes off."""

    # -- actions -------------------------------------------------------------------------------
    def send(self, dst: str, msg: Any) -> None:
        """Send ``msg`` (immutable: a frozen dataclass, tuple, str, number...) to node ``dst``."""
        self._runtime._send(self, dst, msg)

    def broadcast(self, msg: Any) -> None:
        """Send ``msg`` to every peer (not to this node itself)."""
        for peer in self.peers:
            self._runtime._send(self, peer, msg)

    def set_timer(self, delay: float, name: str) -> None:
        """Make ``on_timer(name)`` run after ``delay`` ms of this node's clock.

        Setting a timer that is already pending restarts it: there is at most one timer of
        each name per node.
        """
        self._runtime._set_timer(self, delay, name)

    def cancel_timer(self, name: str) -> None:
        """Cancel the pending timer ``name`` (nothing happens if there is none)."""
        self._runtime._cancel_timer(self, name)

    @property
    def now(self) -> float:
        """This node's clock, in milliseconds. With skew or drift it differs from true time."""
        return self._runtime._clock(self)

    def note(self, what: str, **details: Any) -> None:
        """Record in the trace that ``what`` happened here, with its ``details`` as data.

        ``self.note("leader", term=3)`` adds a "note" event whose data is a `Note`:
        ``event.data.what == "leader"`` and ``event.data["term"] == 3``. Analyses read the
        details as values, and the drawings print them as ``leader term=3``. A detail that
        can change later (a list, a dict) is copied, so the trace keeps what it was then.
        """
        if not isinstance(what, str) or not what:
            raise TypeError(f"note(what, **details) takes a short word first, such as "
                            f"self.note('leader', term=3); got {what!r}")
        self._runtime._note(self, Note(what, tuple(
            (key, value if type(value) in _IMMUTABLE else copy.deepcopy(value))
            for key, value in details.items())))

    # -- inspection ------------------------------------------------------------------------------
    def show(self) -> dict[str, Any]:
        """What the explorers and the lab reports show of this node.

        By default, every public attribute that is not the framework's; override it to show
        less, or something computed. It changes what is shown, never what is checked.
        """
        return {k: v for k, v in vars(self).items()
                if not k.startswith("_") and k not in FRAMEWORK_NAMES}

    def fingerprint(self) -> dict[str, Any]:
        """What schedule exploration takes as this node's identity (its storage apart).

        Two explored states are merged when every node's fingerprint and storage are equal,
        so it must hold everything the handlers read: by default, *every* attribute that is
        not the framework's, private ones included. Override it only to leave out what
        cannot change behaviour (statistics, caches); leaving out real state makes the
        explorer merge states that differ, and miss the bugs that tell them apart.
        """
        return {k: v for k, v in vars(self).items() if k not in FRAMEWORK_NAMES}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self, 'id', '?')}>"


def build_node(cls: type[Node], runtime: Runtime, node_id: str, peers: Sequence[str],
               storage: dict[str, Any], kwargs: dict[str, Any]) -> Node:
    """Create a node of class ``cls`` bound to ``runtime``.

    The framework's attributes are set *before* the subclass's ``__init__`` runs, so that
    ``__init__`` can already use ``self.id``, ``self.peers``, ``self.rng`` (made by
    ``runtime._rng`` when first used) and ``self.storage`` (and need not call
    ``super().__init__()``).
    """
    if not (isinstance(cls, type) and issubclass(cls, Node)):
        raise TypeError(f"a node class must subclass distlab.sim.Node; got {cls!r}")
    _refuse_shadowing_methods(cls)
    node = cls.__new__(cls)
    node._runtime = runtime
    node.id = node_id
    node.peers = peers
    node.storage = storage
    node.rng = StreamToBe(node)  # type: ignore[assignment]
    try:
        node.__init__(**kwargs)
    except TypeError as exc:
        raise TypeError(f"could not create node {node_id!r} of class {cls.__name__} with "
                        f"arguments {sorted(kwargs)}: {exc}") from exc
    except AttributeError as exc:  # assigning self.now: "property 'now' ... has no setter"
        name = next((n for n in FRAMEWORK_METHODS if f"property {n!r}" in str(exc)), None)
        if name is not None:
            raise ConfigurationError(_shadow_message(cls, name, "sets")) from None
        raise
    for name, mine in (("id", node_id), ("peers", peers), ("storage", storage)):
        if vars(node).get(name) is not mine:
            raise ConfigurationError(_shadow_message(cls, name, "replaces"))
    rng = vars(node).get("rng")
    if type(rng) is not NodeRandom and not (type(rng) is StreamToBe and rng._node is node):
        raise ConfigurationError(_shadow_message(cls, "rng", "replaces"))
    clashes = sorted(FRAMEWORK_METHODS.intersection(vars(node)))
    if clashes:
        raise ConfigurationError(_shadow_message(cls, clashes[0], "sets"))
    return node


#: Values a note keeps as they are; anything else is copied (deepcopy returns a tuple of such
#: values itself, and copies one that holds a list).
_IMMUTABLE = frozenset({type(None), bool, int, float, str, bytes})

#: What the framework gives every node as data: set before ``__init__`` runs.
FRAMEWORK_DATA = frozenset({"id", "peers", "rng", "storage"})
#: What the framework gives every node as methods and properties.
FRAMEWORK_METHODS = frozenset({
    "send", "broadcast", "set_timer", "cancel_timer", "now", "note", "show", "fingerprint",
    "on_start", "on_message", "on_timer",
})
#: Every name a node subclass must leave to the framework (``_runtime`` is private to it).
FRAMEWORK_NAMES = FRAMEWORK_DATA | FRAMEWORK_METHODS | {"_runtime"}

_HANDLERS = {"on_start", "on_message", "on_timer", "show", "fingerprint", "send", "note"}


def _refuse_shadowing_methods(cls: type[Node]) -> None:
    """Refuse a class that defines a framework member as something it is not.

    Overriding a handler (``on_message``), ``show``, ``fingerprint``, ``send`` or ``note``
    with a method is the point of a subclass (a lab's service listens to ``note``); a class
    attribute or property called ``note`` or ``now``, or a method called ``storage``, would
    break the framework far from the cause.
    """
    for klass in cls.__mro__:
        if klass is Node or klass is object:
            break
        for name, value in vars(klass).items():
            if name in FRAMEWORK_DATA:
                raise ConfigurationError(_shadow_message(cls, name, "defines"))
            if name in FRAMEWORK_METHODS and not (name in _HANDLERS and callable(value)):
                raise ConfigurationError(_shadow_message(cls, name, "defines"))


def _shadow_message(cls: type[Node], name: str, how: str) -> str:
    """Why a node class may not use ``name``, and what to do instead."""
    what = ("data the framework sets for every node" if name in FRAMEWORK_DATA
            else "a method or property of every node")
    advice = {
        "storage": " (write into it, self.storage['x'] = ..., to keep something across a "
                   "crash; never replace it)",
        "now": " (read self.now for the node's clock; keep your own time in another name)",
        "note": " (self.note('event', key=value) records in the trace; keep your notes in "
                "another name)",
    }.get(name, "")
    return (f"{cls.__name__} {how} self.{name}, but {name!r} is {what}{advice}. Rename your "
            f"attribute (for example {name}_ or my_{name}); the framework's names are: "
            f"{', '.join(sorted(FRAMEWORK_NAMES - {'_runtime'}))}.")
