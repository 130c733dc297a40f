"""Enrollment codes: what one device gives another to join its account.

A code is `aura:v1:` and the unpadded base64url of the canonical CBOR of a `SignedInvitation`:
the `Invitation` (the account, the enrollment ceremony and the epoch it leads to, the
threshold the account moves to, the expiry, the inviting device's address, Ed25519 key, static
key and where it listens, and a one-time bootstrap secret) signed by the inviting device's key.
The inviting device's address must be the one its key derives (`device_address`), so a code
names its signer without a directory.

**A code is a secret.** Whoever holds it can join the account once, until it expires; never
log it, show it only to the person adding their device. The bootstrap secret in it derives the
bootstrap context (`bootstrap_context`) and its shared secret (`bootstrap_secret`), from which
the transport derives the Noise PSK of the joiner's first channel to the inviter: holding the
code is what lets the joiner in.
"""

from __future__ import annotations

import base64
import binascii
import functools
from typing import Final

import attrs

from aura_core.crypto.ed25519 import SigningKey, VerifyingKey
from aura_core.encoding import decode, encode, record
from aura_core.errors import AuraError, EncodingError, EnrollmentCodeInvalid, InvalidArgument
from aura_core.hashing import tagged_hash
from aura_core.ids import AuthorityId, CeremonyId, ContextId, DeviceId, device_address
from aura_protocol.choreography import Choreography

__all__ = [
    "CODE_PREFIX",
    "MAX_CODE",
    "Invitation",
    "SignedInvitation",
    "write_code",
    "read_code",
    "bootstrap_context",
    "bootstrap_secret",
    "CAPABILITIES",
    "PROTOCOL",
    "choreography",
    "JoinRequest",
    "Admission",
    "REFUSALS",
    "Refusal",
]

CODE_PREFIX: Final = "aura:v1:"
MAX_CODE: Final = 4096
"""Longest code accepted (a code is a few hundred characters)."""
_SIGNATURE_TAG = "AURA_ENROLLMENT_CODE_V1"
_CONTEXT_TAG = "AURA_ENROLLMENT_CONTEXT_V1"
_SECRET_TAG = "AURA_ENROLLMENT_SECRET_V1"


def _bytes32(_: object, attribute: attrs.Attribute[bytes], value: bytes) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidArgument(f"{attribute.name} is 32 bytes")


