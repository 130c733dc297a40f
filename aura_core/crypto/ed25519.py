"""Single-signer Ed25519 (RFC 8032) for device keys, receipts and 1-of-1 authorities.

Signing keys are built from a 32-byte seed the caller draws from `RandomEffects`; signing is
deterministic. Verification is strict (canonical `S`, no small-order keys or `R`), matching
libsodium.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self, cast

import attrs

from aura_core import _native
from aura_core.crypto._native_errors import native_call
from aura_core.encoding import Value
from aura_core.errors import InvalidSignature, MalformedKey
from aura_core.intern import InternTable

__all__ = [
    "SEED_LEN",
    "PUBLIC_KEY_LEN",
    "SIGNATURE_LEN",
    "SigningKey",
    "VerifyingKey",
    "verify_many",
    "VerificationJob",
    "start_verification",
]

SEED_LEN = 32
PUBLIC_KEY_LEN = 32
SIGNATURE_LEN = 64


_VERIFIERS: dict[bytes, _native.Ed25519Verifier] = {}
_VERIFIER_CACHE = 4096
"""Parsed public keys kept for repeated verification (public data, so caching is safe)."""


def _verifier(raw: bytes) -> _native.Ed25519Verifier:
    verifier = _native.Ed25519Verifier(raw)
    if len(_VERIFIERS) >= _VERIFIER_CACHE:
        _VERIFIERS.pop(next(iter(_VERIFIERS)))
    _VERIFIERS[raw] = verifier
    return verifier


class SigningKey:
    """An Ed25519 signing key, held in native memory (zeroized when dropped).

    Its seed never appears in `repr` or `str`.
    """

    __slots__ = ("_key", "_public")

    def __init__(self, seed: bytes) -> None:
        if type(seed) is not bytes or len(seed) != SEED_LEN:
            raise MalformedKey(f"an Ed25519 seed is exactly {SEED_LEN} bytes")
        self._key = _native.Ed25519Key(seed)
        self._public = VerifyingKey(self._key.public_key())

    @property
    def verifying_key(self) -> VerifyingKey:
        return self._public

    def sign(self, message: bytes) -> bytes:
        """The 64-byte signature of `message` (deterministic, RFC 8032)."""
        if not isinstance(message, bytes | bytearray | memoryview):
            raise TypeError("messages are bytes")
        return self._key.sign(bytes(message))

    def seed_bytes(self) -> bytes:
        """The secret seed, for encrypted storage only."""
        return self._key.seed()

    def __repr__(self) -> str:
        return f"SigningKey(<secret>, public={self._public.raw.hex()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SigningKey) and self._public == other._public

    def __hash__(self) -> int:
        return hash(self._public)


def _check_public(_: object, __: object, value: bytes) -> None:
    if type(value) is not bytes or len(value) != PUBLIC_KEY_LEN:
        raise MalformedKey(f"an Ed25519 public key is exactly {PUBLIC_KEY_LEN} bytes")


@attrs.frozen(order=True, repr=False)
class VerifyingKey:
    """An Ed25519 public key (32 bytes). Curve validity is checked when it verifies."""

    raw: bytes = attrs.field(validator=_check_public)

    def verify(self, message: bytes, signature: bytes) -> None:
        """Return if `signature` is valid for `message`; raise `InvalidSignature` otherwise.

        A key that is not a valid, non-weak point raises `MalformedKey`.
        """
        if type(signature) is not bytes or len(signature) != SIGNATURE_LEN:
            raise InvalidSignature(f"an Ed25519 signature is exactly {SIGNATURE_LEN} bytes")
        verifier = _VERIFIERS.get(self.raw) or native_call(_verifier, self.raw)
        native_call(verifier.verify, message, signature)

    def to_cbor(self) -> Value:
        return self.raw

    @classmethod
    def from_cbor(cls, value: Value) -> Self:
        """The key of these bytes; the instance decoded before for the same bytes, if any
        (every receipt names its signer, `InternTable`)."""
        if type(value) is not bytes:
            raise MalformedKey("an Ed25519 public key is encoded as a byte string")
        return cast(Self, _DECODED_KEYS(value))

    def __repr__(self) -> str:
        return f"VerifyingKey({self.raw.hex()})"


_DECODED_KEYS = InternTable(VerifyingKey)


_NATIVE_MIN = 16
"""Fewer signatures than this are checked one by one through the parsed-key cache: the native
batch parses each distinct key again on every call (that doubled the cost of a batch of one)
and only pays for itself once it can share the work between threads."""


def _valid(key: VerifyingKey, message: bytes, signature: bytes) -> bool:
    try:
        key.verify(message, signature)
    except (InvalidSignature, MalformedKey):
        return False
    return True


def verify_many(items: Sequence[tuple[VerifyingKey, bytes, bytes]]) -> list[bool]:
    """Verify (key, message, signature) triples, one result per item (a malformed key or
    signature is simply `False`), with `VerifyingKey.verify`'s strict rules.

    From `_NATIVE_MIN` items on, the batch runs in one native call, shared between threads on
    every core, without the GIL; smaller ones go through the cache of parsed keys. Use it to
    check many signatures (signed facts, the receipts of a received batch); use
    `VerifyingKey.verify` for one signature and a typed error.
    """
    if len(items) < _NATIVE_MIN:
        return [_valid(key, message, sig) for key, message, sig in items]
    return _native.ed25519_verify_many([(key.raw, message, sig) for key, message, sig in items])


class VerificationJob:
    """Signature checks running on native threads; `results()` waits for them."""

    __slots__ = ("_job", "_results")

    def __init__(self, job: _native.VerifyJob | None) -> None:
        self._job = job
        self._results: list[bool] | None = None if job is not None else []

    def results(self) -> list[bool]:
        """One result per item, in order (waits the first time it is called)."""
        if self._results is None:
            assert self._job is not None
            self._results = self._job.wait()
            self._job = None
        return self._results


_BACKGROUND_MIN = 16
"""Below this many signatures a background thread costs more than it saves; verify inline."""


def start_verification(items: Sequence[tuple[VerifyingKey, bytes, bytes]]) -> VerificationJob:
    """Start `verify_many` in the background so the caller can overlap other work with it.

    Small batches are verified at once (starting a thread would cost more than it saves).
    """
    if len(items) < _BACKGROUND_MIN:
        job = VerificationJob(None)
        job._results = verify_many(items)
        return job
    return VerificationJob(
        _native.ed25519_verify_start([(key.raw, message, sig) for key, message, sig in items])
    )
