"""Declaring a lab: named checks, grouped by part, each a scenario run over many seeds.

A lab is a class. Each of its checks is a method marked with `graded`, named like the tests
of MIT 6.5840 (``test_initial_election_A``: the behaviour, then the part), that takes a seed
and returns a `Scenario` -- how to build the system, how long to run it, and what must hold::

    class RegisterLab(Lab):
        title = "Lab 0: a primary-backup key-value store"

        def __init__(self, primary, backup):
            self.primary, self.backup = primary, backup

        @graded(part="A", seeds=20, description="one client, reliable network")
        def test_one_client_A(self, seed: int) -> Scenario:
            def setup(sim):
                sim.add_node(self.primary, "primary")
                ...
            return Scenario(setup, run_for=2_000,
                            properties=[EveryOperationCompletes(), Linearizable("kv")])

The harness (`distlab.grading.runner`) calls the method once per seed, builds a fresh
`Simulation` with that seed, runs it, and judges the properties. Like DSLabs and 6.5840, a
check can be run alone (``check(lab, name="test_one_client_A")``) or a part at a time.

Some labs must also run the student's code for real: a server on a TCP socket, a client
through a `distlab.net.FaultProxy`. Such a check returns a `Trial` instead of a `Scenario`:
a plain function that runs the code and returns what it observed, and a function that
judges those observations (in the grader) and returns None or a `Violation`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from distlab.sim import ConfigurationError, Network, Simulation

if TYPE_CHECKING:
    from distlab.grading.properties import Violation

#: the attribute `graded` sets on a check method
MARK = "graded"

Method = TypeVar("Method", bound=Callable[..., Any])


@dataclass(frozen=True)
class Scenario:
    """One run of a check: how to build it, how long to run it, and what must hold.

    ``setup(sim)`` adds the nodes and clients and schedules the faults (``sim.at``, a
    `FaultPlan` or a `Nemesis`); it runs as the simulation's first event, so a node whose
    ``__init__`` loops forever is stopped like any other handler. ``run_for`` is in simulated
    milliseconds. ``properties`` are judged in order; the first that fails is reported (see
    `distlab.grading.properties`: an `Invariant` is checked after every event, the others
    as the run goes or at its end). ``network`` defaults to a reliable `Network()`.
    ``max_events`` and ``wall_limit`` (seconds of real time) bound student code that never
    stops.

    ``node_attributes`` names the attributes of the nodes that the properties read (``"data"``
    for ``sim.nodes["backup"].data``), besides those the lab lists for all its checks
    (`Lab.node_attributes`): a graded run records them after every event, and the grader
    judges the properties on that record, in a process where no student code runs
    (`distlab.grading.verdicts`). A property that reads an attribute not listed fails the
    check with a message that says so.
    """

    setup: Callable[[Simulation], None]
    run_for: float
    properties: Sequence[Any] = ()
    network: Network | None = None
    max_events: int = 200_000
    wall_limit: float = 2.0
    node_attributes: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not callable(self.setup):
            raise TypeError(f"Scenario(setup, ...): setup must be a function setup(sim) that "
                            f"adds the nodes; got {self.setup!r}")
        if not isinstance(self.run_for, (int, float)) or self.run_for <= 0:
            raise ValueError(f"Scenario(run_for=...) is how long to run, in simulated ms, and "
                             f"must be positive; got {self.run_for!r}")
        if isinstance(self.properties, (str, bytes)) or not isinstance(self.properties, Sequence):
            raise TypeError(f"Scenario(properties=[...]) takes a list of properties; got "
                            f"{self.properties!r}")
        if isinstance(self.node_attributes, str) or not all(
                isinstance(a, str) and a.isidentifier() for a in self.node_attributes):
            raise TypeError(f"Scenario(node_attributes=[...]) takes a list of attribute names, "
                            f"such as ['data']; got {self.node_attributes!r}")


@dataclass(frozen=True)
class Trial:
    """A check that runs real code -- sockets, threads -- instead of a simulation.

    It comes in two halves, so that the student's code never decides its verdict:

    * ``body()`` runs the student's code and returns what it *observed*, as plain data
      (strings, numbers, tuples, lists, dicts): the replies a server gave, what a client's
      calls returned or raised, how long they took. In a graded run it runs in the run's
      process, in a worker thread, for at most ``time_limit`` seconds of real time: a body
      still running then is reported as stopped and left to end in the background (its
      process ends when the check's seeds are done). So a body bounds every wait itself (a
      timeout on every socket, on every join) and cleans up with context managers.
    * ``judge(observations)`` runs in the grader, where no student code runs, and returns
      None when the check passed, or a `Violation` (or a sentence) saying what went wrong.

    Without a ``judge``, ``body()`` judges for itself and returns None or a `Violation`:
    simpler, but a verdict reached in the run's process can be forged there (see the
    README). A body may also fail the check at once, by raising ``PropertyViolated`` (a call
    that never returned cannot be observed); any other exception is reported like one in a
    simulated run: at the student's own line, and a ``NotImplementedError`` as "not
    implemented yet". A real run is not reproducible event for event; the seed the check
    method receives can still seed what the body controls, such as a `FaultProxy`.
    ``stuck_hint``, when given, is what the report of a body stopped at its time limit says
    to do, in place of the default advice on sockets and retry loops.
    """

    body: Callable[[], Any]
    time_limit: float = 10.0
    judge: Callable[[Any], Violation | str | None] | None = None
    stuck_hint: str | None = None

    def __post_init__(self) -> None:
        if not callable(self.body):
            raise TypeError(f"Trial(body): body must be a function body() that returns what "
                            f"it observed (or, without a judge, None or a Violation); got "
                            f"{self.body!r}")
        if not isinstance(self.time_limit, (int, float)) or self.time_limit <= 0:
            raise ValueError(f"Trial(time_limit=...) is in seconds of real time and must be "
                             f"positive; got {self.time_limit!r}")
        if self.judge is not None and not callable(self.judge):
            raise TypeError(f"Trial(judge=...) must be a function judge(observations) that "
                            f"returns None or a Violation; got {self.judge!r}")


@dataclass(frozen=True)
class CheckInfo:
    """What `graded` records about a check method."""

    part: str
    seeds: int
    description: str


def graded(*, part: str, description: str, seeds: int = 20) -> Callable[[Method], Method]:
    """Mark a lab method as a graded check of ``part``, run over ``seeds`` seeds (1, 2, ...).

    The method takes the seed and returns a `Scenario`; ``description`` says in words what
    the check tests. The method itself is returned unchanged.
    """
    if not isinstance(part, str) or not part:
        raise ValueError(f"@graded(part=...) names the part of the lab, such as 'A'; got {part!r}")
    if not isinstance(description, str) or not description:
        raise ValueError("@graded(description=...) says in words what the check tests")
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise ValueError(f"@graded(seeds=...) is how many seeds to run, at least 1; got {seeds!r}")

    def mark(method: Method) -> Method:
        setattr(method, MARK, CheckInfo(part, seeds, description))
        return method

    return mark


class Lab:
    """Base class of a lab: a set of `graded` check methods, in the order they are written.

    Set ``title`` to the lab's name as students see it (by default the class name), and
    ``node_attributes`` to the attributes of the nodes its properties read (``("data",)``),
    for every check (see `Scenario`).
    """

    title: str = ""
    node_attributes: tuple[str, ...] = ()

    def checks(self) -> list[Check]:
        """Every check of the lab, in the order the methods are defined (base classes first)."""
        found: dict[str, Check] = {}
        for cls in reversed(type(self).__mro__):
            for name, value in vars(cls).items():
                info = getattr(value, MARK, None)
                if isinstance(info, CheckInfo):
                    found.pop(name, None)  # an override moves to where it is defined
                    found[name] = Check(self, name, info.part, info.seeds, info.description)
        return list(found.values())

    def describe(self) -> str:
        """The lab's title, or its class name."""
        return self.title or type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self.checks())} checks>"


