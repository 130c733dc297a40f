"""Map `NativeError(code, message[, culprits])` from `aura_core._native` onto typed errors
(the `CryptoError` family, `InvalidArgument`, and the reconciliation errors)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from aura_core import _native
from aura_core.errors import (
    AuraError,
    CryptoError,
    DecryptionFailed,
    HandshakeFailed,
    InsufficientSigners,
    InvalidArgument,
    InvalidShare,
    InvalidSignature,
    MalformedCryptoData,
    MalformedFrame,
    MalformedKey,
    MalformedReconcileMessage,
    NoiseStateError,
    NonceReuse,
    ReconcileStateError,
)

P = ParamSpec("P")
R = TypeVar("R")

_BY_CODE: dict[str, type[AuraError]] = {
    "malformed": MalformedCryptoData,
    "invalid_public_key": MalformedKey,
    "malformed_key": MalformedKey,
    "invalid_signature": InvalidSignature,
    "insufficient_signers": InsufficientSigners,
    "invalid_argument": InvalidArgument,
    "nonce_reuse": NonceReuse,
    "noise_handshake": HandshakeFailed,
    "noise_decrypt": DecryptionFailed,
    "noise_state": NoiseStateError,
    "malformed_frame": MalformedFrame,
    "reconcile_malformed": MalformedReconcileMessage,
    "reconcile_state": ReconcileStateError,
}


def translate(error: _native.NativeError) -> AuraError:
    """The typed error for a native failure.

    `invalid_share` carries the culprits the native core names; unknown codes (including
    `internal`, which no input should reach) become a plain `CryptoError`.
    """
    code, message = str(error.args[0]), str(error.args[1])
    if code == "invalid_share":
        culprits = tuple(int(c) for c in error.args[2]) if len(error.args) > 2 else ()
        return InvalidShare(message, culprits)
    return _BY_CODE.get(code, CryptoError)(message)


def native_call(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call into `_native`, re-raising its errors as typed `AuraError`s."""
    try:
        return function(*args, **kwargs)
    except _native.NativeError as exc:
        raise translate(exc) from None
