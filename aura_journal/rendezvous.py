"""Rendezvous descriptors: where and whom to dial a member's device, readable only by members.

A member of a context publishes, in the context's journal, a `SealedDescriptor` fact: a
`Descriptor` (its authority, the device, the context, the device's static X25519 key for Noise,
transport hints such as `tcp://host:port`, a validity window and a nonce) sealed with the
context's rendezvous key at one epoch. Members derive that key from the context's shared
secret (never in a journal), so the journal holds, and sync carries, only ciphertext; outsiders
learn that a member published something, not what. A `DescriptorRevocation` withdraws one
descriptor by its fact id.

Who may write: a descriptor, any member (its key in the context genesis); a revocation, only the
member that signed the descriptor it names (`DescriptorOwner`). What the journal cannot check,
because it cannot decrypt, the reader checks after opening (`aura_protocol.rendezvous`): the
authority inside must be the member that signed, and the context inside this context.

This module is pure: the sealing, the keys and the choice of the descriptor in force at a given
time live above the journal.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import attrs

from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.encoding import decode, encode, record
from aura_core.errors import InvalidArgument, MissingParent, UnauthorizedWriter
from aura_core.ids import AuthorityId, ContextId, DeviceId, FactId
from aura_core.time import OrderTime
from aura_journal.context import CONTEXT_MEMBERS, CONTEXT_REDUCER, attesting_key
from aura_journal.fact import Fact, NamespaceKind
from aura_journal.registry import FactType, JournalState, Origin

__all__ = [
    "STATIC_KEY_LEN",
    "NONCE_LEN",
    "MAX_HINTS",
    "MAX_SEALED",
    "MIN_SEALED",
    "parse_hint",
    "Descriptor",
    "SealedDescriptor",
    "DescriptorRevocation",
    "PublishedDescriptor",
    "RendezvousView",
    "RendezvousReducer",
    "RENDEZVOUS_REDUCER",
    "DescriptorOwner",
    "RENDEZVOUS_DESCRIPTOR",
    "RENDEZVOUS_REVOCATION",
]

STATIC_KEY_LEN = 32
"""An X25519 public key."""
NONCE_LEN = 16
"""The descriptor's own nonce: two descriptors with equal contents still differ."""
MAX_HINTS = 8
MAX_HINT_LEN = 270
"""`tcp://` + a 253-character name + `:65535`."""
AEAD_OVERHEAD = 24 + 16
"""XChaCha20-Poly1305 as `aura_effects.crypto` writes it: the nonce, then ciphertext and tag."""
MIN_SEALED = AEAD_OVERHEAD + 1
MAX_SEALED = 4096
"""Far above the largest descriptor (eight longest hints are about 2.2 KB)."""

_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_PORT = re.compile(r"[1-9][0-9]{0,4}")


def parse_hint(hint: str) -> tuple[str, int]:
    """The host and port of a transport hint `tcp://host:port`; `InvalidArgument` unless it is
    in its one canonical spelling: a lowercase DNS name, an IPv4 literal or a bracketed IPv6
    literal in their standard text forms, and a port 1..65535 without leading zeros (the same
    endpoint written two ways would make two descriptors differ only in spelling)."""
    if type(hint) is not str or len(hint) > MAX_HINT_LEN or not hint.startswith("tcp://"):
        raise InvalidArgument("a transport hint is 'tcp://host:port'")
    host, colon, port = hint[len("tcp://") :].rpartition(":")
    if not colon or not _PORT.fullmatch(port) or not 1 <= int(port) <= 65535:
        raise InvalidArgument(f"{hint!r}: the port is a decimal 1..65535")
    if host.startswith("[") and host.endswith("]"):
        inner = host[1:-1]
        try:
            address = ipaddress.IPv6Address(inner)
        except ValueError:
            raise InvalidArgument(f"{hint!r}: not an IPv6 literal") from None
        if str(address) != inner:
            raise InvalidArgument(f"{hint!r}: write the IPv6 address as {address}")
        return inner, int(port)
    if host and all(part.isdigit() for part in host.split(".")):
        try:
            v4 = ipaddress.IPv4Address(host)
        except ValueError:
            raise InvalidArgument(f"{hint!r}: not an IPv4 literal") from None
        if str(v4) != host:
            raise InvalidArgument(f"{hint!r}: write the IPv4 address as {v4}")
        return host, int(port)
    labels = host.split(".")
    if not host or len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidArgument(f"{hint!r}: not a lowercase DNS name or an IP literal")
    return host, int(port)


