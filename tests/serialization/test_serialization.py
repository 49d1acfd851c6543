"""Tests of distlab.serialization: round trips, sizes, schema evolution and error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

serialization = pytest.importorskip("distlab.serialization", reason="needs the engines extra")

from distlab.serialization import (FAILS, FORMATS, VERSIONS, WORKS, WRONG_DATA,  # noqa: E402
                                   LineItem, Order, SerializationError, avro_schema, decode,
                                   decode_version, encode, encode_version, encoded_sizes,
                                   evolution_cell, evolution_matrix, example_record, format_matrix,
                                   measure_speed, protobuf_class, random_orders, sample_orders,
                                   schema_fields)


def cell(fmt: str, writer: str, reader: str, *, aliases: bool = True):
    return evolution_cell(fmt, writer, reader, aliases=aliases)


# --- Round trips and sizes ---------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_every_sample_order_survives_a_round_trip(fmt):
    for order in sample_orders().values():
        assert decode(encode(order, fmt), fmt) == order


@pytest.mark.parametrize("fmt", FORMATS)
def test_random_orders_survive_a_round_trip(fmt):
    for order in random_orders(200, seed=3):
        assert decode(encode(order, fmt), fmt) == order


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_keeps_non_ascii_text_and_large_ids(fmt):
    order = Order(2**40, "Zoë Ørsted 東京", (LineItem("thé-vert", 3, 0),), 0)
    assert decode(encode(order, fmt), fmt) == order


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_version_round_trips_its_own_records(fmt):
    for version in VERSIONS:
        record = example_record(version)
        data = encode_version(record, fmt, version)
        assert decode_version(data, fmt, writer=version, reader=version) == record


def test_random_orders_are_the_same_for_the_same_seed():
    assert random_orders(50, seed=9) == random_orders(50, seed=9)
    assert random_orders(50, seed=9) != random_orders(50, seed=10)


def test_encoding_is_deterministic_byte_for_byte():
    for order in sample_orders().values():
        for fmt in FORMATS:
            assert encode(order, fmt) == encode(order, fmt)


def test_sizes_of_the_sample_orders_are_the_known_numbers():
    sizes = {name: encoded_sizes(order) for name, order in sample_orders().items()}
    assert sizes == {
        "1 item": {"json": 116, "protobuf": 28, "avro": 22},
        "3 items": {"json": 238, "protobuf": 68, "avro": 52},
        "40 items": {"json": 2328, "protobuf": 737, "avro": 537},
    }


def test_json_is_largest_and_avro_smallest_for_every_order():
    orders = list(sample_orders().values()) + random_orders(200, seed=1)
    for order in orders:
        sizes = encoded_sizes(order)
        assert sizes["json"] > sizes["protobuf"] > sizes["avro"], (order, sizes)


def test_only_json_carries_field_names_in_the_bytes():
    order = sample_orders()["1 item"]
    assert b"customer" in encode(order, "json")
    assert b"customer" not in encode(order, "protobuf")
    assert b"customer" not in encode(order, "avro")


def test_protobuf_writes_tags_and_avro_writes_bare_values():
    small = Order(7, "ada", (), 0)
    # protobuf: tag of field 1 (varint) = 0x08, value 7; tag of field 2 (length-delimited)
    # = 0x12, length 3, "ada". Zero values (the amount, the empty items) are not written at all.
    assert encode(small, "protobuf") == bytes([0x08, 7, 0x12, 3]) + b"ada"
    # Avro: zig-zag 7 = 14, zig-zag length 3 = 6, "ada", an empty array (0), zig-zag 0 = 0.
    assert encode(small, "avro") == bytes([14, 6]) + b"ada" + bytes([0, 0])


def test_measure_speed_reports_a_timing_per_format():
    orders = random_orders(20, seed=1)
    for fmt in FORMATS:
        timing = measure_speed(orders, fmt, repeats=1)
        assert timing.fmt == fmt
        assert timing.encode_us > 0 and timing.decode_us > 0


# --- Schemas -----------------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_proto_files_and_avro_schemas_declare_the_same_fields(version):
    expected = [(field.name, field.number) for field in schema_fields(version)]
    descriptor = protobuf_class(version).DESCRIPTOR
    assert [(field.name, field.number) for field in descriptor.fields] == expected
    assert [field["name"] for field in avro_schema(version)["fields"]] == [n for n, _ in expected]


def test_all_versions_of_the_protobuf_order_coexist_in_one_process():
    classes = {version: protobuf_class(version) for version in VERSIONS}
    assert len({id(cls) for cls in classes.values()}) == len(VERSIONS)
    assert {cls.DESCRIPTOR.full_name for cls in classes.values()} == {"distlab.Order"}


def test_no_generated_protobuf_code_is_in_the_package():
    package = Path(serialization.__file__).parent
    assert not list(package.rglob("*_pb2.py"))
    assert sorted(path.name for path in (package / "schemas").glob("*.proto")) == [
        f"order_{version}.proto" for version in VERSIONS
    ]


def test_avro_schema_without_aliases_drops_only_the_aliases():
    with_aliases = avro_schema("v4")
    without = avro_schema("v4", aliases=False)
    assert with_aliases["fields"][1]["aliases"] == ["customer"]
    assert "aliases" not in without["fields"][1]
    assert without["fields"][1]["name"] == "buyer"


# --- Schema evolution --------------------------------------------------------------------------

def test_protobuf_old_reader_skips_an_unknown_new_field():
    result = cell("protobuf", writer="v2", reader="v1")
    assert result.outcome == WORKS
    assert "skips currency" in result.detail


def test_protobuf_proto3_new_reader_sees_empty_string_not_the_default():
    data = encode_version(example_record("v1"), "protobuf", "v1")
    assert decode_version(data, "protobuf", writer="v1", reader="v2")["currency"] == ""
    assert cell("protobuf", writer="v1", reader="v2").outcome == WRONG_DATA


def test_protobuf_rename_keeps_the_value_because_the_number_is_on_the_wire():
    data = encode_version(example_record("v2"), "protobuf", "v2")
    assert decode_version(data, "protobuf", writer="v2", reader="v4")["buyer"] == "ada"
    assert cell("protobuf", writer="v2", reader="v4").outcome == WORKS
    assert cell("protobuf", writer="v4", reader="v3").outcome == WORKS


def test_protobuf_old_reader_of_a_removed_field_silently_reads_zero():
    data = encode_version(example_record("v3"), "protobuf", "v3")
    assert decode_version(data, "protobuf", writer="v3", reader="v1")["amount_cents"] == 0
    result = cell("protobuf", writer="v3", reader="v1")
    assert result.outcome == WRONG_DATA
    assert "amount_cents=0 is made up" in result.detail


def test_avro_reader_with_a_default_reads_old_data():
    data = encode_version(example_record("v1"), "avro", "v1")
    assert decode_version(data, "avro", writer="v1", reader="v2")["currency"] == "EUR"
    assert cell("avro", writer="v1", reader="v2").outcome == WORKS


def test_avro_old_reader_ignores_a_new_field():
    assert cell("avro", writer="v2", reader="v1").outcome == WORKS


def test_avro_old_reader_fails_loudly_on_a_removed_field_without_default():
    result = cell("avro", writer="v3", reader="v1")
    assert result.outcome == FAILS
    assert "No default value for field amount_cents" in result.detail


def test_avro_rename_works_only_with_aliases():
    assert cell("avro", writer="v1", reader="v4").outcome == WORKS
    without = cell("avro", writer="v1", reader="v4", aliases=False)
    assert without.outcome == FAILS
    assert "buyer" in without.detail


def test_avro_rename_is_not_readable_by_old_readers():
    assert cell("avro", writer="v4", reader="v3").outcome == FAILS


def test_avro_needs_the_true_writer_schema():
    data = encode_version(example_record("v3"), "avro", "v3")
    # Read as if written by v1: the bytes of the currency's length are taken for the amount.
    misread = decode_version(data, "avro", writer="v1", reader="v1")
    assert misread["amount_cents"] == 3
    with pytest.raises(SerializationError):
        decode_version(data, "avro", writer="v2", reader="v2")


def test_json_rename_silently_loses_data():
    data = encode_version(example_record("v1"), "json", "v1")
    assert decode_version(data, "json", writer="v1", reader="v4")["buyer"] == ""
    result = cell("json", writer="v1", reader="v4")
    assert result.outcome == WRONG_DATA
    assert "buyer=''" in result.detail


def test_json_tolerant_reader_uses_declared_default_and_ignores_unknown_keys():
    assert cell("json", writer="v1", reader="v2").outcome == WORKS
    assert cell("json", writer="v2", reader="v1").outcome == WORKS


def test_every_version_reads_its_own_data_in_every_format():
    for result in evolution_matrix():
        if result.writer == result.reader:
            assert (result.outcome, result.detail) == (WORKS, "same schema")


def test_matrix_is_deterministic_and_complete():
    first = evolution_matrix()
    assert first == evolution_matrix()
    assert len(first) == len(FORMATS) * len(VERSIONS) ** 2
    counts = {
        fmt: {outcome: sum(1 for c in first if c.fmt == fmt and c.outcome == outcome)
              for outcome in (WORKS, FAILS, WRONG_DATA)}
        for fmt in FORMATS
    }
    assert counts == {
        "json": {WORKS: 8, FAILS: 0, WRONG_DATA: 8},
        "protobuf": {WORKS: 9, FAILS: 0, WRONG_DATA: 7},
        "avro": {WORKS: 11, FAILS: 5, WRONG_DATA: 0},
    }


def test_format_matrix_draws_one_grid_per_format():
    text = format_matrix(evolution_matrix(["avro"]))
    lines = text.splitlines()
    assert lines[0].split() == ["avro", "read", "by", "v1", "read", "by", "v2", "read", "by",
                                "v3", "read", "by", "v4"]
    assert lines[3].split() == ["written", "by", "v3", "fails", "fails", "works", "works"]


# --- Errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda: encode(sample_orders()["1 item"], "xml"),
    lambda: decode(b"{}", "xml"),
    lambda: encode_version(example_record("v1"), "xml", "v1"),
    lambda: decode_version(b"{}", "xml", writer="v1", reader="v1"),
    lambda: measure_speed(random_orders(1, seed=1), "xml"),
    lambda: evolution_matrix(["xml"]),
])
def test_unknown_format_is_named_with_the_formats_to_choose_from(call):
    with pytest.raises(ValueError, match=r"unknown serialization format 'xml': the formats are "
                                         r"'json', 'protobuf', 'avro'"):
        call()


def test_unknown_version_is_named_with_the_versions_to_choose_from():
    with pytest.raises(ValueError, match=r"unknown schema version 'v9': the versions are 'v1'"):
        encode_version(example_record("v1"), "json", "v9")
    with pytest.raises(ValueError, match="unknown schema version 'v0'"):
        decode_version(b"{}", "json", writer="v0", reader="v1")


def test_record_with_wrong_fields_says_which_are_missing_and_extra():
    record = example_record("v2")
    with pytest.raises(ValueError, match=r"lacks \['currency'\] and has the extra fields \[\]"):
        encode_version(example_record("v1"), "avro", "v2")
    with pytest.raises(ValueError, match=r"lacks \[\] and has the extra fields \['currency'\]"):
        encode_version(record, "protobuf", "v1")


def test_encode_rejects_a_plain_dict_and_points_to_encode_version():
    with pytest.raises(TypeError, match="encode takes an Order, not a dict.*encode_version"):
        encode(example_record("v1"), "json")


@pytest.mark.parametrize("fmt", FORMATS)
def test_garbage_bytes_raise_a_serialization_error_naming_format_and_schemas(fmt):
    with pytest.raises(SerializationError, match=f"cannot read these 2 bytes of {fmt}, written "
                                                 "with schema v1, as a v1 order") as caught:
        decode(b"\xff\xff", fmt)
    assert caught.value.__cause__ is not None


def test_json_that_is_not_an_object_is_rejected():
    with pytest.raises(SerializationError, match="an order is a JSON object, not a JSON list"):
        decode(b"[1, 2]", "json")
