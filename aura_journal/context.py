"""Relational contexts as journal facts: a self-certifying genesis and its members.

A context with members is founded by a `ContextGenesis` fact in its own journal: the member
authorities, the key each signs with in this context, how many of them must approve an epoch
change, and 32 bytes of the creator's entropy (so the same members can share several contexts).
The `ContextId` is derived from that content (`ContextGenesis.create`), so a genesis either
founds exactly the context named in it or is rejected, and a rival genesis names another
context. Every replicated fact of the context is then written by a member (`ContextMembers`):
the journal checks the attestation's key against the genesis on ingest, merge and load.

A context without a genesis (an id drawn from entropy, used only to route messages) holds only
facts local to a device.
"""

from __future__ import annotations

from typing import Any

import attrs

from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.encoding import decode, encode, record
from aura_core.errors import (
    FactRejected,
    IdentityMismatch,
    InvalidArgument,
    MissingParent,
    UnauthorizedWriter,
)
from aura_core.hashing import tagged_hash, u32
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
    "context_view",
    "attesting_key",
]

NONCE_LEN = 32
MAX_MEMBERS = 256
_ID_TAG = "AURA_CONTEXT_ID_V1"


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


@record("context.view")
@attrs.frozen
class ContextView:
    """What the context's journal says about the context itself: its genesis, once known."""

    genesis: ContextGenesis | None = None


class ContextReducer:
    """Keeps the genesis (every valid genesis of one context has the same content)."""

    name = "context"

    def initial(self) -> ContextView:
        return ContextView()

    def apply(self, view: ContextView, fact: Fact, payload: Any) -> ContextView:
        genesis: ContextGenesis = payload
        if view.genesis is None or encode(genesis) < encode(view.genesis):
            return ContextView(genesis)
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
