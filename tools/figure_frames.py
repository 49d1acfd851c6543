"""Sphinx extension: every figure of a notebook's output sits in a frame that keeps it legible
on a phone, and opens at full size when tapped.

A figure is drawn about 600 to 1,100 pixels wide with its labels about 13 pixels tall. Shrunk
to a phone's column (about 360 pixels), its labels would be 5 pixels tall: unreadable. So each
image of a code cell's output is written as

    <div class="figure-frame" style="--natural-width: 1011px">
      <a class="figure-full-size" href="../../_images/<hash>.png" title="...">
        <img ...></a></div>

and _assets/distlab.css sizes the image from its natural width: as wide as the column allows,
never more than its natural width, and never less than a legible share of it
(``--min-figure-scale``); a figure that is then wider than the column scrolls sideways in its
frame (the page itself never does), with a cue at the frame's edge. The link opens the image
alone, where a phone can zoom it. Neither needs JavaScript: the natural width is read from
the image file when the page is read. Printing is not affected: the rules apply to screens
only.

Loaded by _config.yml (sphinx.local_extensions); tests/book/test_browser.py measures it.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any
from urllib.parse import quote

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.images import get_image_size
from sphinx.writers.html5 import HTML5Translator

TITLE = "Open the figure alone, at full size"


class figure_frame(nodes.General, nodes.Element):
    """A frame around one output image; ``natural_width`` is the image's width in pixels."""


def frame_output_images(app: Sphinx, doctree: nodes.document) -> None:
    """Put each image of a code cell's output (not a widget's, not an animation's frame: those
    are drawn by scripts) in a `figure_frame` holding its natural width."""
    for container in list(doctree.findall(nodes.container)):
        if container.get("nb_element") != "cell_code_output":
            continue
        for image in list(container.findall(nodes.image)):
            if isinstance(image.parent, figure_frame):
                continue
            size = get_image_size(str(Path(app.srcdir, image["uri"])))
            if size is None:  # not a raster image whose size can be read: left as it is
                continue
            frame = figure_frame(natural_width=size[0])
            image.replace_self(frame)
            frame.append(image)


def visit_figure_frame(translator: HTML5Translator, node: figure_frame) -> None:
    uri = node[0]["uri"]
    images = translator.builder.images
    href = (posixpath.join(translator.builder.imgpath, quote(images[uri]))
            if uri in images else uri)
    translator.body.append(
        f'<div class="figure-frame" style="--natural-width: {node["natural_width"]}px">'
        f'<a class="figure-full-size" href="{href}" title="{TITLE}">')


def depart_figure_frame(translator: HTML5Translator, node: figure_frame) -> None:
    translator.body.append("</a></div>")


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_node(figure_frame, html=(visit_figure_frame, depart_figure_frame))
    app.connect("doctree-read", frame_output_images)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
