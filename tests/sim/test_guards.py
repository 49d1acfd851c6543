"""The wall-clock limit of a run: what it stops, what it cannot, and that it is a good neighbour.

`distlab.sim.guards` documents the guarantees these tests check: on the main thread SIGALRM
stops a handler almost anywhere; on another thread the run stops at the next event boundary;
a timer the caller had set (pytest-timeout's, here, with its signal method) still rings at its
time and is put back afterwards; and the limit's own alarm never rings outside the run.
Times here are generous bounds that catch a hang, never measurements.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from itertools import count, islice

import pytest

from distlab.sim import Node, Simulation, WallClockLimitExceeded, guards
from distlab.sim.guards import Alarm, wall_clock_guard

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="Unix signals only")

#: a run that should stop at its limit but has not after this many seconds is hung
HANG_S = 8.0


class Spinner(Node):
    """Loops forever in on_start."""

    def on_start(self) -> None:
        while True:
            pass


class Ticker(Node):
    """A timer every simulated millisecond, each taking ``work_s`` seconds of real time; it
    gives up after `HANG_S` seconds, so a limit that is never enforced fails the test rather
    than hanging it."""

    work_s = 0.0

    def on_start(self) -> None:
        self.began = time.monotonic()
        self.set_timer(1, "tick")

    def on_timer(self, name: str) -> None:
        if self.work_s:
            time.sleep(self.work_s)
        if time.monotonic() - self.began < HANG_S:
            self.set_timer(1, "tick")


def sim_of(node_class: type[Node], max_events: int = 10**9) -> Simulation:
    sim = Simulation(seed=1, max_events=max_events)
    sim.add_node(node_class, "n")
    return sim


class OuterTimeout(BaseException):
    """What a caller's alarm handler raises (pytest-timeout raises its Failed, also not an
    Exception)."""


@pytest.fixture
def outer_alarm() -> Iterator[list[float]]:
    """Install a caller's SIGALRM handler that records when it rings; put pytest-timeout's
    handler and timer back afterwards."""
    saved_handler = signal.getsignal(signal.SIGALRM)
    saved_left, saved_interval = signal.getitimer(signal.ITIMER_REAL)
    began = time.monotonic()
    rings: list[float] = []
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, lambda signum, frame: rings.append(time.monotonic()))
    try:
        yield rings
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, saved_handler)
        if saved_left:
            left = max(saved_left - (time.monotonic() - began), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, saved_interval)


def wait_for(condition, seconds: float = HANG_S) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


# -- the caller's timer ---------------------------------------------------------------------------
def test_a_callers_timer_is_put_back_with_the_time_it_had_left(outer_alarm):
    signal.setitimer(signal.ITIMER_REAL, 30.0)
    handler = signal.getsignal(signal.SIGALRM)
    sim_of(Ticker).run(until=100, wall_limit=5)
    left, _ = signal.getitimer(signal.ITIMER_REAL)
    assert signal.getsignal(signal.SIGALRM) is handler
    assert 0 < left < 30.0
    assert outer_alarm == []


def test_a_callers_timer_due_first_rings_at_its_time_and_its_handler_stops_the_run(
        outer_alarm):
    def time_is_up(signum, frame):
        raise OuterTimeout()

    signal.signal(signal.SIGALRM, time_is_up)
    signal.setitimer(signal.ITIMER_REAL, 0.1)
    began = time.monotonic()
    with pytest.raises(OuterTimeout):  # the caller's, not the run's limit
        sim_of(Spinner).run(until=10, wall_limit=HANG_S + 5)
    assert time.monotonic() - began < HANG_S
    assert signal.getsignal(signal.SIGALRM) is time_is_up
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # it rang: nothing is left


def test_a_callers_periodic_timer_keeps_ringing_during_a_run_and_after_it(outer_alarm):
    Slow = type("Slow", (Ticker,), {"work_s": 0.01})
    signal.setitimer(signal.ITIMER_REAL, 0.03, 0.03)
    sim_of(Slow).run(until=20, wall_limit=HANG_S)  # about 0.2 s
    during = len(outer_alarm)
    assert during >= 2
    assert signal.getitimer(signal.ITIMER_REAL)[1] == pytest.approx(0.03)
    wait_for(lambda: len(outer_alarm) > during)
    assert len(outer_alarm) > during


def test_a_callers_handler_that_sets_its_timer_again_keeps_ringing_during_a_run(outer_alarm):
    def tick(signum, frame):
        outer_alarm.append(time.monotonic())
        signal.setitimer(signal.ITIMER_REAL, 0.03)

    Slow = type("Slow", (Ticker,), {"work_s": 0.01})
    signal.signal(signal.SIGALRM, tick)
    signal.setitimer(signal.ITIMER_REAL, 0.03)
    sim_of(Slow).run(until=20, wall_limit=HANG_S)  # about 0.2 s
    assert len(outer_alarm) >= 2
    assert signal.getitimer(signal.ITIMER_REAL)[0] > 0  # still set, as its handler left it


def test_a_callers_timer_with_the_default_action_still_ends_the_process(tmp_path):
    script = tmp_path / "killed_at_its_time.py"
    script.write_text(
        "import signal\n"
        "from distlab.sim import Node, Simulation\n"
        "class Spinner(Node):\n"
        "    def on_start(self):\n"
        "        while True:\n"
        "            pass\n"
        "signal.setitimer(signal.ITIMER_REAL, 0.2)  # no handler: SIGALRM ends the process\n"
        "sim = Simulation()\n"
        "sim.add_node(Spinner, 'n')\n"
        f"sim.run(until=10, wall_limit={HANG_S + 30})\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=HANG_S + 20)
    assert done.returncode == -signal.SIGALRM, done.stderr


def test_a_callers_timer_that_comes_due_as_the_limit_is_taken_down_rings_at_once(
        outer_alarm, monkeypatch):
    real_setitimer = signal.setitimer

    def late_disarm(which, seconds, interval=0.0):
        if seconds == 0:  # the guard disarms: let the caller's timer come due meanwhile
            time.sleep(0.3)
        return real_setitimer(which, seconds, interval)

    real_setitimer(signal.ITIMER_REAL, 0.1)
    monkeypatch.setattr(signal, "setitimer", late_disarm)
    sim_of(Ticker).run(until=5, wall_limit=HANG_S)
    monkeypatch.undo()
    wait_for(lambda: outer_alarm)
    assert len(outer_alarm) == 1


# -- the limit's alarm never rings outside the run ------------------------------------------------
@pytest.mark.parametrize("moment", ["disarming the timer", "putting the handler back"])
def test_a_ring_as_the_run_ends_is_not_let_out(outer_alarm, monkeypatch, moment):
    caller = signal.getsignal(signal.SIGALRM)
    real_setitimer, real_signal = signal.setitimer, signal.signal

    def ring_then_setitimer(which, seconds, interval=0.0):
        if seconds == 0:
            signal.raise_signal(signal.SIGALRM)  # the limit rings just as the run ends
        return real_setitimer(which, seconds, interval)

    def ring_then_signal(signum, handler):
        if handler is caller:
            signal.raise_signal(signal.SIGALRM)
        return real_signal(signum, handler)

    if moment == "disarming the timer":
        monkeypatch.setattr(signal, "setitimer", ring_then_setitimer)
    else:
        monkeypatch.setattr(signal, "signal", ring_then_signal)
    sim_of(Ticker).run(until=5, wall_limit=HANG_S)
    monkeypatch.undo()
    assert signal.getsignal(signal.SIGALRM) is caller
    assert outer_alarm == []


def test_a_ring_at_the_first_instant_of_taking_the_limit_down_is_ignored(outer_alarm):
    # Python runs a signal handler between two bytecodes, with the frame that was running;
    # the first one of the guard's __exit__ comes before it can mark the block as ended.
    # Ring right there, with the limit due, as the signal would.
    caller = signal.getsignal(signal.SIGALRM)
    rang_there = []

    def ring_at_exit(frame, event, arg):
        if event == "call" and frame.f_code is guards._EXIT_CODE:
            guard = frame.f_locals["self"]
            guard._due = time.monotonic()  # the limit is due now
            guard._ring(signal.SIGALRM, frame)
            rang_there.append(guard)
        return None

    old_trace = sys.gettrace()
    sys.settrace(ring_at_exit)
    try:
        sim_of(Ticker).run(until=5, wall_limit=HANG_S)
    finally:
        sys.settrace(old_trace)
    assert rang_there
    assert signal.getsignal(signal.SIGALRM) is caller
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


class Dawdler(Node):
    """Sleeps for about the run's limit in on_start, a little less or a little more."""

    def on_start(self) -> None:
        time.sleep(self.rng.uniform(0.0, 0.002))