def _u64(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidArgument(f"{attribute.name} must be an unsigned 64-bit integer")


def _static_key(_: object, __: object, value: bytes) -> None:
    if type(value) is not bytes or len(value) != STATIC_KEY_LEN:
        raise InvalidArgument(f"a static key is {STATIC_KEY_LEN} bytes (X25519)")


def _nonce(_: object, __: object, value: bytes) -> None:
    if type(value) is not bytes or len(value) != NONCE_LEN:
        raise InvalidArgument(f"a descriptor nonce is {NONCE_LEN} bytes")


def _hints(_: object, __: object, value: tuple[str, ...]) -> None:
    if type(value) is not tuple or not 1 <= len(value) <= MAX_HINTS:
        raise InvalidArgument(f"a descriptor has 1..{MAX_HINTS} transport hints")
    for hint in value:
        parse_hint(hint)
    if len(set(value)) != len(value):
        raise InvalidArgument("a transport hint is listed once")


@record("rendezvous.descriptor_contents")
@attrs.frozen
class Descriptor:
    """Where and whom to dial: what a member seals into a `SealedDescriptor`.

    `hints` are in order of preference; the descriptor is in force from `not_before_ms` to
    `not_after_ms` (inclusive, wall-clock milliseconds)."""

    authority: AuthorityId
    device: DeviceId
    context: ContextId
    static_key: bytes = attrs.field(validator=_static_key)
    hints: tuple[str, ...] = attrs.field(validator=_hints)
    not_before_ms: int = attrs.field(validator=_u64)
    not_after_ms: int = attrs.field(validator=_u64)
    nonce: bytes = attrs.field(validator=_nonce)

    def __attrs_post_init__(self) -> None:
        if self.not_before_ms > self.not_after_ms:
            raise InvalidArgument("a descriptor's window needs not_before_ms <= not_after_ms")

    def in_force(self, now_ms: int) -> bool:
        """Whether `now_ms` lies within the validity window."""
        return self.not_before_ms <= now_ms <= self.not_after_ms


def _sealed(_: object, __: object, value: bytes) -> None:
    if type(value) is not bytes or not MIN_SEALED <= len(value) <= MAX_SEALED:
        raise InvalidArgument(f"a sealed descriptor is {MIN_SEALED}..{MAX_SEALED} bytes")


@record("rendezvous.descriptor")
@attrs.frozen
class SealedDescriptor:
    """The fact payload: a `Descriptor`'s canonical bytes sealed with the context's rendezvous
    key of `epoch` (the associated data binds the context, the epoch and the signer)."""

    epoch: int = attrs.field(validator=_u64)
    sealed: bytes = attrs.field(validator=_sealed)


@record("rendezvous.revocation")
@attrs.frozen
class DescriptorRevocation:
    """Withdraws the descriptor published as fact `descriptor` (by the member who signed it)."""

    descriptor: FactId


@record("rendezvous.published")
@attrs.frozen
class PublishedDescriptor:
    """What the journal knows of one descriptor without opening it."""

    signer: VerifyingKey
    epoch: int = attrs.field(validator=_u64)
    sealed: bytes = attrs.field(validator=_sealed)
    order: OrderTime


@record("rendezvous.view")
@attrs.frozen
class RendezvousView:
    """Every descriptor published in the context, by fact id, and the ids revoked."""

    descriptors: dict[FactId, PublishedDescriptor] = attrs.field(factory=dict)
    revoked: frozenset[FactId] = frozenset()


class RendezvousReducer:
    """Collects descriptors and revocations (order-free: both only grow)."""

    name = "rendezvous"

    def initial(self) -> RendezvousView:
        return RendezvousView()

    def apply(self, view: RendezvousView, fact: Fact, payload: Any) -> RendezvousView:
        if isinstance(payload, DescriptorRevocation):
            return RendezvousView(view.descriptors, view.revoked | {payload.descriptor})
        sealed: SealedDescriptor = payload
        entry = PublishedDescriptor(
            attesting_key(fact), sealed.epoch, sealed.sealed, fact.body.order
        )
        return RendezvousView({**view.descriptors, fact.id: entry}, view.revoked)

    def encode_view(self, view: RendezvousView) -> bytes:
        return encode(view)

    def decode_view(self, data: bytes) -> RendezvousView:
        return decode(data, RendezvousView)


RENDEZVOUS_REDUCER = RendezvousReducer()


def _validate_descriptor(state: JournalState, fact: Fact, sealed: SealedDescriptor) -> None:
    current = state.view(CONTEXT_REDUCER).epoch
    if sealed.epoch > current:
        raise MissingParent(
            f"descriptor {fact.id} is sealed at epoch {sealed.epoch}, the context is at {current}"
        )


RENDEZVOUS_DESCRIPTOR: FactType[SealedDescriptor] = FactType(
    payload_type=SealedDescriptor,
    namespace_kind=NamespaceKind.CONTEXT,
    writer=CONTEXT_MEMBERS,
    validate=_validate_descriptor,
    reducer=RENDEZVOUS_REDUCER,
)


@attrs.frozen
class DescriptorOwner:
    """A revocation is written by the member that signed the descriptor it names (so nobody
    can take another member off the network); until the descriptor is known, it waits."""

    summary = "the member that signed the descriptor it names"

    def check(self, state: JournalState, fact: Fact, payload: Any, origin: Origin) -> None:
        member = CONTEXT_MEMBERS.writer(state, fact)
        revocation: DescriptorRevocation = payload
        published = state.view(RENDEZVOUS_REDUCER).descriptors.get(revocation.descriptor)
        if published is None:
            raise MissingParent(f"revocation {fact.id}: descriptor {revocation.descriptor} unknown")
        if published.signer != member.key:
            raise UnauthorizedWriter(
                f"revocation {fact.id}: {member.authority} did not publish {revocation.descriptor}"
            )


RENDEZVOUS_REVOCATION: FactType[DescriptorRevocation] = FactType(
    payload_type=DescriptorRevocation,
    namespace_kind=NamespaceKind.CONTEXT,
    writer=DescriptorOwner(),
    reducer=RENDEZVOUS_REDUCER,
)
