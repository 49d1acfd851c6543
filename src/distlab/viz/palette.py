"""Every colour the drawings use, in one place, chosen for colour-blind readers.

About one man in twelve and one woman in two hundred tell some colours apart less well than
others, most often red from green. The eight colours Okabe and Ito proposed for "colour
universal design" (2008) stay distinct for the common kinds of colour blindness and in
grey print, so every colour here is one of them, a tint of one (mixed with white, for a face
that text must stay readable on) or a grey; no module of the library writes a colour of its
own (``tests/viz/test_viz_palette.py`` checks it). The book's pages draw with them too: each
page calls `use()` once, which makes them matplotlib's colours for what a page plots without
naming a colour, and names the palette's colours where it does (``color=palette.ORANGE``).

Colour is never the only cue. What a reader must tell apart also differs in shape: message
kinds by the marker at each send (`KIND_MARKERS`), roles by a marker or a hatch
(`ROLE_MARKERS`, `RAFT_ROLES`), the writers of a value and the states of a membership view by
a hatch. The drawings are made on white: in the book's dark mode they are shown as drawn, on
their white ground (``_assets/distlab.css``), so one palette serves both themes.
"""

from __future__ import annotations

import matplotlib as mpl
from cycler import cycler
from matplotlib.colors import to_hex, to_rgb

# Okabe and Ito's eight colours, by their names.
BLACK = "#000000"
ORANGE = "#e69f00"
SKY_BLUE = "#56b4e9"
BLUISH_GREEN = "#009e73"
YELLOW = "#f0e442"
BLUE = "#0072b2"
VERMILLION = "#d55e00"
REDDISH_PURPLE = "#cc79a7"

# The greys, darkest first.
INK = "#222222"         # text, outlines, the leader's name
INK_SOFT = "#555555"    # secondary text (indices, key names), timer marks
GREY = "#999999"        # what is down: a crashed node's outline, its name
LIGHT_GREY = "#cccccc"  # lanes of a space-time diagram, links of a topology
PALE_GREY = "#eeeeee"   # faces of what is down or empty: a crash, a snapshot, "not yet"
WHITE = "#ffffff"

#: categories (terms of a log, nodes of a ring, stages of a job) in order of first use
PALETTE = (BLUE, ORANGE, BLUISH_GREEN, REDDISH_PURPLE, SKY_BLUE, VERMILLION, YELLOW, BLACK)

#: message kinds, in order of first appearance: five colours and ten markers, so that two
#: kinds sharing a colour (the first and the sixth...) never share a shape
KIND_COLORS = (BLUE, ORANGE, BLUISH_GREEN, REDDISH_PURPLE, SKY_BLUE)
KIND_MARKERS = ("o", "s", "^", "D", "v", "P", "*", "h", "<", "p")
OTHER_COLOR = GREY       # kinds beyond the ten share this colour and marker ("other")
OTHER_MARKER = "."

#: the second cue of a figure's series, in order: a line style for lines, a hatch for bars and
#: areas (markers: `KIND_MARKERS`)
LINE_STYLES = ("-", "--", "-.", ":")
HATCHES = ("", "////", "....", "xxx", "\\\\\\\\", "++")

DROP_COLOR = VERMILLION  # a lost message (drawn as a cross) and a cut link (dashed)
CRASH_COLOR = GREY       # the outline of a crashed node's hatched box
CRASH_FACE = PALE_GREY
PARTITION_COLOR = YELLOW  # the band of a partition (drawn translucent)

PASSED = BLUISH_GREEN    # a check that passed, in a lab's report (the word says it too)
FAILED = VERMILLION      # a check that failed


def use() -> None:
    """Make the palette matplotlib's colours, for the figures a page draws itself.

    Series drawn without a colour take `PALETTE`'s colours in turn, instead of matplotlib's
    default blue, orange, green (``tab10``, whose red and green look alike to many readers),
    and lines drawn without a style also take `LINE_STYLES` in turn, so that two lines differ
    in more than colour; text, axes and ticks are written in `INK`. Call it once, after
    importing pyplot. Bars and areas do not cycle a second cue: give them a hatch (`HATCHES`).
    """
    styles = LINE_STYLES * (len(PALETTE) // len(LINE_STYLES))
    mpl.rcParams["axes.prop_cycle"] = cycler(color=PALETTE) + cycler(linestyle=styles)
    for key in ("text.color", "axes.labelcolor", "axes.edgecolor", "xtick.color",
                "ytick.color"):
        mpl.rcParams[key] = INK


def tint(color: str, amount: float) -> str:
    """``color`` mixed with white: ``amount`` 0 gives the colour, 1 gives white."""
    if not 0 <= amount <= 1:
        raise ValueError(f"tint amount must be between 0 and 1, not {amount}")
    return to_hex([c + (1 - c) * amount for c in to_rgb(color)])


def _luminance(color: str) -> float:
    r, g, b = to_rgb(color)
    return 0.299 * r + 0.587 * g + 0.114 * b


def readable(color: str) -> str:
    """``color`` for text on white: the light ones (sky blue, orange...) darkened by a
    third, mixed with black, so that a label stays legible in its kind's hue."""
    if _luminance(color) < 0.5:
        return to_hex(color)
    return to_hex([c * 0.65 for c in to_rgb(color)])


def text_on(face: str) -> str:
    """The colour of text written on ``face``: white on a dark colour, ink on a light one."""
    return WHITE if _luminance(face) < 0.55 else INK


#: faces of nodes by role in a topology (light, so that the ids written on them stay
#: readable), and the marker of each, in order of first appearance
ROLE_FACES = tuple(tint(c, 0.45) for c in (SKY_BLUE, ORANGE, BLUISH_GREEN, REDDISH_PURPLE,
                                            YELLOW, BLUE))
ROLE_MARKERS = ("o", "s", "D", "h", "^", "v")
UP_FACE = ROLE_FACES[0]  # a node that is up, when roles are not drawn

#: the roles of leader election and Raft: (face, hatch)
RAFT_ROLES = {"follower": (tint(SKY_BLUE, 0.45), ""), "candidate": (YELLOW, "...."),
              "leader": (VERMILLION, "////"), "crashed": (PALE_GREY, "xx")}

#: the writers of a replica's value (0: nothing written yet): (face, hatch)
WRITERS = {0: (PALE_GREY, ""), 1: (BLUE, ""), 2: (ORANGE, "...."), 3: (BLUISH_GREEN, "////")}

#: what a member of a group thinks of another: (face, hatch)
MEMBER_STATES = {"alive": (tint(BLUISH_GREEN, 0.4), ""), "suspect": (ORANGE, "...."),
                 "dead": (VERMILLION, "xxx"), "crashed": (INK_SOFT, "")}
