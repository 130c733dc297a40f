"""Writer rules that depend on the kind of journal: its owner's devices or members.

The basic rules live next to the facts they govern (`LocalDevice` in `registry`,
`AuthorityDevices` in `tree`, `ContextMembers` in `context`, the flow rules in `budget`); the
ones here pick between an authority's devices and a context's members by namespace, for fact
types that live in both kinds of journal (consensus commits, ceremonies, snapshots).
"""

from __future__ import annotations

from typing import Any

import attrs

from aura_core.errors import UnauthorizedWriter
from aura_journal.context import CONTEXT_MEMBERS
from aura_journal.fact import Fact, NamespaceKind, Unattested
from aura_journal.registry import JournalState, Origin
from aura_journal.tree import AUTHORITY_DEVICES

__all__ = ["NamespaceOwner", "NAMESPACE_OWNER", "SnapshotWriter", "SNAPSHOT_WRITER"]


@attrs.frozen
class NamespaceOwner:
    """Written by the journal's owner: a device of the authority, or a member of the context."""

    summary = "the owner: a device of the authority, or a member of the context"

    def check(self, state: JournalState, fact: Fact, payload: Any, origin: Origin) -> None:
        if state.namespace.kind is NamespaceKind.AUTHORITY:
            AUTHORITY_DEVICES.check(state, fact, payload, origin)
        else:
            CONTEXT_MEMBERS.check(state, fact, payload, origin)


NAMESPACE_OWNER = NamespaceOwner()


@attrs.frozen
class SnapshotWriter:
    """A snapshot is this device's own (unsigned, pruning its own journal) or is attested by
    the namespace's owner; a peer's unsigned snapshot is refused."""

    summary = "this device (unsigned) or the owner (signed)"

    def check(self, state: JournalState, fact: Fact, payload: Any, origin: Origin) -> None:
        if type(fact.attestation) is Unattested:
            if origin is not Origin.LOCAL:
                raise UnauthorizedWriter(
                    f"snapshot {fact.id}: a peer's snapshot needs the owner's attestation"
                )
            return
        NAMESPACE_OWNER.check(state, fact, payload, origin)


SNAPSHOT_WRITER = SnapshotWriter()
