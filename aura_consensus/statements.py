"""Signed statements: what a witness says about a prestate, under its own Ed25519 key.

A witness's word is only believed with its signature, so votes can be relayed by anyone and
equivocation proofs convince anyone who knows the witness set:

- `Vote`: the witness votes for `result_id` in `round` of `prestate_hash`, in instance
  `consensus_id` of the group whose FROST key is `group_key`. A vote that carries a FROST
  signature share names it in `attachment` (`share_digest(package id, share)`), so nobody can
  pair a witness's vote with a share it did not make; a bare vote has a zero attachment.
- `RoundChange`: the witness leaves the rounds below `round` of a prestate for good, and
  reports its round-0 vote and its highest lock (`aura_consensus.rounds`).
- `LockCertificate`: t votes for one result in one round r ≥ 1, the proof a witness needs
  before it gives a FROST share in that round.

Every statement is signed over a BLAKE3 digest with its own domain tag and fixed-width fields
(integers little-endian, absent hashes as 32 zero bytes), so a signature on one kind of
statement can never be read as another:

    vote         = H("AURA_CONSENSUS_VOTE_V1" ‖ group key ‖ witness ‖ consensus id ‖ prestate
                     ‖ round u32 ‖ result id ‖ attachment)
    round change = H("AURA_CONSENSUS_ROUND_CHANGE_V1" ‖ group key ‖ witness ‖ prestate
                     ‖ round u32 ‖ round-0 result ‖ lock round u32 ‖ lock result)
    attachment   = H("AURA_CONSENSUS_VOTE_SHARE_V1" ‖ package id ‖ share bytes)

Verification is a pure function of bytes and the witness set. Results are remembered in a
small bounded table (public data only): gossip repeats the same votes many times.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from aura_consensus.witnesses import WitnessSet
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SIGNATURE_LEN, SigningKey, VerifyingKey, verify_many
from aura_core.encoding import record
from aura_core.errors import (
    CryptoError,
    ForgedStatement,
    InvalidArgument,
    InvalidCertificate,
    StaleStatement,
    UnknownWitness,
)
from aura_core.hashing import Hash32, tagged_hash, u32
from aura_core.ids import AuthorityId, ConsensusId

__all__ = [
    "MAX_ROUND",
    "Vote",
    "SignedVote",
    "RoundChange",
    "SignedRoundChange",
    "LockCertificate",
    "share_digest",
]

VOTE_TAG = "AURA_CONSENSUS_VOTE_V1"
SHARE_TAG = "AURA_CONSENSUS_VOTE_SHARE_V1"
ROUND_CHANGE_TAG = "AURA_CONSENSUS_ROUND_CHANGE_V1"
MAX_ROUND = 2**32 - 1
_ZERO = bytes(32)

_VERIFIED: dict[tuple[bytes, bytes, bytes], None] = {}
_VERIFIED_MAX = 8192


def _round(_: object, __: object, value: int) -> None:
    if type(value) is not int or not 0 <= value <= MAX_ROUND:
        raise InvalidArgument("a round is an unsigned 32-bit integer")


def _signature(_: object, __: object, value: bytes) -> None:
    if type(value) is not bytes or len(value) != SIGNATURE_LEN:
        raise InvalidArgument(f"a statement signature is {SIGNATURE_LEN} bytes")


def _optional(value: Hash32 | None) -> bytes:
    return _ZERO if value is None else value.digest


def _remember(key: VerifyingKey, message: bytes, signature: bytes) -> None:
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.pop(next(iter(_VERIFIED)))
    _VERIFIED[(key.raw, message, signature)] = None


def _verified(key: VerifyingKey, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is `key`'s over `message` (remembered once true)."""
    if (key.raw, message, signature) in _VERIFIED:
        return True
    try:
        key.verify(message, signature)
    except CryptoError:
        return False
    _remember(key, message, signature)
    return True


def _sign(key: SigningKey, message: bytes) -> bytes:
    """Sign, and remember the signature as checked (this node just made it)."""
    signature = key.sign(message)
    _remember(key.verifying_key, message, signature)
    return signature


