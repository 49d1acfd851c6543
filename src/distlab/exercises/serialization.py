"""The serialization page's mini-exercise: a protobuf field's bytes, written by hand.

The reader writes, in hex, the Protocol Buffers encoding of an order whose only field set is
``order_id = 300`` (field 1, a varint). `check_protobuf_bytes` compares the answer with the
bytes of the real protobuf library (`distlab.serialization.protobuf_class`) and, for a wrong
answer, names the part that is off: the key byte, the varint's continuation bit, or the order
of its 7-bit groups.
"""

from __future__ import annotations

from distlab.exercises import Feedback, not_quite, right
from distlab.serialization import protobuf_class

#: the order id of the exercise
ORDER_ID = 300


def expected_bytes(order_id: int = ORDER_ID) -> bytes:
    """The protobuf encoding of an order with only ``order_id`` set (schema version 1)."""
    return protobuf_class("v1")(order_id=order_id).SerializeToString()


def _parse_hex(answer: str) -> bytes | None:
    try:
        return bytes.fromhex(answer)
    except (TypeError, ValueError):
        return None


def check_protobuf_bytes(answer: str, order_id: int = ORDER_ID) -> Feedback:
    """Whether ``answer``, hex bytes such as ``"08 07"``, is the encoding of ``order_id``."""
    truth = expected_bytes(order_id)
    given = _parse_hex(answer) if isinstance(answer, str) else None
    if given is None:
        return not_quite(f"write the bytes as a string of hex pairs, such as '08 07'; "
                         f"{answer!r} is not one")
    if given == truth:
        return right(f"{truth.hex(' ')}: the key 08 (field 1 << 3, wire type 0), then "
                     f"{order_id} as a varint, low 7 bits first, each byte but the last with "
                     f"its high bit set.")
    if given[:1] != truth[:1]:
        return not_quite(f"the first byte is the key: (field number << 3) | wire type = "
                         f"(1 << 3) | 0 = 0x{truth[0]:02x}, not 0x{given[0]:02x}"
                         if given else "the answer is empty")
    varint, theirs = truth[1:], given[1:]
    if len(theirs) != len(varint):
        return not_quite(f"{order_id} needs {len(varint)} bytes as a varint: 7 bits per byte "
                         f"(it is {order_id.bit_length()} bits long)")
    if theirs == varint[::-1] or bytes(b & 0x7F for b in theirs[::-1]) == bytes(
            b & 0x7F for b in varint):
        return not_quite("a varint puts the *low* 7 bits first, then the next 7, and so on")
    if bytes(b & 0x7F for b in theirs) == bytes(b & 0x7F for b in varint):
        return not_quite("the groups are right, but every byte except the last must have "
                         "its high bit (0x80) set: it says that more bytes follow")
    return not_quite(f"split {order_id} into 7-bit groups, low group first: "
                     f"{order_id} = {order_id >> 7} × 128 + {order_id & 0x7F}")
