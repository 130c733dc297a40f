"""What the ceremony choreographies carry (canonical CBOR records, one per message payload).

Round-1 packages and signing commitments are public; a DKG round-2 package (`KeyShare`) is a
secret share for one recipient and travels only in the pairwise `AuraKeyShare` session between
its sender and its recipient, i.e. inside the Noise channel of those two devices (never relayed
by the coordinator).
"""

from __future__ import annotations

from typing import Final

import attrs

from aura_core.encoding import record
from aura_core.errors import InvalidArgument
from aura_core.ids import AuthorityId, CeremonyId, ContextId

__all__ = [
    "DKG",
    "REFRESH",
    "KINDS",
    "MAX_PACKAGE",
    "CeremonyMember",
    "KeyCeremonyStart",
    "Round1",
    "Round1Entry",
    "Round1All",
    "KeyResult",
    "KeyVerdict",
    "KeyShare",
    "SignRequest",
    "SignCommitment",
    "SignPackage",
    "SignShare",
    "SignDone",
]

DKG: Final = "dkg"
"""A new group key among the participants (enrollment, a threshold change)."""
REFRESH: Final = "refresh"
"""The same group key, new shares for the participants only (removal, refresh on demand)."""
KINDS: Final = frozenset({DKG, REFRESH})
MAX_PACKAGE: Final = 16 * 1024
"""Largest FROST package a message carries (a round-1 package of a 255-member group fits)."""


def _package(_: object, attribute: attrs.Attribute[bytes], value: bytes) -> None:
    if type(value) is not bytes or len(value) > MAX_PACKAGE:
        raise InvalidArgument(f"{attribute.name} is at most {MAX_PACKAGE} bytes")


def _identifier(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 1 <= value < 2**16:
        raise InvalidArgument(f"{attribute.name} is a FROST identifier (1..65535)")


def _members(_: object, __: object, value: tuple[CeremonyMember, ...]) -> None:
    if type(value) is not tuple or not all(type(m) is CeremonyMember for m in value):
        raise InvalidArgument("members are a tuple of CeremonyMembers")
    ids = [m.identifier for m in value]
    addresses = {m.address for m in value}
    if ids != sorted(set(ids)) or len(addresses) != len(value):
        raise InvalidArgument("members are sorted by identifier, distinct in both fields")


@record("ceremony.member", version=1)
@attrs.frozen(order=True)
class CeremonyMember:
    """A participant: the device's network address and its FROST identifier."""

    address: AuthorityId
    identifier: int = attrs.field(validator=_identifier)


@record("ceremony.key_start", version=1)
@attrs.frozen
class KeyCeremonyStart:
    """The coordinator's opening: which ceremony, of which account, what kind, at which
    threshold, among whom (the coordinator is one of `members`), in which context."""

    ceremony: CeremonyId
    account: AuthorityId
    context: ContextId
    kind: str
    threshold: int
    members: tuple[CeremonyMember, ...] = attrs.field(validator=_members)

    def __attrs_post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidArgument(f"a key ceremony is one of {sorted(KINDS)}, not {self.kind!r}")
        if len(self.members) < 2:
            raise InvalidArgument("a key ceremony has at least two members (FROST needs two)")
        if type(self.threshold) is not int or not 2 <= self.threshold <= len(self.members):
            raise InvalidArgument(
                f"threshold {self.threshold} is not within 2..{len(self.members)} members"
            )

    def member(self, address: AuthorityId) -> CeremonyMember | None:
        return next((m for m in self.members if m.address == address), None)


@record("ceremony.round1", version=1)
@attrs.frozen
class Round1:
    """A participant's answer to `Start`: its round-1 package, or a refusal (empty)."""

    accepted: bool
    package: bytes = attrs.field(validator=_package)


@record("ceremony.round1_entry", version=1)
@attrs.frozen(order=True)
class Round1Entry:
    identifier: int = attrs.field(validator=_identifier)
    package: bytes = attrs.field(validator=_package)


@record("ceremony.round1_all", version=1)
@attrs.frozen
class Round1All:
    """Every member's round-1 package (the coordinator's included), by identifier."""

    entries: tuple[Round1Entry, ...]


@record("ceremony.key_result", version=1)
@attrs.frozen
class KeyResult:
    """A participant's end of the rounds: the commitment to the public key package it
    computed (`Hash32` bytes), or empty with the reason it failed."""

    key_commitment: bytes
    detail: str = ""


@record("ceremony.key_verdict", version=1)
@attrs.frozen
class KeyVerdict:
    """Every member computed the same public key package: its commitment."""

    key_commitment: bytes


@record("ceremony.key_share", version=1)
@attrs.frozen
class KeyShare:
    """A round-2 package for the session's receiver alone (secret; see the module docstring)."""

    ceremony: CeremonyId
    context: ContextId
    sender: int = attrs.field(validator=_identifier)
    package: bytes = attrs.field(validator=_package, repr=False)


@record("ceremony.sign_request", version=1)
@attrs.frozen
class SignRequest:
    """Sign `message` with the account's group at `epoch`; `signers` are the members asked
    (the coordinator included when it holds a share)."""

    ceremony: CeremonyId
    account: AuthorityId
    context: ContextId
    epoch: int
    message: bytes = attrs.field(validator=_package)
    signers: tuple[CeremonyMember, ...] = attrs.field(validator=_members)


@record("ceremony.sign_commitment", version=1)
@attrs.frozen
class SignCommitment:
    """A signer's round-1 commitment, or a refusal (empty)."""

    accepted: bool
    commitment: bytes = attrs.field(validator=_package)


@record("ceremony.sign_package", version=1)
@attrs.frozen
class SignPackage:
    package: bytes = attrs.field(validator=_package)


@record("ceremony.sign_share", version=1)
@attrs.frozen
class SignShare:
    share: bytes = attrs.field(validator=_package)


@record("ceremony.sign_done", version=1)
@attrs.frozen
class SignDone:
    signature: bytes = attrs.field(validator=_package)
