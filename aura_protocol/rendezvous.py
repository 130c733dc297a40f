"""Rendezvous: publishing sealed descriptors, and a `PeerLocator` that reads them.

Members learn where to reach each other's devices from the context journal itself
(`aura_journal.rendezvous`): a member seals a `Descriptor` with the context's rendezvous key and
publishes it as a signed fact; sync carries it to the other members, who open it with the same
key. The key is `derive_context_key(secret, app="aura.rendezvous", context, epoch)` from the
context's shared secret (`effects.contexts`), and the associated data binds the context, the
epoch and the signing member's key, so a sealed descriptor copied into another member's fact
does not open.

`RendezvousLocator` answers a transport's two questions from the descriptors in force: for each
member authority, the newest descriptor whose validity window holds "now" and that was not
revoked (`in_force`, pure, with the time passed in); `locate` dials its first `tcp://` hint,
`identify` matches a caller's static key against it. A descriptor that does not open, or that
names another authority than the member who signed it, or another context, is ignored and
traced once (`rendezvous.unreadable`, `rendezvous.forged`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from aura_core.crypto.ed25519 import SigningKey, VerifyingKey
from aura_core.encoding import decode, encode, record_tag
from aura_core.errors import CryptoError, EncodingError, InvalidArgument
from aura_core.hashing import tagged_hash, u64
from aura_core.ids import AuthorityId, ContextId, DeviceId, FactId
from aura_core.kdf import derive_context_key
from aura_core.time import OrderTime
from aura_effects.bundle import Effects
from aura_effects.locator import PeerAddress
from aura_journal.context import CONTEXT_REDUCER, ContextMember
from aura_journal.fact import Fact, FactBody, JournalNamespace, sign_fact
from aura_journal.registry import Origin
from aura_journal.rendezvous import (
    NONCE_LEN,
    RENDEZVOUS_REDUCER,
    Descriptor,
    DescriptorRevocation,
    PublishedDescriptor,
    SealedDescriptor,
    parse_hint,
)

__all__ = [
    "RENDEZVOUS_APP",
    "associated_data",
    "rendezvous_key",
    "publish_descriptor",
    "revoke_descriptor",
    "OpenedDescriptor",
    "in_force",
    "RendezvousLocator",
]

RENDEZVOUS_APP = "aura.rendezvous"
_AD_TAG = "AURA_RENDEZVOUS_AD_V1"


def associated_data(context: ContextId, epoch: int, signer: VerifyingKey) -> bytes:
    """What a sealed descriptor is bound to: its context, its key's epoch, and its signer."""
    return tagged_hash(_AD_TAG, context.raw, u64(epoch), signer.raw).digest


async def rendezvous_key(effects: Effects, context: ContextId, epoch: int) -> bytes | None:
    """The rendezvous key of `context` at `epoch`, or None if this device is not a member."""
    secret = await effects.contexts.secret(context)
    if secret is None:
        return None
    return derive_context_key(secret, app=RENDEZVOUS_APP, context=context, epoch=epoch)


async def _record(effects: Effects, context: ContextId, payload: object, key: SigningKey) -> Fact:
    namespace = JournalNamespace.of(context)
    type_id, version = record_tag(type(payload))
    body = FactBody(
        namespace,
        type_id,
        version,
        encode(payload),
        await effects.order.order_time(),
        await effects.time.now(),
    )
    fact = sign_fact(body, key)
    await effects.journal.merge(namespace, [fact], origin=Origin.LOCAL)
    return fact


async def publish_descriptor(
    effects: Effects,
    context: ContextId,
    key: SigningKey,
    *,
    authority: AuthorityId,
    device: DeviceId,
    static_key: bytes,
    hints: Sequence[str],
    not_before_ms: int,
    not_after_ms: int,
) -> Fact:
    """Seal a descriptor for this device at the context's current epoch and record it in the
    context journal, signed with `key` (`authority`'s member key in the context).

    Raises `InvalidArgument` for a bad descriptor or if this device holds no secret of the
    context, and the journal's `FactRejected` if `key` is not a member's; nothing is written
    then. The nonce and the AEAD nonce come from `effects.random`.
    """
    journal = await effects.journal.journal(JournalNamespace.of(context))
    epoch = journal.view(CONTEXT_REDUCER).epoch
    descriptor = Descriptor(
        authority,
        device,
        context,
        static_key,
        tuple(hints),
        not_before_ms,
        not_after_ms,
        await effects.random.random_bytes(NONCE_LEN),
    )
    sealing = await rendezvous_key(effects, context, epoch)
    if sealing is None:
        raise InvalidArgument(f"this device holds no secret of {context}: it cannot publish")
    ad = associated_data(context, epoch, key.verifying_key)
    sealed = await effects.crypto.aead_encrypt(sealing, encode(descriptor), ad)
    return await _record(effects, context, SealedDescriptor(epoch, sealed), key)


