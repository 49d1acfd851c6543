"""distlab.viz.palette: the one source of the drawings' colours, all safe for colour-blind
readers, and the second cue (marker, hatch, text) that tells apart what colour alone must not.

Three nets catch a colour that does not come from the palette: the library's drawing code
and the notebooks' code cells are scanned for colours written out (a name, a hex code, "C0");
the notebooks that plot must call ``palette.use()`` before they do; and the figures committed
in the notebooks are searched for the pixels of matplotlib's default colours (``tab10``).
"""

from __future__ import annotations

import ast
import base64
import io
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import PIL.Image  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import TABLEAU_COLORS, is_color_like, to_hex, to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from distlab.sim import Node, Simulation  # noqa: E402
from distlab.viz import palette  # noqa: E402
from distlab.viz import animate, spacetime, topology  # noqa: E402
from distlab.viz.animation import _Player  # noqa: E402
from distlab.viz.gantt import TaskSpan, draw_tasks  # noqa: E402
from distlab.viz.membership import membership_matrix  # noqa: E402
from distlab.viz.replicas import draw_replica_history  # noqa: E402
from distlab.viz.roles import draw_roles  # noqa: E402
from distlab.viz.service import draw_completions, draw_latency_bars, draw_load  # noqa: E402
from distlab.viz.style import KindColors, legend_html  # noqa: E402
from distlab.viz.timeline import kind_colors, read_timeline  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "distlab"
HEX = re.compile(r"(?<!&)#[0-9a-fA-F]{3,8}\b")     # not an HTML entity, &#9654;
#: strings matplotlib would take for a colour but that our code means otherwise
NOT_COLOURS = {"none", "None"}
OKABE_ITO = {palette.BLACK, palette.ORANGE, palette.SKY_BLUE, palette.BLUISH_GREEN,
             palette.YELLOW, palette.BLUE, palette.VERMILLION, palette.REDDISH_PURPLE}


#: the packages that draw or write HTML: every module of them is scanned, and every other
#: module that imports matplotlib
DRAWING_PACKAGES = ("viz", "widgets", "check", "grading", "labs")


def drawing_modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if p.name != "palette.py" and (
        p.relative_to(SRC).parts[0] in DRAWING_PACKAGES
        or "matplotlib" in p.read_text(encoding="utf-8")))


def colours_in(path: Path) -> list[tuple[int, str]]:
    """(line, text) of the strings of a module's code (not its docstrings) that write a
    colour: a hex code anywhere (HTML too), a colour's name or "C0" anywhere, and even a
    one-letter colour ("k") given to a colour argument (elsewhere "g" is a number format
    and "y" an axis)."""
    return colours_in_code(path.read_text(encoding="utf-8"))


def colours_in_code(code: str) -> list[tuple[int, str]]:
    """`colours_in` for a piece of code: a module, or a notebook's cell."""
    tree = ast.parse(code)
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


def test_the_library_scan_reaches_every_package_that_draws():
    scanned = {p.relative_to(SRC).as_posix() for p in drawing_modules()}
    assert {"check/history_plot.py", "grading/report.py", "grading/gradebook.py",
            "labs/lab04_raft/common.py", "snapshots/runs.py", "viz/service.py"} <= scanned


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


# -- the notebooks ------------------------------------------------------------------------------
NOTEBOOKS = sorted([*ROOT.glob("book/*/*.ipynb"), *ROOT.glob("solutions/*.ipynb")])
#: a notebook's cell that draws with pyplot (a figure of its own, not one of distlab.viz's)
PYPLOT_DRAWS = re.compile(r"\bplt\.(subplots|subplot|figure|plot|bar|barh|hist|scatter)\(")
USES_PALETTE = re.compile(r"\bpalette\.use\(\)")
#: matplotlib's default colours, C0 to C9, but its grey (C7), which is a grey like ours
DEFAULT_CYCLE = {to_hex(c) for name, c in TABLEAU_COLORS.items() if name != "tab:gray"}
#: a figure drawn in the default colours shows some in lines, bars or markers of solid colour;
#: fewer pixels than this could be a blend of two of ours at an edge
MIN_PIXELS = 20

#: the notebooks other engineers are editing in this round, with what they still have to do:
#: in their code, and in their committed figures; each test fails (strict) as soon as one is
#: fixed, so that its entry is removed
PENDING_CODE: dict[str, str] = {}
PENDING_FIGURES: dict[str, str] = {}


def notebook_params(pending: dict[str, str]) -> list[object]:
    params = []
    for path in NOTEBOOKS:
        name = path.relative_to(ROOT).as_posix()
        marks = [pytest.mark.xfail(strict=True, reason=pending[name])] if name in pending \
            else []
        params.append(pytest.param(path, id=name, marks=marks))
    return params


def code_cells(path: Path) -> list[tuple[int, str]]:
    """(index, Python source) of a notebook's code cells, IPython's magics made Python."""
    from IPython.core.inputtransformer2 import TransformerManager

    to_python = TransformerManager().transform_cell
    return [(i, to_python(cell.source)) for i, cell in enumerate(nbformat.read(path, 4).cells)
            if cell.cell_type == "code"]


