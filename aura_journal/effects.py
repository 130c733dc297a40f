"""Application-level effect interfaces, over the journal's types.

The infrastructure interfaces (randomness, clocks, storage, transport, crypto, tracing, reactive
signals) are in `aura_core.effects`; these need journals, facts, tokens and budgets, so they are
declared next to those types. Handlers live in `aura_effects` and are used by the production,
testing and simulation bundles alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.effects import StorageOp
from aura_core.ids import AuthorityId, ContextId, FactId
from aura_journal.budget import FlowLimit
from aura_journal.capability import CapabilityFrontier, Scope
from aura_journal.fact import Fact, JournalNamespace
from aura_journal.journal import Journal, StagedFacts
from aura_journal.leakage import LeakageLimits
from aura_journal.registry import Origin

__all__ = [
    "JournalTransaction",
    "JournalEffects",
    "AuthorizationEffects",
    "FlowBudgetEffects",
    "LeakageEffects",
    "PeerDirectoryEffects",
    "ContextKeyEffects",
]


class JournalTransaction(Protocol):
    """Exclusive access to one namespace's journal while facts are staged, persisted, committed.

    `stage` validates (raising `FactRejected`, changing nothing); after `staged.require_valid()`
    (the signature checks) `storage_ops` are the writes that persist the staged facts; the
    caller writes them (with any other writes that must land atomically with them) in one
    storage batch and then calls `commit`.
    """

    @property
    def journal(self) -> Journal: ...

    def stage(
        self,
        facts: Sequence[Fact],
        *,
        payloads: Mapping[FactId, object] | None = None,
        origin: Origin = Origin.PEER,
    ) -> StagedFacts:
        """Validate; `payloads` are decoded payloads of facts the caller just built itself,
        `origin` is `Origin.LOCAL` for facts this device writes (local-only ones need it)."""
        ...

    def storage_ops(self, staged: StagedFacts) -> list[StorageOp]: ...

    def commit(self, staged: StagedFacts) -> None: ...


class JournalEffects(Protocol):
    """Journals of this device, loaded from and persisted to storage."""

    async def journal(self, namespace: JournalNamespace) -> Journal:
        """The namespace's journal (read it; change it only through `merge` or a transaction)."""
        ...

    async def merge(
        self, namespace: JournalNamespace, facts: Sequence[Fact], *, origin: Origin = Origin.PEER
    ) -> int:
        """Validate, persist and add facts, all or none; returns how many were new. Facts are
        taken to come from a peer unless `origin` says this device wrote them."""
        ...

    def transaction(
        self, namespace: JournalNamespace
    ) -> AbstractAsyncContextManager[JournalTransaction]:
        """Lock the namespace for a stage / persist / commit sequence."""
        ...


class AuthorizationEffects(Protocol):
    """The capability frontier of this device in each context, with cached decisions."""

    async def allows(self, capability: str, scope: Scope) -> bool: ...

    def grant(self, context: ContextId | None, frontier: CapabilityFrontier) -> None:
        """Meet the frontier used for `context` (None: the local authority's own scopes)."""
        ...


class FlowBudgetEffects(Protocol):
    """Flow limits, derived from capabilities and policy (never stored as facts)."""

    async def limit(self, context: ContextId, peer: AuthorityId) -> FlowLimit:
        """The per-epoch limit for sending to `peer` in `context`: `Capped(units)`,
        `UNLIMITED`, or `NOT_CONFIGURED` (nothing names the flow: every send is denied)."""
        ...


class LeakageEffects(Protocol):
    """Per-context leakage limits."""

    async def limits(self, context: ContextId) -> LeakageLimits: ...


class PeerDirectoryEffects(Protocol):
    """Which peers this device knows, and the keys their receipts are signed with."""

    async def peer_key(self, authority: AuthorityId) -> VerifyingKey | None: ...


class ContextKeyEffects(Protocol):
    """The secrets of the contexts this device is a member of (never in a journal)."""

    async def secret(self, context: ContextId) -> bytes | None:
        """`context`'s shared 32-byte secret, or None if this device is not a member."""
        ...