async def revoke_descriptor(
    effects: Effects, context: ContextId, descriptor: FactId, key: SigningKey
) -> Fact:
    """Withdraw the descriptor published as fact `descriptor` (signed with the same `key`);
    the journal refuses a revocation of another member's descriptor (`UnauthorizedWriter`)."""
    return await _record(effects, context, DescriptorRevocation(descriptor), key)


@attrs.frozen
class OpenedDescriptor:
    """A descriptor as a member reads it: opened and checked against its signer."""

    fact: FactId
    member: AuthorityId
    """The member that signed it (equal to `descriptor.authority`)."""
    descriptor: Descriptor
    order: OrderTime


def in_force(
    opened: Iterable[OpenedDescriptor], revoked: frozenset[FactId], now_ms: int
) -> dict[AuthorityId, OpenedDescriptor]:
    """Per member, the descriptor that counts at `now_ms`: the newest (latest `not_before_ms`,
    then latest order token, then fact id) among those unrevoked and within their window."""
    chosen: dict[AuthorityId, OpenedDescriptor] = {}
    for entry in opened:
        if entry.fact in revoked or not entry.descriptor.in_force(now_ms):
            continue
        held = chosen.get(entry.member)
        if held is None or _newness(entry) > _newness(held):
            chosen[entry.member] = entry
    return chosen


def _newness(entry: OpenedDescriptor) -> tuple[int, bytes, bytes]:
    return (entry.descriptor.not_before_ms, entry.order.token, entry.fact.hash.digest)


class RendezvousLocator:
    """`PeerLocator` over the rendezvous descriptors in this device's context journals.

    Reads the context's journal and secret through `effects`, and the time through
    `effects.time` (a descriptor counts only inside its window). Opened descriptors are cached
    by fact id; one that did not open or check out is remembered as such and traced once.
    """

    def __init__(self, effects: Effects) -> None:
        self._fx = effects
        self._opened: dict[FactId, OpenedDescriptor | None] = {}

    async def descriptors(self, context: ContextId) -> dict[AuthorityId, OpenedDescriptor]:
        """The descriptor in force now for each member of `context` (empty if this device
        holds no secret of it or the journal has no genesis yet)."""
        journal = await self._fx.journal.journal(JournalNamespace.of(context))
        genesis = journal.view(CONTEXT_REDUCER).genesis
        view = journal.view(RENDEZVOUS_REDUCER)
        if genesis is None or await self._fx.contexts.secret(context) is None:
            return {}
        opened: list[OpenedDescriptor] = []
        keys: dict[int, bytes | None] = {}
        for fact_id in sorted(view.descriptors):
            if fact_id not in self._opened:
                published = view.descriptors[fact_id]
                if published.epoch not in keys:
                    keys[published.epoch] = await rendezvous_key(self._fx, context, published.epoch)
                key = keys[published.epoch]
                if key is None:
                    return {}
                member = genesis.by_key.get(published.signer.raw)
                self._opened[fact_id] = await self._open(context, fact_id, published, key, member)
            entry = self._opened[fact_id]
            if entry is not None:
                opened.append(entry)
        now = await self._fx.time.now()
        return in_force(opened, view.revoked, now.ts_ms)

    async def _open(
        self,
        context: ContextId,
        fact_id: FactId,
        published: PublishedDescriptor,
        key: bytes,
        member: ContextMember | None,
    ) -> OpenedDescriptor | None:
        ad = associated_data(context, published.epoch, published.signer)
        try:
            plain = await self._fx.crypto.aead_decrypt(key, published.sealed, ad)
            descriptor = decode(plain, Descriptor)
        except (CryptoError, EncodingError):
            self._trace("rendezvous.unreadable", context, fact_id)
            return None
        if (
            member is None
            or member.authority != descriptor.authority
            or (descriptor.context != context)
        ):
            self._trace("rendezvous.forged", context, fact_id)
            return None
        return OpenedDescriptor(fact_id, descriptor.authority, descriptor, published.order)

    def _trace(self, name: str, context: ContextId, fact_id: FactId) -> None:
        self._fx.trace.event(name, context=str(context), fact=str(fact_id))

    async def locate(self, peer: AuthorityId, context: ContextId) -> PeerAddress | None:
        """Where to dial `peer` in `context`: the first (preferred) hint of its descriptor in
        force, with its static key; None if it has none."""
        entry = (await self.descriptors(context)).get(peer)
        if entry is None:
            return None
        host, port = parse_hint(entry.descriptor.hints[0])
        return PeerAddress(host, port, entry.descriptor.static_key)

    async def identify(self, static_key: bytes, context: ContextId) -> AuthorityId | None:
        """The member whose descriptor in force in `context` names `static_key` (None: refuse
        the caller)."""
        for member, entry in sorted((await self.descriptors(context)).items()):
            if entry.descriptor.static_key == static_key:
                return member
        return None
