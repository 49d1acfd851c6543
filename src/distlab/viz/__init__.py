"""distlab.viz: drawings of simulations: space-time diagrams, topologies, animations.

Every function takes a `Trace` (``sim.trace``) or a `Simulation`. The figure functions
(`spacetime`, `topology`) return a matplotlib Figure; in a notebook end the cell with ``;``
so it shows exactly once, as a PNG. `animate` returns an HTML player: leave it as the
cell's last expression (no ``;``).
"""
from distlab.viz.animation import animate
from distlab.viz.spacetime import SpaceTimeDrawer, draw_spacetime, spacetime
from distlab.viz.style import KindColors, figure_png, message_kind
from distlab.viz.timeline import Flight, Span, Timeline, read_timeline
from distlab.viz.topology import draw_topology, read_topology, topology

__all__ = ["Flight", "KindColors", "SpaceTimeDrawer", "Span", "Timeline", "animate",
           "draw_spacetime", "draw_topology", "figure_png", "message_kind", "read_timeline",
           "read_topology", "spacetime", "topology"]