@pytest.mark.parametrize("path", notebook_params(PENDING_CODE))
def test_no_notebook_writes_a_colour_of_its_own_or_plots_before_palette_use(path):
    own, early = [], []
    palette_used = False
    for i, code in code_cells(path):
        own += [f"cell {i}, line {line}: {text!r}" for line, text in colours_in_code(code)]
        palette_used = palette_used or bool(USES_PALETTE.search(code))
        if PYPLOT_DRAWS.search(code) and not palette_used:
            early.append(f"cell {i}")
    assert not own, f"colours written out; take them from distlab.viz.palette: {own}"
    assert not early, (f"{', '.join(early)} plot(s) with matplotlib's default colours: call "
                       "palette.use() (from distlab.viz import palette) before the first plot")


def default_cycle_pixels(png: bytes) -> dict[str, int]:
    """How many pixels of the image are exactly one of matplotlib's default colours."""
    pixels = np.asarray(PIL.Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    codes = pixels[:, 0].astype(np.int64) << 16 | pixels[:, 1].astype(np.int64) << 8 \
        | pixels[:, 2]
    values, counts = np.unique(codes, return_counts=True)
    found = dict(zip((f"#{v:06x}" for v in values), counts.tolist()))
    return {c: found[c] for c in DEFAULT_CYCLE if found.get(c, 0) >= MIN_PIXELS}


def figures(path: Path) -> list[tuple[int, bytes]]:
    """(cell index, PNG) of every figure committed in a notebook."""
    return [(i, base64.b64decode(output["data"]["image/png"]))
            for i, cell in enumerate(nbformat.read(path, 4).cells) if cell.cell_type == "code"
            for output in cell.get("outputs", []) if "image/png" in output.get("data", {})]


@pytest.mark.parametrize("path", notebook_params(PENDING_FIGURES))
def test_no_committed_figure_is_drawn_in_the_default_colours(path):
    drawn = {f"cell {i}": found for i, png in figures(path)
             if (found := default_cycle_pixels(png))}
    assert not drawn, (f"figures in matplotlib's default colours (colour: pixels): {drawn}; "
                       "draw them with the palette and re-execute the notebook")


def test_the_figure_check_finds_the_default_colours_and_passes_the_palette():
    def png(**style) -> bytes:
        fig = Figure(figsize=(3, 2))
        fig.add_subplot().plot([0, 1, 2], [0, 2, 1], lw=3, **style)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()

    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        assert set(default_cycle_pixels(png())) == {"#1f77b4"}           # C0
        palette.use()
        assert default_cycle_pixels(png()) == {}
    assert default_cycle_pixels(png(color=palette.VERMILLION)) == {}


def test_palette_use_makes_the_palette_matplotlibs_colours():
    # (another test of this process may have called palette.use() already: compare with then)
    cycle_before = matplotlib.rcParams["axes.prop_cycle"]
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        palette.use()
        ax = Figure().add_subplot()
        lines = [ax.plot([0, 1], [i, i])[0] for i in range(3)]
        bars = ax.bar([0, 1], [1, 2])
        assert [to_hex(line.get_color()) for line in lines] == list(palette.PALETTE[:3])
        assert [line.get_linestyle() for line in lines] == ["-", "--", "-."]
        assert to_hex(bars[0].get_facecolor()) == palette.PALETTE[0]     # bars cycle apart
        assert matplotlib.rcParams["text.color"] == palette.INK
    assert matplotlib.rcParams["axes.prop_cycle"] == cycle_before   # only inside the context


def artist_colours(fig: Figure) -> set[str]:
    """Every colour a figure's lines, patches and collections are drawn in."""
    found = set()
    for ax in fig.axes:
        found |= {to_hex(line.get_color()) for line in ax.lines}
        found |= {to_hex(p.get_facecolor()) for p in ax.patches}
        found |= {to_hex(c) for coll in ax.collections for c in coll.get_facecolor()}
    return found


def test_the_library_draws_in_the_palette_whatever_the_page_set():
    """Drawn under matplotlib's own defaults, the library's figures still use the palette."""
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        figs = [draw_latency_bars({"one": {"eu": 80, "us": 4}, "three": {"eu": 4, "us": 4}}),
                draw_completions({"a": ([0.0, 250.0], {"u1": [1, 2], "u2": [2, 1]})}),
                draw_load({"one": [(3, 20.0, 40.0)], "three": [(3, 60.0, 4.0)]}),
                spacetime(ping_pong())]
        for fig in figs:
            assert not artist_colours(fig) & DEFAULT_CYCLE, describe(fig)


def describe(fig: Figure) -> str:
    return f"{fig.axes[0].get_title()!r} uses matplotlib's default colours"


def test_bars_of_two_designs_differ_in_hatch_and_curves_in_marker():
    bars = draw_latency_bars({"one": {"eu": 80}, "three": {"eu": 4}}).axes[0].patches
    assert len({p.get_hatch() or "" for p in bars}) == 2
    lines = draw_load({"one": [(3, 20.0, 40.0)], "three": [(3, 60.0, 4.0)]}).axes[0].lines
    assert len({line.get_marker() for line in lines}) == 2
