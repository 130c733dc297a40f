"""`CommitFact`: the threshold-signed record that a consensus instance decided.

The FROST group of the witnesses signs (one aggregate, a plain Ed25519 signature under the group
key) the 32-byte commit transcript

    H("aura.consensus.commit/v2" ‖ consensus_id ‖ prestate_hash ‖ operation_hash
      ‖ len(op) u32LE ‖ op bytes ‖ threshold u16LE ‖ count u16LE ‖ participant* ‖ fast_path u8
      ‖ round u32LE)

so every field of the fact except the signature itself is covered, directly or (the nonce and
the group key) through the checks `verify` makes: the consensus id must be the hash of the
prestate, the operation and the nonce, and the signature must verify under the group key. A
fact with any field changed does not verify.

`participants` are the witnesses whose signature shares went into the aggregate, sorted and
distinct. The aggregate alone cannot show how many shares it took; the list is signed, and
fewer than the group's FROST threshold of shares cannot produce a valid signature at all.

`round` is the round of the prestate the signing package belonged to (0: the fast path and
its fallback; r ≥ 1: a round the witnesses moved to, `aura_consensus.rounds`). It is in the
transcript so that shares given in different rounds never combine into one signature: the
safety argument counts the signers of one round.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from aura_consensus import hashing
from aura_consensus.witnesses import MAX_WITNESSES
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SigningKey, VerifyingKey
from aura_core.encoding import record
from aura_core.errors import CryptoError, InvalidArgument, InvalidCommitFact
from aura_core.hashing import Hash32, tagged_hash, u8, u16, u32
from aura_core.ids import AuthorityId, ConsensusId

__all__ = [
    "TRANSCRIPT_TAG",
    "MAX_OPERATION_BYTES",
    "commit_transcript",
    "CommitFact",
    "single_signer_commit",
]

TRANSCRIPT_TAG = "aura.consensus.commit/v2"

MAX_OPERATION_BYTES = 56 * 1024
"""Largest operation a commit carries, so that a `CommitFact` fits a 64 KiB fact payload."""


def commit_transcript(
    consensus_id: ConsensusId,
    prestate_hash: Hash32,
    operation_hash: Hash32,
    operation_bytes: bytes,
    threshold: int,
    *,
    participants: Sequence[AuthorityId],
    fast_path: bool,
    round: int,
) -> bytes:
    """The 32 bytes the witnesses' FROST group signs for a commit (formula above)."""
    if type(consensus_id) is not ConsensusId:
        raise InvalidArgument("consensus_id must be a ConsensusId")
    if type(prestate_hash) is not Hash32 or type(operation_hash) is not Hash32:
        raise InvalidArgument("prestate_hash and operation_hash must be Hash32")
    if type(operation_bytes) is not bytes or type(fast_path) is not bool:
        raise InvalidArgument("operation_bytes must be bytes and fast_path a bool")
    if not all(type(p) is AuthorityId for p in participants):
        raise InvalidArgument("participants must be AuthorityIds")
    if type(round) is not int or not 0 <= round < 2**32:
        raise InvalidArgument("a round is an unsigned 32-bit integer")
    return tagged_hash(
        TRANSCRIPT_TAG,
        consensus_id.hash.digest,
        prestate_hash.digest,
        operation_hash.digest,
        u32(len(operation_bytes)),
        operation_bytes,
        u16(threshold),
        u16(len(participants)),
        *(p.raw for p in participants),
        u8(int(fast_path)),
        u32(round),
    ).digest


