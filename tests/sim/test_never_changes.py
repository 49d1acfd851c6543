"""One predicate says whether a value can never change in place: `never_changes`.

The simulator refuses messages that could change (`check_message`, every class believed);
the explorer copies shallowly and the grader's recorder skips re-pickling only what cannot
change, believing only distlab's own classes (``trusted=library_class``): a student's frozen
dataclass can still be changed with ``object.__setattr__``.
"""

from __future__ import annotations

import enum
from collections import namedtuple
from dataclasses import dataclass

import pytest

from distlab.check.linearizability import Verdict
from distlab.sim import MessageError, check_message, register_immutable
from distlab.sim.faults import Fault
from distlab.sim.messages import DEPTH, library_class, never_changes
from distlab.sim.trace import TraceEvent
from distlab.workloads.kv import Put


@dataclass(frozen=True)
class Entry:
    """A student's log entry: frozen, and yet it can be changed."""

    term: int
    command: str


@dataclass
class Loose:
    n: int


class Colour(enum.Enum):
    RED = 1
    GREY = [1]  # an enum's value may be anything: the member is still one constant


Pair = namedtuple("Pair", "first second")


class Tagged(int):
    """An int whose objects take attributes: not an int for `never_changes`."""


def believed_by_all(value) -> bool:
    """`never_changes` of ``value``, required to be the same with and without trust."""
    answer = never_changes(value)
    assert never_changes(value, trusted=library_class) == answer
    return answer


# -- values of built-in types ---------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    None, True, 3, -2**70, 2.5, float("nan"), float("-inf"), 1 + 2j, "a", b"\x00", range(3),
    (), (1, ("a", frozenset({2, (3, b"x")}))), frozenset(),
    (float("nan"), frozenset({float("nan")})),
])
def test_built_in_immutable_values_never_change(value):
    assert believed_by_all(value)
    check_message(value)


def test_nan_is_a_value_that_never_changes_though_it_equals_nothing():
    nan = float("nan")
    assert nan != nan  # a test that compared a value with itself would call it changed
    assert believed_by_all(nan) and believed_by_all(((nan,), frozenset({nan})))


@pytest.mark.parametrize("value", [
    [1], {1: 2}, {1}, bytearray(b"x"), object(), Tagged(3), Loose(1), (1, [2]),
    frozenset({(1, "a"), (object(),)}), ((((1, {2}),),),),
])
def test_mutable_values_and_values_that_hold_one_may_change(value):
    assert not believed_by_all(value)
    with pytest.raises(MessageError):
        check_message(value)


def test_only_the_exact_built_in_types_count():
    tagged = Tagged(3)
    tagged.note = []  # a subclass of int takes attributes, which can change
    assert not never_changes(tagged) and never_changes(int(tagged))


# -- the classes that promise it, believed or not ------------------------------------------------

def test_a_students_frozen_dataclass_is_believed_only_without_trust():
    entry = Entry(1, "x")
    assert never_changes(entry) and never_changes((entry, entry))
    assert not never_changes(entry, trusted=library_class)
    assert not never_changes((1, entry), trusted=library_class)
    check_message((entry,))


def test_a_frozen_dataclass_can_still_be_changed_in_place():
    """Why the explorer and the grader do not believe a student's frozen dataclass."""
    entry = Entry(1, "x")
    log = (entry,)
    object.__setattr__(entry, "term", 2)
    assert log == (Entry(2, "x"),)  # the "frozen" value, and the tuple holding it, changed


def test_distlabs_own_values_are_believed_all_the_way_down():
    put = Put("c1", 1, "k", "v")
    assert believed_by_all(put) and believed_by_all((put, Verdict.LINEARIZABLE))
    assert believed_by_all(Fault(1.0, "crash", ("a",)))
    assert not believed_by_all(Fault(1.0, "crash", ("a", [1])))   # a list inside
    assert not never_changes(Fault(1.0, "crash", (Entry(1, "x"),)), trusted=library_class)


def test_enum_members_are_constants():
    assert never_changes(Colour.RED) and never_changes(Colour.GREY)
    assert not never_changes(Colour.RED, trusted=library_class)  # a student's enum
    assert believed_by_all(Verdict.LINEARIZABLE)                  # distlab's
    check_message((Colour.GREY, Colour.RED))


