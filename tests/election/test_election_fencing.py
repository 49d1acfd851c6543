"""The fencing store: a request under an older term than one already accepted is refused."""

from dataclasses import dataclass

from distlab.election.fencing import FencedStore, ReadValue, Refused, Value, WriteValue, Written
from distlab.sim import Constant, Network, Node, Simulation


@dataclass(frozen=True)
class Step:
    at: float
    msg: object


class Scripted(Node):
    """Sends the store each message of ``script`` at its time; keeps every reply."""

    def __init__(self, script: tuple[Step, ...] = ()) -> None:
        self.script = script
        self.replies: list[object] = []

    def on_start(self) -> None:
        for i, step in enumerate(self.script):
            self.set_timer(step.at, str(i))

    def on_timer(self, name: str) -> None:
        self.send("store", self.script[int(name)].msg)

    def on_message(self, src: str, msg: object) -> None:
        self.replies.append(msg)


def run(fencing: bool, old: tuple[Step, ...], new: tuple[Step, ...]) -> Simulation:
    sim = Simulation(seed=1, network=Network(latency=Constant(1)))
    sim.add_node(FencedStore, "store", initial=7, fencing=fencing)
    sim.add_node(Scripted, "old", script=old)
    sim.add_node(Scripted, "new", script=new)
    sim.run()
    return sim


# the deposed leader (term 1) read 7 before its pause and writes 8 after it; the new leader
# (term 2) read 7 and wrote 8 in the meantime
OLD = (Step(0, ReadValue(1)), Step(50, WriteValue(1, 8)))
NEW = (Step(10, ReadValue(2)), Step(20, WriteValue(2, 8)))


def test_a_write_under_an_older_term_is_refused_and_changes_nothing():
    sim = run(True, OLD, NEW)
    assert sim.nodes["old"].replies == [Value(7), Refused(1, 2)]
    assert sim.nodes["new"].replies == [Value(7), Written(8)]
    writes = [e.data for e in sim.trace.of_kind("note") if e.data.what == "written"]
    assert [(w["by"], w["value"]) for w in writes] == [("new", 8)]


def test_without_fencing_the_stale_write_is_applied():
    sim = run(False, OLD, NEW)
    assert sim.nodes["old"].replies == [Value(7), Written(8)]
    writes = [e.data for e in sim.trace.of_kind("note") if e.data.what == "written"]
    assert [(w["by"], w["value"]) for w in writes] == [("new", 8), ("old", 8)]


def test_a_read_under_a_newer_term_fences_the_old_leader_before_the_new_one_writes():
    # the old leader's write arrives between the new leader's read and its write
    sim = run(True, (Step(0, ReadValue(1)), Step(15, WriteValue(1, 8))),
              (Step(10, ReadValue(2)), Step(20, WriteValue(2, 8))))
    assert sim.nodes["old"].replies[-1] == Refused(1, 2)
    assert sim.nodes["store"].storage["value"] == 8


def test_the_same_term_may_write_again_and_the_highest_term_survives_a_crash():
    sim = Simulation(seed=1, network=Network(latency=Constant(1)))
    sim.add_node(FencedStore, "store")
    sim.add_node(Scripted, "leader", script=(Step(0, WriteValue(3, "a")),
                                             Step(10, WriteValue(3, "b")),
                                             Step(40, WriteValue(2, "c"))))
    sim.at(20, sim.crash, "store")
    sim.at(30, sim.restart, "store")
    sim.run()
    assert sim.nodes["leader"].replies == [Written("a"), Written("b"), Refused(2, 3)]
    assert sim.nodes["store"].show() == {"value": "b", "highest token": 3}


def test_other_messages_are_ignored():
    sim = Simulation(seed=1)
    sim.add_node(FencedStore, "store")
    sim.add_node(Scripted, "other", script=(Step(0, "hello"),))
    sim.run()
    assert sim.nodes["other"].replies == []
