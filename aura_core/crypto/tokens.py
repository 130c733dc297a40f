"""Deterministic minting and attenuation of Biscuit capability tokens (native core).

biscuit-python signs every new block with a key pair drawn from the operating system, which a
seeded simulation cannot replay. These two functions build the same tokens with every key pair
drawn from a ChaCha20 RNG seeded by the caller (from `RandomEffects`). Parsing, signature checks
and authorization are done by biscuit-python in `aura_journal.capability`.
"""

from __future__ import annotations

from collections.abc import Mapping

from aura_core import _native
from aura_core.errors import InvalidArgument, TokenError

__all__ = ["mint_token", "attenuate_token"]


def _params(values: Mapping[str, str | int]) -> list[tuple[str, str | int]]:
    out: list[tuple[str, str | int]] = []
    for name in sorted(values):
        value = values[name]
        if type(value) is not str and (type(value) is not int or not -(2**63) <= value < 2**63):
            raise InvalidArgument(f"token parameter {name} must be str or a 64-bit int")
        out.append((name, value))
    return out


def _check_seed(name: str, value: bytes) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidArgument(f"{name} is exactly 32 bytes")


def mint_token(root_seed: bytes, code: str, params: Mapping[str, str | int], seed: bytes) -> bytes:
    """A token whose authority block is `code`, signed by the key from `root_seed`.

    Raises `TokenError` if `code` is not valid Datalog or leaves a parameter unbound.
    """
    _check_seed("root_seed", root_seed)
    _check_seed("seed", seed)
    try:
        return _native.biscuit_mint(root_seed, code, _params(params), seed)
    except _native.NativeError as exc:
        raise TokenError(str(exc.args[1])) from None


def attenuate_token(
    token: bytes, root_public_key: bytes, code: str, params: Mapping[str, str | int], seed: bytes
) -> bytes:
    """`token` (verified under `root_public_key`) with one more block made of `code`.

    Raises `TokenError` if the token is forged, malformed or the block does not build.
    """
    _check_seed("seed", seed)
    try:
        return _native.biscuit_attenuate(token, root_public_key, code, _params(params), seed)
    except _native.NativeError as exc:
        raise TokenError(str(exc.args[1])) from None
