"""Relational contexts as journal facts: a self-certifying genesis and its members.

A context with members is founded by a `ContextGenesis` fact in its own journal: the member
authorities, the key each signs with in this context, how many of them must approve an epoch
change, and 32 bytes of the creator's entropy (so the same members can share several contexts).
The `ContextId` is derived from that content (`ContextGenesis.create`), so a genesis either
founds exactly the context named in it or is rejected, and a rival genesis names another
context. Every replicated fact of the context is then written by a member (`ContextMembers`):
the journal checks the attestation's key against the genesis on ingest, merge and load.

The context's epoch is its own too (`ContextView.epoch`): it moves one step at a time, by a
`ContextEpoch` fact carrying the approvals of the genesis's epoch threshold of members, so
nobody can move a context to an epoch it could never leave. Every flow budget of the context
and every key derived for it is of its current epoch.

A context without a genesis (an id drawn from entropy, used only to route messages) holds only
facts local to a device.
"""

from __future__ import annotations

from typing import Any

import attrs

from aura_core.crypto.ed25519 import SIGNATURE_LEN, SigningKey, VerifyingKey
from aura_core.encoding import decode, encode, record
from aura_core.errors import (
    FactRejected,
    IdentityMismatch,
    InvalidArgument,
    InvalidSignature,
    MalformedKey,
    MissingParent,
    UnauthorizedWriter,
)
from aura_core.hashing import tagged_hash, u32, u64
from aura_core.ids import AuthorityId, ContextId
from aura_core.memo import memoized_property
from aura_journal.fact import (
    Ed25519Attestation,
    Fact,
    JournalNamespace,
    NamespaceKind,
    ThresholdAttestation,
)
from aura_journal.registry import FactType, JournalState, Origin

__all__ = [
    "NONCE_LEN",
    "MAX_MEMBERS",
    "ContextMember",
    "ContextGenesis",
    "ContextView",
    "ContextReducer",
    "CONTEXT_REDUCER",
    "CONTEXT_GENESIS",
    "ContextMembers",
    "CONTEXT_MEMBERS",
    "EpochApproval",
    "ContextEpoch",
    "EpochAgreement",
    "CONTEXT_EPOCH",
    "epoch_message",
    "approve_epoch",
    "context_view",
    "attesting_key",
]

NONCE_LEN = 32
MAX_MEMBERS = 256
_ID_TAG = "AURA_CONTEXT_ID_V1"
_EPOCH_TAG = "AURA_CONTEXT_EPOCH_V1"


@record("context.member")
@attrs.frozen(order=True)
class ContextMember:
    """A member authority and the key its facts and approvals in this context are signed with
    (a device key for a one-device authority, or the authority's group key)."""

    authority: AuthorityId
    key: VerifyingKey


def _members(_: object, __: object, value: tuple[ContextMember, ...]) -> None:
    if type(value) is not tuple or not all(type(m) is ContextMember for m in value):
        raise InvalidArgument("context members are a tuple of ContextMember")
    if not 1 <= len(value) <= MAX_MEMBERS:
        raise InvalidArgument(f"a context has 1..{MAX_MEMBERS} members")
    authorities = [m.authority for m in value]
    if authorities != sorted(set(authorities)):
        raise InvalidArgument("context members are sorted by authority, each once")
    if len({m.key.raw for m in value}) != len(value):
        raise InvalidArgument("two context members share a key")


def _nonce(_: object, __: object, value: bytes) -> None:
    if type(value) is not bytes or len(value) != NONCE_LEN:
        raise InvalidArgument(f"a context nonce is {NONCE_LEN} bytes of entropy")


def _derive(members: tuple[ContextMember, ...], epoch_threshold: int, nonce: bytes) -> ContextId:
    parts = [u32(epoch_threshold), nonce, u32(len(members))]
    for member in members:
        parts += [member.authority.raw, member.key.raw]
    return ContextId.derived(tagged_hash(_ID_TAG, *parts))


