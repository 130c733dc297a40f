"""Recording decisions: the `on_decided` hook that puts a commit into a journal.

A decided instance becomes a fact of the journal its operation belongs to: a `CommitFact`
payload in a relational context's journal, a `TreeCommit` in the authority's journal for a
tree change. The fact is signed by this device (which replica recorded it); the agreement
itself is the commit's threshold signature, which the journal's validator checks.
"""

from __future__ import annotations

from collections.abc import Callable

from aura_consensus.commit import CommitFact
from aura_consensus.tree import TreeCommit
from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import encode, record_tag
from aura_effects.bundle import Effects
from aura_journal.fact import FactBody, JournalNamespace, sign_fact
from aura_protocol.consensus.config import DecidedHook

__all__ = ["record_in_journal", "record_tree_change"]


def record_in_journal(
    effects: Effects,
    namespace: JournalNamespace,
    key: SigningKey,
    *,
    payload: Callable[[CommitFact], object] = lambda fact: fact,
) -> DecidedHook:
    """A hook that merges `payload(commit)` (the commit itself by default) into `namespace`'s
    journal as a fact signed by `key`. Its errors reach the consensus node, which retries the
    ones that may pass."""

    async def record(fact: CommitFact) -> None:
        value = payload(fact)
        type_id, version = record_tag(type(value))
        body = FactBody(
            namespace,
            type_id,
            version,
            encode(value),
            await effects.order.order_time(),
            await effects.time.now(),
        )
        await effects.journal.merge(namespace, [sign_fact(body, key)])

    return record


def record_tree_change(
    effects: Effects, namespace: JournalNamespace, key: SigningKey
) -> DecidedHook:
    """A hook for tree changes: each commit goes into the authority's journal as a
    `TreeCommit` (register `aura_consensus.tree.authority_registry()` on that journal)."""
    return record_in_journal(effects, namespace, key, payload=TreeCommit)