def test_named_tuples_never_change_when_their_items_never_do():
    assert never_changes(Pair(1, "a")) and not never_changes(Pair(1, [2]))
    assert not never_changes(Pair(1, "a"), trusted=library_class)
    event = TraceEvent(1.0, "send", "a", "b", 7, Put("c1", 1, "k", "v"))
    assert believed_by_all(event)
    assert not believed_by_all(event._replace(data={"k": "v"}))
    with pytest.raises(MessageError, match=r"the message\[1\] is a list"):
        check_message(Pair(1, [2]))


def test_a_registered_class_is_believed_only_without_trust():
    @register_immutable
    class Point:
        __slots__ = ("x", "y")

    point = Point()
    assert never_changes(point) and never_changes((point,))
    assert not never_changes(point, trusted=library_class)
    check_message(point)


def test_library_class_is_a_class_of_a_distlab_module():
    assert library_class(Put) and library_class(TraceEvent) and library_class(Verdict)
    assert not library_class(Entry) and not library_class(int) and not library_class(list)

    class Odd:
        __module__ = None  # type: ignore[assignment]

    assert not library_class(Odd)


def test_a_trust_decides_on_each_class_met():
    asked = []

    def trust(cls):
        asked.append(cls)
        return cls is Entry

    assert never_changes((1, "a", Entry(1, "x")), trusted=trust)
    assert not never_changes((Entry(1, "x"), Put("c1", 1, "k", "v")), trusted=trust)
    assert int not in asked and tuple not in asked  # the built-in types need no trust
    assert Put in asked


# -- depth ----------------------------------------------------------------------------------------

def nested(levels: int, value=1):
    """``value`` inside ``levels`` tuples of one item."""
    for _ in range(levels):
        value = (value,)
    return value


def test_a_value_nested_deeper_than_the_limit_is_taken_as_one_that_may_change():
    assert believed_by_all(nested(DEPTH))
    assert not believed_by_all(nested(DEPTH + 1))
    assert never_changes(nested(DEPTH + 1), depth=DEPTH + 1)
    assert not never_changes(Put("c1", 1, "k", "v"), depth=0)
    assert never_changes(Verdict.LINEARIZABLE, depth=0) and never_changes(3, depth=0)


def test_a_message_is_checked_all_the_way_down():
    check_message(nested(200))  # no limit: a deep message is still a message
    with pytest.raises(MessageError, match=r"^the message(\[0\]){200} is a list"):
        check_message(nested(200, [1]))


def test_a_cycle_made_by_breaking_a_freeze_ends_at_the_limit():
    fault = Fault(1.0, "crash", ())
    object.__setattr__(fault, "args", (fault,))
    assert not never_changes(fault) and not never_changes(fault, trusted=library_class)


# -- the simulator's error messages --------------------------------------------------------------

@pytest.mark.parametrize("msg, error", [
    (Put("c1", 1, "k", ["v"]),
     "the message.value is a list, which can change after it is sent, so sender and receiver "
     "would share memory: use a tuple instead of a list."),
    ((1, (Entry(1, "x"), {"k": 1})),
     "the message[1][1] is a dict, which can change after it is sent, so sender and receiver "
     "would share memory: use a tuple of (key, value) pairs or a frozen dataclass instead of "
     "a dict."),
    (Fault(1.0, "crash", ("a", Loose(2))),
     "the message.args[1] is a Loose, a dataclass that is not frozen: the receiver could "
     "change the sender's copy. Declare it with @dataclass(frozen=True)."),
    (frozenset({(object,)}),
     "the message[0][0] is a type, which can change after it is sent, so sender and receiver "
     "would share memory: messages must be built from numbers, strings, bytes, None, tuples, "
     "frozensets and frozen dataclasses."),
    ((Tagged(1),),
     "the message[0] is a Tagged, which can change after it is sent, so sender and receiver "
     "would share memory: messages must be built from numbers, strings, bytes, None, tuples, "
     "frozensets and frozen dataclasses."),
])
def test_check_message_names_the_part_that_can_change_and_what_to_use(msg, error):
    with pytest.raises(MessageError) as info:
        check_message(msg)
    assert str(info.value) == error


def test_check_message_names_the_part_from_the_place_it_is_given():
    with pytest.raises(MessageError, match=r"^the reply\.value is a list"):
        check_message(Put("c1", 1, "k", ["v"]), "the reply")
