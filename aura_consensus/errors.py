"""The errors consensus, ceremonies and proposals raise.

All are `AuraError`s. Every function of this package that refuses an input raises one of these
(or a core error such as `NonceReuse` or `InvalidArgument`) and returns no new state, so the
caller's state is exactly what it was. Messages name identifiers, never secrets.
"""

from __future__ import annotations

from aura_core.errors import AuraError, ErrorKind

__all__ = [
    "ConsensusError",
    "InvalidPrestate",
    "InvalidWitnessSet",
    "InvalidEvidence",
    "InvalidCommitFact",
    "WrongInstance",
    "InvalidTransition",
    "InstanceNotActive",
    "UnknownWitness",
    "AlreadyVoted",
    "KnownEquivocator",
    "ConflictingShare",
    "MissingShare",
    "UnknownSigningPackage",
    "InvalidSigningPackage",
    "WouldEquivocate",
    "StaleEpoch",
    "CeremonyError",
    "CeremonyConflict",
    "UnknownCeremony",
    "CeremonyClosed",
    "ProposalError",
    "NotAnApprover",
    "AlreadyDecided",
    "ProposalClosed",
    "ProposalExpired",
]


class ConsensusError(AuraError):
    """Base of every error of this package."""

    code = "consensus"


class InvalidPrestate(ConsensusError):
    """A prestate with no authorities, more than 256, duplicates or out of order."""

    code = "invalid_prestate"


class InvalidWitnessSet(ConsensusError):
    """A witness set that is empty, repeats an authority or a FROST identifier, or has a
    threshold outside 1 ≤ t ≤ |W| (or does not fit the group's key package)."""

    code = "invalid_witness_set"


class InvalidEvidence(ConsensusError):
    """An equivocation proof whose two result ids are equal (or not in canonical order)."""

    code = "invalid_evidence"


class InvalidCommitFact(ConsensusError):
    """A `CommitFact` that does not verify: its bindings, participants, threshold, key or
    signature are wrong."""

    code = "invalid_commit"


class WrongInstance(ConsensusError):
    """An input that belongs to another consensus instance (id, prestate or operation)."""

    code = "wrong_instance"


class InvalidTransition(ConsensusError):
    """An event the instance's phase does not allow (fallback outside the fast path, a second
    start, a timer for a finished instance, ...)."""

    code = "invalid_transition"


class InstanceNotActive(InvalidTransition):
    """A share, nonce commitment or signing package for an instance that is not running
    (pending, committed or failed)."""

    code = "instance_not_active"


class UnknownWitness(ConsensusError):
    """A vote, share or commitment from an authority outside the witness set."""

    code = "unknown_witness"


class AlreadyVoted(ConsensusError):
    """A second vote by a witness for another prestate; the first one stands."""

    code = "already_voted"


class KnownEquivocator(ConsensusError):
    """Input from a witness already proven to equivocate; it is never counted again."""

    code = "equivocator"


class ConflictingShare(ConsensusError):
    """A second, different signature share from one witness for one signing package."""

    code = "conflicting_share"


class MissingShare(ConsensusError):
    """A vote for the instance's own result without the FROST share (or package) it needs."""

    code = "missing_share"


class UnknownSigningPackage(ConsensusError):
    """A share for a signing package this node has not seen yet; retry once it arrives."""

    kind = ErrorKind.TRANSIENT
    code = "unknown_signing_package"


class InvalidSigningPackage(ConsensusError):
    """A signing package whose message is not this instance's transcript, whose signers are not
    witnesses, which has fewer than t signers, or which names a signer it should not."""

    code = "invalid_signing_package"


class WouldEquivocate(ConsensusError):
    """A witness was asked to sign a second, different result for a prestate it already
    signed; it refuses (this is what keeps honest witnesses out of the evidence)."""

    code = "would_equivocate"


class StaleEpoch(ConsensusError):
    """Nonce material of an epoch other than the registry's current one."""

    code = "stale_epoch"


class CeremonyError(ConsensusError):
    """Base of the ceremony errors."""

    code = "ceremony"


class CeremonyConflict(CeremonyError):
    """A second ceremony on a prestate that already has a live one."""

    code = "ceremony_conflict"


class UnknownCeremony(CeremonyError):
    """A command for a ceremony this registry has no start fact for."""

    code = "unknown_ceremony"


class CeremonyClosed(CeremonyError):
    """A command for a ceremony that is committed, aborted or superseded, or in a state that
    does not allow it (a response before the pending epoch, a commit before every response)."""

    code = "ceremony_closed"


class ProposalError(ConsensusError):
    """Base of the category-B proposal errors."""

    code = "proposal"


class NotAnApprover(ProposalError):
    """A vote from an authority the proposal does not ask."""

    code = "not_an_approver"


class AlreadyDecided(ProposalError):
    """A second vote by one approver; the first one stands."""

    code = "already_decided"


class ProposalClosed(ProposalError):
    """A vote on a proposal that was already applied or reverted."""

    code = "proposal_closed"


class ProposalExpired(ProposalError):
    """A vote at or after the proposal's deadline; call `expire` to revert it."""

    code = "proposal_expired"
