"""What a device must be given before it goes online, checked when it does.

A device that lacks any of these does not fail by itself: its own guard chain denies its
consensus messages (no grant, no flow budget, an unknown peer) or its own journal refuses the
decided change (no fact type for it), and the only symptom was `ConsensusFailed` at the
deadline, with the cause at DEBUG. `check_ready` finds every missing piece at once and raises
one `NotConfigured` that names each and says how to provide it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aura_core.encoding import record_tag
from aura_core.errors import NotConfigured, UnknownFactType
from aura_core.ids import AuthorityId, ContextId
from aura_effects.bundle import Effects
from aura_journal.budget import NotConfigured as NoBudget
from aura_journal.capability import ContextScope

__all__ = ["check_ready"]


async def check_ready(
    effects: Effects,
    *,
    local: AuthorityId,
    context: ContextId,
    peers: Iterable[AuthorityId],
    capabilities: Sequence[str],
    records: Sequence[type],
) -> None:
    """`NotConfigured` unless `effects` can send every one of `capabilities` to each of
    `peers` in `context` (a grant, a flow budget, the peer's key) and its journal registry
    knows every record type in `records` (the facts this device will be asked to write)."""
    missing: list[str] = []
    for record in records:
        type_id, version = record_tag(record)
        try:
            effects.journal.registry.lookup(type_id, version)
        except UnknownFactType:
            missing.append(
                f"the journal's fact registry has no {type_id!r} (v{version}): build the "
                "effects with registry=aura_consensus.tree.authority_registry()"
            )
    scope = ContextScope(context)
    denied = [c for c in capabilities if not await effects.authorization.allows(c, scope)]
    if denied:
        missing.append(
            f"no grant of {', '.join(denied)} in context {context}: "
            "effects.authorization.grant(context, frontier)"
        )
    for peer in sorted(set(peers) - {local}):
        if isinstance(await effects.flow.limit(context, peer), NoBudget):
            missing.append(
                f"no flow budget for {peer} in context {context}: "
                "effects.flow.set_limit(context, peer, limit) or set_default(context, limit)"
            )
        if await effects.peers.peer_key(peer) is None:
            missing.append(f"peer {peer} is unknown: effects.peers.add(peer, verifying_key)")
    if missing:
        raise NotConfigured(f"{local} cannot go online: " + "; ".join(missing))
