"""A rumour spreading over a graph, round by round, as an HTML player.

Gossip is easiest to believe when one watches it: the nodes of a topology, the links that
carry the rumour to new nodes in a round lit up, then those nodes coloured and ringed in
black as newly informed and, a round later, coloured (without the ring) as informed earlier.
`animate_spread` draws that from two plain mappings a run gives
(`distlab.gossip.runs.push_spread` computes them): the round after which each node knew, and
who first told it. Two frames per round: the links, then the nodes.
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
import numpy as np
from IPython.display import HTML
from matplotlib.animation import FuncAnimation
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from distlab.viz.animation import player_html
from distlab.viz.palette import BLUISH_GREEN, INK, LIGHT_GREY, ORANGE, PALE_GREY

#: not yet informed, newly informed (this round, also ringed), informed earlier, a link
#: carrying it
GREY, NEW, OLD, LINK = PALE_GREY, ORANGE, BLUISH_GREEN, ORANGE
RING, PLAIN = 2.6, 0.8   # the edge widths of a newly informed node and of the others


def animate_spread(graph: nx.Graph, informed_at: Mapping[str, int], told_by: Mapping[str, str],
                   *, title: str = "Push gossip", interval: int = 600, layout_seed: int = 3,
                   dpi: int = 80) -> HTML:
    """An HTML player of a rumour spreading over ``graph``.

    ``informed_at`` maps every node to the round after which it knew (0 for the origin);
    ``told_by`` maps every other node to the node whose message first told it. Each frame is
    titled ``"{title}, round k: m of N nodes know"``.
    """
    nodes = list(graph)
    missing = [v for v in nodes if v not in informed_at or (informed_at[v] and v not in told_by)]
    if missing:
        raise ValueError(f"informed_at and told_by must cover every node; missing for "
                         f"{', '.join(map(str, missing[:5]))}")
    pos = nx.spring_layout(graph, seed=layout_seed)
    fig = Figure(figsize=(5.5, 5.2), dpi=dpi)       # not a pyplot figure: nothing left open
    FigureCanvasAgg(fig)                            # the player's writer draws on an Agg canvas
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.add_collection(LineCollection([(pos[a], pos[b]) for a, b in graph.edges],
                                     colors=LIGHT_GREY, linewidths=1, zorder=0))
    carrying = ax.add_collection(LineCollection([], colors=LINK, linewidths=2.5, zorder=1))
    xy = np.array([pos[v] for v in nodes])
    dots = ax.scatter(xy[:, 0], xy[:, 1], s=280, c=[GREY] * len(nodes), edgecolors=INK,
                      linewidths=PLAIN, zorder=2)
    for v in nodes:
        ax.text(*pos[v], str(v).removeprefix("n"), ha="center", va="center", fontsize=7,
                zorder=3)
    ax.autoscale_view()
    ax.legend(handles=[Line2D([], [], color=LINK, lw=2.5, label="carries it this round"),
                       Line2D([], [], marker="o", lw=0, color=NEW, markeredgecolor=INK,
                              markeredgewidth=RING, label="newly informed"),
                       Line2D([], [], marker="o", lw=0, color=OLD, markeredgecolor=INK,
                              markeredgewidth=PLAIN, label="informed earlier"),
                       Line2D([], [], marker="o", lw=0, color=GREY, markeredgecolor=INK,
                              markeredgewidth=PLAIN, label="not yet")],
              loc="lower center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8,
              frameon=False)
    fig.subplots_adjust(left=0.02, right=0.98, top=0.92, bottom=0.12)
    rounds = max(informed_at.values())
    steps = [(k, shown) for k in range(1, rounds + 1) for shown in (False, True)]

    def draw(i: int) -> None:
        k, shown = steps[i]                   # round k: first the links, then the nodes
        known = {v for v, at in informed_at.items() if at < k or (at == k and shown)}
        dots.set_facecolor([GREY if v not in known else NEW if informed_at[v] == k else OLD
                            for v in nodes])
        dots.set_linewidths([RING if informed_at[v] == k and shown else PLAIN for v in nodes])
        carrying.set_segments([(pos[told_by[v]], pos[v]) for v in nodes
                               if informed_at[v] == k and not shown])
        ax.set_title(f"{title}, round {k}: {len(known)} of {len(nodes)} nodes know",
                     fontsize=10)

    alt = (f"Animation: {title}: a rumour spreading over {len(nodes)} nodes in {rounds} "
           f"rounds, the links that carry it lit up, then the nodes it reached")
    return HTML(player_html(FuncAnimation(fig, draw, frames=len(steps)), interval, alt))
