"""Untrusted input (bytes from peers, text from users) only ever raises typed errors."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aura_core.encoding import canonical_encode, strict_decode
from aura_core.errors import EncodingError, InvalidIdentifier
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, ContextId, DeviceId, FactId, SessionId
from aura_sim.testing.strategies import values
from tests.core import reference_cbor


@given(st.binary(max_size=256))
def test_strict_decoder_on_arbitrary_bytes(data: bytes) -> None:
    try:
        value = strict_decode(data)
    except EncodingError:
        return
    assert canonical_encode(value) == data


@given(values, st.data())
def test_strict_decoder_on_mutated_encodings(value: object, data: st.DataObject) -> None:
    encoded = bytearray(canonical_encode(value))  # type: ignore[arg-type]
    position = data.draw(st.integers(0, len(encoded) - 1))
    mutation = data.draw(st.sampled_from(["flip", "truncate", "insert"]))
    if mutation == "flip":
        encoded[position] ^= data.draw(st.integers(1, 255))
    elif mutation == "truncate":
        del encoded[position:]
    else:
        encoded.insert(position, data.draw(st.integers(0, 255)))
    try:
        decoded = strict_decode(bytes(encoded))
    except EncodingError:
        return
    assert canonical_encode(decoded) == bytes(encoded)


def agree(data: bytes) -> None:
    """The native canonical check and the pure-Python reference accept exactly the same bytes."""
    try:
        expected = reference_cbor.reference_decode(data)
    except reference_cbor.Rejected:
        expected = reference_cbor.Rejected
    try:
        got = strict_decode(data)
    except EncodingError:
        got = reference_cbor.Rejected
    assert got == expected, data.hex()


@given(st.binary(max_size=64))
def test_native_check_agrees_with_reference_on_arbitrary_bytes(data: bytes) -> None:
    agree(data)


@given(values, st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3))
def test_native_check_agrees_with_reference_on_mutations(
    value: object, edits: list[tuple[int, int]]
) -> None:
    encoded = bytearray(canonical_encode(value))  # type: ignore[arg-type]
    agree(bytes(encoded))
    for position, byte in edits:
        encoded[position % len(encoded)] = byte
        agree(bytes(encoded))
        agree(bytes(encoded[: position % len(encoded)]))


ID_PREFIXES = ["authority-", "context-", "device-", "session-", "fact:", ""]


@given(
    st.sampled_from(ID_PREFIXES),
    st.text(max_size=70) | st.text("0123456789abcdefABCDEF", max_size=70),
)
def test_id_parsers_on_arbitrary_text(prefix: str, body: str) -> None:
    for kind in (AuthorityId, ContextId, DeviceId, SessionId, FactId, Hash32):
        parse = kind.from_hex if kind is Hash32 else kind.parse  # type: ignore[attr-defined]
        try:
            parsed = parse(prefix + body)
        except InvalidIdentifier:
            continue
        assert str(parsed) == prefix + body
