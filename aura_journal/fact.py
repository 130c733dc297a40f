"""Facts: the signed, content-addressed unit of every journal.

A fact is a `FactBody` (namespace, type id, schema version, canonical payload bytes, order
token, timestamp) plus an attestation. The attestation signs a domain-tagged hash of the body's
canonical encoding; the fact's id is the hash of the canonical encoding of body and attestation
together. Local metadata (propagation, agreement level) is never part of a fact.
"""

from __future__ import annotations

import enum

import attrs

from aura_core.crypto.ed25519 import SIGNATURE_LEN, SigningKey, VerifyingKey
from aura_core.encoding import canonical_encode, decode, encode, record
from aura_core.errors import InvalidArgument, NamespaceMismatch
from aura_core.hashing import Hash32, tagged_hash
from aura_core.ids import AuthorityId, ContextId, FactId
from aura_core.memo import memoized_property
from aura_core.time import OrderTime, TimeStamp

__all__ = [
    "MAX_PAYLOAD",
    "NamespaceKind",
    "JournalNamespace",
    "FactBody",
    "Unattested",
    "Ed25519Attestation",
    "ThresholdAttestation",
    "Attestation",
    "Fact",
    "signing_message",
    "sign_fact",
]

MAX_PAYLOAD = 64 * 1024
"""Largest payload a fact may carry, in bytes."""

_SIGNING_TAG = "AURA_FACT_SIGNATURE_V1"


class NamespaceKind(enum.Enum):
    AUTHORITY = "authority"
    CONTEXT = "context"


def _raw16(_: object, __: object, value: bytes) -> None:
    if type(value) is not bytes or len(value) != 16:
        raise InvalidArgument("a namespace id is 16 bytes")


@record("journal.namespace")
@attrs.frozen(order=True, repr=False)
class JournalNamespace:
    """The journal a fact belongs to: an authority's own, or a relational context's."""

    kind: NamespaceKind
    raw: bytes = attrs.field(validator=_raw16)

    @classmethod
    def of(cls, owner: AuthorityId | ContextId) -> JournalNamespace:
        if type(owner) is AuthorityId:
            return cls(NamespaceKind.AUTHORITY, owner.raw)
        if type(owner) is ContextId:
            return cls(NamespaceKind.CONTEXT, owner.raw)
        raise InvalidArgument("a namespace is an AuthorityId or a ContextId")

    @property
    def authority(self) -> AuthorityId:
        """The authority of an authority namespace; `NamespaceMismatch` for a context."""
        if self.kind is not NamespaceKind.AUTHORITY:
            raise NamespaceMismatch(f"{self} is not an authority namespace")
        return AuthorityId(self.raw)

    @property
    def context(self) -> ContextId:
        """The context of a context namespace; `NamespaceMismatch` for an authority."""
        if self.kind is not NamespaceKind.CONTEXT:
            raise NamespaceMismatch(f"{self} is not a context namespace")
        return ContextId(self.raw)

    def __str__(self) -> str:
        return f"{self.kind.value}-{self.raw.hex()}"

    def __repr__(self) -> str:
        return f"JournalNamespace({self})"


@record("journal.fact_body")
@attrs.frozen(slots=False)
class FactBody:
    """Everything a fact says, without its signature."""

    namespace: JournalNamespace
    type_id: str
    schema_version: int
    payload: bytes
    """Canonical encoding of the payload record of `type_id` (checked against the registry)."""
    order: OrderTime
    timestamp: TimeStamp

    @memoized_property
    def encoded(self) -> bytes:
        """The canonical bytes of the body (what the attestation's message is derived from)."""
        return encode(self)


@record("attest.none")
@attrs.frozen
class Unattested:
    """No signature: allowed only for fact types declared local-only."""


def _signature_bytes(_: object, __: object, value: bytes) -> None:
    if type(value) is not bytes or len(value) != SIGNATURE_LEN:
        raise InvalidArgument(f"an attestation signature is {SIGNATURE_LEN} bytes")


@record("attest.ed25519")
@attrs.frozen
class Ed25519Attestation:
    """Signed by one key (a device key, or a 1-of-1 authority)."""

    signer: VerifyingKey
    signature: bytes = attrs.field(validator=_signature_bytes)


def _signers(_: object, __: object, value: tuple[int, ...]) -> None:
    if list(value) != sorted(set(value)) or any(not 0 < s < 2**16 for s in value):
        raise InvalidArgument("signers are distinct FROST identifiers in increasing order")


@record("attest.threshold")
@attrs.frozen
class ThresholdAttestation:
    """A FROST aggregate signature under a group key, and who contributed shares to it.

    The signature verifies as plain Ed25519 under `group_key`; `signers` lets validators check
    that the policy's threshold was met.
    """

    group_key: VerifyingKey
    signature: bytes = attrs.field(validator=_signature_bytes)
    signers: tuple[int, ...] = attrs.field(validator=_signers)


Attestation = Unattested | Ed25519Attestation | ThresholdAttestation


def signing_message(body: FactBody) -> bytes:
    """The 32 bytes an attestation signs: a domain-tagged hash of the body's canonical bytes."""
    return tagged_hash(_SIGNING_TAG, body.encoded).digest


@record("journal.fact")
@attrs.frozen(slots=False)
class Fact:
    """A fact as stored and sent: its body and attestation. Identity is `id`."""

    body: FactBody
    attestation: Attestation

    @memoized_property
    def encoded(self) -> bytes:
        """The canonical bytes of the whole fact.

        Built from the body's (cached) encoding: a fact is the map {"$t", "$v", "body",
        "attestation"} in that canonical key order, so the body's bytes appear verbatim.
        """
        attestation = self.attestation
        tail = _UNATTESTED if type(attestation) is Unattested else encode(attestation)
        return _FACT_PREFIX + self.body.encoded + _ATTESTATION_KEY + tail

    @memoized_property
    def id(self) -> FactId:
        """The content id: BLAKE3 of the canonical bytes."""
        return FactId(Hash32.of(self.encoded))

    @classmethod
    def from_bytes(cls, data: bytes) -> Fact:
        """Strictly decode a fact received as bytes.

        The bytes are canonical once decoded, so they are kept as the fact's encoding (its id
        needs no re-encoding) and the body's encoding is the matching slice of them: a fact is
        the map {"$t", "$v", "body", "attestation"} in that canonical key order.
        """
        fact = decode(data, cls)
        raw = bytes(data)
        attestation = fact.attestation
        tail = _UNATTESTED if type(attestation) is Unattested else encode(attestation)
        end = len(raw) - len(_ATTESTATION_KEY) - len(tail)
        fact.__dict__["encoded"] = raw
        fact.body.__dict__["encoded"] = raw[len(_FACT_PREFIX) : end]
        return fact

    @property
    def namespace(self) -> JournalNamespace:
        return self.body.namespace

    @property
    def type_id(self) -> str:
        return self.body.type_id

    def sort_key(self) -> tuple[bytes, bytes]:
        """Total order used wherever facts are iterated: order token, then id."""
        return (self.body.order.token, self.id.hash.digest)


_FACT_PREFIX = b"\xa4" + b"".join(
    canonical_encode(part) for part in ("$t", "journal.fact", "$v", 1, "body")
)
_ATTESTATION_KEY = canonical_encode("attestation")
_UNATTESTED = encode(Unattested())


def sign_fact(body: FactBody, key: SigningKey) -> Fact:
    """A fact attested by one Ed25519 key."""
    signature = key.sign(signing_message(body))
    return Fact(body, Ed25519Attestation(key.verifying_key, signature))