@record("context.genesis")
@attrs.frozen(slots=False)
class ContextGenesis:
    """The founding content of a context; `context` is derived from the rest."""

    context: ContextId
    members: tuple[ContextMember, ...] = attrs.field(validator=_members)
    epoch_threshold: int
    """How many members must approve moving the context to its next epoch."""
    nonce: bytes = attrs.field(validator=_nonce)

    def __attrs_post_init__(self) -> None:
        if type(self.epoch_threshold) is not int or not (
            1 <= self.epoch_threshold <= len(self.members)
        ):
            raise InvalidArgument("the epoch threshold is 1..member count")

    @classmethod
    def create(
        cls,
        members: list[ContextMember] | tuple[ContextMember, ...],
        epoch_threshold: int,
        nonce: bytes,
    ) -> ContextGenesis:
        """A genesis for `members` (any order) whose `context` is derived from its content;
        `nonce` is 32 bytes the creator draws from `RandomEffects`."""
        ordered = tuple(sorted(members))
        _members(None, None, ordered)
        _nonce(None, None, nonce)
        return cls(_derive(ordered, epoch_threshold, nonce), ordered, epoch_threshold, nonce)

    @property
    def derived_id(self) -> ContextId:
        """The id this content founds (equal to `context` for a valid genesis)."""
        return _derive(self.members, self.epoch_threshold, self.nonce)

    @memoized_property
    def by_key(self) -> dict[bytes, ContextMember]:
        """Member by raw key bytes (how an attestation is matched to its writer)."""
        return {member.key.raw: member for member in self.members}

    def member(self, authority: AuthorityId) -> ContextMember | None:
        return next((m for m in self.members if m.authority == authority), None)


def epoch_message(context: ContextId, epoch: int) -> bytes:
    """What a member signs to approve moving `context` to `epoch`."""
    return tagged_hash(_EPOCH_TAG, context.raw, u64(epoch)).digest


def _signature(_: object, __: object, value: bytes) -> None:
    if type(value) is not bytes or len(value) != SIGNATURE_LEN:
        raise InvalidArgument(f"an approval signature is {SIGNATURE_LEN} bytes")


@record("context.epoch_approval")
@attrs.frozen(order=True)
class EpochApproval:
    """A member's signature (with its context key) over `epoch_message(context, epoch)`."""

    authority: AuthorityId
    signature: bytes = attrs.field(validator=_signature)


def approve_epoch(
    context: ContextId, epoch: int, authority: AuthorityId, key: SigningKey
) -> EpochApproval:
    """`authority`'s approval of `context`'s move to `epoch`, signed with its context key."""
    return EpochApproval(authority, key.sign(epoch_message(context, epoch)))


def _approvals(_: object, __: object, value: tuple[EpochApproval, ...]) -> None:
    if type(value) is not tuple or not all(type(a) is EpochApproval for a in value):
        raise InvalidArgument("approvals are a tuple of EpochApproval")
    authorities = [a.authority for a in value]
    if not value or authorities != sorted(set(authorities)):
        raise InvalidArgument("approvals are non-empty, sorted by authority, one each")


