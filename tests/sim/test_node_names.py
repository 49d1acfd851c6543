"""The framework's names stay out of the protocols' vocabulary.

A Raft node calls its data ``log``, ``state``, ``term``, ``votes`` and ``commit_index``;
the framework owns ``note``, ``show`` and ``fingerprint`` instead. These tests run such a node
everywhere a node runs (the simulator, real processes, the Explorer widget, schedule
exploration) and check that a node which does hide a framework name is refused clearly.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from distlab.check import explore  # noqa: E402
from distlab.consensus.raft.invariants import at_most_one_leader_per_term  # noqa: E402
from distlab.net import start_cluster  # noqa: E402
from distlab.sim import ConfigurationError, Node, Note, Simulation  # noqa: E402
from distlab.widgets import Explorer  # noqa: E402

from net_nodes import RaftWords  # noqa: E402  (tests/net/, on sys.path: tests/conftest.py)


def raft_words(seed: int = 0) -> Simulation:
    sim = Simulation(seed=seed)
    sim.add_nodes(RaftWords, ["a", "b", "c"])
    return sim


def test_a_node_with_raft_words_runs_in_the_simulator_and_notes_structured_data() -> None:
    sim = raft_words()
    sim.run(until=100)
    a = sim.nodes["a"]
    assert (a.state, a.term, a.log) == ("leader", 1, [(1, "campaign")])
    assert len(a.votes) == 2 and sim.nodes["b"].commit_index == 1
    notes = [e.data for e in sim.trace.of_kind("note")]
    assert [n.what for n in notes] == ["candidate", "leader"]
    assert notes[0]["term"] == 1 and notes[0]["log"] == [(1, "campaign")]
    assert notes[1].get("votes") == 2 and notes[1].get("missing", "-") == "-"
    assert str(notes[1]) == "leader term=1 votes=2"


def test_a_note_keeps_a_copy_of_data_that_changes_later() -> None:
    sim = raft_words()
    sim.run(until=100)
    sim.nodes["a"].log.append((2, "later"))
    assert sim.trace.of_kind("note")[0].data["log"] == [(1, "campaign")]


def test_a_note_copies_a_list_inside_a_tuple_too() -> None:
    class Noter(Node):
        def on_start(self) -> None:
            self.items = [1]
            self.note("items", both=(self.items, 2))
            self.items.append(3)

    sim = Simulation()
    sim.add_node(Noter, "a")
    sim.run()
    assert sim.trace.of_kind("note")[0].data["both"] == ([1], 2)


def test_show_hides_the_framework_and_fingerprint_keeps_every_attribute_of_the_node() -> None:
    sim = raft_words()
    sim.run(until=100)
    a = sim.nodes["a"]
    assert set(a.show()) == {"log", "state", "term", "votes", "commit_index"}
    a._private_counter = 7
    assert "_private_counter" in a.fingerprint() and "_private_counter" not in a.show()
    assert not {"id", "peers", "rng", "storage", "send", "_runtime"} & set(a.fingerprint())


def test_a_node_with_raft_words_runs_in_the_explorer_widget() -> None:
    explorer = Explorer(raft_words, title="raft words", seed=0, run_ms=100)
    explorer.run_button.click()
    table = explorer.state_table()
    assert "leader" in table and "commit_index" in table


def test_a_node_with_raft_words_is_explored_under_an_invariant_with_its_defaults() -> None:
    result = explore(lambda sim: sim.add_nodes(RaftWords, ["a", "b", "c"]),
                     [at_most_one_leader_per_term()], max_depth=8)
    assert result.status == "no violation", result


def test_a_node_with_raft_words_runs_as_real_processes(tmp_path: Path) -> None:
    with start_cluster("net_nodes:RaftWords", ["a", "b", "c"], data_dir=tmp_path) as cluster:
        assert " votes=" in cluster.wait_for_output("a", "leader term=", timeout=10)


# -- refusing a node that hides a framework name --------------------------------------------------

def refused(cls: type[Node]) -> str:
    with pytest.raises(ConfigurationError) as caught:
        Simulation().add_node(cls, "a")
    return str(caught.value)


def test_an_attribute_named_like_a_framework_method_is_refused_with_its_name() -> None:
    class Shadow(Node):
        def __init__(self) -> None:
            self.note = []

    message = refused(Shadow)
    assert "Shadow sets self.note" in message and "Rename your attribute" in message


def test_replacing_the_durable_storage_is_refused_with_advice() -> None:
    class Forgetful(Node):
        def __init__(self) -> None:
            self.storage = {}

    assert "self.storage['x'] = ..." in refused(Forgetful)


def test_assigning_the_clock_is_refused_and_says_where_the_clock_is() -> None:
    class Clockmaker(Node):
        def __init__(self) -> None:
            self.now = 0

    assert "read self.now for the node's clock" in refused(Clockmaker)


def test_a_class_attribute_or_property_named_like_the_framework_is_refused() -> None:
    class Peers(Node):
        peers = ("x",)

    class Noting(Node):
        @property
        def note(self) -> str:
            return "mine"

    assert "Peers defines self.peers" in refused(Peers)
    assert "Noting defines self.note" in refused(Noting)


def test_overriding_handlers_show_and_fingerprint_is_what_a_subclass_is_for() -> None:
    class Fine(Node):
        def show(self) -> dict:
            return {"x": 1}

        def fingerprint(self) -> dict:
            return {}

    assert Simulation().add_node(Fine, "a").show() == {"x": 1}


def test_a_note_needs_a_word_first() -> None:
    class Careless(Node):
        def on_start(self) -> None:
            self.note(42)

    sim = Simulation()
    sim.add_node(Careless, "a")
    with pytest.raises(Exception, match=r"note\(what, \*\*details\) takes a short word"):
        sim.run()
    assert Note("x", (("a", 1),))["a"] == 1
