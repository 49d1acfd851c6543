"""The runtime contract: everything a `Node` relies on, named as one type.

A node never does I/O itself (the discipline of Stateright's actors and of DSLabs): each of
its actions is handed to its *runtime*, the object ``build_node`` binds it to. Two runtimes
implement `Runtime`, with the same meaning and different mechanisms:

==================  ===================================  ======================================
the node's action   `distlab.sim.Simulation`             `distlab.net.host.NodeHost`
==================  ===================================  ======================================
``send``            a delivery event after a latency     a frame on a TCP connection
``set_timer``       an event in simulated time           ``loop.call_later``
``now``             the simulated clock (skew, drift)    ``time.monotonic`` since the start
``note``            a "note" event in the trace          a line on standard output
``Client`` ops      ``sim.history`` (and the trace)      ``host.history`` (and a file)
==================  ===================================  ======================================

What a node keeps does not go through these methods: its ``storage`` dict is handed to it
by the runtime when the node is built (`build_node`). The simulation keeps that dict in
memory across a crash and gives it to the restarted node; the host loads it from a file
and writes it back after every handler that changed it. Its ``rng`` is the stream
``stream(seed, "node", id, incarnation)`` in both, which ``_rng`` makes the first time the
node uses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from distlab.sim.history import History
    from distlab.sim.node import Node, NodeRandom
    from distlab.sim.trace import Note


@runtime_checkable
class Runtime(Protocol):
    """What runs a node: the methods its ``send``, timers, clock and notes call.

    The methods are private (underscored) because they are the framework's plumbing, not
    something node code calls: a node calls ``self.send(...)``, which calls
    ``runtime._send(self, ...)``. Each method gets the calling node first, so one runtime
    (the simulation) can serve many nodes.
    """

    #: where a `distlab.sim.Client` records its operations (invoke, then ok/fail/info)
    history: History

    def _send(self, node: Node, dst: str, msg: Any) -> None:
        """Send immutable ``msg`` from ``node`` to node ``dst`` (it may be lost, never
        changed); refuse an unknown ``dst`` or a mutable message with a clear error."""

    def _set_timer(self, node: Node, delay: float, name: str) -> None:
        """Call ``node.on_timer(name)`` after ``delay`` ms of the node's clock, replacing a
        pending timer of the same name (`distlab.sim.times.timer_delay` checks ``delay``)."""

    def _cancel_timer(self, node: Node, name: str) -> None:
        """Forget ``node``'s pending timer ``name``, if there is one."""

    def _rng(self, node: Node) -> NodeRandom:
        """``node``'s own random stream, made when the node first reads ``self.rng``."""

    def _clock(self, node: Node) -> float:
        """``node``'s clock, in milliseconds (what ``node.now`` reads)."""

    def _note(self, node: Node, note: Note) -> None:
        """Record that ``note`` happened at ``node`` (``node.note(what, **details)``)."""
