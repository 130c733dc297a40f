"""Randomness from the operating system's CSPRNG."""

from __future__ import annotations

import secrets

from aura_core.errors import InvalidArgument

__all__ = ["OsRandom"]


class OsRandom:
    """`RandomEffects` over `secrets` (the OS CSPRNG). Never used by the simulator."""

    async def random_bytes(self, n: int) -> bytes:
        if type(n) is not int or n < 0:
            raise InvalidArgument("a byte count is a non-negative int")
        return secrets.token_bytes(n)

    async def random_u64(self) -> int:
        return secrets.randbits(64)

    async def random_range(self, low: int, high: int) -> int:
        if high <= low:
            raise InvalidArgument("random_range needs low < high")
        return low + secrets.randbelow(high - low)
