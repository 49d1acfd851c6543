"""Sequential specifications ("models") for the linearizability checker.

A history is linearizable when its operations can be put in *one* order that (1) respects
real time -- an operation that returned before another was invoked comes first -- and (2) is
a legal run of a *sequential* object: the model {cite:p}`herlihy1990linearizability`.
This module holds those sequential objects. Each is a small class with two methods:

``init() -> state``
    The object's state before any operation. States must be hashable and immutable
    (``None``, numbers, strings, tuples), because the checker remembers which
    (set of operations done, state) pairs it has already explored.

``step(state, op) -> (ok, new_state)``
    Apply one operation to ``state``. ``ok`` says whether the operation, with the output the
    client saw, could happen in that state; ``new_state`` is the state afterwards.

An operation ``op`` carries ``op.f`` (which function: ``"read"``, ``"write"``...),
``op.value`` (its argument) and ``op.output`` (what it returned). When the client never
learned the outcome (status ``"info"`` or never completed), ``op.output`` is `UNKNOWN`; compare
outputs with `agrees`, which accepts `UNKNOWN` as any value.

Writing a new model is writing one such class (subclass `Model`, set ``name`` and
``functions``). Histories of a key-value store are checked one key at a time: a model whose
``keyed`` is True is applied to each key's operations separately, which is sound because
linearizability is *local* (a history is linearizable iff each object's sub-history is
{cite:p}`herlihy1990linearizability`) and makes checking far faster
{cite:p}`horn2015faster`.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar, Protocol


class _Unknown:
    """The type of `UNKNOWN`: there is exactly one of it."""

    _instance: ClassVar[_Unknown | None] = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "?"

    def __reduce__(self) -> str:
        return "UNKNOWN"


#: The output of an operation whose outcome the client never learned.
UNKNOWN = _Unknown()


def agrees(output: Any, expected: Any) -> bool:
    """Whether an observed ``output`` is consistent with the ``expected`` one."""
    return output is UNKNOWN or output == expected


class OpLike(Protocol):
    """What a model reads from an operation."""

    f: str
    key: Any
    value: Any
    output: Any


class Model:
    """Base class of the sequential specifications.

    Subclasses set ``name`` (used by the command line), ``functions`` (the ``f`` values they
    understand) and write ``init`` and ``step``. ``read_only`` names the functions that never
    change the state: an operation of one of those whose outcome is unknown cannot matter,
    and the checker drops it.
    """

    name: ClassVar[str] = "model"
    functions: ClassVar[frozenset[str]] = frozenset()
    read_only: ClassVar[frozenset[str]] = frozenset()
    #: True for key-value models: each key is an independent object, checked alone.
    keyed: ClassVar[bool] = False

    def init(self) -> Hashable:
        """The state before any operation."""
        raise NotImplementedError

    def step(self, state: Any, op: OpLike) -> tuple[bool, Hashable]:
        """Apply ``op`` to ``state``: (could it happen with the output seen?, the next state)."""
        raise NotImplementedError

    def check(self, op: OpLike) -> None:
        """Refuse, with a ValueError saying why, an operation this model can never apply.

        The checker asks before it searches, so that a bad argument is reported up front,
        whichever orders the search would have tried. Most models accept any value.
        """

    def describe(self, op: OpLike) -> str:
        """A short label for pictures and reports, such as ``w(3)`` or ``r→1``."""
        text = f"{op.f}({_show(op.value)})" if op.value is not None else op.f
        return text if op.output is None else f"{text}→{_show(op.output)}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


#: The longest rendering of a value in a label or an explanation; a longer one is cut, ending
#: in "...". Long enough for the states a lab's history builds (a key's appended values, a
#: log), short enough that a huge value cannot flood a report.
SHOWN_CHARACTERS = 200


def _show(value: Any) -> str:
    """A compact rendering of a value: strings quoted, ``None`` as ``nil``, long values cut."""
    if value is None:
        text = "nil"
    elif isinstance(value, tuple):
        text = "[" + ",".join(_show(v) for v in value[:SHOWN_CHARACTERS]) + "]"
    else:
        text = repr(value)
    return shorten(text)


def shorten(text: str) -> str:
    """``text``, cut to `SHOWN_CHARACTERS` (ending in "...") if it is longer."""
    return text if len(text) <= SHOWN_CHARACTERS else text[:SHOWN_CHARACTERS - 3] + "..."


class Register(Model):
    """A read/write register that starts unwritten (``None``).

    ======  ===============  ==========================================
    f       value            output
    ======  ===============  ==========================================
    write   the new value    ignored
    read    ignored          the value read (``None``: never written)
    ======  ===============  ==========================================
    """

    name = "register"
    functions = frozenset({"read", "write"})
    read_only = frozenset({"read"})

    def init(self) -> Hashable:
        return None

    def step(self, state: Any, op: OpLike) -> tuple[bool, Hashable]:
        match op.f:
            case "write":
                return True, op.value
            case "read":
                return agrees(op.output, state), state
        raise ValueError(f"a register has no operation {op.f!r} (it has read and write)")

    def describe(self, op: OpLike) -> str:
        match op.f:
            case "write":
                return f"w({_show(op.value)})"
            case _:
                return f"r→{_show(op.output)}"


class CASRegister(Register):
    """A register with compare-and-set; it starts unwritten (``None``).

    ======  =====================  ==========================================
    f       value                  output
    ======  =====================  ==========================================
    write   the new value          ignored
    read    ignored                the value read (``None``: never written)
    cas     ``[expected, new]``    ignored: an ``ok`` cas *did* swap; a cas
                                   that found another value is a ``fail``
    ======  =====================  ==========================================
    """

    name = "cas-register"
    functions = frozenset({"read", "write", "cas"})

    def check(self, op: OpLike) -> None:
        if op.f == "cas":
            _pair(op)

    def step(self, state: Any, op: OpLike) -> tuple[bool, Hashable]:
        if op.f == "cas":
            expected, new = _pair(op)
            return (True, new) if state == expected else (False, state)
        return super().step(state, op)

    def describe(self, op: OpLike) -> str:
        if op.f == "cas":
            expected, new = _pair(op)
            return f"cas({_show(expected)}→{_show(new)})"
        return super().describe(op)


def _pair(op: OpLike) -> tuple[Any, Any]:
    """The ``[expected, new]`` argument of a compare-and-set."""
    if not (isinstance(op.value, (tuple, list)) and len(op.value) == 2):
        raise ValueError(f"a cas takes [expected, new] as its value; got {op.value!r}")
    return op.value[0], op.value[1]


class KV(Model):
    """A key-value map, checked one key at a time; every key starts absent (``None``).

    Each operation names its ``key``; the state the model steps is that one key's value.

    ======  ===============  ===========================================
    f       value            output
    ======  ===============  ===========================================
    put     the new value    ignored
    get     ignored          the value (``None``: key absent)
    append  what to append   ignored
    ======  ===============  ===========================================

    ``append`` concatenates strings (``"ab"`` + ``"c"``), as in the MIT 6.5840 key-value
    labs; with any other value the key holds a list of the appended values (Jepsen's
    list-append), so ``get`` then returns a list.
    """

    name = "kv"
    functions = frozenset({"get", "put", "append"})
    read_only = frozenset({"get"})
    keyed = True

    def init(self) -> Hashable:
        return None

    def step(self, state: Any, op: OpLike) -> tuple[bool, Hashable]:
        match op.f:
            case "put":
                return True, op.value
            case "get":
                return agrees(op.output, state), state
            case "append":
                return True, _appended(state, op.value, op.key)
        raise ValueError(f"a key-value map has no operation {op.f!r} (it has get, put, append)")

    def describe(self, op: OpLike) -> str:
        match op.f:
            case "put":
                return f"put({op.key},{_show(op.value)})"
            case "append":
                return f"app({op.key},{_show(op.value)})"
            case _:
                return f"get({op.key})→{_show(op.output)}"


def _appended(state: Any, value: Any, key: Any) -> Hashable:
    """``state`` with ``value`` appended: string concatenation, or a list (tuple) that grows."""
    if isinstance(value, str) and (state is None or isinstance(state, str)):
        return (state or "") + value
    if state is None or isinstance(state, tuple):
        return (state or ()) + (value,)
    raise ValueError(f"cannot append {value!r} to key {key!r}, which holds {state!r}: append "
                     f"concatenates strings or extends a list")


class Queue(Model):
    """A FIFO queue that starts empty.

    =======  ===============  ==============================================
    f        value            output
    =======  ===============  ==============================================
    enqueue  the element      ignored
    dequeue  ignored          the element removed (``None``: queue was empty)
    =======  ===============  ==============================================
    """

    name = "queue"
    functions = frozenset({"enqueue", "dequeue"})

    def init(self) -> Hashable:
        return ()

    def step(self, state: Any, op: OpLike) -> tuple[bool, Hashable]:
        match op.f:
            case "enqueue":
                return True, state + (op.value,)
            case "dequeue" if not state:
                return agrees(op.output, None), state
            case "dequeue":
                return agrees(op.output, state[0]), state[1:]
        raise ValueError(f"a queue has no operation {op.f!r} (it has enqueue and dequeue)")

    def describe(self, op: OpLike) -> str:
        match op.f:
            case "enqueue":
                return f"enq({_show(op.value)})"
            case _:
                return f"deq→{_show(op.output)}"


class Counter(Model):
    """A counter that starts at 0.

    ====  ===============  =====================
    f     value            output
    ====  ===============  =====================
    add   the increment    ignored
    read  ignored          the counter's value
    ====  ===============  =====================
    """

    name = "counter"
    functions = frozenset({"add", "read"})
    read_only = frozenset({"read"})

    def init(self) -> Hashable:
        return 0

    def check(self, op: OpLike) -> None:
        if op.f == "add" and (isinstance(op.value, bool)
                              or not isinstance(op.value, (int, float))):
            raise ValueError(f"a counter adds numbers; got add({op.value!r})")

    def step(self, state: Any, op: OpLike) -> tuple[bool, Hashable]:
        match op.f:
            case "add":
                return True, state + op.value
            case "read":
                return agrees(op.output, state), state
        raise ValueError(f"a counter has no operation {op.f!r} (it has add and read)")

    def describe(self, op: OpLike) -> str:
        match op.f:
            case "add":
                return f"add({_show(op.value)})"
            case _:
                return f"r→{_show(op.output)}"


class Log(Model):
    """An append-only log that starts empty; entries are numbered from 0 (their offset).

    ======  ===============  ==============================================
    f       value            output
    ======  ===============  ==============================================
    append  the entry        its offset: how many entries came before it
    read    ignored          every entry, in order (a tuple)
    ======  ===============  ==============================================
    """

    name = "log"
    functions = frozenset({"append", "read"})
    read_only = frozenset({"read"})

    def init(self) -> Hashable:
        return ()

    def step(self, state: Any, op: OpLike) -> tuple[bool, Hashable]:
        match op.f:
            case "append":
                return agrees(op.output, len(state)), state + (op.value,)
            case "read":
                return agrees(op.output, state), state
        raise ValueError(f"a log has no operation {op.f!r} (it has append and read)")

    def describe(self, op: OpLike) -> str:
        match op.f:
            case "append":
                return f"app({_show(op.value)})→{_show(op.output)}"
            case _:
                return f"r→{_show(op.output)}"


#: The models by the names the command line uses.
MODELS: dict[str, type[Model]] = {
    cls.name: cls for cls in (Register, CASRegister, KV, Queue, Counter, Log)
}


def get_model(model: Model | type[Model] | str) -> Model:
    """A model instance from an instance, a class, or a name such as ``"cas-register"``."""
    if isinstance(model, Model):
        return model
    if isinstance(model, type) and issubclass(model, Model):
        return model()
    if isinstance(model, str) and model in MODELS:
        return MODELS[model]()
    raise ValueError(f"unknown model {model!r}; use a Model instance or one of: "
                     f"{', '.join(MODELS)}")