@dataclass(frozen=True)
class Check:
    """One graded check of one lab object: its name, part, seeds and description."""

    lab: Lab
    name: str
    part: str
    seeds: int
    description: str

    def scenario(self, seed: int) -> Scenario | Trial:
        """The scenario (or real `Trial`) of this check for ``seed`` (calls the lab's method)."""
        scenario = getattr(self.lab, self.name)(seed)
        if not isinstance(scenario, (Scenario, Trial)):
            raise TypeError(f"{type(self.lab).__name__}.{self.name} returned {scenario!r}; a "
                            f"check method must return a Scenario(setup, run_for, properties) "
                            f"or a Trial(body)")
        return scenario

    def node_attributes(self, scenario: Scenario) -> tuple[str, ...]:
        """The node attributes a run of ``scenario`` records: the lab's, and the scenario's."""
        return (*self.lab.node_attributes, *scenario.node_attributes)

    @classmethod
    def of(cls, method: Any) -> Check:
        """The check behind ``lab.test_x`` (a check method of a lab object)."""
        if isinstance(method, Check):
            return method
        lab = getattr(method, "__self__", None)
        info = getattr(method, MARK, None)
        if not isinstance(lab, Lab) or not isinstance(info, CheckInfo):
            name = getattr(method, "__name__", "test_x")
            owner = getattr(method, "__qualname__", "MyLab.").rpartition(".")[0] or "MyLab"
            raise TypeError(f"expected a check of a lab object, such as lab.{name} (with lab = "
                            f"{owner}(...)); got {method!r}")
        return cls(lab, method.__name__, info.part, info.seeds, info.description)


