"""What a graded run sends back: plain data and distlab's value classes, nothing that runs.

The grader reads a run's record with an unpickler that refuses every class but distlab's value
classes and `Recorded`; the run's process writes anything else as a `Recorded` stand-in. A
damaged record fails the run, never the grader.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass

import pytest

from distlab.grading import Lab, Scenario, graded
from distlab.grading.records import MalformedRecord, RecordedRun, RunRecorder, dumps, loads
from distlab.grading.verdicts import judge_seed
from distlab.sim import Note, Operation
from distlab.sim.trace import Recorded
from distlab.workloads.kv import Put


@dataclass(frozen=True)
class Message:
    body: object


class Sly(str):
    """A string that says it equals everything (a way to fool a property that compares)."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__


def test_plain_values_and_distlabs_value_classes_come_back_as_they_are():
    value = {"a": [1, 2.5, None, (True, b"x")], "s": {"x"}, "op": Operation(1, "c1", "put"),
             "put": Put("c1", 3, "k", "v"), "note": Note("leader", (("term", 3),))}
    assert loads(dumps(value)) == value


def test_anything_else_comes_back_as_a_record_of_it():
    back = loads(dumps([Message(1), Sly("a"), Put("c1", 1, "k", Message(2)), Message]))
    assert [type(x) for x in back] == [Recorded, Recorded, Put, Recorded]
    assert back[0] == Recorded(f"{__name__}.Message", "Message(body=1)")
    assert back[0].json == {"type": "Message", "body": 1}
    assert back[1].text == "'a'" and back[1] != "b"  # its __eq__ stayed behind
    assert back[2].value == Recorded(f"{__name__}.Message", "Message(body=2)")


@pytest.mark.parametrize("data", [
    pickle.dumps(Message(1)),                            # a class outside distlab
    pickle.dumps(os.system),                             # a function to call
    b"\x80\x05cbuiltins\neval\n(S'1+1'\ntR.",            # builtins.eval('1+1')
    b"\x80\x05cdistlab.grading.records\ndumps\n.",        # a distlab function, not a class
    b"not a pickle at all",
])
def test_the_grader_refuses_to_build_anything_that_could_run(data):
    with pytest.raises(MalformedRecord):
        loads(data)


def test_a_record_of_the_wrong_shape_is_refused():
    good = {"events": [0.0, "crash", "a", None, None, None], "nodes": ["a"], "lengths": [1],
            "times": [0.0], "changes": [], "downs": [(0, ("a",))], "end": 5.0}
    assert RecordedRun.from_data(1, good, ()).steps == 1
    for name, bad in [("events", [0.0, "explode", "a", None, None, None]),
                      ("events", [0.0, ["crash"], "a", None, None, None]),
                      ("lengths", [2]), ("downs", [(0, ("zz",))]), ("end", "soon")]:
        with pytest.raises(MalformedRecord):
            RecordedRun.from_data(1, {**good, name: bad}, ())


class OneCheck(Lab):
    @graded(part="A", seeds=1, description="a check")
    def test_a_A(self, seed: int) -> Scenario:
        return Scenario(lambda sim: None, run_for=10)


def test_a_damaged_report_fails_the_run_with_its_seed():
    c = OneCheck().checks()[0]
    _, failure = judge_seed(c, 1, c.scenario(1), b"\x80\x05cos\nsystem\n.")
    assert failure.kind == "malformed" and failure.seed == 1
    assert failure.summary == "the run's report is damaged: it names os.system, which a " \
                              "record cannot hold"
    _, failure = judge_seed(c, 1, c.scenario(1), dumps({"seed": 2}))
    assert failure.summary == "the run's report is damaged: it is not the report of seed 1"


class StoppedHalfWay:
    """A simulation as the recorder sees it when the time limit's alarm rings mid-step."""

    def __init__(self):
        from distlab.sim import Simulation

        self.sim = Simulation()
        self.trace, self.crashed, self.nodes = self.sim.trace, set(), {}

    @property
    def now(self) -> float:
        raise TimeoutError("the alarm rang here")


def test_a_step_the_time_limit_stopped_half_way_is_left_out_of_the_record():
    recorder = RunRecorder()
    recorder(StoppedHalfWay().sim)  # one whole step
    half = StoppedHalfWay()
    with pytest.raises(TimeoutError):
        recorder(half)
    recorder.sim = half.sim
    record = loads(dumps(recorder.record()))
    assert RecordedRun.from_data(1, record, ()).steps == 1


