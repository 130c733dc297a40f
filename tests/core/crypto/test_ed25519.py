"""Native Ed25519, cross-checked against libsodium (PyNaCl)."""

from __future__ import annotations

import nacl.exceptions
import nacl.signing
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_core.crypto.ed25519 import SigningKey, VerifyingKey, start_verification, verify_many
from aura_core.errors import InvalidSignature, MalformedKey
from aura_sim.testing.strategies import entropy


@given(entropy, st.binary(max_size=300))
def test_agrees_with_libsodium(seed: bytes, message: bytes) -> None:
    ours = SigningKey(seed)
    theirs = nacl.signing.SigningKey(seed)
    assert ours.verifying_key.raw == bytes(theirs.verify_key)
    signature = ours.sign(message)
    assert signature == theirs.sign(message).signature
    theirs.verify_key.verify(message, signature)
    ours.verifying_key.verify(message, signature)


@given(entropy, st.binary(max_size=100), st.integers(0, 63), st.integers(1, 255))
def test_tampered_signatures_fail_in_both(
    seed: bytes, message: bytes, index: int, flip: int
) -> None:
    key = SigningKey(seed)
    signature = bytearray(key.sign(message))
    signature[index] ^= flip
    with pytest.raises(InvalidSignature):
        key.verifying_key.verify(message, bytes(signature))
    with pytest.raises(nacl.exceptions.BadSignatureError):
        nacl.signing.VerifyKey(key.verifying_key.raw).verify(message, bytes(signature))


@given(entropy, st.binary(max_size=50), st.binary(max_size=50))
def test_other_message_fails(seed: bytes, message: bytes, other: bytes) -> None:
    key = SigningKey(seed)
    if message != other:
        with pytest.raises(InvalidSignature):
            key.verifying_key.verify(other, key.sign(message))


@given(st.binary(min_size=32, max_size=32), st.binary(min_size=64, max_size=64))
def test_random_keys_and_signatures_give_typed_errors(public: bytes, signature: bytes) -> None:
    with pytest.raises((InvalidSignature, MalformedKey)):
        VerifyingKey(public).verify(b"m", signature)


def test_malformed_inputs() -> None:
    with pytest.raises(MalformedKey):
        SigningKey(bytes(31))
    with pytest.raises(MalformedKey):
        VerifyingKey(bytes(33))
    key = SigningKey(bytes(32))
    with pytest.raises(InvalidSignature):
        key.verifying_key.verify(b"m", bytes(63))
    small_order = (1).to_bytes(32, "little")  # the identity point
    with pytest.raises(MalformedKey):
        VerifyingKey(small_order).verify(b"m", bytes(64))


def test_secret_never_in_repr() -> None:
    seed = bytes(range(32))
    key = SigningKey(seed)
    for text in (repr(key), str(key)):
        assert seed.hex() not in text
        assert "secret" in text


@pytest.mark.parametrize("count", [0, 1, 5, 15, 16, 17, 64, 200])
def test_verify_many_agrees_with_verify_whatever_the_batch_size(count: int) -> None:
    keys = [SigningKey(bytes([i % 7 + 1]) * 32) for i in range(count)]
    items = [(k.verifying_key, b"m%d" % i, k.sign(b"m%d" % i)) for i, k in enumerate(keys)]
    weak = VerifyingKey(b"\x01" + bytes(31))  # the identity point: a small-order key
    for i in range(0, count, 4):  # every fourth item broken in one of four ways
        key, message, signature = items[i]
        items[i] = [
            (key, message + b"!", signature),
            (key, message, signature[:63] + bytes([signature[63] ^ 1])),
            (weak, message, signature),
            (key, message, signature[:10]),
        ][i // 4 % 4]

    def single(key: VerifyingKey, message: bytes, signature: bytes) -> bool:
        try:
            key.verify(message, signature)
        except (InvalidSignature, MalformedKey):
            return False
        return True

    expected = [single(*item) for item in items]
    assert verify_many(items) == expected
    assert start_verification(items).results() == expected
    assert expected.count(False) == len(range(0, count, 4))
