"""Graded runs in a child process, judged in the grader from what they send back.

`graded_runs` forks one child per check (`distlab.grading.isolation`); the child runs the
check's seeds one after the other, exactly as `distlab.grading.runner.run_once` runs one in
the notebook's process, and sends a frame per seed (`report_seed`): the run's record
(`distlab.grading.records`), what the student's code answered (below), the failure it saw if
any (as plain text and numbers), and what the run printed. The grader then reaches the
verdict itself (`judge_seed`):

* the run judges none of the properties: the grader judges them, with the lab's own property
  objects created here, on the record played step by step (`RecordedRun`). Patching a
  property, the runner or the report inside the run changes nothing here. The run does not
  stop at a violation, but the grader does, and reports the run as it was then -- as
  `distlab.grading.runner.replay` shows it;
* a property that must call the student's own code (`AsksStudentCode`: lab 2b's clock checks
  call the student's ``VectorClock``) puts its questions in the run's process, once the run
  is over, and the answers come back as plain data; the grader judges them against the
  recorded trace. A `Trial` (real sockets) works alike: its body runs in the child and
  returns what it observed, and the trial's ``judge`` reaches the verdict here;
* a failure the run reports (its code raised, looped, ran out of memory...) is taken as it
  is, unless a property failed earlier: a run's code can only harm its own grade by inventing
  one. It is shown with the recorded trace: its last events, its diagram;
* a run that ends its process (``os._exit``, a crash in C code), overruns its time limit by
  `GRACE_S` (it swallowed the interruption) or sends something that is not a record fails,
  with its seed, like any other run. (Once the run is over, the child says so, `RAN`, and
  has `RECORD_S` more to send its record: a long trace takes a moment to pickle.)

Only a `Trial` without a ``judge`` is judged by its body, in the child.
"""

from __future__ import annotations

import io
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from distlab.grading.explain import CodeLocation, Failure, explain
from distlab.grading.isolation import GRACE_S, MEMORY_LIMIT, Child, format_bytes
from distlab.grading.lab import Check, Scenario, Trial
from distlab.grading.properties import AsksStudentCode, PropertyViolated, start
from distlab.grading.records import MalformedRecord, RecordedRun, RunRecorder, dumps, loads
from distlab.grading.runs import TrialRun, run_once, trial_verdict
from distlab.sim import Simulation

#: how much of what a check's runs print is passed on (characters)
MAX_OUTPUT = 100_000
#: the frame a child sends when a run is over, before its record
RAN = b"ran"
#: how long a child may take to make and send the record of a run that is over (seconds)
RECORD_S = 30.0
_FAILURE_TEXT = ("kind", "summary", "explanation")


# -- in the child ------------------------------------------------------------------------------

def report_seed(c: Check, seed: int, wall_limit: float | None, memory_limit: int | None,
                output: io.StringIO, ran: Callable[[], object] = lambda: None
                ) -> tuple[bytes, bool]:
    """Run ``seed`` of ``c`` here: the frame that reports it to the grader, and whether the
    run saw a failure. ``ran()`` is called when the run is over (its record is made next)."""
    recorder = RunRecorder()
    threads = set(threading.enumerate())
    sim: Simulation = Simulation(seed=seed)
    try:
        sim, failure = run_once(c, seed, wall_limit, recorder=recorder)
    except BaseException as exc:  # a BaseException of its code, or an alarm rung twice
        sim = recorder.sim
        failure = explain(exc, c, seed, sim)
    ran()
    real = isinstance(sim, TrialRun)
    if failure is not None and failure.kind == "memory":
        sim.nodes.clear()  # let go of what filled the memory, to report it
        if memory_limit is not None:
            failure.summary = f"the run exceeded the memory cap of {format_bytes(memory_limit)}"
    started = [t for t in threading.enumerate() if t not in threads and t.is_alive()]
    if failure is None and not real and started:
        failure = Failure(c.name, c.description, seed, "thread",
                          f"your code started a thread that still runs ({started[0].name})",
                          "A node reacts to events, one handler at a time, and must not start "
                          "threads: their timing is not simulated, so the run cannot be "
                          "replayed. For something to happen later, set a timer "
                          "(self.set_timer).", sim.now, sim)
    text = output.getvalue()[:MAX_OUTPUT]
    output.seek(0)
    output.truncate()
    frame = dumps({"seed": seed, "real": real, "failure": _failure_data(failure),
                   "record": None if real else recorder.record(), "answers": recorder.answers,
                   "output": text})
    return frame, failure is not None


