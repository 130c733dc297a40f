"""Identifiers.

Actor and scope ids (`AuthorityId`, `ContextId`, `DeviceId`, `SessionId`, `GuardianId`) are 16
opaque bytes. An id that names something a fact creates is *self-certifying*: an authority's id
is derived from its tree genesis and a context's from its context genesis (`derived`), so a rival
genesis names a different thing instead of competing for the same name. Other ids are taken from
32 bytes of entropy that the caller draws from `RandomEffects`; nothing here generates
randomness. Content ids (`FactId`, `ChannelId`, `ConsensusId`, ...) wrap a
`Hash32`. Every id has a text form that parses back exactly, and ids of different kinds never
compare equal. A `ContextId` says nothing about who is in the context.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Self, cast

import attrs

from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.encoding import Value
from aura_core.errors import InvalidArgument, InvalidIdentifier
from aura_core.hashing import HASH_LEN, Hash32, tagged_hash, u16
from aura_core.intern import InternTable

__all__ = [
    "ENTROPY_LEN",
    "AuthorityId",
    "DEVICE_ADDRESS_TAG",
    "device_address",
    "ContextId",
    "DeviceId",
    "SessionId",
    "GuardianId",
    "FactId",
    "ChannelId",
    "ConsensusId",
    "ProposalId",
    "CeremonyId",
    "RelayId",
    "GroupId",
    "DkdContextId",
    "MessageContext",
    "compatible",
]

ENTROPY_LEN = 32
UUID_LEN = 16
_HEX = frozenset("0123456789abcdef")


def _check_raw(_: object, __: object, value: bytes) -> None:
    if type(value) is not bytes or len(value) != UUID_LEN:
        raise InvalidIdentifier("an identifier holds exactly 16 bytes")


def _parse_hex(text: object, prefix: str, digits: int, kind: str) -> bytes:
    if type(text) is not str:
        raise InvalidIdentifier(f"{kind} text must be str, got {type(text).__name__}")
    body = text[len(prefix) :] if text.startswith(prefix) else None
    if body is None or len(body) != digits or not _HEX.issuperset(body):
        raise InvalidIdentifier(f"not a {kind}: expected {prefix}<{digits} lowercase hex digits>")
    return bytes.fromhex(body)


@attrs.frozen(order=True, repr=False, cache_hash=True)
class _EntropyId:
    """Base of the 16-byte ids; subclasses only set `PREFIX`."""

    PREFIX: ClassVar[str] = ""
    raw: bytes = attrs.field(validator=_check_raw)

    @classmethod
    def from_entropy(cls, entropy: bytes) -> Self:
        """A fresh id from 32 bytes drawn from `RandomEffects` (the first 16 are kept)."""
        if type(entropy) is not bytes or len(entropy) != ENTROPY_LEN:
            raise InvalidArgument(f"ids are made from exactly {ENTROPY_LEN} bytes of entropy")
        return cls(entropy[:UUID_LEN])

    @classmethod
    def derived(cls, digest: Hash32) -> Self:
        """The id of something a fact creates: the first 16 bytes of a domain-tagged hash of
        that fact's content (the caller computes the hash; see `TreeGenesis`, `ContextGenesis`)."""
        if type(digest) is not Hash32:
            raise InvalidArgument("a derived id comes from a Hash32")
        return cls(digest.digest[:UUID_LEN])

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse the text form `<prefix>-<32 hex>`; raises `InvalidIdentifier` for anything else."""
        return cls(_parse_hex(text, cls.PREFIX + "-", 2 * UUID_LEN, cls.__name__))

    def to_cbor(self) -> Value:
        return self.raw

    @classmethod
    def from_cbor(cls, value: Value) -> Self:
        """The id of these bytes; the instance decoded before for the same bytes, if any (ids
        repeat in every message, `InternTable`)."""
        if type(value) is not bytes:
            raise InvalidIdentifier(f"{cls.__name__} is encoded as a byte string")
        table = _INTERNED.get(cls)
        if table is None:
            table = _INTERNED[cls] = InternTable(cls)
        return cast(Self, table(value))

    def __str__(self) -> str:
        return f"{self.PREFIX}-{self.raw.hex()}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self})"


_INTERNED: dict[type[_EntropyId], InternTable[_EntropyId]] = {}
"""One table per id class: ids of different kinds never compare equal."""


@attrs.frozen(order=True, repr=False, cache_hash=True)
class AuthorityId(_EntropyId):
    """An authority: an account or a shared group, one threshold key from outside. An authority
    with a commitment tree has the id its genesis derives (`TreeGenesis.found`)."""

    PREFIX: ClassVar[str] = "authority"


DEVICE_ADDRESS_TAG = "AURA_DEVICE_ADDRESS_V1"


def device_address(key: VerifyingKey) -> AuthorityId:
    """The network address of the device whose Ed25519 key is `key`: self-certifying, so a
    peer checks an address against the key that signed a receipt with no directory entry (a
    device holding an enrollment code can reach its inviter before anyone knows its key)."""
    if type(key) is not VerifyingKey:
        raise InvalidArgument("a device address derives from a VerifyingKey")
    return AuthorityId.derived(tagged_hash(DEVICE_ADDRESS_TAG, key.raw))


@attrs.frozen(order=True, repr=False, cache_hash=True)
class ContextId(_EntropyId):
    """A relational context shared by several authorities; encodes nobody's identity. A context
    with members has the id its genesis derives (`ContextGenesis.create`); a context id drawn
    from entropy has no genesis, so its journal holds only local facts."""

    PREFIX: ClassVar[str] = "context"


@attrs.frozen(order=True, repr=False, cache_hash=True)
class DeviceId(_EntropyId):
    """A device inside an authority; never leaves that authority's namespace."""

    PREFIX: ClassVar[str] = "device"


