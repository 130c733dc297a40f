"""BLAKE3 hashing helpers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_core.encoding import Value, canonical_encode
from aura_core.errors import InvalidArgument, InvalidIdentifier
from aura_core.hashing import Hash32, content_id, tagged_hash, u8, u16, u32, u64
from aura_sim.testing.strategies import values


def test_blake3_known_answer() -> None:
    assert (
        Hash32.of(b"").hex() == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    )


@given(
    st.text(alphabet="ABCDEFGHIJ_", min_size=1, max_size=8),
    st.lists(st.binary(max_size=8), max_size=4),
)
def test_tagged_hash_is_hash_of_concatenation(tag: str, parts: list[bytes]) -> None:
    assert tagged_hash(tag, *parts) == Hash32.of(tag.encode() + b"".join(parts))


@given(values, values)
def test_content_id_changes_with_the_value(a: Value, b: Value) -> None:
    assert (content_id(a) == content_id(b)) == (canonical_encode(a) == canonical_encode(b))


def test_integer_helpers() -> None:
    assert u8(255) == b"\xff"
    assert u16(1) == b"\x01\x00"
    assert u32(1) == b"\x01\x00\x00\x00"
    assert u64(2**64 - 1) == b"\xff" * 8
    for fn, bad in ((u16, 2**16), (u32, -1), (u64, 2**64), (u8, True)):
        with pytest.raises(InvalidArgument):
            fn(bad)


def test_hash32_checks_and_forms() -> None:
    h = Hash32.of(b"x")
    assert Hash32.from_hex(h.hex()) == h
    assert bytes(h) == h.digest
    assert Hash32.zero().digest == bytes(32)
    with pytest.raises(InvalidArgument):
        Hash32(b"short")
    for junk in ("", "00", h.hex().upper(), h.hex() + "0"):
        with pytest.raises(InvalidIdentifier):
            Hash32.from_hex(junk)
    with pytest.raises(InvalidArgument):
        tagged_hash("", b"x")
    with pytest.raises(InvalidArgument):
        tagged_hash("tág", b"x")


def test_tagged_hash_past_the_tag_cache_and_with_bad_tags() -> None:
    tags = [f"AURA_TEST_TAG_{i}" for i in range(1500)]  # more than the cache keeps
    for tag in tags + tags:
        assert tagged_hash(tag, b"x") == Hash32.of(tag.encode() + b"x")
    for bad in ("", "ünïcode", b"BYTES", None):
        with pytest.raises(InvalidArgument):
            tagged_hash(bad, b"x")  # type: ignore[arg-type]
