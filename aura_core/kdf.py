"""Key derivation: BLAKE3 extract-and-expand with length-prefixed inputs.

    salt_key = BLAKE3("AURA_KDF_SALT_V1" ‖ len(salt) ‖ salt)
    prk      = BLAKE3-keyed(salt_key, "AURA_KDF_EXTRACT_V1" ‖ len(ikm) ‖ ikm)
    okm      = BLAKE3-XOF(BLAKE3-keyed(prk, "AURA_KDF_EXPAND_V1" ‖ len(info) ‖ info), length)

Lengths are u64 little-endian, so no two distinct (salt, ikm, info) share a preimage, and a
shorter output is a prefix of a longer one (BLAKE3's extendable output). Context keys are derived
from canonical CBOR of their context, never from a debug string, and never from device ids.
"""

from __future__ import annotations

import blake3

from aura_core.encoding import Value, canonical_encode
from aura_core.errors import InvalidArgument
from aura_core.hashing import u64
from aura_core.ids import ContextId

__all__ = ["MAX_OUTPUT", "kdf", "derive_key", "derive_context_key"]

MAX_OUTPUT = 1 << 16
"""Longest output any caller needs; a bound keeps a typo from allocating gigabytes."""

_SALT_TAG = b"AURA_KDF_SALT_V1"
_EXTRACT_TAG = b"AURA_KDF_EXTRACT_V1"
_EXPAND_TAG = b"AURA_KDF_EXPAND_V1"
_DERIVE_SALT = b"aura.key_derivation.v1"


def _framed(tag: bytes, data: bytes) -> bytes:
    return tag + u64(len(data)) + data


def kdf(ikm: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    """Derive `length` bytes (1..65536) from input key material, a salt and an info string."""
    for name, part in (("ikm", ikm), ("salt", salt), ("info", info)):
        if not isinstance(part, bytes):
            raise InvalidArgument(f"{name} must be bytes, got {type(part).__name__}")
    if type(length) is not int or not 0 < length <= MAX_OUTPUT:
        raise InvalidArgument(f"output length must be in 1..{MAX_OUTPUT}")
    salt_key = blake3.blake3(_framed(_SALT_TAG, salt)).digest()
    prk = blake3.blake3(_framed(_EXTRACT_TAG, ikm), key=salt_key).digest()
    return blake3.blake3(_framed(_EXPAND_TAG, info), key=prk).digest(length=length)


def derive_key(master: bytes, context: Value, *, length: int = 32) -> bytes:
    """Derive a key from `master` bound to the canonical encoding of `context`."""
    return kdf(master, salt=_DERIVE_SALT, info=canonical_encode(context), length=length)


def derive_context_key(
    root: bytes, *, app: str, context: ContextId, epoch: int, length: int = 32
) -> bytes:
    """The key an application uses in one relational context at one tree epoch.

    Rotating the epoch changes every derived key; no device identity is an input.
    """
    if type(app) is not str or not app:
        raise InvalidArgument("the app label is a non-empty str")
    if type(context) is not ContextId:
        raise InvalidArgument("context must be a ContextId")
    if type(epoch) is not int or not 0 <= epoch < 2**64:
        raise InvalidArgument("epoch must be an unsigned 64-bit integer")
    info: Value = {"app": app, "context": context.raw, "epoch": epoch, "kind": "context-key"}
    return derive_key(root, info, length=length)