# -- a record must agree with itself --------------------------------------------------------------

def recorded_pings() -> dict:
    """The record of a real run: two nodes ping each other, one crashes and restarts."""
    from distlab.sim import Node, Simulation

    class Pinger(Node):
        def on_start(self) -> None:
            self.set_timer(10, "tick")

        def on_timer(self, name: str) -> None:
            self.send(self.peers[0], "ping")
            self.set_timer(10, "tick")

    sim = Simulation(seed=1)
    recorder = RunRecorder()
    recorder.attach(sim)
    sim.add_nodes(Pinger, ["a", "b"])
    sim.at(35, sim.crash, "b")
    sim.at(62, sim.restart, "b")
    sim.run(until=100)
    return loads(dumps(recorder.record()))


def forged(record: dict, change) -> dict:
    """``record`` with its events changed by ``change(events)`` (a list of 6-slot lists)."""
    events = [record["events"][i:i + 6] for i in range(0, len(record["events"]), 6)]
    change(events)
    return {**record, "events": [slot for event in events for slot in event]}


def test_a_record_that_disagrees_with_itself_is_refused():
    record = recorded_pings()
    assert RecordedRun.from_data(1, record, ()).steps > 10
    kinds = [record["events"][i + 1] for i in range(0, len(record["events"]), 6)]
    deliver, crash = kinds.index("deliver"), kinds.index("crash")

    def deliver_another_message(events):
        events[deliver][4] = 999

    def deliver_to_the_sender(events):
        events[deliver][2], events[deliver][3] = events[deliver][3], events[deliver][2]

    def go_back_in_time(events):
        events[deliver][0] = -1.0

    def forget_the_crash(events):
        events[crash][1] = "note"

    for change, why in [(deliver_another_message, "never sent"),
                        (deliver_to_the_sender, "never sent between those nodes"),
                        (go_back_in_time, "out of time"),
                        (forget_the_crash, "crash and restart events leave down")]:
        with pytest.raises(MalformedRecord, match=why):
            RecordedRun.from_data(1, forged(record, change), ())
    with pytest.raises(MalformedRecord, match="time goes back"):
        RecordedRun.from_data(1, {**record, "times": record["times"][::-1]}, ())


def test_a_delivery_or_a_timer_begins_a_step():
    record = recorded_pings()
    kinds = record["events"][1::6]
    # the step of the second delivery, merged into the step before it
    step = record["lengths"].index(kinds.index("deliver", kinds.index("deliver") + 1))
    merged = {**record, "lengths": record["lengths"][:step] + record["lengths"][step + 1:],
              "times": record["times"][:step] + record["times"][step + 1:], "downs": []}
    with pytest.raises(MalformedRecord, match="does not begin a step"):
        RecordedRun.from_data(1, merged, ())


def test_a_node_changes_only_in_a_step_where_its_code_ran():
    from distlab.sim import Node, Simulation

    class Counter(Node):
        def __init__(self):
            self.count = 0

        def on_start(self) -> None:
            self.set_timer(10, "tick")

        def on_timer(self, name: str) -> None:
            self.count += 1
            self.set_timer(10, "tick")

    sim = Simulation(seed=1)
    recorder = RunRecorder()
    recorder.attributes = ("count",)
    recorder.attach(sim)
    sim.add_nodes(Counter, ["a", "b"])
    sim.run(until=50)
    record = loads(dumps(recorder.record()))
    assert RecordedRun.from_data(1, record, ("count",)).steps > 5
    step, node, attribute, value = record["changes"][-1]  # a timer's step: only its node ran
    other = "b" if node == "a" else "a"
    forged = {**record, "changes": [*record["changes"], (step, other, attribute, value)]}
    with pytest.raises(MalformedRecord, match=f"changes {other}, whose code did not run"):
        RecordedRun.from_data(1, forged, ("count",))