def as_lab(lab_or_cls: Lab | type[Lab]) -> Lab:
    """A lab object: ``lab_or_cls`` itself, or an instance of the `Lab` subclass it names."""
    if isinstance(lab_or_cls, Lab):
        return lab_or_cls
    if isinstance(lab_or_cls, type) and issubclass(lab_or_cls, Lab):
        try:
            return lab_or_cls()
        except TypeError as exc:
            raise TypeError(f"{lab_or_cls.__name__} needs arguments (your classes, usually): "
                            f"pass an object, such as check({lab_or_cls.__name__}(...)); "
                            f"{exc}") from None
    raise TypeError(f"expected a Lab (an object or a subclass of distlab.grading.Lab); got "
                    f"{lab_or_cls!r}")



def own_code(node: type, library: tuple[str, ...], name: str) -> type:
    """Return ``node``, or refuse it if it is the library's solution in disguise.

    The library holds reference implementations of what some labs ask a student to write
    (``distlab.ordering`` has lab 2a's ordered members, ``distlab.consensus.raft`` lab 4's
    Raft). ``library`` lists the modules a student's class may not build on (module-name
    prefixes), ``name`` says what they hold ("Raft"). Refused, with a message that says so:
    a class that derives from one of their classes, or whose code (its methods, the
    functions and classes of the student's own that they name, nested functions included)
    reaches one through a global, a dotted name (``distlab.consensus.raft.node``) or the
    module's name as a string (for ``importlib``). Code that goes out of its way to hide
    the library is not caught: this guards against the easy way, it is not a proof.
    """
    for cls in node.__mro__:
        if cls.__module__.startswith(library):
            raise ConfigurationError(
                f"{node.__name__} is built on the library's own {name} ({cls.__module__}."
                f"{cls.__qualname__}): this lab is about writing it yourself. Subclass "
                f"distlab.sim.Node instead.")
    dotted = set(library[0].split(".")[1:-1] or library[0].split(".")[1:])
    seen: set[Any] = set()
    for cls in node.__mro__:
        if cls.__module__.startswith("distlab."):
            continue
        for value in vars(cls).values():
            used = _borrowed(value, library, dotted, seen)
            if used is not None:
                raise ConfigurationError(
                    f"{node.__name__}.{getattr(value, '__name__', '?')} uses the library's "
                    f"own {name} ({used}): this lab is about writing it yourself. Use only "
                    f"distlab.sim and what the lab gives.")
    return node


def _borrowed(value: Any, library: tuple[str, ...], dotted: set[str], seen: set[Any]
              ) -> str | None:
    """How a function of the student's code reaches ``library``, or None (see `own_code`);
    ``seen`` keeps it from looking at one piece of code twice."""
    fn = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
    code = getattr(fn, "__code__", None)
    if code is None or code in seen:
        return None
    seen.add(code)
    names: set[str] = set()
    codes = [code]
    while codes:
        current = codes.pop()
        names |= set(current.co_names)
        for const in current.co_consts:
            if hasattr(const, "co_names"):
                codes.append(const)
            elif isinstance(const, str) and const.startswith(library):
                return f"the module name {const!r}"
    if dotted <= names:
        return f"distlab.{'.'.join(sorted(dotted))}, by its dotted name"
    for used in sorted(names):
        found = fn.__globals__.get(used)
        module = getattr(found, "__name__", "") if isinstance(found, type(sys)) else (
            getattr(found, "__module__", "") or "")
        if not isinstance(module, str):
            continue
        if module.startswith(library):
            return f"{used}, from {module}"
        if module.startswith("distlab"):
            continue
        inside = list(vars(found).values()) if isinstance(found, type) else [found]
        for member in inside:
            reached = _borrowed(member, library, dotted, seen)
            if reached is not None:
                return reached
    return None
