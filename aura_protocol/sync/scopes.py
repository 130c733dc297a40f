"""Which namespaces a device syncs with which peer, and in which context the session travels.

A session syncs one journal namespace and its messages travel in one relational context (the
flow budget, receipts and capabilities are that context's). A context's own journal travels in
the context; an authority's journal, which the devices of one account share, travels in a
context those devices share (the one their consensus runs in). Which scopes a device shares
with a peer is a policy (`SharedScopes`): the responder asks it too, and refuses to sync a
namespace it does not share with the initiator, so a device never serves facts to a peer that
has no business reading them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence

import attrs

from aura_core.ids import AuthorityId, ContextId
from aura_effects.bundle import Effects
from aura_journal.capability import ContextScope
from aura_journal.context import CONTEXT_REDUCER
from aura_journal.fact import JournalNamespace
from aura_protocol.sync.protocol import CAPABILITIES

__all__ = ["SyncScope", "SharedScopes", "AccountDevices", "shared_contexts"]


@attrs.frozen
class SyncScope:
    """One journal namespace, and the context its sync sessions travel in."""

    namespace: JournalNamespace
    context: ContextId

    def sort_key(self) -> tuple[str, bytes, bytes]:
        return (self.namespace.kind.value, self.namespace.raw, self.context.raw)

    @classmethod
    def of_context(cls, context: ContextId) -> SyncScope:
        """A context's own journal, synced in the context."""
        return cls(JournalNamespace.of(context), context)


SharedScopes = Callable[[AuthorityId], Awaitable[Sequence[SyncScope]]]
"""The scopes this device shares with a peer, sorted by `SyncScope.sort_key` (the responder
checks requests against it too)."""


@attrs.frozen
class AccountDevices:
    """The account a device belongs to: its authority, the context its devices share, and the
    network authorities of its other devices."""

    authority: AuthorityId
    context: ContextId
    devices: Collection[AuthorityId]


def shared_contexts(
    effects: Effects, local: AuthorityId, *, account: AccountDevices | None = None
) -> SharedScopes:
    """The default policy: every context this device holds the secret of and the sync
    capabilities in whose genesis lists both `local` and the peer as members, and, with
    `account`, the account's authority journal for the account's other devices (in the
    account's context, if this device holds the sync capabilities there). A context where this
    device cannot send is never a scope: a session there would be denied by its own guard
    chain as initiator, and could not even be refused as responder."""

    async def can_sync(context: ContextId) -> bool:
        scope = ContextScope(context)
        return all([await effects.authorization.allows(c, scope) for c in CAPABILITIES])

    async def scopes(peer: AuthorityId) -> list[SyncScope]:
        found: list[SyncScope] = []
        if peer == local:
            return found
        for context in effects.contexts.contexts():
            journal = await effects.journal.journal(JournalNamespace.of(context))
            genesis = journal.view(CONTEXT_REDUCER).genesis
            if (
                genesis is not None
                and genesis.member(local) is not None
                and genesis.member(peer) is not None
                and await can_sync(context)
            ):
                found.append(SyncScope.of_context(context))
        if account is not None and peer in account.devices and await can_sync(account.context):
            found.append(SyncScope(JournalNamespace.of(account.authority), account.context))
        return sorted(found, key=SyncScope.sort_key)

    return scopes