def _check_signer(
    witnesses: WitnessSet, group_key: VerifyingKey, claimed_group: VerifyingKey, who: AuthorityId
) -> VerifyingKey:
    """The key to verify `who`'s statement with, after the checks that need no signature."""
    if claimed_group != group_key:
        raise StaleStatement(f"a statement by {who} for another witness group")
    if who not in witnesses:
        raise UnknownWitness(f"a statement by {who}, who is not a witness")
    return witnesses.key_of(who)


def share_digest(package_id: Hash32, share: frost.SignatureShare) -> Hash32:
    """What a vote's `attachment` is when it carries `share` for package `package_id`."""
    if type(package_id) is not Hash32 or not isinstance(share, frost.SignatureShare):
        raise InvalidArgument("a share digest needs a package id and a frost.SignatureShare")
    return tagged_hash(SHARE_TAG, package_id.digest, share.to_bytes())


@record("consensus.vote")
@attrs.frozen
class Vote:
    """`witness` votes for `result_id` in `round` of `prestate_hash` (see the module doc)."""

    group_key: VerifyingKey
    witness: AuthorityId
    consensus_id: ConsensusId
    prestate_hash: Hash32
    round: int = attrs.field(validator=_round)
    result_id: Hash32
    attachment: Hash32
    """`share_digest(package id, share)` of the share it comes with, or `Hash32.zero()`."""

    @property
    def message(self) -> bytes:
        """The 32-byte digest the witness signs."""
        return tagged_hash(
            VOTE_TAG,
            self.group_key.raw,
            self.witness.raw,
            self.consensus_id.hash.digest,
            self.prestate_hash.digest,
            u32(self.round),
            self.result_id.digest,
            self.attachment.digest,
        ).digest

    @property
    def bare(self) -> bool:
        """True if the vote carries no share."""
        return self.attachment == Hash32.zero()

    def sign(self, key: SigningKey) -> SignedVote:
        """This vote signed by `key` (the witness's own)."""
        return SignedVote(self, _sign(key, self.message))


@record("consensus.signed_vote")
@attrs.frozen
class SignedVote:
    """A `Vote` with its witness's signature. `verify` before believing it."""

    vote: Vote
    signature: bytes = attrs.field(validator=_signature)

    @property
    def witness(self) -> AuthorityId:
        return self.vote.witness

    @property
    def result_id(self) -> Hash32:
        return self.vote.result_id

    @property
    def prestate_hash(self) -> Hash32:
        return self.vote.prestate_hash

    @property
    def round(self) -> int:
        return self.vote.round

    def verify(self, witnesses: WitnessSet, group_key: VerifyingKey) -> None:
        """Return if the vote is its witness's, in this group; otherwise `StaleStatement`
        (another group key), `UnknownWitness` (not a witness) or `ForgedStatement` (the
        signature is not the witness's)."""
        vote = self.vote
        key = _check_signer(witnesses, group_key, vote.group_key, vote.witness)
        if not _verified(key, vote.message, self.signature):
            raise ForgedStatement(f"a vote in {vote.witness}'s name it did not sign")

    def conflicts_with(self, other: SignedVote) -> bool:
        """Two votes by one witness for different results in one round of one prestate (in
        one group): what an equivocation proof holds."""
        a, b = self.vote, other.vote
        return (
            a.witness == b.witness
            and a.group_key == b.group_key
            and a.prestate_hash == b.prestate_hash
            and a.round == b.round
            and a.result_id != b.result_id
        )


