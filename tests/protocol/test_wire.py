"""The wire record: canonical round trip, field ranges, and untrusted bytes."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_core.encoding import decode, encode
from aura_core.errors import EncodingError, InvalidArgument
from aura_core.ids import SessionId
from aura_protocol import SessionMessage

names = st.text(st.characters(codec="utf-8"), max_size=20)
messages = st.builds(
    SessionMessage,
    session=st.binary(min_size=16, max_size=16).map(SessionId),
    msg_id=st.integers(0, 2**32 - 1),
    label=names,
    sender=names,
    sender_index=st.integers(0, 0xFFFF),
    receiver=names,
    receiver_index=st.integers(0, 0xFFFF),
    seq=st.integers(0, 2**64 - 1),
    payload=st.binary(max_size=64),
)


@given(messages)
def test_round_trip(message: SessionMessage) -> None:
    data = encode(message)
    assert decode(data, SessionMessage) == message
    assert encode(decode(data, SessionMessage)) == data


@given(messages, st.integers(0, 2**16), st.integers(0, 255), st.binary(max_size=8))
def test_mutated_bytes_only_raise_encoding_errors(
    message: SessionMessage, where: int, byte: int, tail: bytes
) -> None:
    data = bytearray(encode(message))
    data[where % len(data)] = byte
    for candidate in (bytes(data), bytes(data) + tail, bytes(data[: where % len(data)])):
        with contextlib.suppress(EncodingError):
            assert isinstance(decode(candidate, SessionMessage), SessionMessage)


@pytest.mark.parametrize(
    "field", [{"msg_id": -1}, {"msg_id": 2**32}, {"sender_index": 0x10000}, {"seq": -1}]
)
def test_out_of_range_fields_are_refused(field: dict[str, int]) -> None:
    values: dict[str, object] = {
        "session": SessionId(b"\x01" * 16),
        "msg_id": 0,
        "label": "Hello",
        "sender": "A",
        "sender_index": 0,
        "receiver": "B",
        "receiver_index": 0,
        "seq": 0,
        "payload": b"",
    }
    with pytest.raises(InvalidArgument):
        SessionMessage(**{**values, **field})  # type: ignore[arg-type]