def test_the_recorder_skips_only_what_cannot_have_changed():
    """It pickles no node after a cancelled timer or a dropped message, and no scalar equal to
    the one last recorded; every real change is still recorded, at its step."""
    from distlab.sim import Node, Simulation

    class Flipper(Node):
        def on_start(self) -> None:
            self.value = 3
            self.set_timer(5, "flip")
            self.set_timer(7, "flip")  # set again: the first entry comes due as a stale timer

        def on_timer(self, name: str) -> None:
            self.value = [3] if self.value == 3 else 3  # 3 -> [3] -> 3: each one a change
            self.send("b", "ping")  # b is down: the delivery is dropped
            self.set_timer(7, "flip")

    sim = Simulation(seed=1)
    recorder = RunRecorder()
    recorder.attributes = ("value",)
    recorder.attach(sim)
    sim.add_nodes(Flipper, ["a", "b"])
    sim.at(1, sim.crash, "b")
    sim.run(until=30)
    assert sim.stale_timers == 3  # a's first entry, and b's two, lost in its crash
    values = [(node, loads(blob)) for _, node, _, blob in recorder.changes if blob is not None]
    assert values == [("a", 3), ("b", 3), ("a", [3]), ("a", 3), ("a", [3]), ("a", 3)]
    run = RecordedRun.from_data(1, loads(dumps(recorder.record())), ("value",))
    seen = []
    for _ in range(run.steps):
        run.advance()
        seen.append((run.now, run.nodes["a"].value))
    after = dict(seen)  # a's value after the last step of each time
    assert [after[now] for now in (7.0, 14.0, 21.0, 28.0)] == [[3], 3, [3], 3]


def test_the_very_tuple_is_pickled_again_only_if_an_item_may_have_changed():
    """A tuple that is the very object last recorded is passed over when none of its items can
    change (numbers, strings, tuples of them, distlab's frozen data classes); one that holds
    a list is pickled at every step, and each change in place is still recorded."""
    from distlab.sim import Node, Simulation

    kept = (1, ("a", 2.5), Put("c1", 1, "k", "v"))
    shared = [0]
    held = (1, shared)

    class Holder(Node):
        def on_start(self) -> None:
            self.frozen, self.held = kept, held
            self.set_timer(5, "tick")

        def on_timer(self, name: str) -> None:
            shared[0] += 1  # changes held's list in place: held is the same tuple
            self.frozen = (*kept[:2], kept[2]) if shared[0] == 2 else self.frozen
            self.set_timer(5, "tick")

    sim = Simulation(seed=1)
    recorder = RunRecorder()
    recorder.attributes = ("frozen", "held")
    pickled: list[object] = []
    snapshot = recorder._snapshot
    recorder._snapshot = lambda value: (pickled.append(value), snapshot(value))[1]
    recorder.attach(sim)
    sim.add_nodes(Holder, ["a"])
    sim.run(until=23)  # the start, then four timers
    assert sum(value is held for value in pickled) == 5  # every step: its list may change
    # the start, then the step that made a new tuple equal to it (pickled, found unchanged)
    assert [value for value in pickled if value is not held] == [kept, kept]
    changes = [(loads(blob), attribute) for _, _, attribute, blob in recorder.changes]
    assert changes == [(kept, "frozen"), ((1, [0]), "held"), ((1, [1]), "held"),
                       ((1, [2]), "held"), ((1, [3]), "held"), ((1, [4]), "held")]


@dataclass(frozen=True)
class Entry:
    """A student's log entry: frozen, and yet `object.__setattr__` changes it."""

    term: int


def test_a_students_frozen_value_changed_in_place_is_recorded_at_every_change():
    """The recorder passes over the very tuple last recorded only if none of its items can
    change (`never_changes`, believing distlab's classes only): a student's frozen dataclass
    can be changed in place, and each change reaches the grader, at its step."""
    from distlab.sim import Node, Simulation

    entry = Entry(1)
    log = (Put("c1", 1, "k", "v"), entry)

    class Rewriter(Node):
        def on_start(self) -> None:
            self.log = log
            self.set_timer(5, "tick")

        def on_timer(self, name: str) -> None:
            object.__setattr__(entry, "term", entry.term + 1)  # log is the very same tuple
            self.set_timer(5, "tick")

    sim = Simulation(seed=1)
    recorder = RunRecorder()
    recorder.attributes = ("log",)
    recorder.attach(sim)
    sim.add_nodes(Rewriter, ["a"])
    sim.run(until=18)  # the start, then three timers
    terms = [loads(blob)[1].text for _, _, _, blob in recorder.changes]
    assert terms == [f"Entry(term={term})" for term in (1, 2, 3, 4)]
