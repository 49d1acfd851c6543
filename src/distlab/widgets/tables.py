"""The tables an explorer shows under its pictures (every node's state), readable on a phone
as on a laptop.

A node's state is a row of short values (``(2, 'p1')``, ``frozenset({'a2', 'a1'})``) under
names such as ``retry_after``. Squeezed into a phone's width (the book's stylesheet lets a
table's cells break anywhere), the nine columns of a Paxos cluster became a tall stack of
three-letter fragments. So `scrolling_table` writes every value and every name on one line,
in a box of its own that scrolls sideways where the table is wider than the explorer, as the
book's wide figures do: a shadow at the box's edge says where more of the table is hidden,
and the first column (each node's name) stays in view while the others scroll under it.

Everything is inline style (no stylesheet reaches a widget's HTML in JupyterLab), in the
colours ipywidgets gives a widget (its CSS variables, which JupyterLab's dark theme and the
book's widget manager set), so the covers that hide a shadow match the box they lie on.

A printed page cannot scroll: the book's stylesheet (_assets/distlab.css) prints the box's
table whole, its cells wrapping as they must, by the box's class, `BOX_CLASS`.

The box is as wide as the widget, never as wide as its table: ipywidgets lays an HTML
widget's content out as a flex item, which grows to the least width of what it holds, so a
box of ``max-width: 100%`` grew with its table and the whole explorer scrolled sideways. A
box of width 0 that is at least 100% wide asks for no width of its own and takes the
widget's.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from distlab.viz import palette

#: a widget's background and ink: ipywidgets' variables, with their light theme's values
BACKGROUND = f"var(--jp-layout-color0, {palette.WHITE})"
INK = f"var(--jp-content-font-color1, {palette.BLACK})"
#: the shadow at an edge where more of the table is hidden, and its width (px)
SHADOW = "rgb(0 0 0 / 0.35)"
CUE_PX = 16
#: a cell's padding (px): above and below, left and right
PAD_Y, PAD_X = 1, 10

#: the box's class, by which the book's stylesheet prints its table whole
BOX_CLASS = "scrolling-table"
#: a row: its name (plain text, the first column), its other cells (HTML), and its colour
Row = tuple[str, Sequence[str], str | None]


def scrolling_table(head: Sequence[str], rows: Iterable[Row], *, font_px: int = 12) -> str:
    """An HTML table whose columns are named ``head`` (plain text) and whose rows are
    ``rows``, in a monospace font of ``font_px``: each cell on one line, the whole in a box
    that scrolls sideways where it is too wide, with a shadow at each edge where more is
    hidden (`edge_cues`); the first column stays in view."""
    rows = list(rows)
    name_ch = max(len(text) for text in [head[0], *(name for name, _, _ in rows)])
    cell = f"padding:{PAD_Y}px {PAD_X}px;text-align:left;white-space:nowrap"
    # the first column: opaque, so that the others scroll out of sight under it
    first = (f"{cell};position:sticky;left:0;min-width:{name_ch}ch;background:{BACKGROUND};"
             f"border-right:1px solid {SHADOW}")
    names = "".join(f"<th style='{cell}'>{html.escape(name)}</th>" for name in head[1:])
    lines = []
    for name, cells, color in rows:
        style = f" style='color:{color}'" if color else ""
        values = "".join(f"<td style='{cell}'>{value}</td>" for value in cells)
        lines.append(f"<tr{style}><td style='{first}'><b>{html.escape(name)}</b></td>{values}"
                     f"</tr>")
    # the sticky column's width: its text, its padding, its border
    column = f"calc({name_ch}ch + {2 * PAD_X + 1}px)"
    return (f"<div class='{BOX_CLASS}' style='overflow-x:auto;width:0;min-width:100%;"
            f"font:{font_px}px/1.3 monospace;color:{INK};background:{edge_cues(column)};"
            f"background-color:{BACKGROUND}'>"
            f"<table style='border-collapse:collapse;max-width:none;margin:0'><thead><tr>"
            f"<th style='{first}'>{html.escape(head[0])}</th>{names}</tr></thead>"
            f"<tbody>{''.join(lines)}</tbody></table></div>")


def edge_cues(left: str) -> str:
    """The background layers of a box that scrolls sideways: a shadow inside each edge, fixed
    to the box ("scroll"), the left one at ``left`` (a CSS length: where the sticky column
    ends); and over each shadow a cover of the box's colour, fixed to that end of the content
    ("local"). While an end of the table is in view its cover hides the shadow there, so a
    shadow shows only at an edge beyond which more of the table is hidden."""
    def layer(side: str, paint: str, at: str, width: int, attached: str) -> str:
        towards = "right" if side == "left" else "left"
        return (f"linear-gradient(to {towards}, {paint}, transparent) {at} 0 / {width}px 100% "
                f"no-repeat {attached}")

    return ", ".join([
        layer("left", f"{BACKGROUND} 50%", left, 2 * CUE_PX, "local"),
        layer("right", f"{BACKGROUND} 50%", "right", 2 * CUE_PX, "local"),
        layer("left", SHADOW, left, CUE_PX, "scroll"),
        layer("right", SHADOW, "right", CUE_PX, "scroll"),
    ])
