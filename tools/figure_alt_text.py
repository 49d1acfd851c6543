"""Sphinx extension: every figure of a notebook gets an alt text that says what it shows.

myst-nb writes each image output to a file named by its hash and, with no alt text given,
the HTML writer uses that file name as the ``alt``: a screen reader reads out a hash. This
extension gives each image of a code cell's output, and each frame of a jshtml animation
player, an alt text found, in this order:

1. in the cell's metadata, where the notebook's author wrote it (``"alt"``: one text for
   every figure of the cell, or a list of texts, one per figure in order);
2. in the output's own metadata (``{"image/png": {"alt": "..."}}``): what `distlab.viz`
   attaches to the figures it draws (`distlab.viz.style.describe_figure`), the explorers to
   their static image and the lab reports to their diagrams; an animation of `distlab.viz`
   carries its own alt text in its player's ``<img>``, which is then left as it is;
3. in the cell's code: the titles it gives the figure (``title=...``, ``set_title(...)``,
   ``suptitle(...)``, ``plt.title(...)``; a title held in a variable assigned in the same cell
   is followed, and so is one a ``for`` loop takes from a written list, ``for ax, title in
   [(left, "Before"), (right, "After")]``; the parts of an f-string computed at run time are
   written as "…");
4. otherwise from where the figure is: "Figure drawn by <the cell's last call> in the section
   <title of the section>".

It runs on the doctree, so no notebook needs to be executed again. Loaded by _config.yml
(sphinx.local_extensions).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from itertools import chain, repeat
from pathlib import Path
from typing import Any

import nbformat
from docutils import nodes
from sphinx.application import Sphinx

#: keyword arguments and methods whose string argument titles a figure
TITLE_KEYWORDS = {"title", "suptitle"}
TITLE_METHODS = {"set_title", "suptitle", "title"}
#: methods whose string argument names an axis: "<y> against <x>" when there is no title
AXIS_METHODS = {"set_xlabel": "x", "xlabel": "x", "set_ylabel": "y", "ylabel": "y"}
#: the <img> of matplotlib's jshtml player (matplotlib.animation.HTMLWriter's template)
ANIMATION_IMG = re.compile(r'<img id="(_anim_img[0-9a-f]*)"')
MAX_ALT = 250


def titles_in(source: str) -> list[str]:
    """The figure titles a cell's code sets, in order, without repeats; with no title, the
    axes it names ("latency (ms) against load"), if any."""
    try:
        tree = ast.parse(_without_magics(source))
    except SyntaxError:
        return []
    assigned = {
        target.id: node.value
        for node in ast.walk(tree) if isinstance(node, ast.Assign)
        for target in node.targets if isinstance(target, ast.Name)
    }
    looped: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and isinstance(node.iter, (ast.List, ast.Tuple)):
            for item in node.iter.elts:
                for name, value in _bound(node.target, item):
                    looped.setdefault(name, []).append(value)
    found: list[str] = []
    axes: dict[str, str] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        method = node.func.attr if isinstance(node.func, ast.Attribute) else None
        values = [kw.value for kw in node.keywords if kw.arg in TITLE_KEYWORDS]
        if method in TITLE_METHODS and node.args:
            values.append(node.args[0])
        for value in values:
            named = value.id if isinstance(value, ast.Name) else None
            for candidate in looped.get(named, [assigned.get(named, value)]):
                text = _text_of(candidate)
                if text and text not in found:
                    found.append(text)
        if method in AXIS_METHODS and node.args:
            axes.setdefault(AXIS_METHODS[method], _text_of(node.args[0]) or "")
    if not found and axes.get("x") and axes.get("y"):
        found.append(f"{axes['y']} against {axes['x']}")
    return found


def _bound(target: ast.expr, value: ast.expr) -> list[tuple[str, ast.expr]]:
    """The names a ``for`` target binds to the parts of one written item: ``ax, title`` and
    ``(left, "Before")`` give ``[("ax", left), ("title", "Before")]``."""
    if isinstance(target, ast.Name):
        return [(target.id, value)]
    if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) \
            and len(target.elts) == len(value.elts):
        return [pair for t, v in zip(target.elts, value.elts) for pair in _bound(t, v)]
    return []


def _without_magics(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _text_of(value: ast.expr) -> str | None:
    """The text of a string literal; an f-string with "…" for its computed parts."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value.strip()
    if isinstance(value, ast.JoinedStr):
        parts = [part.value if isinstance(part, ast.Constant) else "…" for part in value.values]
        return "".join(str(part) for part in parts).strip()
    return None


def last_call(source: str) -> str | None:
    """The name of what the cell's last line calls or shows (``spacetime``, ``report``)."""
    try:
        tree = ast.parse(_without_magics(source))
    except SyntaxError:
        return None
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return None
    value = tree.body[-1].value
    while isinstance(value, ast.Call):
        value = value.func
    name = ast.unparse(value)
    return None if name in {"plt.show", "fig", "None"} else name


def alt_text(source: str, section: str | None, what: str = "Figure") -> str:
    """What a figure of the cell with code ``source`` shows, for its alt text."""
    titles = titles_in(source)
    if titles:
        text = "; ".join(titles)
        return text if what == "Figure" else f"{what}: {text}"
    caller = last_call(source)
    where = f" in the section “{section}”" if section else ""
    by = f" drawn by {caller}" if caller else ""
    return f"{what}{by}{where}"


def _section_title(node: nodes.Node) -> str | None:
    while node is not None:
        if isinstance(node, nodes.section) and node.children:
            return node[0].astext()
        node = node.parent
    return None


def _output_alts(cell: Any) -> list[str | None]:
    """The alt texts stored in the metadata of a cell's image outputs, one per image."""
    alts = []
    for output in cell.get("outputs", []):
        images = [mime for mime in output.get("data", {}) if mime.startswith("image/")]
        if images:
            alts.append(output.get("metadata", {}).get(images[0], {}).get("alt"))
    return alts


def _written_alts(cell: Any) -> Iterator[str | None]:
    """The alt texts the notebook's author wrote in the cell's metadata, figure by figure."""
    written = cell.get("metadata", {}).get("alt")
    if isinstance(written, str):
        return repeat(written)
    return chain(written or [], repeat(None))


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ALT else text[: MAX_ALT - 1] + "…"


def add_alt_texts(app: Sphinx, doctree: nodes.document) -> None:
    path = Path(app.env.doc2path(app.env.docname))
    if path.suffix != ".ipynb":
        return
    notebook = nbformat.read(path, as_version=4)
    for container in doctree.findall(nodes.container):
        if container.get("nb_element") != "cell_code":
            continue
        cell = notebook.cells[container["cell_index"]]
        section = _section_title(container)
        stored = iter(_output_alts(cell))
        written = _written_alts(cell)
        for image in container.findall(nodes.image):
            given = next(stored, None)
            by_author = next(written)
            if not image.get("alt"):
                image["alt"] = _clip(by_author or given or alt_text(cell.source, section))
        for raw in list(container.findall(nodes.raw)):
            if "html" in raw.get("format", "") and ANIMATION_IMG.search(raw.astext()):
                alt = _clip(next(written) or alt_text(cell.source, section, what="Animation"))
                html = ANIMATION_IMG.sub(
                    lambda m: f'<img alt="{_attribute(alt)}" id="{m.group(1)}"', raw.astext())
                raw.replace_self(nodes.raw("", html, format=raw["format"]))


def _attribute(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-read", add_alt_texts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
