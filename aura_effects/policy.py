"""Local policy: flow limits, leakage limits and the peers this device knows."""

from __future__ import annotations

from collections.abc import Mapping

from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.ids import AuthorityId, ContextId
from aura_journal.leakage import LeakageLimits

__all__ = ["FlowPolicy", "LeakagePolicy", "PeerDirectory"]


class FlowPolicy:
    """`FlowBudgetEffects`: per-epoch limits per (context, peer), with per-context defaults.

    A flow with neither a limit nor a context default has no headroom: sends are denied.
    """

    def __init__(
        self,
        *,
        defaults: Mapping[ContextId, int | None] | None = None,
        limits: Mapping[tuple[ContextId, AuthorityId], int | None] | None = None,
    ) -> None:
        self._defaults = dict(defaults or {})
        self._limits = dict(limits or {})

    def set_limit(self, context: ContextId, peer: AuthorityId, limit: int | None) -> None:
        self._limits[(context, peer)] = limit

    def set_default(self, context: ContextId, limit: int | None) -> None:
        self._defaults[context] = limit

    async def limit(self, context: ContextId, peer: AuthorityId) -> int | None:
        if (context, peer) in self._limits:
            return self._limits[(context, peer)]
        return self._defaults.get(context, 0)


class LeakagePolicy:
    """`LeakageEffects`: per-context limits, falling back to the reference defaults."""

    def __init__(self, limits: Mapping[ContextId, LeakageLimits] | None = None) -> None:
        self._limits = dict(limits or {})
        self._default = LeakageLimits()

    def set_limits(self, context: ContextId, limits: LeakageLimits) -> None:
        self._limits[context] = limits

    async def limits(self, context: ContextId) -> LeakageLimits:
        return self._limits.get(context, self._default)


class PeerDirectory:
    """`PeerDirectoryEffects`: peers and the keys their receipts are signed with."""

    def __init__(self, keys: Mapping[AuthorityId, VerifyingKey] | None = None) -> None:
        self._keys = dict(keys or {})

    def add(self, authority: AuthorityId, key: VerifyingKey) -> None:
        self._keys[authority] = key

    def remove(self, authority: AuthorityId) -> None:
        self._keys.pop(authority, None)

    async def peer_key(self, authority: AuthorityId) -> VerifyingKey | None:
        return self._keys.get(authority)
