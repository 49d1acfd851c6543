"""Serialization: one record as JSON, Protocol Buffers and Avro, and how each format evolves.

Two programs that exchange data must agree on how a record becomes bytes and back. Kleppmann
(*Designing Data-Intensive Applications*, ch. 4) compares three answers, and this module runs
all three on the same `Order` with the real libraries:

* **JSON** (the standard library's ``json``): text that carries every field *name* in every
  record. No schema is needed to read it, and none protects you.
* **Protocol Buffers** (Google's ``protobuf``): binary; each field is written as a *tag* (the
  field's number from the ``.proto`` schema, plus its wire type) followed by its value. A reader
  needs its own schema only; it skips tags it does not know.
* **Avro** (``fastavro``): binary with neither names nor tags: just the values, in the order of
  the writer's schema. Reading therefore needs the *writer's* schema too; Avro then *resolves*
  it against the reader's schema, field by field and by name (with defaults and aliases).

Schema versions. `SCHEMAS` holds four versions of the order, one change at a time:
v1 (order_id, customer, items, amount_cents); v2 adds ``currency`` with the default "EUR";
v3 removes ``amount_cents``; v4 renames ``customer`` to ``buyer``. `evolution_matrix` writes
the same order with every version and reads it back with every version, in every format, and
says whether the reader got the right data, failed loudly, or got *wrong data* silently.

How the Protocol Buffers classes are made. The schemas are ``.proto`` files shipped in
``distlab/schemas/`` (the form in which readers meet protobuf schemas in practice). On first use
`protobuf_class` runs the real compiler, ``protoc`` from ``grpcio-tools``, in-process, and asks
it for a *descriptor set* (the compiled schema as bytes) instead of generated Python code; the
message class is then built from that descriptor with ``descriptor_pool`` and
``message_factory``. We chose this over generating ``*_pb2.py`` modules into a cache directory
because: nothing generated is committed or can go stale on disk; there is no import from a
cache folder on ``sys.path``; and above all each version gets its *own* descriptor pool, so the
four versions of ``distlab.Order`` can live in one process, just as they live in different
deployments of a real system (generated modules all register in one global pool, where two
definitions of ``distlab.Order`` clash). ``protoc`` runs offline in about a millisecond.

The JSON reader here is a *tolerant reader*, the way most JSON decoding works in practice (Go's
``encoding/json``, or a Python ``dict.get`` with a fallback): it ignores keys it does not know
and fills keys that are missing with the field's default, or else with the type's zero value.
That is why JSON never fails in the matrix, and why it can lose data without a word.

References: Kleppmann, DDIA ch. 4 (2017); the Protocol Buffers Language Guide (proto3),
"Updating A Message Type"; the Apache Avro specification, "Schema Resolution".
"""

from __future__ import annotations

import copy
import functools
import importlib.resources
import io
import json
import random
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fastavro
    from fastavro.read import SchemaResolutionError
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from google.protobuf.message import DecodeError, Message
    from grpc_tools import protoc
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError(
        f"distlab.serialization needs the real serialization libraries, and {error.name!r} "
        "is not installed: install them with `pip install 'distlab[engines]'`"
    ) from error

FORMATS: tuple[str, ...] = ("json", "protobuf", "avro")

# What the three libraries raise when they cannot make sense of the bytes or of the schemas.
_LIBRARY_READ_ERRORS = (
    ValueError, KeyError, TypeError, IndexError, EOFError, DecodeError, SchemaResolutionError,
)


class SerializationError(ValueError):
    """Bytes that cannot be read as the requested record; the library's error is the cause."""


# --- The record --------------------------------------------------------------------------------

