"""Reading a trace as a timeline: message flights, crash spans, partition spans.

A trace is a flat list of events. To draw it we need them paired up: a message's ``send``
with each of its ``deliver`` (or ``drop``) events, a node's ``crash`` with its ``restart``, a
``partition`` with the ``heal`` (or next partition) that ends it. `read_timeline` does that
pairing once, so the space-time diagram and the animation draw the same facts.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from distlab.sim.trace import Trace, TraceEvent
from distlab.viz.style import KindColors, message_kind

#: The events that change what holds from then on (who is down, what is cut).
FAULT_KINDS = ("crash", "restart", "partition", "cut", "heal")


@dataclass(frozen=True)
class Flight:
    """One copy of a message on the wire, from its send to its delivery or its drop.

    ``fate`` is ``"delivered"``, or the drop's reason: ``"loss"`` (decided at send time, so
    ``end == sent``), ``"partition"`` or ``"crashed"`` (decided when it would have arrived).
    ``copy`` counts the deliveries/drops of the same message: 0 for the first, 1 for the
    extra one a duplicating network adds.
    """

    msg_id: int
    src: str
    dst: str
    msg: Any
    kind: str
    sent: float
    end: float
    fate: str
    copy: int = 0

    @property
    def dropped(self) -> bool:
        return self.fate != "delivered"


@dataclass(frozen=True)
class Span:
    """A stretch of time: a node down (``node`` set) or a partition (``groups`` set).

    ``what`` is ``"crash"``, ``"partition"`` (groups naming every node) or ``"cut"`` (one
    link cut with ``sim.cut(a, b)``: the groups are ``((a,), (b,))``, and ``one_way`` says
    that only messages from ``a`` to ``b`` are dropped).
    """

    start: float
    end: float
    what: str
    node: str | None = None
    groups: tuple[tuple[str, ...], ...] = ()
    ongoing: bool = False   # not ended within the trace: ``end`` is the trace's last time
    one_way: bool = False


@dataclass
class Timeline:
    """Everything a drawing needs, read from a trace."""

    nodes: list[str]
    flights: list[Flight] = field(default_factory=list)
    crashes: list[Span] = field(default_factory=list)
    partitions: list[Span] = field(default_factory=list)
    timers: list[TraceEvent] = field(default_factory=list)
    notes: list[TraceEvent] = field(default_factory=list)
    sends: list[TraceEvent] = field(default_factory=list)
    deliveries: list[TraceEvent] = field(default_factory=list)
    first_time: float = 0.0
    last_time: float = 0.0


def lane_order(trace: Trace | Sequence[TraceEvent], nodes: Iterable[str] | None) -> list[str]:
    """The nodes to draw, in order: those asked for, else ``trace.nodes``, else as they appear."""
    if nodes is not None:
        return list(nodes)
    known = list(getattr(trace, "nodes", []) or [])
    if known:
        return known
    seen: dict[str, None] = {}
    for e in trace:
        if e.kind in ("invoke", "complete"):
            continue
        for n in (e.node, e.peer):
            if n is not None:
                seen.setdefault(n, None)
    return list(seen)


def read_timeline(trace: Trace | Sequence[TraceEvent], nodes: Iterable[str] | None = None,
                  until: float | None = None, since: float | None = None) -> Timeline:
    """Pair up the events of ``trace`` (up to time ``until``, if given).

    With ``since``, the events before that time are read only for the crashes and
    partitions still in force after it (so a long trace costs little when only its end is
    drawn); messages sent before ``since`` are left out.

    A crash with no restart, or a partition with no heal, lasts to the trace's last event.
    A partition (``sim.partition``: its groups name every node) lasts until the next heal
    or partition, which replaces it; a single cut link (``sim.cut(a, b)``, a "cut" event)
    adds to what is cut and lasts until the next heal or partition.
    """
    timeline = Timeline(nodes=lane_order(trace, nodes))
    sent: dict[int, TraceEvent] = {}
    copies: dict[int, int] = {}
    down_since: dict[str, float] = {}
    everyone = set(getattr(trace, "nodes", None) or timeline.nodes)
    in_force: list[TraceEvent] = []   # the partition/cut events whose cuts still hold
    first = last = None

    def add_flight(e: TraceEvent, fate: str) -> None:
        send = sent.get(e.msg_id)
        if send is None:        # its send is not in this trace: nothing to draw it from
            return
        copy = copies.get(e.msg_id, 0)
        copies[e.msg_id] = copy + 1
        timeline.flights.append(Flight(
            msg_id=e.msg_id, src=send.node, dst=send.peer, msg=send.data,
            kind=message_kind(send.data), sent=send.time,
            end=send.time if fate == "loss" else e.time, fate=fate, copy=copy))

    events: Iterable[TraceEvent] = trace
    if since is not None and isinstance(trace, Trace):
        first_kept = bisect.bisect_left(trace, since, key=lambda e: e.time)
        earlier = [e for e in trace.of_kind(*FAULT_KINDS) if e.time < since]
        events = itertools.chain(earlier, trace[first_kept:])

    for e in events:
        if until is not None and e.time > until:
            break
        if first is None:
            first = e.time
        last = e.time
        match e.kind:
            case "send":
                sent[e.msg_id] = e
                timeline.sends.append(e)
            case "deliver":
                add_flight(e, "delivered")
                timeline.deliveries.append(e)
            case "drop":
                add_flight(e, e.data)
            case "crash":
                down_since.setdefault(e.node, e.time)
            case "restart":
                if e.node in down_since:
                    timeline.crashes.append(Span(down_since.pop(e.node), e.time, "crash",
                                                 node=e.node))
            case "partition" | "heal":
                replaces = e.kind == "heal" or _covers(e.data, everyone)
                if replaces:
                    timeline.partitions.extend(_partition_span(p, e.time, everyone)
                                               for p in in_force)
                    in_force = []
                if e.kind == "partition":
                    in_force.append(e)
            case "cut":
                in_force.append(e)
            case "timer":
                timeline.timers.append(e)
            case "note":
                timeline.notes.append(e)

    end = last if last is not None else 0.0
    if until is not None and last is not None:
        end = max(end, until)
    for node, since in down_since.items():
        timeline.crashes.append(Span(since, end, "crash", node=node, ongoing=True))
    timeline.partitions.extend(_partition_span(p, end, everyone, ongoing=True)
                               for p in in_force)
    timeline.partitions.sort(key=lambda s: s.start)
    timeline.crashes.sort(key=lambda s: (s.start, s.node))
    timeline.first_time = first if first is not None else 0.0
    timeline.last_time = end
    return timeline


def kind_colors(trace: Trace | Sequence[TraceEvent]) -> KindColors:
    """Colours for the message kinds of ``trace``, in the order they are first sent, so that
    every drawing of the same trace (any window, the animation) colours them alike."""
    colors = KindColors()
    sends = trace.of_kind("send") if isinstance(trace, Trace) else \
        [e for e in trace if e.kind == "send"]
    for e in sends:
        colors(message_kind(e.data))
    return colors


def _partition_span(event: TraceEvent, end: float, everyone: set[str],
                    ongoing: bool = False) -> Span:
    if event.kind == "cut":
        return Span(event.time, end, "cut", groups=((event.node,), (event.peer,)),
                    ongoing=ongoing, one_way=event.data == "one way")
    groups = tuple(tuple(g) for g in event.data) if event.data else ()
    what = "partition" if _covers(groups, everyone) else "cut"
    return Span(event.time, end, what, groups=groups, ongoing=ongoing)


def _covers(groups: Any, everyone: set[str]) -> bool:
    """Whether a partition event's groups name every node (a whole new partition)."""
    named = {node for group in groups or () for node in group}
    return named >= everyone


def describe_groups(groups: tuple[tuple[str, ...], ...]) -> str:
    """``(("a",), ("b", "c"))`` -> ``"a | b,c"``."""
    return " | ".join(",".join(g) for g in groups)
