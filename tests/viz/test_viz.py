"""Tests of distlab.viz: each kind of trace event becomes the mark it should, and no more.

The drawings are checked through their artists (each collection carries a ``gid``): one
arrow per delivery, one ✕ per drop, one hatched box per crash, one band per partition...
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import matplotlib
import pytest

matplotlib.use("Agg")

import networkx as nx  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from distlab.sim import Network, Node, Note, Simulation, Trace, Uniform  # noqa: E402
from distlab.viz import (SpaceTimeDrawer, animate, message_kind, read_timeline,  # noqa: E402
                         spacetime, topology)
from distlab.viz.animation import _Player  # noqa: E402
from distlab.viz.palette import KIND_COLORS  # noqa: E402


@dataclass(frozen=True)
class Ping:
    n: int


@dataclass(frozen=True)
class Ack:
    n: int


def every_kind_trace() -> Trace:
    """A hand-made trace over a, b, c with every kind of event, in known numbers.

    5 deliveries (one of them the second copy of a duplicated message), 3 drops (loss,
    partition, crashed), 2 crash spans (c restarts; b never does), 1 partition then a heal,
    then 1 cut, 3 timers, 2 notes.
    """
    t = Trace()
    t.nodes = ["a", "b", "c"]
    rec = t.record
    rec(0.0, "timer", "a", data="tick")
    rec(1.0, "send", "a", "b", 1, Ping(1))
    rec(1.0, "send", "a", "c", 2, Ping(1))
    rec(5.0, "deliver", "b", "a", 1, Ping(1))
    rec(6.0, "deliver", "c", "a", 2, Ping(1))
    rec(7.0, "send", "b", "a", 3, Ack(1))
    rec(7.0, "duplicate", "b", "a", 3, Ack(1))
    rec(9.0, "deliver", "a", "b", 3, Ack(1))
    rec(12.0, "deliver", "a", "b", 3, Ack(1))          # the duplicate copy
    rec(15.0, "send", "c", "a", 4, ("vote", 2))
    rec(15.0, "drop", "a", "c", 4, "loss")             # lost at send
    rec(20.0, "crash", "c")
    rec(21.0, "send", "a", "c", 5, Ping(2))
    rec(25.0, "drop", "c", "a", 5, "crashed")          # arrives at a crashed node
    rec(30.0, "restart", "c")
    rec(30.0, "note", "c", data=Note("recovered from storage"))
    rec(40.0, "partition", data=(("a",), ("b", "c")))
    rec(41.0, "send", "b", "a", 6, "hello")
    rec(45.0, "drop", "a", "b", 6, "partition")        # cut by the partition
    rec(50.0, "heal")
    rec(50.0, "timer", "b", data="tick")
    rec(51.0, "send", "b", "c", 7, Ack(2))
    rec(55.0, "deliver", "c", "b", 7, Ack(2))
    rec(60.0, "cut", "a", "c", data="one way")          # sim.cut("a", "c", False)
    rec(62.0, "crash", "b")                            # never restarts
    rec(70.0, "note", "a", data=Note("done"))
    rec(70.0, "timer", "c", data="tick")
    return t


def artists(fig: Figure, gid: str) -> list:
    ax = fig.axes[0]
    return [a for a in [*ax.collections, *ax.patches] if a.get_gid() == gid]


def count(fig: Figure, gid: str) -> int:
    """How many marks the (single) artist with this gid draws."""
    found = artists(fig, gid)
    if not found:
        return 0
    assert len(found) == 1, f"several artists with gid {gid}"
    artist = found[0]
    if hasattr(artist, "N") and gid == "messages":      # a quiver: one arrow per delivery
        return artist.N
    if gid in ("drops", "duplicates", "timers", "notes", "annotated"):
        return len(artist.get_offsets())
    return len(artist.get_paths()) if not hasattr(artist, "get_segments") \
        else len(artist.get_segments())


# -- reading the trace ------------------------------------------------------------------------

def test_timeline_pairs_each_delivery_and_drop_with_its_send():
    timeline = read_timeline(every_kind_trace())
    fates = sorted(f.fate for f in timeline.flights)
    assert fates == ["crashed", *["delivered"] * 5, "loss", "partition"]
    copies = [f for f in timeline.flights if f.msg_id == 3]
    assert [c.copy for c in copies] == [0, 1]
    lost = next(f for f in timeline.flights if f.fate == "loss")
    assert lost.end == lost.sent == 15.0 and lost.kind == "vote"


def test_timeline_spans_of_crashes_and_partitions():
    timeline = read_timeline(every_kind_trace())
    assert [(s.node, s.start, s.end, s.ongoing) for s in timeline.crashes] == [
        ("c", 20.0, 30.0, False), ("b", 62.0, 70.0, True)]
    assert [(s.what, s.start, s.end, s.groups, s.one_way) for s in timeline.partitions] == [
        ("partition", 40.0, 50.0, (("a",), ("b", "c")), False),
        ("cut", 60.0, 70.0, (("a",), ("c",)), True)]


def test_a_new_partition_replaces_the_previous_one_but_a_cut_adds_to_it():
    t = Trace()
    t.nodes = ["a", "b", "c"]
    t.record(0.0, "partition", data=(("a",), ("b", "c")))
    t.record(10.0, "partition", data=(("a", "b"), ("c",)))
    t.record(15.0, "cut", "a", "b", data="both ways")
    t.record(16.0, "partition", data=(("a",), ("b",)))   # a cut, as traces before "cut" said
    t.record(20.0, "heal")
    spans = read_timeline(t).partitions
    assert [(s.what, s.start, s.end) for s in spans] == [
        ("partition", 0.0, 10.0), ("partition", 10.0, 20.0), ("cut", 15.0, 20.0),
        ("cut", 16.0, 20.0)]


def test_reading_since_a_time_keeps_the_faults_still_in_force_and_later_messages():
    trace = every_kind_trace()
    full, tail = read_timeline(trace), read_timeline(trace, since=35.0)
    assert tail.crashes == full.crashes            # c's crash at 20 is still found
    assert tail.partitions == full.partitions
    assert tail.flights == [f for f in full.flights if f.sent >= 35.0]


def test_message_kind_names_dataclasses_tuples_and_strings():
    assert message_kind(Ping(1)) == "Ping"
    assert message_kind(("vote", 3, "a")) == "vote"
    assert message_kind("ack") == "ack"
    assert message_kind(42) == "int"
    assert message_kind("a very long string message") == "str"


# -- the space-time diagram -----------------------------------------------------------------------

def test_spacetime_draws_one_arrow_per_delivery_and_one_cross_per_drop():
    fig = spacetime(every_kind_trace(), show_timers=True, show_notes=True)
    assert count(fig, "messages") == 5
    assert count(fig, "drops") == 3
    assert count(fig, "dropped") == 3          # the lines leading to the crosses
    assert count(fig, "duplicates") == 1       # the second copy of message 3 is circled
    assert count(fig, "crashes") == 2
    assert count(fig, "partitions") == 2       # the partition and the cut
    assert count(fig, "timers") == 3
    assert count(fig, "notes") == 2
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert ax.get_xlabel() == "time (ms)"
    assert "5 deliveries, 3 dropped" in ax.get_title()


def test_spacetime_loss_is_a_short_stub_and_a_partition_drop_goes_all_the_way():
    fig = spacetime(every_kind_trace())
    segments = artists(fig, "dropped")[0].get_segments()
    by_start = {round(s[0][0]): s for s in segments}
    lost, cut = by_start[15], by_start[41]
    assert lost[1][0] - lost[0][0] < 5             # stops short of the receiver's lane
    assert 0 < abs(lost[1][1] - lost[0][1]) < 1
    assert tuple(cut[1]) == (45.0, 0.0)            # ends on a's lane at the drop time


def test_spacetime_legend_names_message_kinds_and_marks():
    fig = spacetime(every_kind_trace())
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[:4] == ["Ping", "Ack", "vote", "hello"]
    for mark in ("partition", "crashed", "dropped", "duplicate"):
        assert mark in labels


def test_every_drawing_of_a_trace_colours_a_message_kind_alike():
    late = spacetime(every_kind_trace(), start=52, end=60)     # only an Ack in this window
    ack = matplotlib.colors.to_hex(artists(late, "messages")[0].get_facecolor()[0])
    assert ack == KIND_COLORS[1]         # Ack is the second kind the trace sends, after Ping


def test_spacetime_window_keeps_only_the_messages_it_overlaps():
    fig = spacetime(every_kind_trace(), start=30, end=70)
    assert count(fig, "messages") == 1            # b -> c at 51-55
    assert count(fig, "drops") == 1               # the partition drop at 45
    assert fig.axes[0].get_xlim()[0] < 30 < 31


def test_spacetime_labels_arrows_only_when_asked():
    labelled = spacetime(every_kind_trace(), label=True)
    texts = {t.get_text() for t in labelled.axes[0].texts}
    assert {"Ping", "Ack"} <= texts
    bare = spacetime(every_kind_trace(), label=False)
    assert not {"Ping", "Ack"} & {t.get_text() for t in bare.axes[0].texts}


def test_spacetime_annotate_writes_a_label_where_asked():
    fig = spacetime(every_kind_trace(), label=False,
                    annotate=lambda e: f"#{e.msg_id}" if e.kind == "send" else None)
    texts = [t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("#")]
    assert sorted(texts) == [f"#{i}" for i in range(1, 8)]
    assert count(fig, "annotated") == 7


def test_spacetime_annotate_sees_every_send_delivery_timer_and_note():
    seen = []
    spacetime(every_kind_trace(), annotate=lambda e: seen.append(e.kind))
    assert sorted(set(seen)) == ["deliver", "note", "send", "timer"]
    assert len(seen) == 7 + 5 + 3 + 2


def test_spacetime_accepts_a_simulation_and_chosen_lanes():
    sim = pinging_simulation()
    sim.run(until=500)
    fig = spacetime(sim, nodes=["c", "a"])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["c", "a"]
    between = sum(1 for e in sim.trace.of_kind("deliver") if {e.node, e.peer} == {"a", "c"})
    assert count(fig, "messages") == between > 0


def test_spacetime_draws_into_given_axes():
    fig = Figure()
    ax = fig.add_subplot()
    assert spacetime(every_kind_trace(), ax=ax) is fig


def test_spacetime_figure_shows_itself_as_a_png():
    png = spacetime(every_kind_trace())._repr_png_()
    assert png.startswith(b"\x89PNG")


def test_drawings_leave_no_pyplot_figure_behind():
    # A pyplot figure would be shown a second time by the notebook's inline backend.
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    spacetime(every_kind_trace())
    topology(nx.path_graph(3))
    animate(every_kind_trace(), frames=2)
    assert plt.get_fignums() == before


def test_spacetime_refuses_what_is_not_a_trace():
    with pytest.raises(TypeError, match="expected a Trace"):
        spacetime({"a": 1})


def test_drawer_redraws_in_the_same_figure_without_piling_up_artists():
    drawer = SpaceTimeDrawer()
    trace = every_kind_trace()
    drawer.draw(trace)
    first = len(drawer.ax.collections), len(drawer.ax.texts)
    drawer.draw(trace)
    assert (len(drawer.ax.collections), len(drawer.ax.texts)) == first
    assert drawer.png().startswith(b"\x89PNG")


def test_drawer_keeps_each_kind_of_message_in_its_colour_across_windows():
    drawer = SpaceTimeDrawer()
    trace = every_kind_trace()
    drawer.draw(trace, start=0, end=10)
    ack = drawer.colors("Ack")
    drawer.draw(trace, start=50, end=60)      # only an Ack in this window
    arrows = [c for c in drawer.ax.collections if c.get_gid() == "messages"][0]
    assert matplotlib.colors.to_hex(arrows.get_facecolor()[0]) == ack


def test_drawer_leaves_room_at_the_left_for_long_lane_names():
    sim = Simulation(seed=1)
    sim.add_nodes(Pinger, ["store-asia", "user-asia-pacific"])
    sim.run(until=200)
    drawer = SpaceTimeDrawer(figsize=(7.4, 3.2), legend=False)
    drawer.draw(sim.trace)
    canvas = FigureCanvasAgg(drawer.figure)
    canvas.draw()   # lays the ticks and the axis label out where they are drawn
    renderer = canvas.get_renderer()
    names = drawer.ax.get_yticklabels()
    assert [label.get_text() for label in names] == ["store-asia", "user-asia-pacific"]
    assert min(label.get_window_extent(renderer).x0 for label in names) >= 0
    assert drawer.ax.yaxis.label.get_window_extent(renderer).x0 >= 0


# -- topology -------------------------------------------------------------------------------------

class Pinger(Node):
    def __init__(self) -> None:
        self.role = "pinger"

    def on_start(self) -> None:
        self.set_timer(50, "tick")

    def on_timer(self, name: str) -> None:
        self.broadcast(Ping(int(self.now)))
        self.set_timer(50, "tick")


def pinging_simulation(seed: int = 1) -> Simulation:
    sim = Simulation(seed=seed, network=Network(latency=Uniform(5, 20), loss=0.1))
    sim.add_nodes(Pinger, ["a", "b", "c", "d", "e"])
    return sim


def test_topology_shows_crashed_nodes_and_cut_links_of_a_simulation():
    sim = pinging_simulation()
    sim.run(until=100)
    sim.crash("e")
    sim.partition({"a", "b"})
    fig = topology(sim, roles={"a": "leader", "b": "follower"})
    assert count(fig, "cut_links") == 6           # {a,b} x {c,d,e}
    assert count(fig, "links") == 4               # a-b, c-d, c-e, d-e
    assert len(artists(fig, "crashed")[0].get_offsets()) == 1
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["leader", "follower", "crashed", "cut link"]


def test_topology_roles_may_be_a_callable_on_the_node():
    sim = pinging_simulation()
    fig = topology(sim, roles=lambda node: node.role)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["pinger"]


def test_topology_of_a_graph_reads_cut_crashed_and_role_attributes():
    graph = nx.cycle_graph(["n0", "n1", "n2", "n3"])
    graph.edges["n0", "n1"]["cut"] = True
    graph.nodes["n2"]["crashed"] = True
    graph.nodes["n0"]["role"] = "root"
    fig = topology(graph, layout="spring")
    assert count(fig, "cut_links") == 1
    assert count(fig, "links") == 3
    assert len(artists(fig, "crashed")[0].get_offsets()) == 1


def test_topology_rejects_unknown_inputs_and_layouts():
    with pytest.raises(TypeError, match="Simulation or a networkx graph"):
        topology([1, 2, 3])
    with pytest.raises(ValueError, match="unknown layout"):
        topology(nx.path_graph(3), layout="hexagonal")


# -- animation ------------------------------------------------------------------------------------

FRAME = re.compile(r'frames\[(\d+)\] = "data:image/png;base64,')


def test_animation_embeds_the_requested_number_of_png_frames():
    sim = pinging_simulation()
    sim.run(until=300)
    html = animate(sim.trace, frames=12, start=100, end=200).data
    assert sorted(int(i) for i in FRAME.findall(html)) == list(range(12))
    assert "<script" in html


def test_animation_player_loads_nothing_from_the_network():
    sim = pinging_simulation()
    sim.run(until=200)
    html = animate(sim.trace, frames=4).data
    assert "http://" not in html and "https://" not in html
    assert 'class="fa' not in html             # icons became characters
    assert "&#9654;" in html                   # the play button
    assert "Ping" in html and "cut link" in html   # the legend under the player


def test_animation_is_deterministic_but_for_the_player_id():
    def make() -> str:
        sim = pinging_simulation(seed=3)
        sim.run(until=300)
        return re.sub(r"[0-9a-f]{32}", "ID", animate(sim.trace, frames=8).data)

    assert make() == make()


def test_animation_of_sixty_frames_stays_under_a_megabyte():
    sim = pinging_simulation()
    sim.run(until=1000)
    html = animate(sim.trace, frames=60, start=200, end=800).data
    assert len(html.encode()) < 1_000_000


def test_animation_frame_shows_messages_in_flight_crashes_and_cuts():
    timeline = read_timeline(every_kind_trace())
    player = _Player(timeline, times=[3.0, 22.0, 43.0], title=None, dpi=40)
    player.show_frame(0)                   # messages 1 and 2 are on their way
    assert len(player.dots.get_offsets()) == 2
    player.show_frame(1)                   # c is down; message 5 flies toward it
    faces = [matplotlib.colors.to_hex(f) for f in player.node_dots.get_facecolor()]
    assert faces[2] != faces[0]
    player.show_frame(2)                   # a | b,c: two links cut; message 6 in flight
    assert len(player.cut_links.get_segments()) == 2
    assert len(player.dots.get_offsets()) == 1


def test_animation_rejects_too_few_frames():
    with pytest.raises(ValueError, match="frames"):
        animate(every_kind_trace(), frames=1)


def test_a_one_way_cut_is_labelled_with_its_direction():
    from distlab.viz.spacetime import _describe_partition
    spans = read_timeline(every_kind_trace()).partitions
    assert [_describe_partition(s) for s in spans] == ["partition a | b,c", "cut a→c"]
