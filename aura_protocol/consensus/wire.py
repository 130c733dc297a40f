"""The payloads of the consensus choreographies, as canonical records.

FROST values travel as their canonical bytes (`to_bytes`) and are parsed on arrival with the
typed wrappers, so a malformed one is an `EncodingError`/`CryptoError` at the receiver, never a
crash. Every payload names its instance by carrying the full `ConsensusParams` (or, for replies,
the consensus id): a witness that missed `Execute` can still join the instance from any later
message, and a receiver derives every hash from the params itself. Votes are signed statements
(`aura_consensus.statements`), so they mean the same whoever relays them.
"""

from __future__ import annotations

import attrs

from aura_consensus.commit import CommitFact
from aura_consensus.events import WitnessShare
from aura_consensus.evidence import Evidence
from aura_consensus.params import ConsensusParams
from aura_consensus.rounds import Justification
from aura_consensus.statements import LockCertificate, SignedRoundChange, SignedVote
from aura_core.crypto import frost
from aura_core.encoding import record
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, ConsensusId

__all__ = [
    "ShareVote",
    "ExecuteRequest",
    "WitnessReply",
    "NonceRequest",
    "NonceReply",
    "Decision",
    "Gossip",
    "RoundChangeMessage",
]


@record("consensus.wire.share_vote")
@attrs.frozen
class ShareVote:
    """A witness's signed vote, with the FROST signature share it names when it carries one."""

    vote: SignedVote
    package_id: Hash32 | None = None
    share: bytes | None = None

    @classmethod
    def of(cls, share: WitnessShare) -> ShareVote:
        return cls(
            share.vote,
            share.package_id,
            None if share.share is None else share.share.to_bytes(),
        )

    @property
    def witness(self) -> AuthorityId:
        return self.vote.witness

    def parse(self) -> WitnessShare:
        """The `WitnessShare` the instance takes (`EncodingError`/`CryptoError` if garbled)."""
        share = None if self.share is None else frost.SignatureShare.from_bytes(self.share)
        return WitnessShare(self.vote, self.package_id, share)


@record("consensus.wire.execute")
@attrs.frozen
class ExecuteRequest:
    """`Execute` (to observers: no package) and `SignRequest` (to signers: the package).

    `signers` and `observers` are the session's roster for the two families, sorted; a
    receiver rebuilds the session from them and checks that `signers` are the package's
    signers other than the initiator (which signs locally). In a round r ≥ 1 the package comes
    with the `lock` certificate its signers must see before they sign.
    """

    params: ConsensusParams
    signers: tuple[AuthorityId, ...]
    observers: tuple[AuthorityId, ...]
    package: bytes | None
    evidence: Evidence
    lock: LockCertificate | None = None


@record("consensus.wire.reply")
@attrs.frozen
class WitnessReply:
    """A signer's answer: its share (or a vote for another result), or the prestate it holds
    instead; optionally fresh nonce commitments for the initiator's next instance."""

    consensus_id: ConsensusId
    vote: ShareVote | None
    mismatch: Hash32 | None
    next_commitments: bytes | None
    evidence: Evidence


@record("consensus.wire.nonce_request")
@attrs.frozen
class NonceRequest:
    """A request for round-1 FROST commitments (the 2-round path and fallback). `witnesses` is
    the session's `Witness` roster, sorted; `replies` how many the initiator waits for. For an
    instance of a round r ≥ 1 it is the round leader's proposal, with its `justification`: the
    witnesses vote on it as they answer."""

    params: ConsensusParams
    witnesses: tuple[AuthorityId, ...]
    replies: int
    evidence: Evidence
    justification: Justification | None = None


@record("consensus.wire.nonce_reply")
@attrs.frozen
class NonceReply:
    """Round-1 commitments, or the prestate the witness holds instead; for a round proposal,
    the witness's signed vote on it. No commitments and no mismatch: the witness declines (it
    left the round or voted for another result in it)."""

    consensus_id: ConsensusId
    commitments: bytes | None
    mismatch: Hash32 | None
    vote: SignedVote | None = None


@record("consensus.wire.decision")
@attrs.frozen
class Decision:
    """How a signing round ended: the commit, or None when the round stalled or timed out (the
    receivers go to fallback)."""

    consensus_id: ConsensusId
    commit: CommitFact | None
    evidence: Evidence


@record("consensus.wire.gossip")
@attrs.frozen
class Gossip:
    """Fallback gossip: what the sender knows of an instance (packages, votes with shares,
    evidence) or its commit. Carries the params so that a node that missed `Execute` (or lost
    it in a crash) can take part."""

    params: ConsensusParams
    packages: tuple[bytes, ...]
    votes: tuple[ShareVote, ...]
    evidence: Evidence
    commit: CommitFact | None


@record("consensus.wire.round_change")
@attrs.frozen
class RoundChangeMessage:
    """A witness's signed round change, to the new round's leader: the certificate of the lock
    it reports and the instances of the results it reports (so the leader can propose them)."""

    change: SignedRoundChange
    lock: LockCertificate | None
    values: tuple[ConsensusParams, ...]
