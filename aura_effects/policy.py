"""Local policy: flow limits, leakage limits and the peers this device knows."""

from __future__ import annotations

from collections.abc import Mapping

from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.ids import AuthorityId, ContextId
from aura_journal.budget import NOT_CONFIGURED, Capped, FlowLimit, Unlimited
from aura_journal.leakage import LeakageLimits

__all__ = ["FlowPolicy", "LeakagePolicy", "PeerDirectory"]


class FlowPolicy:
    """`FlowBudgetEffects`: per-epoch limits per (context, peer), with per-context defaults.

    A flow with neither a limit of its own nor a context default is `NOT_CONFIGURED`, which the
    guard chain denies outright (closed by default). Only configured limits (`Capped(units)` or
    `UNLIMITED`) can be set.
    """

    def __init__(
        self,
        *,
        defaults: Mapping[ContextId, Capped | Unlimited] | None = None,
        limits: Mapping[tuple[ContextId, AuthorityId], Capped | Unlimited] | None = None,
    ) -> None:
        self._defaults = dict(defaults or {})
        self._limits = dict(limits or {})

    def set_limit(self, context: ContextId, peer: AuthorityId, limit: Capped | Unlimited) -> None:
        self._limits[(context, peer)] = limit

    def set_default(self, context: ContextId, limit: Capped | Unlimited) -> None:
        self._defaults[context] = limit

    async def limit(self, context: ContextId, peer: AuthorityId) -> FlowLimit:
        found = self._limits.get((context, peer))
        if found is None:
            found = self._defaults.get(context)
        return NOT_CONFIGURED if found is None else found


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