def run_seeds(c: Check, seeds: list[int], wall_limit: float | None,
              memory_limit: int | None, send: Any) -> None:
    """The child's work: run ``seeds`` of ``c`` in order, sending a frame each, up to the
    first failure. What the runs print is captured and sent with the frames."""
    output = io.StringIO()
    sys.stdout = sys.stderr = output
    for seed in seeds:
        frame, failed = report_seed(c, seed, wall_limit, memory_limit, output,
                                    lambda: send(RAN))
        send(frame)
        if failed:
            break


def _failure_data(failure: Failure | None) -> dict[str, Any] | None:
    if failure is None:
        return None
    where = failure.where
    return {"kind": failure.kind, "summary": failure.summary,
            "explanation": failure.explanation, "time": failure.time, "node": failure.node,
            "where": None if where is None else (where.file, where.line, where.function,
                                                 where.code, where.node)}


# -- in the grader -----------------------------------------------------------------------------

def start_runs(c: Check, seeds: list[int], wall_limit: float | None = None,
               memory_limit: int | None = MEMORY_LIMIT,
               work: Callable[[Callable[[bytes], None]], None] | None = None) -> Child:
    """Start the child process that runs ``seeds`` of ``c``, for `graded_runs` to judge.

    ``work(send)`` is what the child does, `run_seeds` of ``c`` by default (a class's grading
    first runs the student's cells there: `distlab.grading.gradebook`). Started before its
    runs are judged (`distlab.grading.runner.run_checks` starts the next check's while it
    judges a check), the child runs meanwhile, until the pipe to the grader is full.
    """
    if work is None:
        def work(send: Callable[[bytes], None]) -> None:
            run_seeds(c, seeds, wall_limit, memory_limit, send)
    return Child.fork(work, memory_limit)


def graded_runs(c: Check, seeds: list[int], wall_limit: float | None = None,
                memory_limit: int | None = MEMORY_LIMIT,
                work: Callable[[Callable[[bytes], None]], None] | None = None, *,
                child: Child | None = None
                ) -> Iterator[tuple[int, Simulation | RecordedRun, Failure | None]]:
    """Run ``seeds`` of ``c`` in a child process; yield each seed, its run and its failure.

    The run is a `RecordedRun` played to its end (or to its violation), the empty
    simulation of a `Trial`, or an empty `Simulation` when the process died. The caller stops
    at the first failure; the child is then stopped too. The child is ``child``, if
    `start_runs` started it already for these seeds, else one started now (``work`` as for
    `start_runs`).
    """
    if child is None:
        child = start_runs(c, seeds, wall_limit, memory_limit, work)
    try:
        for seed in seeds:
            try:
                scenario = c.scenario(seed)  # the lab's code, in the grader: its properties
            except Exception as exc:
                yield seed, Simulation(seed=seed), explain(exc, c, seed, Simulation(seed=seed))
                return
            limit = wall_limit or (scenario.time_limit if isinstance(scenario, Trial)
                                   else scenario.wall_limit)
            try:
                frame = child.receive(time.monotonic() + limit + GRACE_S)
                if frame == RAN:  # the run is over: its record may take a while to make
                    frame = child.receive(time.monotonic() + RECORD_S)
            except TimeoutError:
                yield seed, Simulation(seed=seed), _killed(c, seed, limit, child)
                return
            except ValueError as exc:
                yield seed, Simulation(seed=seed), _malformed(c, seed, str(exc))
                return
            if frame is None:
                yield seed, Simulation(seed=seed), _ended(c, seed, child)
                return
            sim, failure = judge_seed(c, seed, scenario, frame)
            yield seed, sim, failure
            if failure is not None:
                return
    finally:
        child.stop()


def judge_seed(c: Check, seed: int, scenario: Scenario | Trial, frame: bytes
               ) -> tuple[Simulation | RecordedRun, Failure | None]:
    """The verdict on one seed, from the frame the run sent (see the module docstring)."""
    try:
        data = loads(frame)
        if not isinstance(data, dict) or data.get("seed") != seed:
            raise MalformedRecord(f"it is not the report of seed {seed}")
        if isinstance(data.get("output"), str) and data["output"]:
            sys.stdout.write(data["output"])
        if isinstance(scenario, Trial):
            sim = TrialRun(seed=seed)
            claimed = _failure_from(c, seed, data.get("failure"), sim)
            if claimed is not None or scenario.judge is None:
                return sim, claimed
            return sim, _judge_trial(c, seed, scenario, data.get("answers"), sim)
        run = RecordedRun.from_data(seed, data.get("record"), c.node_attributes(scenario))
        claimed = _failure_from(c, seed, data.get("failure"), run)
    except MalformedRecord as exc:
        return Simulation(seed=seed), _malformed(c, seed, str(exc))
    return run, rejudge(c, seed, scenario, run, claimed, data.get("answers"))


