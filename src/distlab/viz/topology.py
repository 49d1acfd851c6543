"""Topology drawings: who can talk to whom, right now.

Nodes are circles coloured by their role (leader, follower, ...) or any other state, crashed
nodes are grey and crossed out, and links cut by a partition are dashed red. The drawing
takes either a running `Simulation` (its nodes, crashed set and network cuts are read) or a
`networkx` graph (for an overlay, a ring, a tree...), whose nodes may carry ``crashed=True``
and ``role=...`` attributes and whose edges may carry ``cut=True``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from distlab.viz.palette import (CRASH_FACE, DROP_COLOR, INK, INK_SOFT, LIGHT_GREY, ROLE_FACES,
                                 ROLE_MARKERS, UP_FACE)
from distlab.viz.style import NotebookFigure

_ID_BOX = {"boxstyle": "round,pad=0.1", "facecolor": CRASH_FACE, "edgecolor": "none"}

Roles = Mapping[str, str] | Callable[[Any], Any] | None
Layout = str | Mapping[str, tuple[float, float]]


@dataclass(frozen=True)
class TopologyView:
    """What a topology drawing shows, read from a simulation or a graph."""

    nodes: list[str]
    edges: list[tuple[str, str]]
    crashed: frozenset[str]
    cut: frozenset[frozenset[str]]      # each cut link as {a, b}
    roles: dict[str, str]               # node -> role label (empty: no roles)


def circle_positions(nodes: list[str]) -> dict[str, tuple[float, float]]:
    """Nodes evenly on the unit circle, the first at the top, going clockwise."""
    n = max(len(nodes), 1)
    return {node: (math.cos(math.pi / 2 - 2 * math.pi * i / n),
                   math.sin(math.pi / 2 - 2 * math.pi * i / n))
            for i, node in enumerate(nodes)}


def read_topology(source: Any, roles: Roles = None) -> TopologyView:
    """Read nodes, links, crashed nodes, cut links and roles from a Simulation or a graph.

    ``roles`` is a mapping ``{node id: label}`` or a callable; for a simulation the callable
    gets the node object (``lambda node: node.role``), for a graph the node id. A graph's
    ``role`` node attribute is used when ``roles`` is not given.
    """
    if isinstance(source, nx.Graph):
        nodes = list(source.nodes)
        edges = [(a, b) for a, b in source.edges if a != b]
        crashed = frozenset(n for n, d in source.nodes(data=True) if d.get("crashed"))
        cut = frozenset(frozenset((a, b)) for a, b, d in source.edges(data=True) if d.get("cut"))
        if roles is None and any("role" in d for _, d in source.nodes(data=True)):
            roles = {n: d["role"] for n, d in source.nodes(data=True) if "role" in d}
        subject = {n: n for n in nodes}
    elif hasattr(source, "nodes") and hasattr(source, "network"):
        nodes = list(source.nodes)
        edges = list(itertools.combinations(nodes, 2))
        crashed = frozenset(source.crashed)
        cut = frozenset(frozenset((a, b)) for a, b in edges
                        if source.is_cut(a, b) or source.is_cut(b, a))
        subject = dict(source.nodes)
    else:
        raise TypeError(f"topology() draws a Simulation or a networkx graph; "
                        f"got {type(source).__name__}")
    labels: dict[str, str] = {}
    if roles is not None:
        for node in nodes:
            if callable(roles):
                value = roles(subject[node])
            else:
                value = roles.get(node)
            if value is not None:
                labels[node] = str(value)
    return TopologyView(nodes, edges, crashed, cut, labels)


def positions(view: TopologyView, layout: Layout) -> dict[str, tuple[float, float]]:
    """Node positions for ``layout``: "circular", "spring", "shell" or a mapping id -> (x, y)."""
    if isinstance(layout, Mapping):
        missing = [n for n in view.nodes if n not in layout]
        if missing:
            raise ValueError(f"layout has no position for nodes {missing}")
        return {n: tuple(layout[n]) for n in view.nodes}
    match layout:
        case "circular":
            return circle_positions(view.nodes)
        case "spring" | "shell":
            graph = nx.Graph()
            graph.add_nodes_from(view.nodes)
            graph.add_edges_from(view.edges)
            pos = (nx.spring_layout(graph, seed=1) if layout == "spring"
                   else nx.shell_layout(graph))
            return {n: (float(pos[n][0]), float(pos[n][1])) for n in view.nodes}
        case _:
            raise ValueError(f"unknown layout {layout!r}: use 'circular', 'spring', 'shell' "
                             f"or a mapping from node id to (x, y)")


def topology(sim_or_graph: Any, *, roles: Roles = None, ax: Axes | None = None,
             title: str | None = None, layout: Layout = "circular") -> Figure:
    """Draw the nodes and links of a Simulation (or a networkx graph) and return the figure.

    ``roles`` gives the nodes a colour and a shape per role: a mapping ``{id: label}`` or a
    callable (given the node object of a simulation, or the id of a graph node) returning a
    label such as "leader".
    Crashed nodes are grey and crossed out; cut links are dashed red.
    The figure is not registered with pyplot: in a notebook, make the call the *last line of
    the cell, with no* ``;`` and Jupyter shows it exactly once, as a PNG (see `distlab.viz`).
    With ``ax=`` it draws into your axes instead and returns their figure.
    """
    view = read_topology(sim_or_graph, roles)
    if ax is None:
        ax = NotebookFigure(figsize=(4.8, 4.2), layout="constrained").add_subplot()
    draw_topology(ax, view, positions(view, layout), title=title)
    return ax.figure


def draw_topology(ax: Axes, view: TopologyView, pos: Mapping[str, tuple[float, float]], *,
                  title: str | None = None) -> None:
    """Draw a `TopologyView` into ``ax`` at the given positions: the work behind `topology`."""
    n = len(view.nodes)
    size = 900 if n <= 8 else max(120, 900 * 8 / n)
    up_links = [(pos[a], pos[b]) for a, b in view.edges if frozenset((a, b)) not in view.cut]
    cut_links = [(pos[a], pos[b]) for a, b in view.edges if frozenset((a, b)) in view.cut]
    ax.add_collection(LineCollection(up_links, colors=LIGHT_GREY, linewidths=1.0, zorder=1,
                                     gid="links"))
    if cut_links:
        ax.add_collection(LineCollection(cut_links, colors=DROP_COLOR, linewidths=1.5,
                                         linestyles=(0, (4, 3)), zorder=1, gid="cut_links"))

    # each role a face and a shape, in order of first appearance; nodes without one are circles
    looks: dict[str | None, tuple[str, str]] = {}
    for node in view.nodes:
        role = view.roles.get(node)
        if role is not None and role not in looks:
            i = len(looks) % len(ROLE_FACES)
            looks[role] = (ROLE_FACES[i], ROLE_MARKERS[i])
    xs = [pos[node][0] for node in view.nodes]
    ys = [pos[node][1] for node in view.nodes]
    for role in dict.fromkeys(view.roles.get(node) for node in view.nodes):
        face, marker = looks.get(role, (UP_FACE, "o"))
        group = [node for node in view.nodes if view.roles.get(node) == role]
        ax.scatter([pos[node][0] for node in group], [pos[node][1] for node in group],
                   s=size, marker=marker, linewidths=1.0, edgecolors=INK, zorder=2,
                   c=[CRASH_FACE if node in view.crashed else face for node in group],
                   gid="nodes" if role is None else f"nodes {role}")
    crashed = [node for node in view.nodes if node in view.crashed]
    if crashed:
        ax.scatter([pos[c][0] for c in crashed], [pos[c][1] for c in crashed], marker="x",
                   s=size * 1.3, color=INK_SOFT, linewidths=1.3, zorder=3, gid="crashed")
    fontsize = 9 if n <= 12 else 7
    for node, x, y in zip(view.nodes, xs, ys):
        ax.text(x, y, node, ha="center", va="center", fontsize=fontsize, zorder=4,
                fontweight="bold", bbox=_ID_BOX if node in view.crashed else None)

    legend: list[Any] = [Line2D([], [], marker=marker, markerfacecolor=face, lw=0,
                                markeredgecolor=INK, markersize=9, label=role)
                         for role, (face, marker) in looks.items()]
    if crashed:
        legend.append(Line2D([], [], marker="o", color=CRASH_FACE, markeredgecolor=INK,
                             lw=0, markersize=9, label="crashed"))
    if cut_links:
        legend.append(Line2D([], [], color=DROP_COLOR, lw=1.5, linestyle=(0, (4, 3)),
                             label="cut link"))
    if legend:
        ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(0.0, -0.02), fontsize=7,
                  frameon=False, ncols=min(len(legend), 4), borderaxespad=0.0)
    margin = 0.25
    ax.set_xlim(min(xs) - margin, max(xs) + margin)
    ax.set_ylim(min(ys) - margin, max(ys) + margin)
    ax.set_aspect("equal")
    ax.set_axis_off()     # positions mean nothing: no ticks, no frame
    if title is None:
        title = f"Topology: {n} nodes"
        if view.crashed:
            title += f", {len(view.crashed)} crashed"
        if view.cut:
            title += f", {len(view.cut)} links cut"
    ax.set_title(title, fontsize=10)