def _u64(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidArgument(f"{attribute.name} must be an unsigned 64-bit integer")


@record("context.epoch")
@attrs.frozen
class ContextEpoch:
    """The context moves to `epoch` (the one after its current epoch), approved by at least
    the context's epoch threshold of members; moving resets every budget."""

    epoch: int = attrs.field(validator=_u64)
    approvals: tuple[EpochApproval, ...] = attrs.field(validator=_approvals)


@record("context.view")
@attrs.frozen
class ContextView:
    """What the context's journal says about the context itself: its genesis, once known, and
    its current epoch (0 until the first `ContextEpoch`)."""

    genesis: ContextGenesis | None = None
    epoch: int = 0


class ContextReducer:
    """Keeps the genesis (every valid genesis of one context has the same content) and the
    highest epoch (epochs move one at a time, so the highest is the current one)."""

    name = "context"

    def initial(self) -> ContextView:
        return ContextView()

    def apply(self, view: ContextView, fact: Fact, payload: Any) -> ContextView:
        if isinstance(payload, ContextEpoch):
            if payload.epoch <= view.epoch:
                return view
            return ContextView(view.genesis, payload.epoch)
        genesis: ContextGenesis = payload
        if view.genesis is None or encode(genesis) < encode(view.genesis):
            return ContextView(genesis, view.epoch)
        return view

    def encode_view(self, view: ContextView) -> bytes:
        return encode(view)

    def decode_view(self, data: bytes) -> ContextView:
        return decode(data, ContextView)


CONTEXT_REDUCER = ContextReducer()


def context_view(state: JournalState) -> ContextGenesis:
    """The context's genesis as the journal knows it; `MissingParent` (retry after sync) if it
    has none yet, `FactRejected` in an authority journal."""
    if state.namespace.kind is not NamespaceKind.CONTEXT:
        raise FactRejected(f"{state.namespace} is not a context journal")
    genesis = state.view(CONTEXT_REDUCER).genesis
    if genesis is None:
        raise MissingParent(f"no genesis of {state.namespace} yet: its members are unknown")
    return genesis


def attesting_key(fact: Fact) -> VerifyingKey:
    """The key a signed fact's attestation is by (`UnauthorizedWriter` for an unsigned one)."""
    attestation = fact.attestation
    if isinstance(attestation, Ed25519Attestation):
        return attestation.signer
    if isinstance(attestation, ThresholdAttestation):
        return attestation.group_key
    raise UnauthorizedWriter(f"fact {fact.id}: {fact.body.type_id} facts must be signed")


@attrs.frozen
class ContextMembers:
    """Written by one of the context's members (its key in the context's genesis)."""

    summary = "a member of the context (its key in the context genesis)"

    def writer(self, state: JournalState, fact: Fact) -> ContextMember:
        """The member that signed `fact`, or `UnauthorizedWriter`/`MissingParent`."""
        genesis = context_view(state)
        member = genesis.by_key.get(attesting_key(fact).raw)
        if member is None:
            raise UnauthorizedWriter(
                f"fact {fact.id}: {fact.body.type_id} signed by a key that is not a member of "
                f"{state.namespace}"
            )
        return member

    def check(self, state: JournalState, fact: Fact, payload: Any, origin: Origin) -> None:
        self.writer(state, fact)


CONTEXT_MEMBERS = ContextMembers()


@attrs.frozen
class _GenesisMember:
    """The genesis is signed by one of the members it lists (its creator)."""

    summary = "a member the genesis lists (its creator)"

    def check(self, state: JournalState, fact: Fact, payload: Any, origin: Origin) -> None:
        genesis: ContextGenesis = payload
        if attesting_key(fact).raw not in genesis.by_key:
            raise UnauthorizedWriter(f"context genesis {fact.id} is not signed by a member")


def _validate_genesis(state: JournalState, fact: Fact, genesis: ContextGenesis) -> None:
    if genesis.derived_id != genesis.context:
        raise IdentityMismatch(
            f"context genesis {fact.id}: {genesis.context} is not the id its content derives"
        )
    if JournalNamespace.of(genesis.context) != state.namespace:
        raise IdentityMismatch(f"context genesis {fact.id} founds another context")
    held = state.view(CONTEXT_REDUCER).genesis
    if held is not None and held != genesis:
        raise IdentityMismatch(f"context genesis {fact.id}: {state.namespace} has another one")


CONTEXT_GENESIS: FactType[ContextGenesis] = FactType(
    payload_type=ContextGenesis,
    namespace_kind=NamespaceKind.CONTEXT,
    writer=_GenesisMember(),
    validate=_validate_genesis,
    reducer=CONTEXT_REDUCER,
)


@attrs.frozen
class EpochAgreement:
    """A context epoch moves only with its members' approvals (the context's own rule)."""

    summary = "a member, with the approvals of the context's epoch threshold of members"

    def check(self, state: JournalState, fact: Fact, payload: Any, origin: Origin) -> None:
        CONTEXT_MEMBERS.writer(state, fact)
        genesis = context_view(state)
        change: ContextEpoch = payload
        message = epoch_message(genesis.context, change.epoch)
        approving = 0
        for approval in change.approvals:
            member = genesis.member(approval.authority)
            if member is None:
                raise UnauthorizedWriter(
                    f"fact {fact.id}: {approval.authority} is not a member of {genesis.context}"
                )
            try:
                member.key.verify(message, approval.signature)
            except (InvalidSignature, MalformedKey):
                raise UnauthorizedWriter(
                    f"fact {fact.id}: the approval of {approval.authority} does not verify"
                ) from None
            approving += 1
        if approving < genesis.epoch_threshold:
            raise UnauthorizedWriter(
                f"fact {fact.id}: {approving} approvals, the context needs "
                f"{genesis.epoch_threshold}"
            )


def _validate_epoch(state: JournalState, fact: Fact, change: ContextEpoch) -> None:
    current = state.view(CONTEXT_REDUCER).epoch
    if change.epoch == 0:
        raise FactRejected(f"fact {fact.id}: a context starts at epoch 0; it only moves up")
    if change.epoch > current + 1:
        raise MissingParent(
            f"fact {fact.id}: epoch {change.epoch} before epoch {change.epoch - 1} is known"
        )


CONTEXT_EPOCH: FactType[ContextEpoch] = FactType(
    payload_type=ContextEpoch,
    namespace_kind=NamespaceKind.CONTEXT,
    writer=EpochAgreement(),
    validate=_validate_epoch,
    reducer=CONTEXT_REDUCER,
)
