"""The ring explorer: add and remove nodes on a consistent-hashing ring, see which keys move.

Give it ``make(nodes, vnodes)``, a function that builds a ring from a list of node names and a
number of virtual nodes per node (for example ``ConsistentHashRing``), and some keys. Each
change (a node added, a node removed, another number of virtual nodes) is drawn as the new
ring with the keys that changed owner ringed in black, under a line that counts them against
the optimum: a join or a leave among N nodes must move about 1/N of the keys.

In a notebook::

    RingExplorer(ConsistentHashRing, nodes=["n0", "n1", "n2"], keys=keys).show()

shows the live controls and, below them, a static picture of the ring, which is what a reader
of the static book (no kernel) sees.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Callable, Iterable

import ipywidgets as w
from IPython.display import Markdown, display
from matplotlib.figure import Figure

from distlab.viz.ring import DrawableRing, draw_ring, legend_handles, node_colors, read_ring
from distlab.viz.style import compact_png, figure_png, static_image
from distlab.widgets.controls import Controls, button, menu, row, slider

RingMaker = Callable[[list[str], int], DrawableRing]


class RingExplorer(Controls):
    """Live controls over a ring: ``add_node``, ``remove_node`` and ``set_vnodes``.

    ``before`` is the ring before the last change (None at the start) and ``moved`` the keys
    whose owner that change altered; new nodes are named ``n<k>`` with the next free ``k``.
    """

    def __init__(self, make: RingMaker, *, nodes: Iterable[str], keys: Iterable[str],
                 vnodes: int = 1, max_vnodes: int = 64, title: str = "Consistent hashing",
                 key_labels: bool = False) -> None:
        if not callable(make):
            raise TypeError(f"RingExplorer needs make(nodes, vnodes) -> ring; got {make!r}")
        self.make = make
        self.keys = list(keys)
        if not self.keys:
            raise ValueError("RingExplorer needs some keys to place on the ring")
        self.title = title
        self.key_labels = key_labels
        self.start_nodes = list(nodes)
        self.ring = make(self.start_nodes, vnodes)
        self.before: DrawableRing | None = None
        self.moved: frozenset[str] = frozenset()
        self.change = "the starting ring"
        self.error: str | None = None
        self.figure = Figure(figsize=(5.2, 5.4), dpi=80)
        self.figure.subplots_adjust(left=0.02, right=0.98, top=0.92, bottom=0.12)
        self.ax = self.figure.add_subplot()
        self._make_widgets(vnodes, max_vnodes)
        self.redraw()

    # -- widgets ------------------------------------------------------------------------------
    def _make_widgets(self, vnodes: int, max_vnodes: int) -> None:
        self.add_button = button("add a node", button_style="primary")
        self.leaving = menu([], "node")
        self.remove_button = button("remove it")
        self.vnodes = slider(w.IntSlider, "virtual nodes", value=vnodes, min=1, max=max_vnodes,
                             continuous_update=False)
        self.reset_button = button("Reset")
        self.image = w.Image(format="png")
        self.status = w.HTML()
        self.table = w.HTML()
        self.add_button.on_click(lambda _: self._act(self.add_node))
        self.remove_button.on_click(lambda _: self._act(lambda: self.remove_node(
            self.leaving.value)))
        self.reset_button.on_click(lambda _: self._act(self.reset))
        self.vnodes.observe(lambda change: self._act(lambda: self.set_vnodes(change["new"])),
                            "value")
        self.widget = w.VBox([
            w.HTML(f"<b>{html.escape(self.title)}</b>"),
            row(self.add_button, self.leaving, self.remove_button, self.vnodes,
                self.reset_button),
            row(self.image, w.VBox([self.status, self.table])),
        ])


    # -- actions ------------------------------------------------------------------------------
    def _apply(self, ring: DrawableRing, change: str) -> None:
        self.before, self.ring, self.change = self.ring, ring, change
        self.moved = frozenset(k for k in self.keys if self.before.owner(k) != ring.owner(k))

    def add_node(self) -> str:
        """Add a node named ``n<k>``, the first free ``k``; return its name."""
        k = 0
        while f"n{k}" in self.ring.nodes:
            k += 1
        node = f"n{k}"
        self._apply(self.make([*self.ring.nodes, node], self.vnodes.value), f"{node} joined")
        return node

    def remove_node(self, node: str) -> None:
        if node not in self.ring.nodes:
            raise ValueError(f"no node {node!r} on the ring (its nodes: "
                             f"{', '.join(self.ring.nodes)})")
        if len(self.ring.nodes) == 1:
            raise ValueError(f"{node} is the last node: the keys would have nowhere to go")
        self._apply(self.make([n for n in self.ring.nodes if n != node], self.vnodes.value),
                    f"{node} left")

    def set_vnodes(self, vnodes: int) -> None:
        """Rebuild the ring with ``vnodes`` points per node (every point moves)."""
        self._apply(self.make(list(self.ring.nodes), vnodes),
                    f"{vnodes} virtual node{'s' if vnodes != 1 else ''} per node")

    def reset(self) -> None:
        self.ring = self.make(self.start_nodes, self.vnodes.value)
        self.before, self.moved, self.change = None, frozenset(), "the starting ring"

    # -- drawing ------------------------------------------------------------------------------
    def redraw(self) -> None:
        chosen = self.leaving.value
        self.leaving.options = list(self.ring.nodes)
        self.leaving.value = chosen if chosen in self.ring.nodes else self.ring.nodes[0]
        self._draw(self.ax)
        self.image.value = figure_png(self.figure)
        self.status.value = self._status()
        self.table.value = self._table()

    def _draw(self, ax) -> None:
        ax.clear()
        nodes = list(dict.fromkeys([*(self.before.nodes if self.before else ()),
                                    *self.ring.nodes]))
        colors = node_colors(sorted(nodes, key=_number_first))
        view = read_ring(self.ring, self.keys, before=self.before)
        draw_ring(ax, view, colors=colors, title=f"{self.title}: {self.change}",
                  key_labels=self.key_labels)
        handles = legend_handles(list(self.ring.nodes), colors, moved=bool(self.moved))
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.02),
                  ncol=min(len(handles), 6), fontsize=7, frameon=False)

    def summary(self) -> str:
        """One sentence: what changed, how many keys moved, and the optimum."""
        n = len(self.ring.nodes)
        if self.before is None:
            return (f"{n} node{'s' if n != 1 else ''}, {len(self.keys)} keys: add or remove a "
                    f"node to see what moves.")
        share = len(self.moved) / len(self.keys)
        changed = abs(len(self.ring.nodes) - len(self.before.nodes)) == 1
        optimum = 1 / max(n, len(self.before.nodes))
        best = f"; the least possible is about 1/{max(n, len(self.before.nodes))} = " \
               f"{optimum:.0%}" if changed else ""
        return (f"{self.change}: {len(self.moved)} of {len(self.keys)} keys moved "
                f"({share:.0%}){best}.")

    def _status(self) -> str:
        text = html.escape(self.summary())
        text += self.error_html()
        return f"<span style='font-size:13px'>{text}</span>"

    def _table(self) -> str:
        counts = Counter(self.ring.owner(k) for k in self.keys)
        cell = "style='padding:1px 10px;text-align:right'"
        rows = "".join(f"<tr><td {cell}><b>{html.escape(n)}</b></td>"
                       f"<td {cell}>{counts[n]}</td></tr>" for n in self.ring.nodes)
        return (f"<table style='font-size:12px;font-family:monospace'><thead><tr>"
                f"<th {cell}>node</th><th {cell}>keys</th></tr></thead><tbody>{rows}"
                f"</tbody></table>")

    # -- showing it in a notebook ---------------------------------------------------------------
    def show(self) -> None:
        """Display the live explorer and, under it, a static picture and its caption (both
        of the ring as it is now, after any change made by calling the actions directly)."""
        self.redraw()
        self.image.value = compact_png(self.figure)
        bundle = self.widget._repr_mimebundle_()
        bundle["text/plain"] = f"RingExplorer: {self.title} (live controls need a running kernel)"
        display(bundle, raw=True)
        display(static_image(self.figure))
        display(Markdown(f"*{self.summary()}* With a running kernel, the controls above add "
                         f"and remove nodes and change the number of virtual nodes."))

    def _ipython_display_(self) -> None:
        self.show()


def _number_first(node: str) -> tuple[int, str]:
    """Sort ``n2`` before ``n10``, so colours follow the nodes' numbers."""
    digits = node.lstrip("abcdefghijklmnopqrstuvwxyz")
    return (int(digits), node) if digits.isdigit() else (-1, node)
