"""The `Node` base class: a process that reacts to events.

A node never does I/O and never blocks. It reacts to three kinds of event --

* ``on_start()``: the node (re)starts;
* ``on_message(src, msg)``: a message arrived from node ``src``;
* ``on_timer(name)``: a timer it set went off --

and acts only through ``send``, ``broadcast``, ``set_timer``, ``cancel_timer``, ``log`` and
its durable ``storage``. That discipline (the one of Stateright and DSLabs) is what lets the
same class run in the deterministic simulator, be explored exhaustively by the model checker,
and run as real processes over TCP (`distlab.net`).

Every action is handed to the node's *runtime* (the `Simulation`, or a real-network host),
which must provide ``_send``, ``_set_timer``, ``_cancel_timer``, ``_clock`` and ``_log``.
"""

from __future__ import annotations

import random
from typing import Any


class Node:
    """Subclass this and override the ``on_*`` handlers.

    Available inside the handlers (and in ``__init__``, which takes only the keyword
    arguments given to ``add_node``):

    ``self.id``       this node's id;
    ``self.peers``    the ids of the other nodes, sorted (clients excluded); in ``__init__``
                      only the nodes added so far, so add a cluster with one ``add_nodes``;
    ``self.now``      this node's clock in milliseconds (skew and drift applied);
    ``self.rng``      a `random.Random` of its own, seeded from the simulation's seed;
    ``self.storage``  a dict that survives crashes (everything else is lost on a crash).
    """

    id: str
    peers: tuple[str, ...]
    rng: random.Random
    storage: dict[str, Any]
    _runtime: Any

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

    def log(self, text: str) -> None:
        """Record a line of text in the trace, stamped with the node and the time."""
        self._runtime._log(self, str(text))

    # -- inspection ------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The node's state as shown in explorers and reports.

        By default, every public attribute except the framework's own; override it to show
        less, or something computed.
        """
        hidden = {"id", "peers", "rng", "storage", "send"}  # (the simulator binds send)
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k not in hidden}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self, 'id', '?')}>"


def build_node(cls: type[Node], runtime: Any, node_id: str, peers: tuple[str, ...],
               rng: random.Random, storage: dict[str, Any], kwargs: dict[str, Any]) -> Node:
    """Create a node of class ``cls`` bound to ``runtime``.

    The framework's attributes are set *before* the subclass's ``__init__`` runs, so that
    ``__init__`` can already use ``self.id``, ``self.peers``, ``self.rng`` and ``self.storage``
    (and need not call ``super().__init__()``).
    """
    if not (isinstance(cls, type) and issubclass(cls, Node)):
        raise TypeError(f"a node class must subclass distlab.sim.Node; got {cls!r}")
    node = cls.__new__(cls)
    node._runtime = runtime
    node.id = node_id
    node.peers = peers
    node.rng = rng
    node.storage = storage
    try:
        node.__init__(**kwargs)
    except TypeError as exc:
        raise TypeError(f"could not create node {node_id!r} of class {cls.__name__} with "
                        f"arguments {sorted(kwargs)}: {exc}") from exc
    return node