def test_runs_that_end_right_at_their_limit_never_let_the_alarm_out(outer_alarm):
    caller = signal.getsignal(signal.SIGALRM)
    stopped = finished = 0
    for seed in range(2000):
        sim = Simulation(seed=seed)
        sim.add_node(Dawdler, "n")
        try:
            sim.run(until=5, wall_limit=0.001)
            finished += 1
        except WallClockLimitExceeded:
            stopped += 1
        assert signal.getsignal(signal.SIGALRM) is caller
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    time.sleep(2 * guards.ALARM_REPEAT_S)  # a repeat ring left behind would come by now
    assert outer_alarm == []
    assert stopped and finished  # both endings happened, so some ended right at the limit


# -- other threads --------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["run", "run_until"])
@pytest.mark.parametrize("work_s", [0.0, 0.001])
def test_a_run_on_another_thread_stops_at_the_first_event_after_its_limit(how, work_s):
    Working = type("Working", (Ticker,), {"work_s": work_s})
    sim = sim_of(Working)
    caught: list[BaseException] = []

    def run() -> None:
        try:
            if how == "run":
                sim.run(wall_limit=0.2)
            else:
                sim.run_until(lambda: False, wall_limit=0.2)
        except BaseException as exc:  # noqa: BLE001 -- handed to the test's thread
            caught.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(HANG_S * 2)
    assert not worker.is_alive()
    assert len(caught) == 1 and isinstance(caught[0], WallClockLimitExceeded), caught
    assert re.search(r"took more than 0.2 s of real time just after node 'n' ran "
                     r"on_timer\('tick'\)", str(caught[0]))
    assert sim._monitors == []


