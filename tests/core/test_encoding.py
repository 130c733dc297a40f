"""Canonical encoding and strict decoding of values."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from aura_core import _native
from aura_core.encoding import (
    INT_MAX,
    INT_MIN,
    MAX_DEPTH,
    Value,
    canonical_encode,
    strict_decode,
)
from aura_core.errors import EncodingError
from aura_sim.testing.strategies import values
from tests.core import cbor_forge


def rejects(data: bytes) -> None:
    with pytest.raises(EncodingError):
        strict_decode(data)


@given(values)
def test_round_trip(value: Value) -> None:
    data = canonical_encode(value)
    assert strict_decode(data) == value
    assert canonical_encode(strict_decode(data)) == data


@given(values)
def test_matches_cbor2_canonical_and_independent_writer(value: Value) -> None:
    data = canonical_encode(value)
    assert data == cbor2.dumps(value, canonical=True)
    assert data == cbor_forge.item(value)


@given(st.dictionaries(st.text(max_size=6), st.integers(0, 99), min_size=2, max_size=8))
def test_key_order_is_length_first_then_bytewise(mapping: dict[str, int]) -> None:
    decoded = strict_decode(canonical_encode(mapping))
    assert isinstance(decoded, dict)
    keys = [k.encode() for k in decoded]
    assert keys == sorted(keys, key=lambda k: (len(k), k))


@given(st.dictionaries(st.text(max_size=6), values, min_size=2, max_size=6))
def test_rejects_unsorted_keys(mapping: dict[str, Value]) -> None:
    rejects(cbor_forge.item(mapping, key_order="reversed"))


@given(st.text(max_size=5), values, values)
def test_rejects_duplicate_keys(key: str, first: Value, second: Value) -> None:
    raw = cbor_forge.item(key)
    rejects(cbor_forge.head(5, 2) + raw + cbor_forge.item(first) + raw + cbor_forge.item(second))


@given(st.integers(0, INT_MAX), st.sampled_from([1, 2, 4, 8]), st.booleans())
def test_rejects_non_minimal_integers(n: int, width: int, negative: bool) -> None:
    assume(cbor_forge.minimal_width(n) < width and n < 1 << (8 * width))
    rejects(cbor_forge.head(1 if negative else 0, n, width))


@given(st.binary(max_size=30) | st.text(max_size=30), st.sampled_from([1, 2, 4, 8]))
def test_rejects_non_minimal_lengths(value: bytes | str, width: int) -> None:
    raw = value.encode() if isinstance(value, str) else value
    assume(cbor_forge.minimal_width(len(raw)) < width)
    major = 3 if isinstance(value, str) else 2
    rejects(cbor_forge.head(major, len(raw), width) + raw)


@given(st.lists(st.integers(0, 100), max_size=4), st.sampled_from([1, 2, 4, 8]))
def test_rejects_non_minimal_container_lengths(items: list[int], width: int) -> None:
    assume(cbor_forge.minimal_width(len(items)) < width)
    rejects(cbor_forge.head(4, len(items), width) + b"".join(cbor_forge.item(i) for i in items))


@given(st.lists(st.binary(max_size=5), max_size=3))
def test_rejects_indefinite_lengths(chunks: list[bytes]) -> None:
    body = b"".join(cbor_forge.item(c) for c in chunks)
    rejects(b"\x5f" + body + b"\xff")  # indefinite byte string
    rejects(b"\x9f" + body + b"\xff")  # indefinite array
    rejects(
        b"\xbf"
        + b"".join(cbor_forge.item(str(i)) + cbor_forge.item(c) for i, c in enumerate(chunks))
        + b"\xff"
    )
    text = b"".join(cbor_forge.item(c.hex()) for c in chunks)
    rejects(b"\x7f" + text + b"\xff")


@given(values, st.binary(min_size=1, max_size=8))
def test_rejects_trailing_bytes(value: Value, suffix: bytes) -> None:
    rejects(canonical_encode(value) + suffix)


@given(st.floats(allow_nan=True), st.sampled_from(["bare", "list", "map"]))
@example(1.5, "bare")
def test_rejects_floats(number: float, where: str) -> None:
    wrapped: object = {"bare": number, "list": [1, number], "map": {"k": number}}[where]
    rejects(cbor2.dumps(wrapped))
    rejects(cbor2.dumps(wrapped, canonical=True))  # shortest-width floats too


@given(st.integers(0, 2**32), values)
@example(42, b"\x00\x01")
@example(2, b"\x01")  # a bignum tag holding a small integer
def test_rejects_tags(tag: int, content: Value) -> None:
    rejects(cbor_forge.head(6, tag) + canonical_encode(content))


@pytest.mark.parametrize(
    "data",
    [
        b"\xf7",  # undefined
        b"\xe0",  # simple(0)
        b"\xf8\x20",  # simple(32)
        b"\xa1\x01\x02",  # int key
        b"\xa1\x41a\x02",  # bytes key
        b"\xc2\x49\x01" + bytes(8),  # bignum 2**64
        b"\xc3\x49\x01" + bytes(8),  # negative bignum -(2**64) - 1
        b"",  # empty input
        b"\x62\xc3\x28",  # invalid UTF-8
    ],
)
def test_rejects_other_forbidden_items(data: bytes) -> None:
    rejects(data)


def test_allows_integer_extremes() -> None:
    for n in (INT_MIN, INT_MAX, -1, 0, 23, 24):
        assert strict_decode(canonical_encode(n)) == n


@pytest.mark.parametrize(
    "bad", [INT_MAX + 1, INT_MIN - 1, 1.0, (1, 2), {1: 2}, {"a": {1}}, object()]
)
def test_encode_rejects_values_outside_the_model(bad: object) -> None:
    with pytest.raises(EncodingError):
        canonical_encode(bad)  # type: ignore[arg-type]


def test_encode_rejects_lone_surrogates() -> None:
    with pytest.raises(EncodingError):
        canonical_encode("\udc80")
    with pytest.raises(EncodingError):
        canonical_encode({"\udc80": 1})


def test_nesting_limit() -> None:
    ok: Value = []
    for _ in range(MAX_DEPTH - 1):
        ok = [ok]
    assert strict_decode(canonical_encode(ok)) == ok
    too_deep: Value = [ok]
    with pytest.raises(EncodingError):
        canonical_encode(too_deep)
    rejects(b"\x81" * MAX_DEPTH + b"\x80")
    rejects(b"\x81" * 100_000 + b"\x00")


def test_strict_decode_rejects_non_bytes() -> None:
    with pytest.raises(EncodingError):
        strict_decode("a0")  # type: ignore[arg-type]


@given(st.binary(max_size=64))
def test_fuzz_only_encoding_errors(data: bytes) -> None:
    try:
        value = strict_decode(data)
    except EncodingError:
        return
    assert canonical_encode(value) == data


# The native encoder is what `encode` and `canonical_encode` end in. It is given maps whose keys
# the record codec has already ordered, so it must check that order (and every type) itself
# rather than trust its caller.


def native_encode(value: object) -> bytes:
    return _native.cbor_encode(value)


@given(values)
def test_native_encoder_writes_the_canonical_bytes(value: Value) -> None:
    ordered = strict_decode(canonical_encode(value))  # maps now list keys in canonical order
    assert native_encode(ordered) == cbor2.dumps(value, canonical=True)


@given(st.dictionaries(st.text(max_size=6), values, min_size=2, max_size=6))
def test_native_encoder_refuses_keys_out_of_canonical_order(mapping: dict[str, Value]) -> None:
    ordered = list(strict_decode(canonical_encode(mapping)).items())  # type: ignore[union-attr]
    for shuffled in (ordered[::-1], ordered[1:] + ordered[:1]):
        with pytest.raises(_native.NativeError, match="canonical order"):
            native_encode(dict(shuffled))
    with pytest.raises(_native.NativeError, match="canonical order"):
        native_encode({"b": 1, "a": 2})  # equal length, bytewise out of order


class _Int(int):
    pass


class _Str(str):
    __slots__ = ()


@pytest.mark.parametrize(
    "bad",
    [
        INT_MAX + 1,
        INT_MIN - 1,
        2**200,
        1.0,
        (1, 2),
        {1, 2},
        bytearray(b"x"),
        _Int(3),
        _Str("x"),
        {1: 2},
        {"a": [1.5]},
        "\udc80",
        {"\udc80": 1},
        object(),
    ],
)
def test_native_encoder_refuses_values_outside_the_model(bad: object) -> None:
    with pytest.raises(_native.NativeError):
        native_encode(bad)


def test_native_encoder_nesting_limit() -> None:
    ok: Value = []
    for _ in range(MAX_DEPTH - 1):
        ok = [ok]
    assert native_encode(ok) == canonical_encode(ok)
    with pytest.raises(_native.NativeError, match="nested deeper"):
        native_encode([ok])
    with pytest.raises(_native.NativeError, match="nested deeper"):
        native_encode({"a": ok})