def _u16(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**16:
        raise InvalidArgument(f"{attribute.name} is an unsigned 16-bit integer")


def _u32(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**32:
        raise InvalidArgument(f"{attribute.name} is an unsigned 32-bit integer")


def _u64(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidArgument(f"{attribute.name} is an unsigned 64-bit integer")


def _operation(_: object, __: object, value: bytes) -> None:
    if type(value) is not bytes or len(value) > MAX_OPERATION_BYTES:
        raise InvalidArgument(f"an operation is at most {MAX_OPERATION_BYTES} bytes")


def _signature(_: object, __: object, value: bytes) -> None:
    if type(value) is not bytes or len(value) != frost.SIGNATURE_LEN:
        raise InvalidArgument(f"a threshold signature is {frost.SIGNATURE_LEN} bytes")


@record("consensus.commit_fact")
@attrs.frozen
class CommitFact:
    """A decided operation: what was agreed, on which prestate, by whom, with the proof.

    Construction checks only sizes and ranges; `verify` checks everything else. Build one from
    an aggregated signature with `ConsensusParams.commit_fact` (the instance does this) and
    check a received one with `verify` (or `ConsensusParams.check_commit`, which also checks
    that it belongs to the instance).
    """

    consensus_id: ConsensusId
    prestate_hash: Hash32
    operation_hash: Hash32
    operation_bytes: bytes = attrs.field(validator=_operation)
    nonce: int = attrs.field(validator=_u64)
    """The initiator's nonce: `consensus_id` is recomputed from it."""
    threshold: int = attrs.field(validator=_u16)
    participants: tuple[AuthorityId, ...]
    """The witnesses whose shares were aggregated: sorted, distinct, at least `threshold`."""
    fast_path: bool
    """True if the signing package was formed on the fast path (before any fallback)."""
    group_public_key: VerifyingKey
    threshold_signature: bytes = attrs.field(validator=_signature)
    """The FROST aggregate: an Ed25519 signature of `message` under `group_public_key`."""
    round: int = attrs.field(default=0, validator=_u32)
    """The round of the prestate whose signing package this is (0: the fast path)."""

    @classmethod
    def build(
        cls,
        *,
        prestate_hash: Hash32,
        operation_bytes: bytes,
        nonce: int,
        threshold: int,
        participants: Sequence[AuthorityId],
        fast_path: bool,
        group_public_key: VerifyingKey,
        threshold_signature: bytes,
        round: int = 0,
    ) -> CommitFact:
        """A commit with the operation hash and consensus id computed and the participants
        sorted. It does not verify anything: call `verify` (or build through
        `ConsensusParams.commit_fact`, as the instance does after aggregating)."""
        operation_hash = hashing.operation_hash(operation_bytes)
        return cls(
            consensus_id=hashing.consensus_id(prestate_hash, operation_hash, nonce),
            prestate_hash=prestate_hash,
            operation_hash=operation_hash,
            operation_bytes=operation_bytes,
            nonce=nonce,
            threshold=threshold,
            participants=tuple(sorted(participants)),
            fast_path=fast_path,
            group_public_key=group_public_key,
            threshold_signature=threshold_signature,
            round=round,
        )

    @property
    def message(self) -> bytes:
        """The signed transcript."""
        return commit_transcript(
            self.consensus_id,
            self.prestate_hash,
            self.operation_hash,
            self.operation_bytes,
            self.threshold,
            participants=self.participants,
            fast_path=self.fast_path,
            round=self.round,
        )

    @property
    def result_id(self) -> Hash32:
        """`rid = H(Op, prestate)` of the committed operation."""
        return hashing.result_id(self.prestate_hash, self.operation_bytes)

    def verify(self, trusted_group_key: VerifyingKey | None = None) -> None:
        """Return if the fact is valid; raise `InvalidCommitFact` saying why otherwise.

        Checks: threshold ≥ 1; participants sorted and distinct, at least `threshold` of them;
        the operation hash is the hash of the operation bytes; the consensus id is
        `H(prestate, operation hash, nonce)`; the signature verifies under the group key over
        the transcript; and, if `trusted_group_key` is given, that the fact's key is that one.

        A signature only proves that *some* group signed. Pass the key you trust for this
        operation (the authority's tree group key, the context's agreed key): without it a
        forger can sign a fact under a key of its own.
        """
        if self.threshold < 1:
            raise InvalidCommitFact(f"{self.consensus_id}: threshold must be at least 1")
        participants = self.participants
        if type(participants) is not tuple or not all(type(p) is AuthorityId for p in participants):
            raise InvalidCommitFact(f"{self.consensus_id}: participants are AuthorityIds")
        if list(participants) != sorted(set(participants)):
            raise InvalidCommitFact(f"{self.consensus_id}: participants not sorted and unique")
        if len(participants) > MAX_WITNESSES:
            raise InvalidCommitFact(f"{self.consensus_id}: more than {MAX_WITNESSES} participants")
        if len(participants) < self.threshold:
            raise InvalidCommitFact(
                f"{self.consensus_id}: {len(participants)} participants for threshold "
                f"{self.threshold}"
            )
        if hashing.operation_hash(self.operation_bytes) != self.operation_hash:
            raise InvalidCommitFact(f"{self.consensus_id}: operation hash does not match")
        expected = hashing.consensus_id(self.prestate_hash, self.operation_hash, self.nonce)
        if expected != self.consensus_id:
            raise InvalidCommitFact(
                f"{self.consensus_id}: not the id of this prestate, operation and nonce"
            )
        if type(self.group_public_key) is not VerifyingKey:
            raise InvalidCommitFact(f"{self.consensus_id}: no group public key")
        if trusted_group_key is not None and self.group_public_key != trusted_group_key:
            raise InvalidCommitFact(f"{self.consensus_id}: signed by an untrusted group key")
        try:
            frost.verify(self.group_public_key, self.message, self.threshold_signature)
        except CryptoError as exc:
            raise InvalidCommitFact(
                f"{self.consensus_id}: threshold signature does not verify ({exc.code})"
            ) from None


def single_signer_commit(
    *,
    prestate_hash: Hash32,
    operation_bytes: bytes,
    nonce: int,
    witness: AuthorityId,
    key: SigningKey,
) -> CommitFact:
    """The commit of a group of one: `witness` alone, its Ed25519 `key` the group key.

    FROST needs at least two signers, so a 1-of-1 group (a new account's single device)
    decides by signing the transcript itself: threshold 1, one participant, a plain Ed25519
    signature, which `verify` accepts like any aggregate. No round trip and no randomness
    (the nonce comes in)."""
    if type(key) is not SigningKey or type(witness) is not AuthorityId:
        raise InvalidArgument("a single-signer commit takes the witness and its SigningKey")
    unsigned = CommitFact.build(
        prestate_hash=prestate_hash,
        operation_bytes=operation_bytes,
        nonce=nonce,
        threshold=1,
        participants=(witness,),
        fast_path=True,
        group_public_key=key.verifying_key,
        threshold_signature=bytes(frost.SIGNATURE_LEN),
    )
    return attrs.evolve(unsigned, threshold_signature=key.sign(unsigned.message))
