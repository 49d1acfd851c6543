"""The serialization page's mini-exercise: protobuf bytes by hand, checked against protobuf."""

from __future__ import annotations

import pytest

from distlab.exercises.serialization import check_protobuf_bytes, expected_bytes


def test_the_real_library_encodes_300_as_the_varint_ac_02_after_key_08():
    assert expected_bytes() == bytes([0x08, 0xAC, 0x02])
    assert check_protobuf_bytes("08 ac 02").right
    assert check_protobuf_bytes("08AC02").right


@pytest.mark.parametrize("answer, hint", [
    ("08 2c 02", "must have its high bit (0x80) set"),
    ("08 02 ac", "puts the *low* 7 bits first"),
    ("10 ac 02", "(1 << 3) | 0 = 0x08, not 0x10"),
    ("08 ac", "300 needs 2 bytes"),
    ("08 ad 02", "300 = 2 × 128 + 44"),
    ("zz", "a string of hex pairs"),
    (300, "a string of hex pairs"),
    ("", "the answer is empty"),
])
def test_each_usual_mistake_gets_its_own_hint(answer, hint):
    feedback = check_protobuf_bytes(answer)
    assert not feedback.right and hint in str(feedback)