@dataclass(frozen=True)
class LineItem:
    """One line of an order: `quantity` units of `sku` at `unit_price_cents` each."""

    sku: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class Order:
    """An order as schema version v1 describes it (the record of the size and speed figures).

    Amounts are integer cents, never floats, so every format stores them exactly.
    """

    order_id: int
    customer: str
    items: tuple[LineItem, ...]
    amount_cents: int

    def as_record(self) -> dict[str, Any]:
        """The order as a plain v1 record: a dict of field name to value, items as dicts."""
        return {
            "order_id": self.order_id,
            "customer": self.customer,
            "items": [
                {"sku": item.sku, "quantity": item.quantity,
                 "unit_price_cents": item.unit_price_cents}
                for item in self.items
            ],
            "amount_cents": self.amount_cents,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Order:
        """The order of a v1 record (the inverse of `as_record`)."""
        return cls(
            order_id=record["order_id"],
            customer=record["customer"],
            items=tuple(LineItem(**item) for item in record["items"]),
            amount_cents=record["amount_cents"],
        )


# --- The schema versions -----------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """One field of an Order schema version.

    `number` is the field's protobuf tag. It is also how this module knows that fields of two
    versions are the same field under different names (v1's `customer` is v4's `buyer`).
    `default` is None when the field has none; `aliases` are earlier names of the field, which
    only Avro uses (to resolve a rename).
    """

    name: str
    number: int
    avro_type: Any
    default: Any = None
    aliases: tuple[str, ...] = ()


LINE_ITEM_AVRO: dict[str, Any] = {
    "type": "record",
    "name": "LineItem",
    "fields": [
        {"name": "sku", "type": "string"},
        {"name": "quantity", "type": "long"},
        {"name": "unit_price_cents", "type": "long"},
    ],
}

ORDER_ID = Field("order_id", 1, "long")
CUSTOMER = Field("customer", 2, "string")
ITEMS = Field("items", 3, {"type": "array", "items": LINE_ITEM_AVRO})
AMOUNT = Field("amount_cents", 4, "long")
CURRENCY = Field("currency", 5, "string", default="EUR")
BUYER = Field("buyer", 2, "string", aliases=("customer",))

SCHEMAS: dict[str, tuple[Field, ...]] = {
    "v1": (ORDER_ID, CUSTOMER, ITEMS, AMOUNT),
    "v2": (ORDER_ID, CUSTOMER, ITEMS, AMOUNT, CURRENCY),   # a field added, with a default
    "v3": (ORDER_ID, CUSTOMER, ITEMS, CURRENCY),           # amount_cents removed
    "v4": (ORDER_ID, BUYER, ITEMS, CURRENCY),              # customer renamed to buyer
}
VERSIONS: tuple[str, ...] = tuple(SCHEMAS)


def schema_fields(version: str) -> tuple[Field, ...]:
    """The fields of a schema version ('v1' ... 'v4')."""
    try:
        return SCHEMAS[version]
    except KeyError:
        raise ValueError(
            f"unknown schema version {version!r}: the versions are "
            f"{', '.join(map(repr, VERSIONS))}"
        ) from None


def avro_schema(version: str, *, aliases: bool = True) -> dict[str, Any]:
    """The Avro schema of a version, as the plain dict that ``fastavro.parse_schema`` takes.

    With ``aliases=False`` the fields lose their earlier names, to show what a rename does
    without them.
    """
    fields = []
    for field in schema_fields(version):
        entry: dict[str, Any] = {"name": field.name, "type": copy.deepcopy(field.avro_type)}
        if field.default is not None:
            entry["default"] = field.default
        if aliases and field.aliases:
            entry["aliases"] = list(field.aliases)
        fields.append(entry)
    return {"type": "record", "name": "Order", "namespace": "distlab", "fields": fields}


@functools.cache
def _parsed_avro_schema(version: str, aliases: bool) -> dict[str, Any]:
    return fastavro.parse_schema(avro_schema(version, aliases=aliases))


def protobuf_source(version: str) -> str:
    """The text of the ``.proto`` file of a version, as shipped in ``distlab/schemas/``."""
    schema_fields(version)
    schemas = importlib.resources.files("distlab") / "schemas"
    return (schemas / f"order_{version}.proto").read_text(encoding="utf-8")


@functools.cache
def protobuf_class(version: str) -> type[Message]:
    """The protobuf ``Order`` class of a version, compiled from its ``.proto`` file by protoc.

    protoc writes the compiled schema (a FileDescriptorSet) to a temporary folder; the class is
    built from it in a descriptor pool of its own, so that every version can have a message
    named ``distlab.Order``. Built once per version and process.
    """
    name = f"order_{version}.proto"
    source = protobuf_source(version)
    with tempfile.TemporaryDirectory(prefix="distlab-protoc-") as folder:
        proto_file = Path(folder) / name
        proto_file.write_text(source, encoding="utf-8")
        descriptor_file = Path(folder) / "order.desc"
        status = protoc.main([
            "protoc",
            f"--proto_path={folder}",
            f"--descriptor_set_out={descriptor_file}",
            str(proto_file),
        ])
        if status != 0:
            raise RuntimeError(
                f"protoc could not compile {name} (exit status {status}); "
                "its error message is printed above, on stderr"
            )
        descriptors = descriptor_pb2.FileDescriptorSet.FromString(descriptor_file.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file_descriptor in descriptors.file:
        pool.Add(file_descriptor)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("distlab.Order"))


# --- Encoding and decoding ---------------------------------------------------------------------

def _unknown_format(fmt: object) -> ValueError:
    return ValueError(
        f"unknown serialization format {fmt!r}: the formats are "
        f"{', '.join(map(repr, FORMATS))}"
    )


def _check_record(record: Mapping[str, Any], version: str) -> None:
    names = [field.name for field in schema_fields(version)]
    missing = [name for name in names if name not in record]
    extra = [key for key in record if key not in names]
    if missing or extra:
        raise ValueError(
            f"a {version} order has exactly the fields {names}; this record "
            f"lacks {missing} and has the extra fields {extra}"
        )


def encode_version(record: Mapping[str, Any], fmt: str, version: str) -> bytes:
    """The bytes of a record written with schema `version` in format `fmt`.

    `record` maps each field of that version to its value (items as dicts): exactly the
    version's fields, no more and no fewer.
    """
    if fmt not in FORMATS:
        raise _unknown_format(fmt)
    _check_record(record, version)
    match fmt:
        case "json":
            ordered = {field.name: record[field.name] for field in schema_fields(version)}
            return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        case "protobuf":
            return protobuf_class(version)(**record).SerializeToString()
        case "avro":
            buffer = io.BytesIO()
            fastavro.schemaless_writer(
                buffer, _parsed_avro_schema(version, True), dict(record), strict=True
            )
            return buffer.getvalue()
    raise AssertionError("unreachable: fmt was checked above")


def decode_version(
    data: bytes, fmt: str, *, writer: str, reader: str, aliases: bool = True
) -> dict[str, Any]:
    """Read bytes written with schema `writer` as a record of schema `reader`.

    Only Avro uses `writer`: JSON carries names and protobuf carries tags, so their readers
    need nothing but their own schema. `aliases` (Avro only) keeps the reader schema's aliases.
    Raises `SerializationError` (its ``__cause__`` is the library's own error) when the bytes
    cannot be read as a `reader` record.
    """
    if fmt not in FORMATS:
        raise _unknown_format(fmt)
    schema_fields(writer)
    reader_fields = schema_fields(reader)
    try:
        match fmt:
            case "json":
                return _read_json(data, reader_fields)
            case "protobuf":
                return _message_to_record(protobuf_class(reader).FromString(data))
            case "avro":
                return fastavro.schemaless_reader(
                    io.BytesIO(data),
                    _parsed_avro_schema(writer, True),
                    _parsed_avro_schema(reader, aliases),
                )
    except _LIBRARY_READ_ERRORS as error:
        raise SerializationError(
            f"cannot read these {len(data)} bytes of {fmt}, written with schema {writer}, "
            f"as a {reader} order: {type(error).__name__}: {error}"
        ) from error
    raise AssertionError("unreachable: fmt was checked above")


def _read_json(data: bytes, fields: Sequence[Field]) -> dict[str, Any]:
    """A tolerant reader: unknown keys are ignored, missing ones get a default or a zero."""
    document = json.loads(data)
    if not isinstance(document, dict):
        raise ValueError(f"an order is a JSON object, not a JSON {type(document).__name__}")
    return {field.name: document.get(field.name, _default_or_zero(field)) for field in fields}


def _default_or_zero(field: Field) -> Any:
    if field.default is not None:
        return field.default
    match field.avro_type:
        case "long":
            return 0
        case "string":
            return ""
        case {"type": "array"}:
            return []
    raise AssertionError(f"no zero value for the type of field {field.name}")


def _message_to_record(message: Message) -> dict[str, Any]:
    record = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.message_type is not None:   # in these schemas: the repeated `items`
            value = [_message_to_record(item) for item in value]
        record[field.name] = value
    return record


def encode(order: Order, fmt: str) -> bytes:
    """The bytes of `order` (schema v1) in format `fmt` ('json', 'protobuf' or 'avro')."""
    if not isinstance(order, Order):
        raise TypeError(
            f"encode takes an Order, not a {type(order).__name__}; "
            "to write a plain record of some schema version use encode_version"
        )
    return encode_version(order.as_record(), fmt, "v1")


def decode(data: bytes, fmt: str) -> Order:
    """The `Order` that `encode(order, fmt)` wrote (schema v1 on both sides)."""
    return Order.from_record(decode_version(data, fmt, writer="v1", reader="v1"))


# --- Sizes and speed ---------------------------------------------------------------------------

CUSTOMERS = ("ada", "barbara", "edsger", "leslie", "nancy", "butler", "radia", "tony")
PRODUCTS = (
    ("tea-green", 450), ("mug-blue", 1200), ("book-ddia", 3999), ("pen-black", 199),
    ("lamp-desk", 2950), ("cable-usb-c", 899), ("notebook-a5", 650), ("kettle", 4500),
)


def random_orders(count: int, seed: int) -> list[Order]:
    """`count` plausible orders of 1 to 5 items, the same for the same seed."""
    rng = random.Random(seed)
    orders = []
    for _ in range(count):
        items = tuple(
            LineItem(sku, rng.randint(1, 5), price)
            for sku, price in rng.sample(PRODUCTS, rng.randint(1, 5))
        )
        total = sum(item.quantity * item.unit_price_cents for item in items)
        orders.append(Order(rng.randrange(1, 1_000_000), rng.choice(CUSTOMERS), items, total))
    return orders


def sample_orders() -> dict[str, Order]:
    """Three orders of growing size, by name: the rows of the size table."""
    small = Order(7, "ada", (LineItem("tea-green", 1, 450),), 450)
    typical_items = (
        LineItem("book-ddia", 1, 3999), LineItem("mug-blue", 2, 1200),
        LineItem("tea-green", 3, 450),
    )
    typical = Order(104_217, "leslie", typical_items, 3999 + 2 * 1200 + 3 * 450)
    bulk_items = tuple(LineItem(f"part-{n:04d}", n % 7 + 1, 100 + 37 * n) for n in range(40))
    bulk = Order(9_000_001, "barbara", bulk_items,
                 sum(item.quantity * item.unit_price_cents for item in bulk_items))
    return {"1 item": small, "3 items": typical, "40 items": bulk}


def encoded_sizes(order: Order) -> dict[str, int]:
    """The size in bytes of `order` in each format."""
    return {fmt: len(encode(order, fmt)) for fmt in FORMATS}


@dataclass(frozen=True)
class Timing:
    """Microseconds per record to encode and to decode (the best of several repeats)."""

    fmt: str
    encode_us: float
    decode_us: float


def measure_speed(orders: Sequence[Order], fmt: str, *, repeats: int = 5) -> Timing:
    """Time `encode` and `decode` of `orders` in `fmt` with ``time.perf_counter``.

    Wall-clock times differ from run to run and machine to machine: draw them in a figure,
    never print them into output that must reproduce. Each conversion includes building the
    `Order` dataclass, the same work for every format.
    """
    if fmt not in FORMATS:
        raise _unknown_format(fmt)
    if not orders or repeats < 1:
        raise ValueError("measure_speed needs at least one order and one repeat")
    decode(encode(orders[0], fmt), fmt)   # warm up: compiles the protobuf schema once
    best_encode = best_decode = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        encoded = [encode(order, fmt) for order in orders]
        middle = time.perf_counter()
        for data in encoded:
            decode(data, fmt)
        end = time.perf_counter()
        best_encode = min(best_encode, middle - start)
        best_decode = min(best_decode, end - middle)
    per_record = 1e6 / len(orders)
    return Timing(fmt, best_encode * per_record, best_decode * per_record)


# --- Schema evolution --------------------------------------------------------------------------

WORKS = "works"
FAILS = "fails"
WRONG_DATA = "wrong data"
OUTCOMES: tuple[str, ...] = (WORKS, FAILS, WRONG_DATA)

# The example order of the evolution matrix, by field number. The currency is not the
# default (EUR), so a reader that shows EUR for an order written with CHF is caught.
_EXAMPLE_VALUES: dict[int, Any] = {
    1: 1042,
    2: "ada",
    3: [{"sku": "tea-green", "quantity": 2, "unit_price_cents": 450},
        {"sku": "mug-blue", "quantity": 1, "unit_price_cents": 1200}],
    4: 2100,
    5: "CHF",
}


def example_record(version: str) -> dict[str, Any]:
    """The evolution matrix's example order as a record of schema `version`."""
    return {field.name: copy.deepcopy(_EXAMPLE_VALUES[field.number])
            for field in schema_fields(version)}


@dataclass(frozen=True)
class Cell:
    """One cell of the evolution matrix: what a `reader` made of what a `writer` wrote.

    `outcome` is WORKS (every field the reader has is right), FAILS (the reader raised) or
    WRONG_DATA (the reader returned a record with a wrong or made-up value); `detail` says why.
    """

    fmt: str
    writer: str
    reader: str
    outcome: str
    detail: str


def evolution_cell(fmt: str, writer: str, reader: str, *, aliases: bool = True) -> Cell:
    """Write the example order with schema `writer`, read it with `reader`, and judge it.

    A reader field is right when it holds the value the writer wrote for the same field (the
    same number, whatever its name), or the reader's default when the writer has no such
    field. A field that the writer never had and that has no default has no right value: a
    reader that returns one anyway (a zero) has made it up.
    """
    written = example_record(writer)
    data = encode_version(written, fmt, writer)
    try:
        read = decode_version(data, fmt, writer=writer, reader=reader, aliases=aliases)
    except SerializationError as error:
        cause = error.__cause__
        return Cell(fmt, writer, reader, FAILS, f"{type(cause).__name__}: {cause}")
    writer_fields = {field.number: field for field in schema_fields(writer)}
    problems, notes = [], []
    for field in schema_fields(reader):
        got = read[field.name]
        source = writer_fields.get(field.number)
        if source is not None:
            sent = written[source.name]
            as_name = "" if source.name == field.name else f" as {source.name}"
            if got != sent:
                problems.append(f"{field.name}={got!r}, but the writer sent {sent!r}{as_name}")
            elif as_name:
                notes.append(f"reads {source.name} as {field.name}")
        elif field.default is not None:
            if got != field.default:
                problems.append(f"{field.name}={got!r}, not its default {field.default!r}")
            else:
                notes.append(f"{field.name} gets its default {field.default!r}")
        else:
            problems.append(f"{field.name}={got!r} is made up: {writer} has no {field.name}")
    reader_numbers = {field.number for field in schema_fields(reader)}
    skipped = [field.name for field in schema_fields(writer) if field.number not in reader_numbers]
    if skipped:
        notes.append("skips " + ", ".join(skipped))
    if problems:
        return Cell(fmt, writer, reader, WRONG_DATA, "; ".join(problems))
    return Cell(fmt, writer, reader, WORKS, "; ".join(notes) or "same schema")


def evolution_matrix(
    formats: Sequence[str] = FORMATS,
    versions: Sequence[str] = VERSIONS,
    *,
    aliases: bool = True,
) -> list[Cell]:
    """Every (format, writer version, reader version) cell, in that order. Deterministic."""
    for fmt in formats:
        if fmt not in FORMATS:
            raise _unknown_format(fmt)
    return [
        evolution_cell(fmt, writer, reader, aliases=aliases)
        for fmt in formats
        for writer in versions
        for reader in versions
    ]


def format_matrix(cells: Sequence[Cell]) -> str:
    """The cells as one text grid per format: a row per writer, a column per reader."""
    lines: list[str] = []
    for fmt in dict.fromkeys(cell.fmt for cell in cells):
        rows = [cell for cell in cells if cell.fmt == fmt]
        writers = list(dict.fromkeys(cell.writer for cell in rows))
        readers = list(dict.fromkeys(cell.reader for cell in rows))
        outcome = {(cell.writer, cell.reader): cell.outcome for cell in rows}
        lines.append(f"{fmt:<14}" + "".join(f"{'read by ' + r:>13}" for r in readers))
        for writer in writers:
            lines.append(f"{'written by ' + writer:<14}"
                         + "".join(f"{outcome[writer, r]:>13}" for r in readers))
        lines.append("")
    return "\n".join(lines).rstrip("\n")
