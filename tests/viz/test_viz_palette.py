"""distlab.viz.palette: the one source of the drawings' colours, all safe for colour-blind
readers, and the second cue (marker, hatch, text) that tells apart what colour alone must not.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import is_color_like, to_hex, to_rgb  # noqa: E402

from distlab.sim import Node, Simulation  # noqa: E402
from distlab.viz import palette  # noqa: E402
from distlab.viz import animate, spacetime, topology  # noqa: E402
from distlab.viz.animation import _Player  # noqa: E402
from distlab.viz.gantt import TaskSpan, draw_tasks  # noqa: E402
from distlab.viz.membership import membership_matrix  # noqa: E402
from distlab.viz.replicas import draw_replica_history  # noqa: E402
from distlab.viz.roles import draw_roles  # noqa: E402
from distlab.viz.style import KindColors, legend_html  # noqa: E402
from distlab.viz.timeline import kind_colors, read_timeline  # noqa: E402

SRC = Path(__file__).resolve().parents[2] / "src" / "distlab"
HEX = re.compile(r"(?<!&)#[0-9a-fA-F]{3,8}\b")     # not an HTML entity, &#9654;
#: strings matplotlib would take for a colour but that our code means otherwise
NOT_COLOURS = {"none", "None"}
OKABE_ITO = {palette.BLACK, palette.ORANGE, palette.SKY_BLUE, palette.BLUISH_GREEN,
             palette.YELLOW, palette.BLUE, palette.VERMILLION, palette.REDDISH_PURPLE}


def drawing_modules() -> list[Path]:
    return sorted(p for folder in ("viz", "widgets") for p in (SRC / folder).glob("*.py")
                  if p.name != "palette.py")


def colours_in(path: Path) -> list[tuple[int, str]]:
    """(line, text) of the strings of a module's code (not its docstrings) that write a
    colour: a hex code anywhere (HTML too), a colour's name or "C0" anywhere, and even a
    one-letter colour ("k") given to a colour argument (elsewhere "g" is a number format
    and "y" an axis)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    colour_arguments = {id(kw.value) for node in ast.walk(tree) if isinstance(node, ast.Call)
                        for kw in node.keywords
                        if kw.arg and ("color" in kw.arg or "colour" in kw.arg or kw.arg == "c")}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str) \
                or id(node) in docstrings:
            continue
        text = node.value
        named = is_color_like(text) and text not in NOT_COLOURS \
            and not text.replace(".", "", 1).isdigit() \
            and (len(text) > 1 or id(node) in colour_arguments)
        if HEX.search(text) or named:
            found.append((node.lineno, text))
    return sorted(found)


