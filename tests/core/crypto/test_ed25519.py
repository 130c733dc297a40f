"""Native Ed25519, cross-checked against libsodium (PyNaCl)."""

from __future__ import annotations

import nacl.exceptions
import nacl.signing
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_core.crypto.ed25519 import SigningKey, VerifyingKey
from aura_core.errors import InvalidSignature, MalformedKey
from tests.strategies import entropy


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