def _u64(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidArgument(f"{attribute.name} is an unsigned 64-bit integer")


def _hints(_: object, __: object, value: tuple[str, ...]) -> None:
    if type(value) is not tuple or not 0 < len(value) <= 8:
        raise InvalidArgument("an invitation has 1..8 transport hints")
    if not all(type(h) is str and 0 < len(h) <= 300 for h in value):
        raise InvalidArgument("a transport hint is 1..300 characters")


@record("agent.invitation", version=1)
@attrs.frozen
class Invitation:
    """What an enrollment code says (see the module docstring)."""

    account: AuthorityId
    ceremony: CeremonyId
    pending_epoch: int = attrs.field(validator=_u64)
    threshold: int = attrs.field(validator=_u64)
    expires_ms: int = attrs.field(validator=_u64)
    inviter: AuthorityId
    inviter_key: bytes = attrs.field(validator=_bytes32)
    static_key: bytes = attrs.field(validator=_bytes32)
    hints: tuple[str, ...] = attrs.field(validator=_hints)
    bootstrap: bytes = attrs.field(validator=_bytes32, repr=False)


@record("agent.signed_invitation", version=1)
@attrs.frozen
class SignedInvitation:
    invitation: Invitation
    signature: bytes = attrs.field(repr=False)

    def check(self) -> Invitation:
        """The invitation, if its inviter's address is its key's and the signature is that
        key's over it; `EnrollmentCodeInvalid` otherwise."""
        invitation = self.invitation
        try:
            key = VerifyingKey(invitation.inviter_key)
            if invitation.inviter != device_address(key):
                raise EnrollmentCodeInvalid("the code's inviting device is not its key's")
            key.verify(_signed(invitation), self.signature)
        except EnrollmentCodeInvalid:
            raise
        except AuraError:
            raise EnrollmentCodeInvalid(
                "the enrollment code was altered (its signature does not verify): ask the "
                "inviting device for a new one"
            ) from None
        return invitation


def _signed(invitation: Invitation) -> bytes:
    return tagged_hash(_SIGNATURE_TAG, encode(invitation)).digest


def write_code(invitation: Invitation, key: SigningKey) -> str:
    """The code for `invitation`, signed with the inviting device's `key`."""
    if device_address(key.verifying_key) != invitation.inviter:
        raise InvalidArgument("an invitation is signed by the device it names")
    signed = SignedInvitation(invitation, key.sign(_signed(invitation)))
    return CODE_PREFIX + base64.urlsafe_b64encode(encode(signed)).decode("ascii").rstrip("=")


def read_code(code: str) -> Invitation:
    """The checked invitation of `code`; `EnrollmentCodeInvalid` (saying what is wrong, never
    echoing the code) if it is not one."""
    if type(code) is not str or len(code) > MAX_CODE or not code.startswith(CODE_PREFIX):
        raise EnrollmentCodeInvalid(
            f"an enrollment code starts with {CODE_PREFIX!r} and is at most {MAX_CODE} characters"
        )
    text = code[len(CODE_PREFIX) :].strip()
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
        signed = decode(raw, SignedInvitation)
    except (binascii.Error, ValueError, EncodingError, InvalidArgument):
        raise EnrollmentCodeInvalid(
            "the enrollment code does not decode (copied incompletely?)"
        ) from None
    return signed.check()


def bootstrap_context(bootstrap: bytes) -> ContextId:
    """The context the joiner first reaches the inviter in."""
    return ContextId.derived(tagged_hash(_CONTEXT_TAG, bootstrap))


def bootstrap_secret(bootstrap: bytes) -> bytes:
    """That context's shared secret (the transport derives its Noise PSK from it)."""
    return tagged_hash(_SECRET_TAG, bootstrap).digest


# ------------------------------------------------------------------------- the choreography

JOIN = "enroll:join"
ADMIT = "enroll:admit"
CAPABILITIES = (ADMIT, JOIN)
"""What both devices need in the bootstrap context (besides the ceremony capabilities)."""
PROTOCOL = "AuraEnrollment"
TEXT = f"""\
protocol {PROTOCOL} {{
  roles Joiner, Inviter;
  Joiner [guard_capability = "{JOIN}", flow_cost = 10] -> Inviter : Join(agent.join_request);
  choice Inviter {{
    proceed:
      Inviter [guard_capability = "{ADMIT}", flow_cost = 10] -> Joiner : Roster(agent.roster);
      choice Inviter {{
        admit:
          Inviter [guard_capability = "{ADMIT}", flow_cost = 10]
            -> Joiner : Admitted(agent.admission);
          Joiner [guard_capability = "{JOIN}", flow_cost = 1] -> Inviter : Ack;
        fail:
          Inviter [guard_capability = "{ADMIT}", flow_cost = 10]
            -> Joiner : Refused(agent.refusal);
      }}
    refuse:
      Inviter [guard_capability = "{ADMIT}", flow_cost = 10]
        -> Joiner : Refused(agent.refusal);
  }}
}}
"""


@functools.lru_cache(maxsize=1)
def choreography() -> Choreography:
    """`AuraEnrollment`: the joiner asks; the inviter refuses it (saying why), or sends the
    listeners of the devices the key ceremony reaches (`Roster`), runs the enrollment (the tree
    change, the networked DKG with the joiner and the account's share holders, the policy
    change, the new devices' context) and admits it with what it needs to start, which the
    joiner acknowledges once it took it (until then the inviter admits it again when it asks
    again), or says why it failed."""
    return Choreography.compile(TEXT)


@record("agent.join_request", version=1)
@attrs.frozen
class JoinRequest:
    """The joiner: who it is and where it listens, for the ceremony its code names; `attempt`
    (random) makes each time it asks a session of its own (a joiner asks again until it
    learns its join's outcome)."""

    ceremony: CeremonyId
    device: DeviceId
    signing_key: bytes = attrs.field(validator=_bytes32)
    static_key: bytes = attrs.field(validator=_bytes32)
    host: str
    port: int = attrs.field(validator=_u64)
    attempt: bytes = attrs.field(validator=_bytes32)


@record("agent.admission", version=1)
@attrs.frozen
class Admission:
    """What the joiner needs to start in the account: the account journal's facts, the new
    devices' context (its genesis fact and its secret: secret, sent only in the bootstrap
    context's Noise channel), the public key package of the new group, the inviter's listener."""

    account: AuthorityId
    epoch: int
    account_facts: tuple[bytes, ...]
    context_fact: bytes
    context_secret: bytes = attrs.field(validator=_bytes32, repr=False)
    public_key_package: bytes
    host: str
    port: int = attrs.field(validator=_u64)


REFUSALS: Final = ("invalid", "expired", "redeemed", "busy", "failed", "unfinished")
"""`unfinished`: the enrollment passed its point of no return and the inviter finishes it; the
joiner keeps its key and asks again. Every other reason means it never committed with this
joiner's key: the joiner drops it."""


@record("agent.refusal", version=1)
@attrs.frozen
class Refusal:
    """Why the inviter refused: one of `REFUSALS`, and a sentence for the user."""

    reason: str
    detail: str