def test_a_run_on_another_thread_that_ends_in_time_leaves_nothing_behind():
    sim = sim_of(Ticker)
    worker = threading.Thread(target=lambda: sim.run(until=10, wall_limit=0.05))
    worker.start()
    worker.join(HANG_S)
    time.sleep(0.1)  # past the limit: a watchdog left running would have rung by now
    assert sim._monitors == []
    assert not [t for t in threading.enumerate() if isinstance(t, threading.Timer)]
    sim.run(until=20)  # and the next run is not stopped by it


# -- what the limit stops on the main thread, and what it cannot ----------------------------------
def stopped_within_the_hang_bound(node_class: type[Node]) -> WallClockLimitExceeded:
    began = time.monotonic()
    with pytest.raises(WallClockLimitExceeded) as info:
        sim_of(node_class).run(wall_limit=0.1)
    assert time.monotonic() - began < HANG_S
    return info.value


def test_the_limit_interrupts_a_long_sleep():
    class Sleeper(Node):
        def on_start(self) -> None:
            time.sleep(60)

    stopped_within_the_hang_bound(Sleeper)


def test_the_limit_interrupts_a_regular_expression_that_backtracks_for_ever():
    class Matcher(Node):
        def on_start(self) -> None:
            re.match(r"(a+)+$", "a" * 60 + "b")

    stopped_within_the_hang_bound(Matcher)


def test_the_limit_stops_a_busy_loop_inside_a_bare_except():
    class Stubborn(Node):
        def on_start(self) -> None:
            n = 0
            while True:
                try:
                    n += 1
                except:  # noqa: E722 -- the point of the test
                    pass

    stopped_within_the_hang_bound(Stubborn)


def test_a_bare_except_around_a_sleep_swallows_every_ring():
    # The documented hole: each ring lands inside the sleep, inside the try. Here the
    # handler gives up after three rings; one that never gave up would never be stopped.
    class Swallower(Ticker):
        swallowed = 0

        def on_start(self) -> None:
            for _ in range(3):
                try:
                    time.sleep(HANG_S)
                except:  # noqa: E722 -- the point of the test
                    Swallower.swallowed += 1
            super().on_start()

    error = stopped_within_the_hang_bound(Swallower)
    assert Swallower.swallowed == 3  # three rings, each cut a sleep short and was eaten
    assert "on_timer('tick')" in str(error)  # the ring after them stopped the run


def test_one_long_c_call_runs_to_its_end_before_the_limit_stops_the_run():
    items = 10**7  # a few tenths of a second of one C call, far more than the limit
    last = deque(maxlen=1)

    class Counter(Node):
        def on_start(self) -> None:
            last.extend(islice(count(), items))

    began = time.monotonic()
    with pytest.raises(WallClockLimitExceeded):
        sim_of(Counter).run(until=10, wall_limit=0.001)
    assert time.monotonic() - began < HANG_S
    assert last[0] == items - 1  # the call was not cut short: it ran to its last item


# -- limits inside limits -------------------------------------------------------------------------
def test_an_outer_limit_that_rings_inside_a_run_is_left_to_its_owner():
    outer = wall_clock_guard(0.1)
    with pytest.raises(Alarm) as info:
        with outer:
            sim_of(Spinner).run(until=10, wall_limit=HANG_S + 5)
    assert info.value.guard is outer


def test_a_wall_limit_must_be_a_positive_number_of_seconds():
    for bad, message in [(0, "positive number of seconds"), (-1, "positive number"),
                         (float("inf"), "leave wall_limit out")]:
        with pytest.raises(Exception, match=message):
            sim_of(Ticker).run(until=5, wall_limit=bad)
