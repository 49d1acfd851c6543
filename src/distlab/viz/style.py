"""Shared look of the drawings: a colour and a marker per message kind, labels, PNG output.

Every drawing in `distlab.viz` names a message the same way (`message_kind`) and gives each
kind the same colour and marker (`KindColors`, from `distlab.viz.palette`), so a reader can
match the arrows of a space-time diagram with the dots of an animation of the same run, and
tell kinds apart without telling their colours apart.
"""

from __future__ import annotations

import html
import io
from typing import Any

import PIL.Image
from IPython.display import Image
from matplotlib.artist import Artist
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from distlab.sim.trace import Recorded
from distlab.viz.palette import KIND_COLORS, KIND_MARKERS, OTHER_COLOR, OTHER_MARKER


def message_kind(msg: Any) -> str:
    """A short name for a message: what its arrow is labelled and coloured by.

    A dataclass or any object gives its class name (``Ping``); a tuple whose first item is a
    string gives that string (``("ping", 3)`` -> ``ping``); a short string is its own name;
    anything else gives its type's name (``int``).
    """
    if isinstance(msg, tuple) and msg and isinstance(msg[0], str) and not hasattr(msg, "_fields"):
        return _shorten(msg[0])
    if isinstance(msg, str):
        return msg if len(msg) <= 12 else "str"
    if isinstance(msg, Recorded):  # a message recorded in a graded run's process
        return msg.name
    return type(msg).__name__


def _shorten(text: str, limit: int = 12) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class KindColors:
    """Gives each message kind a colour and a marker, in order of first appearance.

    The first ten kinds get ten different markers (`distlab.viz.palette.KIND_MARKERS`) and
    the palette's colours; later kinds share the grey "other" look. Keep one instance per
    drawing (or per explorer) so the kinds keep their looks when the drawing is redrawn with
    more events.
    """

    def __init__(self) -> None:
        self._order: dict[str, int] = {}

    def _index(self, kind: str) -> int:
        return self._order.setdefault(kind, len(self._order))

    def __call__(self, kind: str) -> str:
        """The colour of ``kind``."""
        n = self._index(kind)
        return KIND_COLORS[n % len(KIND_COLORS)] if n < len(KIND_MARKERS) else OTHER_COLOR

    def marker(self, kind: str) -> str:
        """The marker of ``kind`` (a matplotlib marker: "o", "s", "^"...)."""
        n = self._index(kind)
        return KIND_MARKERS[n] if n < len(KIND_MARKERS) else OTHER_MARKER

    def kinds(self) -> list[str]:
        """The kinds seen so far, in order of first appearance."""
        return list(self._order)


def describe_figure(fig: Figure) -> str:
    """What a figure shows, in words, for its alt text: its title and its axes' titles."""
    titles = [fig.get_suptitle()] + [ax.get_title(loc) for ax in fig.axes
                                     for loc in ("left", "center", "right")]
    return "; ".join(dict.fromkeys(title.strip() for title in titles if title.strip()))


class NotebookFigure(Figure):
    """A Figure that Jupyter shows as a PNG when it ends a cell, whatever the backend.

    The drawings return these rather than pyplot figures, so that the inline backend never
    shows them a second time (see `distlab.viz` for how to display them). The PNG output
    carries the figure's titles as its alt text (``{"image/png": {"alt": ...}}``), which the
    book's pages give the image (tools/figure_alt_text.py).
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None
                          ) -> tuple[dict[str, bytes], dict[str, dict[str, str]]]:
        """The PNG with its alt text (IPython asks this first, and other formats after)."""
        alt = describe_figure(self)
        return {"image/png": self._repr_png_()}, ({"image/png": {"alt": alt}} if alt else {})


def static_image(figure: Figure, alt: str | None = None) -> Image:
    """``figure`` as a compact PNG to display, with an alt text (the figure's titles unless
    ``alt`` is given): what an explorer leaves in the static book, where its controls
    cannot run."""
    return Image(data=compact_png(figure), alt=alt or describe_figure(figure) or None)


def figure_png(fig: Figure, *, compress_level: int = 1) -> bytes:
    """Render ``fig`` to PNG bytes (level 1 compression: fast, as widgets need)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", pil_kwargs={"compress_level": compress_level})
    return buffer.getvalue()


def compact_png(image: Figure | PIL.Image.Image, colors: int = 128) -> bytes:
    """A small PNG of a figure (or image) with at most ``colors`` colours.

    Our drawings use a few flat colours, so a palette loses nothing visible and makes the
    file about three times smaller: what matters for images stored in notebooks.
    """
    if isinstance(image, Figure):
        image = PIL.Image.open(io.BytesIO(figure_png(image)))
    palette = image.convert("RGB").quantize(colors=colors, method=PIL.Image.Quantize.FASTOCTREE,
                                            dither=PIL.Image.Dither.NONE)
    # The palette averages white with the palest greys; make the background white again.
    rgb = palette.getpalette()[: 3 * colors]
    lightest = max(range(len(rgb) // 3), key=lambda i: sum(rgb[3 * i: 3 * i + 3]))
    if min(rgb[3 * lightest: 3 * lightest + 3]) >= 248:
        rgb[3 * lightest: 3 * lightest + 3] = [255, 255, 255]
        palette.putpalette(rgb)
    buffer = io.BytesIO()
    palette.save(buffer, format="png", optimize=True)
    return buffer.getvalue()


#: the HTML entity drawn for each matplotlib marker in `legend_html`
MARKER_GLYPHS = {"o": "&#9679;", "s": "&#9632;", "^": "&#9650;", "D": "&#9670;",
                 "v": "&#9660;", "P": "&#10010;", "*": "&#9733;", "h": "&#11042;",
                 "<": "&#9664;", "p": "&#11039;", ".": "&#8226;", "x": "&#10005;", "|": "|"}


def legend_html(entries: list[Artist]) -> str:
    """A one-line HTML legend for matplotlib legend entries (lines, markers, patches).

    The symbols are HTML entities (the entry's marker, a square, a solid or dashed line), so
    the legend reads the same whatever encoding the page is served with.
    """
    items = []
    for entry in entries:
        if isinstance(entry, Patch):
            # a square, in the edge colour if hatched (the face is then almost white)
            face = entry.get_edgecolor() if entry.get_hatch() else entry.get_facecolor()
            symbol, color = "&#9632;", to_hex(face)
        else:
            hollow = entry.get_markerfacecolor() == "none" and entry.get_marker() == "o"
            line = "&#9548;" if entry.get_linestyle() not in ("-", "None") else "&#9473;"
            symbol = "&#9675;" if hollow else MARKER_GLYPHS.get(entry.get_marker(), line)
            color = to_hex(entry.get_color())
        items.append(f"<span style='color:{color}'>{symbol}</span>&nbsp;"
                     f"{html.escape(entry.get_label())}")
    return f"<span style='font-size:12px'>{' &nbsp; '.join(items)}</span>"
