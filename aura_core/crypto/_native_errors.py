"""Map `NativeError(code, message)` from `aura_core._native` onto the `CryptoError` hierarchy."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from aura_core import _native
from aura_core.errors import CryptoError, InvalidSignature, MalformedKey

P = ParamSpec("P")
R = TypeVar("R")

_BY_CODE: dict[str, type[CryptoError]] = {
    "invalid_public_key": MalformedKey,
    "invalid_signature": InvalidSignature,
}


def translate(error: _native.NativeError) -> CryptoError:
    """The typed error for a native failure (unknown codes become plain `CryptoError`)."""
    code, message = error.args[0], error.args[1]
    return _BY_CODE.get(code, CryptoError)(message)


def native_call(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call into `_native`, re-raising its errors as `CryptoError` subclasses."""
    try:
        return function(*args, **kwargs)
    except _native.NativeError as exc:
        raise translate(exc) from None