@pytest.mark.parametrize("path", drawing_modules(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_drawing_writes_a_colour_of_its_own(path):
    """Every colour comes from distlab.viz.palette: no hex code, colour name or "C0"."""
    own = [f"line {line}: {text!r}" for line, text in colours_in(path)]
    assert not own, f"{path.name} writes colours; take them from distlab.viz.palette: {own}"


def test_the_check_finds_a_colour_written_in_a_module(tmp_path):
    module = tmp_path / "drawing.py"
    module.write_text('"""#123456 in a docstring is fine."""\n'
                      'EDGE = "#333"\n'
                      'ax.plot(x, color="tab:red")\n'
                      'f"<b style=\'color:#c62828\'>"\n'
                      'ax.plot(x, c="k", label=f"{x:g}", marker="o")\n'
                      'ax.tick_params(axis="y", edgecolor="none")\n'
                      'html = "&#9654; &#10005;"\n'
                      'ax.bar(x, color="C1")\n')
    assert [line for line, _ in colours_in(module)] == [2, 3, 4, 5, 8]


def palette_colours() -> dict[str, str]:
    """Every colour the palette defines, by where it is defined."""
    found = {}
    for name, value in vars(palette).items():
        values = {"": value} if isinstance(value, str) else \
            dict(enumerate(value)) if isinstance(value, tuple) else \
            value if isinstance(value, dict) else {}
        for key, item in values.items():
            item = item[0] if isinstance(item, tuple) else item
            if isinstance(item, str) and HEX.fullmatch(item):
                found[f"{name}[{key}]" if key != "" else name] = item
    return found


def is_tint_of_okabe_ito(colour: str) -> bool:
    """One of the eight colours mixed with white: c = o + (1 - o) * a for one amount ``a``
    (fitted by least squares), up to the rounding of a hex code."""
    c = np.array(to_rgb(colour))
    for base in OKABE_ITO:
        o = np.array(to_rgb(base))
        room = 1 - o
        if not room.any():
            continue
        a = float(np.clip(room @ (c - o) / (room @ room), 0, 1))
        if np.abs(o + room * a - c).max() <= 1.5 / 255:
            return True
    return False


def test_every_palette_colour_is_okabe_ito_a_tint_of_one_or_a_grey():
    colours = palette_colours()
    assert len(colours) > 30       # the kinds, the roles, the writers, the states...
    odd = {where: c for where, c in colours.items()
           if not (is_tint_of_okabe_ito(c) or len(set(to_hex(c)[1:].upper()[i:i + 2]
                                                       for i in (0, 2, 4))) == 1)}
    assert not odd, f"not an Okabe-Ito colour, a tint of one or a grey: {odd}"
    assert not is_tint_of_okabe_ito("#ff0000") and not is_tint_of_okabe_ito("#2ca02c")


def test_tint_and_text_on():
    assert palette.tint(palette.BLUE, 0) == palette.BLUE
    assert palette.tint(palette.BLUE, 1) == palette.WHITE
    assert palette.text_on(palette.BLUE) == palette.WHITE
    assert palette.text_on(palette.YELLOW) == palette.INK
    assert palette.readable(palette.BLUE) == palette.BLUE          # dark enough already
    assert palette.readable(palette.SKY_BLUE) == "#387597"          # darkened for text
    with pytest.raises(ValueError, match="between 0 and 1, not 1.5"):
        palette.tint(palette.BLUE, 1.5)


def test_the_first_ten_kinds_have_ten_markers_and_kinds_sharing_a_colour_differ_in_shape():
    looks = KindColors()
    kinds = [f"k{i}" for i in range(12)]
    pairs = [(looks(k), looks.marker(k)) for k in kinds]
    assert len({marker for _, marker in pairs[:10]}) == 10
    assert len(set(pairs[:10])) == 10
    assert pairs[10] == pairs[11] == (palette.OTHER_COLOR, palette.OTHER_MARKER)
    assert looks.kinds() == kinds


@dataclass(frozen=True)
class Ping:
    n: int


@dataclass(frozen=True)
class Pong:
    n: int


class PingPong(Node):
    def on_start(self):
        if self.id == "a":
            self.send("b", Ping(1))

    def on_message(self, src, msg):
        match msg:
            case Ping(n):
                self.send(src, Pong(n))
            case Pong(n) if n < 3:
                self.send(src, Ping(n + 1))


def ping_pong() -> Simulation:
    sim = Simulation(seed=1)
    sim.add_nodes(PingPong, ["a", "b"])
    sim.run(until=100)
    return sim


def marker_shape(collection) -> np.ndarray:
    """The outline of a scatter's marker (all its points share it)."""
    return collection.get_paths()[0].vertices


def test_two_message_kinds_in_a_spacetime_diagram_differ_in_more_than_colour():
    ax = spacetime(ping_pong()).axes[0]
    sends = {c.get_gid(): c for c in ax.collections if (c.get_gid() or "").startswith("sends")}
    assert set(sends) == {"sends Ping", "sends Pong"}
    ping, pong = sends["sends Ping"], sends["sends Pong"]
    assert len(ping.get_offsets()) == 3 and len(pong.get_offsets()) == 3
    assert to_hex(ping.get_facecolor()[0]) != to_hex(pong.get_facecolor()[0])
    assert marker_shape(ping).shape != marker_shape(pong).shape or \
        not np.allclose(marker_shape(ping), marker_shape(pong))       # a circle, a square
    legend = {h.get_label(): h for h in ax.get_legend().legend_handles}
    assert legend["Ping"].get_marker() == "o" and legend["Pong"].get_marker() == "s"


def test_two_message_kinds_in_an_animation_differ_in_shape():
    sim = ping_pong()
    timeline = read_timeline(sim.trace)
    player = _Player(timeline, np.array([0.0, 1.0]), None, 40, kind_colors(sim.trace))
    shapes = {}
    for t in np.linspace(0, sim.now, 80):
        player.times = np.array([t, t + 1.0])
        player.show_frame(0)
        flying = [f for f in timeline.flights if f.sent <= t <= f.end]
        if len(flying) == 1:
            shapes[flying[0].kind] = player.dots.get_paths()[0].vertices
    assert set(shapes) == {"Ping", "Pong"}
    assert shapes["Ping"].shape != shapes["Pong"].shape or \
        not np.allclose(shapes["Ping"], shapes["Pong"])
    assert "&#9679;</span>&nbsp;Ping" in animate(sim, frames=2).data    # ● Ping
    assert "&#9632;</span>&nbsp;Pong" in animate(sim, frames=2).data    # ■ Pong


def test_the_html_legend_draws_each_kind_by_its_marker():
    ax = spacetime(ping_pong()).axes[0]
    text = legend_html(ax.get_legend().legend_handles)
    assert "&#9679;</span>&nbsp;Ping" in text and "&#9632;</span>&nbsp;Pong" in text


def test_topology_roles_differ_in_shape():
    ax = topology(ping_pong(), roles={"a": "leader", "b": "follower"}).axes[0]
    nodes = {c.get_gid(): c for c in ax.collections if (c.get_gid() or "").startswith("nodes")}
    assert set(nodes) == {"nodes leader", "nodes follower"}
    assert not np.array_equal(marker_shape(nodes["nodes leader"]),
                              marker_shape(nodes["nodes follower"]))


def hatches(patches) -> list[str]:
    return [p.get_hatch() or "" for p in patches]


def test_roles_writers_and_member_states_differ_in_hatch():
    samples = [(0.0, {"a": ("follower", 1), "b": ("candidate", 1), "c": ("leader", 1),
                      "d": ("crashed", None)}),
               (50.0, {"a": ("follower", 1), "b": ("candidate", 1), "c": ("leader", 1),
                       "d": ("crashed", None)})]
    roles = [c.get_hatch() or "" for c in draw_roles(samples).axes[0].collections]
    assert len(set(roles)) == 4
    runs = [("run", [(0.0, {"a": (101, 1), "b": (201, 2), "c": (301, 3)})])]
    writers = [c.get_hatch() or "" for c in draw_replica_history(runs, 5).axes[0].collections
               if c.get_facecolor()[0][:3].tolist() != list(to_rgb(palette.VERMILLION))]
    assert len(set(writers)) == 3
    views = {"a": {"b": "suspect", "c": "dead"}, "b": {"a": "alive", "c": "alive"}}
    fig = membership_matrix([(1000, views)], ["a", "b", "c"])
    legend = {t.get_label(): t.get_hatch() or "" for t in fig.legends[0].legend_handles}
    assert len({legend["alive"], legend["suspect"], legend["dead"]}) == 3
    cells = hatches(fig.axes[0].patches)
    assert sorted(cells) == sorted([palette.MEMBER_STATES["suspect"][1],
                                    palette.MEMBER_STATES["dead"][1]])


def test_task_kinds_differ_in_their_label_not_only_colour():
    fig = matplotlib.figure.Figure()
    ax = fig.add_subplot()
    draw_tasks(ax, [TaskSpan("w1", "map", 1, 0, 5, "finished"),
                    TaskSpan("w1", "reduce", 1, 5, 9, "finished")], ["w1"])
    assert [t.get_text() for t in ax.texts] == ["m1", "r1"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["map (m…)", "reduce (r…)"]
