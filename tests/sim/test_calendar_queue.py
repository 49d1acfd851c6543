"""The scheduler's calendar mode: the same events in the same order as a plain heap.

With many pending events the default `Scheduler` keeps the later ones in a `CalendarQueue`
(`distlab.sim.calendar_queue`). These tests hold it to the heap's order exactly: ties at
equal times, times far ahead, removals, a big simulation traced both ways; and check when it
switches, and that a scheduler of another class never does.
"""

from __future__ import annotations

import hashlib
import heapq
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distlab.sim import Constant, Network, Node, Scheduler, Simulation
from distlab.sim import scheduler as scheduler_module
from distlab.sim.calendar_queue import (BUCKET_TARGET, MAX_WIDTH, MIN_WIDTH, CalendarQueue,
                                        slot_end, width_for)
from distlab.sim.guards import GC_BATCH, YoungCollector


def nothing(arg: object) -> None:
    """An entry's function (never called here)."""


# -- the slots ---------------------------------------------------------------------------------
widths = st.integers(-30, 30).map(lambda k: 2.0 ** k)
times = st.one_of(st.floats(0, 1e6), st.floats(0, 1.7e308), st.integers(0, 10**6).map(float))


@given(times, times, widths)
def test_a_time_is_before_a_slots_end_exactly_when_its_slot_is_not_later(t, other, width):
    slot = t // width
    end = slot_end(slot, width)
    for u in (t, other, end, math.nextafter(end, 0), math.nextafter(t, 0),
              math.nextafter(t, math.inf)):
        if 0 <= u < math.inf:
            assert (u < end) == (u // width <= slot), u


def test_far_times_each_have_a_slot_of_their_own():
    width = 2.0 ** -10
    t = 2.0 ** 70          # t / width is past 2**53: every float there is a whole slot
    end = slot_end(t // width, width)
    assert end == math.nextafter(t, math.inf)
    assert slot_end(1e308 // width, width) == math.inf  # (1e308 / width overflows)


def test_a_width_is_a_power_of_two_that_fills_a_bucket():
    # 10,000 events spread evenly over 100 ms: 100 per ms
    width = width_for([i / 100 for i in range(10_000)], 10_000)
    assert math.frexp(width)[0] == 0.5
    assert BUCKET_TARGET / 2 < width * 100 <= BUCKET_TARGET
    assert width_for([5.0] * 100, 100) == 1.0                    # no spread: any width
    assert width_for([0.0, 1e-300, 1e-300], 10**9) == MIN_WIDTH  # far too dense
    assert width_for([0.0, 1e300], 2) == MAX_WIDTH
    # timers far ahead, even most of the pending entries, do not make the width larger
    assert width_for([i / 100 for i in range(1000)] + [1e9] * 3000, 4000) == width_for(
        [i / 100 for i in range(1000)], 1000)


def test_a_calendar_refuses_a_width_that_is_not_a_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        CalendarQueue(0.3)


# -- the order: a scheduler in calendar mode against a plain heap --------------------------------
def forced_calendar(width: float) -> Scheduler:
    """A scheduler in calendar mode from the start, whatever the number of entries."""
    scheduler = Scheduler()
    scheduler.push(0.0, nothing, None)
    scheduler._to_calendar(width)
    scheduler.pop()
    return scheduler


operations = st.lists(st.one_of(
    st.tuples(st.just("push"), st.one_of(st.floats(0, 50), st.integers(0, 50).map(float),
                                         st.floats(1e10, 1.7e308))),
    st.tuples(st.just("pop"), st.none()),
    st.tuples(st.just("remove"), st.integers(0, 10**6)),
), max_size=300)


@settings(max_examples=200, deadline=None)
@given(operations, widths)
def test_a_calendar_pops_exactly_what_a_heap_pops(ops, width):
    scheduler = forced_calendar(width)
    model = []
    seq = 1  # forced_calendar took number 0
    now = 0.0
    for op, value in ops:
        if op == "push":
            if now + value == math.inf:  # (the kernel refuses infinite times)
                continue
            scheduler.push(now + value, nothing, seq)
            heapq.heappush(model, (now + value, seq, nothing, seq))
            seq += 1
        elif op == "pop":
            got = scheduler.pop()
            assert got == (heapq.heappop(model) if model else None)
            if got is not None:
                now = got[0]
        elif model:
            entry = model[value % len(model)]
            scheduler.remove(entry)
            model.remove(entry)
            heapq.heapify(model)
        assert len(scheduler) == len(model)
        assert scheduler.pending() == sorted(model)
    assert [scheduler.pop() for _ in model] == [heapq.heappop(model) for _ in list(model)]
    assert scheduler.pop() is None


def test_pop_until_stops_at_the_limit_even_across_buckets():
    scheduler = forced_calendar(1.0)
    for time in (0.5, 3.5, 3.5, 9.0):
        scheduler.push(time, nothing, time)
    assert scheduler.pop(until=1.0)[0] == 0.5
    assert scheduler.pop(until=3.0) is None       # the next bucket is in the heap now
    assert [scheduler.pop(until=4.0)[0] for _ in range(2)] == [3.5, 3.5]
    assert scheduler.pop(until=4.0) is None and len(scheduler) == 1


# -- switching ---------------------------------------------------------------------------------
def test_the_scheduler_switches_to_a_calendar_past_a_size_and_back_below_another():
    scheduler = Scheduler()
    for i in range(scheduler_module.CALENDAR_FROM + 1):
        scheduler.push(i / 10, nothing, i)
    scheduler.adapt()
    assert scheduler.calendar is not None and scheduler.horizon < math.inf
    assert len(scheduler.heap) < len(scheduler) == scheduler_module.CALENDAR_FROM + 1
    while len(scheduler) >= scheduler_module.HEAP_BELOW:
        scheduler.pop()
    scheduler.adapt()
    assert scheduler.calendar is None and scheduler.horizon == math.inf
    assert len(scheduler.heap) == len(scheduler)
    assert [e[3] for e in scheduler.pending()] == list(
        range(scheduler_module.CALENDAR_FROM + 1 - len(scheduler),
              scheduler_module.CALENDAR_FROM + 1))


def test_a_calendar_with_buckets_far_off_target_gets_a_new_width():
    scheduler = Scheduler()
    for i in range(20_000):                        # 1,000 events per ms...
        scheduler.push(i / 1000, nothing, i)
    scheduler._to_calendar(2.0 ** -12)             # ...in slots of 1/4096 ms: one a bucket
    popped = [scheduler.pop()[3] for _ in range(2 * scheduler_module.RETUNE_AFTER)]
    assert scheduler.calendar.taken >= scheduler_module.RETUNE_AFTER
    scheduler.adapt()
    assert scheduler.calendar.width >= 2.0 ** -12 * BUCKET_TARGET / 4
    popped += [scheduler.pop()[3] for _ in range(len(scheduler))]
    assert popped == list(range(20_000))


def test_equal_times_keep_their_width_and_are_not_rebuilt_again_and_again():
    scheduler = Scheduler()
    for i in range(20_000):
        scheduler.push(7.0, nothing, i)            # one bucket, however narrow the slots
    scheduler.adapt()
    width = scheduler.calendar.width
    scheduler.calendar.taken, scheduler.calendar.moved = 100, 2_000_000
    scheduler.adapt()
    assert scheduler.calendar.width == width and scheduler.calendar.taken == 0
    assert [scheduler.pop()[3] for _ in range(5)] == [0, 1, 2, 3, 4]


# -- a whole simulation, calendar against heap -------------------------------------------------
class Busy(Node):
    """Ticks on a grid of whole milliseconds (so many nodes tick at exactly the same time),
    sends to random peers (constant latency: deliveries at equal times too), sets a timeout
    that a reply usually cancels, resets a timer again and again, and keeps one timer set
    far in the future."""

    def on_start(self) -> None:
        self.heard = 0
        self.set_timer(float(self.rng.randrange(20)), "tick")
        self.set_timer(1e9 + self.rng.randrange(3), "far")
        self.set_timer(1e300, "farther")

    def on_timer(self, name: str) -> None:
        if name == "tick":
            self.send(self.rng.choice(self.peers), "ping")
            self.set_timer(20, "tick")
            self.set_timer(12, "timeout")             # cancelled when the pong comes back
            for delay in (30, 31, 32):
                self.set_timer(delay, "reset")        # only the last of these survives
        else:
            self.note("fired", name=name)

    def on_message(self, src: str, msg: str) -> None:
        self.heard += 1
        if msg == "ping":
            self.send(src, "pong")
        elif self.rng.random() < 0.9:
            self.cancel_timer("timeout")


def busy_run(nodes: int, stepped: bool = False) -> tuple[Simulation, bool]:
    """A run of ``nodes`` Busy nodes; also says whether a calendar was in use, after 100 ms
    and at the end."""
    sim = Simulation(seed=3, network=Network(latency=Constant(5)), max_events=10**7)
    sim.add_nodes(Busy, [f"n{i:05}" for i in range(nodes)])
    sim.at(50.0, sim.crash, "n00001")
    sim.at(50.0, sim.partition, {"n00002", "n00003"})
    sim.at(120.0, sim.restart, "n00001")
    sim.at(1e12, sim.heal)
    sim.run(until=100)
    used = sim.scheduler.calendar is not None
    if stepped:  # one event at a time (Scheduler.pop), across several buckets
        for _ in range(5_000):
            sim.step()
    sim.run(until=160)
    return sim, used and sim.scheduler.calendar is not None


def fingerprint(sim: Simulation) -> tuple[str, list]:
    pending = [(time, seq, sim.entry_kind((time, seq, fn, arg)))
               for time, seq, fn, arg in sim.scheduler.pending()]
    return hashlib.sha256(sim.trace.dumps().encode()).hexdigest(), pending


@pytest.fixture
def heap_only(monkeypatch):
    """`busy_run` with a default scheduler that never leaves its plain heap."""
    def run_heap_only(nodes: int) -> tuple[Simulation, bool]:
        with monkeypatch.context() as patch:
            patch.setattr(scheduler_module, "CALENDAR_FROM", math.inf)
            return busy_run(nodes)
    return run_heap_only


def test_a_big_run_traces_the_same_with_a_calendar_as_with_a_plain_heap(heap_only):
    calendar, used = busy_run(4_000)                   # over 12,000 events pending
    assert used and len(calendar.scheduler.calendar.buckets) > 20
    assert len(calendar.scheduler.heap) < len(calendar.scheduler) / 5
    heap, used = heap_only(4_000)
    assert not used
    assert calendar._events_run == heap._events_run > 50_000
    assert fingerprint(calendar) == fingerprint(heap)
    kinds = calendar.trace.counts()
    assert kinds["timer"] > 0 and kinds["crash"] == kinds["restart"] == 1
    assert any(e.data.what == "fired" and e.data["name"] == "timeout"
               for e in calendar.trace.of_kind("note"))   # some timeouts were not cancelled


def test_stepping_through_a_calendar_gives_the_same_run(heap_only, monkeypatch):
    monkeypatch.setattr(scheduler_module, "CALENDAR_FROM", 1_000)  # a calendar before step
    monkeypatch.setattr(scheduler_module, "HEAP_BELOW", 250)
    stepped, used = busy_run(1_000, stepped=True)
    assert used
    heap, _ = heap_only(1_000)
    assert fingerprint(stepped) == fingerprint(heap)


class Explorer(Scheduler):
    """A scheduler of its own class (as the schedule explorer's): reads ``heap`` whole."""


def test_a_scheduler_of_another_class_keeps_every_entry_in_its_heap():
    sim = Simulation(seed=3, network=Network(latency=Constant(5)), scheduler=Explorer())
    sim.add_nodes(Busy, [f"n{i:05}" for i in range(scheduler_module.CALENDAR_FROM)])
    sim.run(until=30)
    assert sim.scheduler.calendar is None
    assert len(sim.scheduler.heap) == len(sim.scheduler) > scheduler_module.CALENDAR_FROM


# -- the garbage collector's batches -------------------------------------------------------------
def test_young_garbage_is_collected_every_batch_unless_many_events_are_pending():
    few, many = YoungCollector(), YoungCollector()
    for _ in range(100):
        few(pending=10)
        many(pending=100_000)
    assert few.collections == 100
    assert many.collections == 100 * GC_BATCH // (8 * 100_000)