@attrs.frozen(order=True, repr=False, cache_hash=True)
class SessionId(_EntropyId):
    """One run of a protocol."""

    PREFIX: ClassVar[str] = "session"


@attrs.frozen(order=True, repr=False, cache_hash=True)
class GuardianId(_EntropyId):
    """A guardian leaf of an authority's commitment tree."""

    PREFIX: ClassVar[str] = "guardian"


@attrs.frozen(order=True, repr=False, cache_hash=True)
class _DigestId:
    """Base of the content ids; subclasses only set `PREFIX`."""

    PREFIX: ClassVar[str] = ""
    hash: Hash32

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse the text form `<prefix>:<64 hex>`; raises `InvalidIdentifier` otherwise."""
        return cls(Hash32(_parse_hex(text, cls.PREFIX + ":", 2 * HASH_LEN, cls.__name__)))

    def to_cbor(self) -> Value:
        return self.hash.digest

    @classmethod
    def from_cbor(cls, value: Value) -> Self:
        if type(value) is not bytes or len(value) != HASH_LEN:
            raise InvalidIdentifier(f"{cls.__name__} is encoded as 32 bytes")
        return cls(Hash32(value))

    def __str__(self) -> str:
        return f"{self.PREFIX}:{self.hash.hex()}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self})"


@attrs.frozen(order=True, repr=False, cache_hash=True)
class FactId(_DigestId):
    """The content id of a fact."""

    PREFIX: ClassVar[str] = "fact"


@attrs.frozen(order=True, repr=False, cache_hash=True)
class ChannelId(_DigestId):
    """A messaging channel within a context."""

    PREFIX: ClassVar[str] = "channel"


@attrs.frozen(order=True, repr=False, cache_hash=True)
class ConsensusId(_DigestId):
    """One consensus instance: a hash of prestate, operation and nonce."""

    PREFIX: ClassVar[str] = "consensus"


@attrs.frozen(order=True, repr=False, cache_hash=True)
class ProposalId(_DigestId):
    """A category-B proposal awaiting approvals."""

    PREFIX: ClassVar[str] = "proposal"


@attrs.frozen(order=True, repr=False, cache_hash=True)
class CeremonyId(_DigestId):
    """A category-C ceremony bound to one prestate."""

    PREFIX: ClassVar[str] = "ceremony"


@attrs.frozen(order=True, repr=False, cache_hash=True)
class RelayId(_DigestId):
    """The relay context of two authorities; the same whichever side computes it."""

    PREFIX: ClassVar[str] = "relay"

    @classmethod
    def between(cls, a: AuthorityId, b: AuthorityId) -> RelayId:
        low, high = sorted((a, b))
        return cls(tagged_hash("AURA_RELAY_ID", low.raw, high.raw))


@attrs.frozen(order=True, repr=False, cache_hash=True)
class GroupId(_DigestId):
    """A group of authorities with a threshold; independent of the order members are listed."""

    PREFIX: ClassVar[str] = "group"

    @classmethod
    def of(cls, members: Iterable[AuthorityId], threshold: int) -> GroupId:
        ordered = sorted(set(members))
        if not ordered or not 1 <= threshold <= len(ordered):
            raise InvalidArgument("a group needs members and 1 <= threshold <= member count")
        return cls(tagged_hash("AURA_GROUP_ID", u16(threshold), *(m.raw for m in ordered)))


@attrs.frozen(order=True, repr=False, cache_hash=True)
class DkdContextId(_DigestId):
    """A derived-key context: an application label bound to a 32-byte fingerprint."""

    PREFIX: ClassVar[str] = "dkd"

    @classmethod
    def of(cls, app_label: str, fingerprint: bytes) -> DkdContextId:
        if not app_label or not app_label.isascii() or len(fingerprint) != HASH_LEN:
            raise InvalidArgument("a DKD context is an ASCII label and a 32-byte fingerprint")
        label = app_label.encode("ascii")
        return cls(tagged_hash("AURA_DKD_CONTEXT", u16(len(label)), label, fingerprint))


MessageContext = RelayId | GroupId | DkdContextId
"""Where a message belongs. Two contexts are compatible only if they are equal."""


def compatible(a: MessageContext, b: MessageContext) -> bool:
    """Messages of context `a` may be handled in context `b`: exactly when `a == b`."""
    return a == b
