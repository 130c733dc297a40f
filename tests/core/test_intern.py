"""`InternTable` and the decoders that use it: decoding the same bytes again gives the value
built the first time, different kinds never share one, bad bytes are refused and stored
nowhere, and a table never holds more than its limit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_core.crypto.ed25519 import SigningKey, VerifyingKey
from aura_core.errors import InvalidIdentifier, MalformedKey
from aura_core.ids import AuthorityId, ContextId, DeviceId
from aura_core.intern import InternTable


@given(st.lists(st.binary(min_size=16, max_size=16), max_size=40), st.integers(1, 8))
def test_a_table_gives_back_equal_values_and_stays_within_its_limit(
    raws: list[bytes], limit: int
) -> None:
    built: list[bytes] = []

    def build(raw: bytes) -> AuthorityId:
        built.append(raw)
        return AuthorityId(raw)

    table = InternTable(build, limit)
    for raw in raws:
        assert table(raw) == AuthorityId(raw)
        assert len(table) <= limit
    if len(set(raws)) <= limit:  # nothing was ever dropped: each distinct value built once
        assert sorted(built) == sorted(set(raws))
        assert all(table(raw) is table(raw) for raw in raws)


def test_a_refused_value_is_stored_nowhere() -> None:
    table = InternTable(AuthorityId)
    with pytest.raises(InvalidIdentifier):
        table(b"short")
    assert len(table) == 0
    with pytest.raises(ValueError):
        InternTable(AuthorityId, 0)


@given(st.binary(min_size=16, max_size=16))
def test_decoded_ids_are_shared_per_kind_and_never_across_kinds(raw: bytes) -> None:
    authority, again = AuthorityId.from_cbor(raw), AuthorityId.from_cbor(raw)
    context = ContextId.from_cbor(raw)
    assert authority is again and authority == AuthorityId(raw)
    assert type(context) is ContextId and context != authority
    assert type(DeviceId.from_cbor(raw)) is DeviceId


def test_bad_id_and_key_bytes_are_refused_with_typed_errors() -> None:
    with pytest.raises(InvalidIdentifier):
        AuthorityId.from_cbor(b"\x01" * 15)
    with pytest.raises(InvalidIdentifier):
        AuthorityId.from_cbor(bytearray(16))  # type: ignore[arg-type]
    with pytest.raises(MalformedKey):
        VerifyingKey.from_cbor(b"\x01" * 31)


def test_decoded_keys_are_shared_and_still_verify() -> None:
    key = SigningKey(b"\x05" * 32)
    first = VerifyingKey.from_cbor(key.verifying_key.raw)
    assert first is VerifyingKey.from_cbor(key.verifying_key.raw)
    first.verify(b"m", key.sign(b"m"))