@record("consensus.round_change")
@attrs.frozen
class RoundChange:
    """`witness` moves to `round` (≥ 1) of `prestate_hash` and will never act in a lower
    round again. `first_result` is its round-0 vote, `lock_round`/`lock_result` the highest
    round in which it gave a FROST share (0/None: none), which it must prove with a
    `LockCertificate` to whoever uses the change."""

    group_key: VerifyingKey
    witness: AuthorityId
    prestate_hash: Hash32
    round: int = attrs.field(validator=_round)
    first_result: Hash32 | None
    lock_round: int = attrs.field(validator=_round)
    lock_result: Hash32 | None

    def __attrs_post_init__(self) -> None:
        if self.round < 1:
            raise InvalidArgument("a round change moves to round 1 or later")
        if self.lock_round >= self.round:
            raise InvalidArgument("a round change reports a lock below the round it moves to")
        if (self.lock_round == 0) != (self.lock_result is None):
            raise InvalidArgument("a lock has a round >= 1 and a result, or neither")

    @property
    def message(self) -> bytes:
        return tagged_hash(
            ROUND_CHANGE_TAG,
            self.group_key.raw,
            self.witness.raw,
            self.prestate_hash.digest,
            u32(self.round),
            _optional(self.first_result),
            u32(self.lock_round),
            _optional(self.lock_result),
        ).digest

    def sign(self, key: SigningKey) -> SignedRoundChange:
        return SignedRoundChange(self, _sign(key, self.message))


@record("consensus.signed_round_change")
@attrs.frozen
class SignedRoundChange:
    """A `RoundChange` with its witness's signature."""

    change: RoundChange
    signature: bytes = attrs.field(validator=_signature)

    @property
    def witness(self) -> AuthorityId:
        return self.change.witness

    def verify(self, witnesses: WitnessSet, group_key: VerifyingKey) -> None:
        """As `SignedVote.verify`."""
        change = self.change
        key = _check_signer(witnesses, group_key, change.group_key, change.witness)
        if not _verified(key, change.message, self.signature):
            raise ForgedStatement(f"a round change in {change.witness}'s name it did not sign")


def _check_votes(_: object, __: object, value: tuple[SignedVote, ...]) -> None:
    if type(value) is not tuple or not value or not all(type(v) is SignedVote for v in value):
        raise InvalidCertificate("a lock certificate is a non-empty tuple of signed votes")
    first = value[0].vote
    if first.round < 1:
        raise InvalidCertificate("locks exist in rounds 1 and later")
    for signed in value:
        vote = signed.vote
        if (vote.group_key, vote.prestate_hash, vote.round, vote.result_id) != (
            first.group_key,
            first.prestate_hash,
            first.round,
            first.result_id,
        ):
            raise InvalidCertificate("a lock certificate's votes are for one result and round")
    witnesses = [v.witness for v in value]
    if witnesses != sorted(set(witnesses)):
        raise InvalidCertificate("a lock certificate holds one vote per witness, sorted")


@record("consensus.lock_certificate")
@attrs.frozen
class LockCertificate:
    """t signed votes of distinct witnesses for `result_id` in `round` of `prestate_hash`."""

    votes: tuple[SignedVote, ...] = attrs.field(validator=_check_votes)

    @classmethod
    def of(cls, votes: Iterable[SignedVote]) -> LockCertificate:
        """From votes in any order (one per witness)."""
        return cls(tuple(sorted(votes, key=lambda v: v.witness)))

    @property
    def prestate_hash(self) -> Hash32:
        return self.votes[0].prestate_hash

    @property
    def round(self) -> int:
        return self.votes[0].round

    @property
    def result_id(self) -> Hash32:
        return self.votes[0].result_id

    def verify(self, witnesses: WitnessSet, group_key: VerifyingKey) -> None:
        """Return if t distinct witnesses of this group signed these votes; otherwise
        `InvalidCertificate`."""
        if self.votes[0].vote.group_key != group_key:
            raise InvalidCertificate("a lock certificate of another witness group")
        if len(self.votes) < witnesses.threshold:
            raise InvalidCertificate(
                f"{len(self.votes)} votes cannot lock (threshold {witnesses.threshold})"
            )
        items = []
        for signed in self.votes:
            if signed.witness not in witnesses:
                raise InvalidCertificate(f"{signed.witness} is not a witness")
            key = witnesses.key_of(signed.witness)
            entry = (key.raw, signed.vote.message, signed.signature)
            if entry not in _VERIFIED:
                items.append((key, signed.vote.message, signed.signature))
        if not all(verify_many(items)):
            raise InvalidCertificate("a lock certificate holds a vote its witness did not sign")
        for key, message, signature in items:
            _remember(key, message, signature)
