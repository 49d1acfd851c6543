"""The explorers' tables read on a phone (the Explorer's state table, the Raft explorer's
messages in flight): no cell is broken across lines, the table
scrolls sideways in a box of its own with a shadow at each edge where more is hidden, and
the nodes' names stay in view (distlab.widgets.tables). The styles are read from the HTML as
Python writes it; tests/book/test_browser.py measures the tables as the built book draws them.
"""

from __future__ import annotations

from html.parser import HTMLParser

import matplotlib
import pytest

matplotlib.use("Agg")

from distlab.consensus.paxos.runs import paxos_setup  # noqa: E402
from distlab.consensus.raft.runs import client_request, explorer_cluster  # noqa: E402
from distlab.sim import Network, Simulation, Uniform  # noqa: E402
from distlab.viz.palette import GREY, VERMILLION  # noqa: E402
from distlab.widgets import Explorer  # noqa: E402
from distlab.widgets.raft import MAX_IN_FLIGHT, RaftExplorer  # noqa: E402
from distlab.widgets.tables import BACKGROUND, scrolling_table  # noqa: E402


def styles(html: str) -> list[tuple[str, dict[str, str]]]:
    """Every element of ``html`` in order: its tag and its inline style, property by value."""
    found: list[tuple[str, dict[str, str]]] = []

    class Styles(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            style = dict(attrs).get("style") or ""
            # a property's value may hold commas and colons (gradients), never a semicolon
            pairs = (part.split(":", 1) for part in style.split(";") if ":" in part)
            found.append((tag, {name.strip(): value.strip() for name, value in pairs}))

    Styles().feed(html)
    return found


def cramped(html: str) -> list[str]:
    """What in an explorer's table would be cramped on a phone: cells that may break their
    text across lines, a table with no box of its own that scrolls sideways, a box that
    grows with its table or scrolls with no cue, a first column that scrolls out of sight."""
    elements = styles(html)
    found = [f"a <{tag}> whose text may break across lines" for tag, style in elements
             if tag in ("td", "th") and style.get("white-space") != "nowrap"]
    tag, box = elements[0]
    if tag != "div" or box.get("overflow-x") != "auto":
        found.append("no box of its own that scrolls sideways")
    elif (box.get("width"), box.get("min-width")) != ("0", "100%"):
        # ipywidgets lays an HTML widget's content out as a flex item, which grows to the
        # least width of what it holds: the box must ask for none (tables.py)
        found.append("a box that grows with its table")
    elif not ("scroll" in box.get("background", "") and "local" in box.get("background", "")):
        found.append("a box that scrolls with no cue at its edges")
    rows = [i for i, (tag, _) in enumerate(elements) if tag == "tr"]
    firsts = [elements[i + 1][1] for i in rows]
    if not all(s.get("position") == "sticky" and s.get("left") == "0" and s.get("background")
               for s in firsts):
        found.append("a first column that scrolls out of sight")
    return found


def paxos_cluster(seed: int) -> Simulation:
    """The cluster of the book's 04.02, whose nine columns were cramped on a phone."""
    sim = Simulation(seed=seed, network=Network(latency=Uniform(1, 10)))
    paxos_setup(acceptors=3, proposers=2, retry_after=30.0)(sim)
    return sim


@pytest.fixture
def explorer() -> Explorer:
    explorer = Explorer(paxos_cluster, window=150)
    explorer.sim.run(until=150)
    explorer.sim.crash("a2")
    explorer.redraw()
    return explorer


def test_the_explorers_state_table_reads_on_a_phone(explorer: Explorer) -> None:
    table = explorer.table.value
    assert cramped(table) == []
    assert table.count("<tr") == 1 + 5   # its head and one row per node


def test_the_check_catches_the_table_the_explorer_drew_before() -> None:
    """What the test above relies on: the table as the Explorer wrote it before, whose cells
    the book's stylesheet broke anywhere to squeeze it into a phone's width, is caught."""
    cell = "style='padding:1px 10px;text-align:left'"
    old = (f"<table style='font-size:12px;font-family:monospace;border-collapse:collapse;"
           f"line-height:1.3'><thead><tr><th {cell}>node</th><th {cell}>ballot</th></tr>"
           f"</thead><tbody><tr><td {cell}><b>p1</b></td><td {cell}>(2, 'p1')</td></tr>"
           f"</tbody></table>")
    assert cramped(old) == ["a <th> whose text may break across lines"] * 2 + [
        "a <td> whose text may break across lines"] * 2 + [
        "no box of its own that scrolls sideways", "a first column that scrolls out of sight"]


def test_the_raft_explorers_messages_in_flight_read_on_a_phone() -> None:
    """Its table of messages in flight (04.04) is a scrolling table too: more messages than it
    lists, those to a crashed server in red, the rest said in a line under the box."""
    raft = RaftExplorer(explorer_cluster, request=client_request,
                        servers=["n1", "n2", "n3", "n4", "n5"])
    raft.run(600)
    raft.crash("n3")
    for _ in range(12):
        raft.client_request()
    raft.run(2)
    raft.redraw()
    flying = raft.in_flight()
    assert len(flying) > MAX_IN_FLIGHT
    value = raft.flight.value
    start = min(at for at in (value.find("<div"), value.find("<table")) if at >= 0)
    heading, table = value[:start], value[start:]
    assert f"{len(flying)} messages in flight" in heading
    assert cramped(table) == []
    table, tail = table.split("</table>")
    rows = table.split("<tr")[2:]
    assert len(rows) == MAX_IN_FLIGHT
    red = [row for row in rows if row.startswith(f" style='color:{VERMILLION}'>")]
    assert red and all("&rarr; n3</td>" in row for row in red)
    assert f"... and {len(flying) - MAX_IN_FLIGHT} more" in tail


def test_a_crashed_node_is_a_grey_row_that_says_so(explorer: Explorer) -> None:
    rows = {row.split("<b>")[1].split("</b>")[0]: row
            for row in explorer.table.value.split("<tr")[2:]}
    assert list(rows) == ["a1", "a2", "a3", "p1", "p2"]
    assert rows["a2"].startswith(f" style='color:{GREY}'>") and "<i>crashed</i>" in rows["a2"]
    assert not rows["a1"].startswith(" style=") and "crashed" not in rows["a1"]


def test_the_shadows_are_covered_where_the_table_ends() -> None:
    """A shadow (fixed to the box) shows only where more is hidden: over each lies a cover of
    the box's own colour, fixed to that end of the table. The left ones start where the
    sticky first column ends (its text in ch, its padding, its border)."""
    table = scrolling_table(["node", "x"], [("n10", ["1"], None), ("n2", ["2"], None)])
    tag, box = styles(table)[0]
    layers = box["background"].split(", linear-gradient")
    assert len(layers) == 4
    covers, shadows = layers[:2], layers[2:]
    assert all(layer.endswith("local") and BACKGROUND in layer for layer in covers)
    assert all(layer.endswith("scroll") and BACKGROUND not in layer for layer in shadows)
    assert [layer.count("calc(4ch + 21px) 0") for layer in layers] == [1, 0, 1, 0]
    assert box["background-color"] == BACKGROUND


def test_names_and_headings_are_escaped_and_cells_are_html() -> None:
    table = scrolling_table(["node", "a<b"], [("x&y", ["<i>crashed</i>"], None)])
    assert "a&lt;b" in table and "<b>x&amp;y</b>" in table and "<i>crashed</i>" in table