def _judge_trial(c: Check, seed: int, trial: Trial, observed: Any, sim: TrialRun
                 ) -> Failure | None:
    """The trial's judge, here, on what its body observed in the run's process."""
    assert trial.judge is not None
    try:
        verdict = trial.judge(observed)
    except Exception as exc:  # observations of another shape than the body returns
        return _malformed(c, seed, f"its observations cannot be judged "
                                   f"({type(exc).__name__}: {exc})")
    return trial_verdict(c, seed, sim, verdict)


def rejudge(c: Check, seed: int, scenario: Scenario, run: RecordedRun,
            claimed: Failure | None = None, answers: Any = None) -> Failure | None:
    """Play ``run`` to the properties of ``scenario`` (created here): the first failure.

    The run did not judge these properties, and went on past what would have stopped it
    here: the first property that fails, step by step, is the failure, with ``run`` stopped
    there. Otherwise the run's own failure (``claimed``: its code raised, say) stands;
    a run without one is judged at its end. ``answers`` are what the student's code
    answered to the properties that ask it (`AsksStudentCode`), one item each, in order.
    """
    properties = list(scenario.properties)
    asking = [p for p in properties if isinstance(p, AsksStudentCode)]
    try:
        if run.steps == 0 and claimed is None:
            raise MalformedRecord("it holds no step, not even the set-up")
        if claimed is None and asking:
            answers = AsksStudentCode.expect(answers, list, len(asking))
        judges = []
        for step in range(run.steps):
            run.advance()
            if step == 0:  # the properties start watching once the scenario is set up
                given = iter(answers if claimed is None and asking else ())
                judges = [prop.start_with(run, next(given)) if isinstance(prop, AsksStudentCode)
                          else start(prop, run) for prop in properties
                          if claimed is None or not isinstance(prop, AsksStudentCode)]
            run.run_monitors()
        if claimed is not None:
            run.play_to_end()
            return claimed
        run.finish()
        for judge in judges:
            violation = judge()
            if violation is not None:
                raise PropertyViolated(violation)
    except MalformedRecord as exc:
        return _malformed(c, seed, str(exc))
    except Exception as exc:
        return explain(exc, c, seed, run)
    return None


def _failure_from(c: Check, seed: int, data: Any, sim: Any) -> Failure | None:
    """The failure the run reported, its fields checked (plain text and numbers only)."""
    if data is None:
        return None
    if (not isinstance(data, dict) or not all(type(data.get(k)) is str for k in _FAILURE_TEXT)
            or type(data.get("time")) not in (int, float)
            or not (data.get("node") is None or type(data["node"]) is str)):
        raise MalformedRecord("its failure is not one")
    where = data.get("where")
    if where is not None:
        if (type(where) is not tuple or len(where) != 5
                or [type(x) for x in where[:4]] != [str, int, str, str]
                or not (where[4] is None or type(where[4]) is str)):
            raise MalformedRecord("its line of code is not one")
        where = CodeLocation(*where)
    return Failure(c.name, c.description, seed, data["kind"], data["summary"],
                   data["explanation"], float(data["time"]), sim, node=data["node"],
                   where=where)


def _killed(c: Check, seed: int, limit: float, child: Child) -> Failure:
    ending = child.stop(killed=True)
    if not ending.killed:  # it ended by itself just then
        return _ended(c, seed, child)
    return Failure(c.name, c.description, seed, "time limit",
                   f"killed: the run exceeded the time limit of {limit:g} s",
                   f"It did not stop when it was interrupted, so its process was killed "
                   f"{GRACE_S:g} s later. Does your code catch every exception (except "
                   f"BaseException, or a bare except:) inside a loop, or wait in a call that "
                   f"never returns? A replay in this notebook would hang as well: find the "
                   f"loop first.", 0.0, Simulation(seed=seed))


def _ended(c: Check, seed: int, child: Child) -> Failure:
    ending = child.stop()
    return Failure(c.name, c.description, seed, "exit",
                   f"the run ended the process ({ending.describe()})",
                   "Your code ended the process the check ran in (os._exit(), or a crash in "
                   "C code such as ctypes): a check cannot judge a run that never finishes. "
                   "Never end the process in a node's code.", 0.0, Simulation(seed=seed))


def _malformed(c: Check, seed: int, why: str) -> Failure:
    return Failure(c.name, c.description, seed, "malformed",
                   f"the run's report is damaged: {why}",
                   "The run's process sent back something that is not a report of a run: "
                   "code that ran there wrote to the grader's pipe, or changed the harness.",
                   0.0, Simulation(seed=seed))

