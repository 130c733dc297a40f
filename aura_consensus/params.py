"""What defines one consensus instance, identically at every node.

`ConsensusParams` is the content of the `Execute` message: the prestate hash, the operation,
the initiator's nonce, the witness set with its threshold, fault bound and vote keys, the
group key the commit must verify under, and the round of the prestate the instance belongs to
(0 for a proposal; r ≥ 1 for an instance a round leader started, `aura_consensus.rounds`).
Everything else (the consensus id, the operation hash, the result id, the transcript a signing
package must carry) is derived from it, so two nodes with equal params agree on all of it.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from aura_consensus import hashing
from aura_consensus.commit import MAX_OPERATION_BYTES, CommitFact, commit_transcript
from aura_consensus.witnesses import WitnessSet
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.encoding import record
from aura_core.errors import (
    InvalidArgument,
    InvalidCommitFact,
    InvalidSigningPackage,
    UnknownWitness,
    WrongInstance,
)
from aura_core.hashing import Hash32, tagged_hash
from aura_core.ids import AuthorityId, ConsensusId
from aura_core.memo import memoized_property

__all__ = ["ConsensusParams", "PackageInfo", "package_id", "package_id_of"]


def _operation(_: object, __: object, value: bytes) -> None:
    if type(value) is not bytes or len(value) > MAX_OPERATION_BYTES:
        raise InvalidArgument(f"an operation is bytes, at most {MAX_OPERATION_BYTES} of them")


def _u64(_: object, __: object, value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidArgument("the nonce is an unsigned 64-bit integer")


def _u32(_: object, __: object, value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**32:
        raise InvalidArgument("the round is an unsigned 32-bit integer")


def package_id(package: frost.SigningPackage) -> Hash32:
    """A signing package's identity: `H("AURA_SIGNING_PACKAGE" ‖ canonical package bytes)`."""
    if not isinstance(package, frost.SigningPackage):
        raise InvalidArgument("expected a frost.SigningPackage")
    return package_id_of(package.to_bytes())


def package_id_of(encoded: bytes) -> Hash32:
    """The id of the package whose canonical bytes are `encoded` (known packages can be
    recognised without parsing them again; bytes that are not canonical name no package)."""
    if type(encoded) is not bytes:
        raise InvalidArgument("a signing package's bytes")
    return tagged_hash("AURA_SIGNING_PACKAGE", encoded)


@attrs.frozen
class PackageInfo:
    """A signing package checked against an instance: who signs it and which path formed it."""

    package_id: Hash32
    package: frost.SigningPackage = attrs.field(eq=False)
    signers: tuple[AuthorityId, ...]
    """The witnesses whose commitments it holds, sorted."""
    fast_path: bool


@record("consensus.params")
@attrs.frozen(slots=False)
class ConsensusParams:
    """One instance's definition; equal at the initiator and every witness."""

    prestate_hash: Hash32
    operation_bytes: bytes = attrs.field(validator=_operation)
    nonce: int = attrs.field(validator=_u64)
    witnesses: WitnessSet
    group_public_key: VerifyingKey
    round: int = attrs.field(default=0, validator=_u32)

    def __attrs_post_init__(self) -> None:
        if type(self.prestate_hash) is not Hash32:
            raise InvalidArgument("prestate_hash must be a Hash32")
        if type(self.witnesses) is not WitnessSet:
            raise InvalidArgument("witnesses must be a WitnessSet")
        if type(self.group_public_key) is not VerifyingKey:
            raise InvalidArgument("group_public_key must be an ed25519.VerifyingKey")

    @memoized_property
    def operation_hash(self) -> Hash32:
        return hashing.operation_hash(self.operation_bytes)

    @memoized_property
    def consensus_id(self) -> ConsensusId:
        return hashing.consensus_id(self.prestate_hash, self.operation_hash, self.nonce)

    @memoized_property
    def result_id(self) -> Hash32:
        """The result honest witnesses vote for: `H(Op, prestate)`."""
        return hashing.result_id(self.prestate_hash, self.operation_bytes)

    @property
    def threshold(self) -> int:
        return self.witnesses.threshold

    def transcript(self, participants: Iterable[AuthorityId], fast_path: bool) -> bytes:
        """The message a signing package for these participants must carry."""
        return commit_transcript(
            self.consensus_id,
            self.prestate_hash,
            self.operation_hash,
            self.operation_bytes,
            self.threshold,
            participants=sorted(participants),
            fast_path=fast_path,
            round=self.round,
        )

    def describe_package(self, package: frost.SigningPackage) -> PackageInfo:
        """Check a signing package against this instance: every signer is a witness, there are
        at least t of them (`fast_quorum` in round 0), and its message is this instance's
        transcript for exactly those signers (on either path). Raises `InvalidSigningPackage`
        otherwise."""
        if not isinstance(package, frost.SigningPackage):
            raise InvalidSigningPackage("expected a frost.SigningPackage")
        try:
            signers = tuple(sorted(self.witnesses.authority_of(i) for i in package.identifiers))
        except UnknownWitness as exc:
            raise InvalidSigningPackage(f"{self.consensus_id}: {exc.message}") from None
        needed = self.witnesses.fast_quorum if self.round == 0 else self.threshold
        if len(signers) < needed:
            raise InvalidSigningPackage(
                f"{self.consensus_id}: {len(signers)} signers, round {self.round} needs {needed}"
            )
        message = package.message
        for fast_path in (True, False):
            if message == self.transcript(signers, fast_path):
                return PackageInfo(package_id(package), package, signers, fast_path)
        raise InvalidSigningPackage(f"{self.consensus_id}: the package signs another message")

    def commit_fact(
        self, participants: Iterable[AuthorityId], fast_path: bool, signature: bytes
    ) -> CommitFact:
        """The `CommitFact` for an aggregated signature over `transcript(participants, ...)`."""
        return CommitFact.build(
            prestate_hash=self.prestate_hash,
            operation_bytes=self.operation_bytes,
            nonce=self.nonce,
            threshold=self.threshold,
            participants=list(participants),
            fast_path=fast_path,
            group_public_key=self.group_public_key,
            threshold_signature=signature,
            round=self.round,
        )

    def check_commit(self, fact: CommitFact) -> None:
        """Raise unless `fact` is a valid commit of this instance: `WrongInstance` if it decides
        another instance or operation, `InvalidCommitFact` if it does not verify under this
        instance's group key, names a non-witness or uses another threshold."""
        if type(fact) is not CommitFact:
            raise InvalidCommitFact("expected a CommitFact")
        if (
            fact.consensus_id != self.consensus_id
            or fact.prestate_hash != self.prestate_hash
            or fact.operation_bytes != self.operation_bytes
            or fact.nonce != self.nonce
        ):
            raise WrongInstance(f"commit {fact.consensus_id} is not for {self.consensus_id}")
        if fact.threshold != self.threshold:
            raise InvalidCommitFact(f"{self.consensus_id}: commit uses another threshold")
        if fact.round != self.round:
            raise InvalidCommitFact(f"{self.consensus_id}: commit of another round")
        if any(p not in self.witnesses for p in fact.participants):
            raise InvalidCommitFact(f"{self.consensus_id}: a participant is not a witness")
        fact.verify(self.group_public_key)
