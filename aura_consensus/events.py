"""What the networked layer feeds a consensus instance, and what the instance asks it to do.

The instance is sans-IO, in the style of h11: `step(state, event)` returns the next state and a
tuple of actions. Events are things that *happened* (a message arrived from an authenticated
peer, a timer fired); actions are things to *do* (send, arm or cancel a timer, record a fact).
The instance never reads a clock, draws randomness or touches the network; durations, peer
selection for gossip and nonce seeds belong to the caller.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from aura_consensus.commit import CommitFact
from aura_consensus.evidence import EquivocationProof, Evidence
from aura_consensus.params import ConsensusParams
from aura_consensus.statements import SignedVote
from aura_core.crypto import frost
from aura_core.errors import AuraError
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId

__all__ = [
    "Timer",
    "FailureReason",
    "WitnessShare",
    # events
    "Start",
    "NonceCommitReceived",
    "SigningPackageReceived",
    "ShareReceived",
    "StateMismatchReceived",
    "FallbackTimeout",
    "GossipTick",
    "GossipReceived",
    "EvidenceReceived",
    "CommitReceived",
    "DeadlineExpired",
    "Cancel",
    "Event",
    # actions
    "SendExecute",
    "SendSignRequest",
    "RequestNonces",
    "StartTimer",
    "CancelTimer",
    "SendGossip",
    "BroadcastCommit",
    "Decided",
    "EquivocationDetected",
    "SharesRejected",
    "InstanceFailed",
    "Rejected",
    "Action",
]


class Timer(enum.Enum):
    """The timers an instance asks for; the caller picks durations (see docs/consensus.md)."""

    FALLBACK = "fallback"
    """T_fallback (≈ 2-3x the median round trip): fast path → fallback when it fires."""
    GOSSIP = "gossip"
    """The fallback gossip period (250-500 ms)."""
    DEADLINE = "deadline"
    """The instance's overall timeout (30 s by default): the instance fails when it fires."""


class FailureReason(enum.Enum):
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


@attrs.frozen
class WitnessShare:
    """A witness's signed vote, with the FROST signature share for one signing package that
    the vote's attachment names (`statements.share_digest`), if it carries one.

    A bare vote (no share) is a round-r vote on a proposal (r ≥ 1), or a vote for another
    result relayed so that a witness that also votes for the instance's result is caught
    equivocating: this node cannot form another result's transcript, so only the votes count.
    """

    vote: SignedVote
    package_id: Hash32 | None = None
    share: frost.SignatureShare | None = None

    @property
    def witness(self) -> AuthorityId:
        return self.vote.witness

    @property
    def result_id(self) -> Hash32:
        return self.vote.result_id

    @property
    def prestate_hash(self) -> Hash32:
        return self.vote.prestate_hash


# ---------------------------------------------------------------------------------- events


@attrs.frozen
class Start:
    """Begin the fast path. The initiator sends `Execute` to every witness; everyone (the
    initiator and each witness that received `Execute`) arms the fallback and deadline timers.

    `cached_commitments` (initiator only): witnesses' nonce commitments for this epoch taken
    from a `NonceRegistry` (pipelining). With at least t of them, the signing package is formed
    at once and rides on `Execute`, so the fast path takes one round trip.
    """

    initiator: bool = False
    cached_commitments: Mapping[AuthorityId, frost.SigningCommitments] = attrs.field(factory=dict)


@attrs.frozen
class NonceCommitReceived:
    """(Initiator) A witness's round-1 FROST commitment (`NonceCommit`)."""

    witness: AuthorityId
    commitments: frost.SigningCommitments


@attrs.frozen
class SigningPackageReceived:
    """A signing package formed by the initiator (`SignRequest`, or `Execute` when pipelined)."""

    package: frost.SigningPackage


@attrs.frozen
class ShareReceived:
    """A `SignShare` (or a round vote) from its witness; the vote's signature is checked, so
    it may also have been relayed."""

    share: WitnessShare


@attrs.frozen
class StateMismatchReceived:
    """A witness's `StateMismatch`: its prestate hash differs, so it will not sign."""

    witness: AuthorityId
    actual_prestate_hash: Hash32


@attrs.frozen
class FallbackTimeout:
    """The fallback timer fired."""


@attrs.frozen
class GossipTick:
    """The gossip timer fired."""


@attrs.frozen
class GossipReceived:
    """Fallback gossip from a peer: signing packages, shares and evidence (relayed, so each is
    checked on its own and a bad one is reported as `Rejected`, not fatal)."""

    packages: tuple[frost.SigningPackage, ...] = ()
    shares: tuple[WitnessShare, ...] = ()
    evidence: Evidence = attrs.field(factory=Evidence)


@attrs.frozen
class EvidenceReceived:
    """Evidence from any message (`evidence_delta`) or from another instance or replica; each
    new proof is verified, a forged one is reported as `Rejected`."""

    evidence: Evidence


@attrs.frozen
class CommitReceived:
    """A `Commit` (consensus result) from anyone; accepted if it verifies."""

    fact: CommitFact


@attrs.frozen
class DeadlineExpired:
    """The deadline timer fired."""


@attrs.frozen
class Cancel:
    """The caller gives up on the instance (e.g. its ceremony was superseded)."""


Event = (
    Start
    | NonceCommitReceived
    | SigningPackageReceived
    | ShareReceived
    | StateMismatchReceived
    | FallbackTimeout
    | GossipTick
    | GossipReceived
    | EvidenceReceived
    | CommitReceived
    | DeadlineExpired
    | Cancel
)


# --------------------------------------------------------------------------------- actions


@attrs.frozen
class SendExecute:
    """Send `Execute(params, evidence, package?)` to `to`. With a package (pipelined), the
    witnesses in it sign at once and answer `SignShare`; otherwise they answer `NonceCommit`
    (or `StateMismatch`)."""

    to: tuple[AuthorityId, ...]
    params: ConsensusParams
    package: frost.SigningPackage | None
    evidence: Evidence


@attrs.frozen
class SendSignRequest:
    """Send `SignRequest(package)` to the package's signers; they answer `SignShare`."""

    to: tuple[AuthorityId, ...]
    package: frost.SigningPackage


@attrs.frozen
class RequestNonces:
    """(Initiator, on fallback) ask these witnesses for fresh nonce commitments, so a new
    signing package can be formed without the witnesses that stalled the first one."""

    to: tuple[AuthorityId, ...]


@attrs.frozen
class StartTimer:
    timer: Timer


@attrs.frozen
class CancelTimer:
    timer: Timer


@attrs.frozen
class SendGossip:
    """Send this to k (3-5) peers chosen at random by the caller."""

    packages: tuple[frost.SigningPackage, ...]
    shares: tuple[WitnessShare, ...]
    evidence: Evidence


@attrs.frozen
class BroadcastCommit:
    """Send `Commit(fact, evidence)` to every witness (this node aggregated the signature)."""

    fact: CommitFact
    evidence: Evidence


@attrs.frozen
class Decided:
    """The instance committed: insert `fact` into the journal of the operation's namespace."""

    fact: CommitFact


@attrs.frozen
class EquivocationDetected:
    """A witness voted twice; the proof is in the state's evidence (spread it)."""

    proof: EquivocationProof


@attrs.frozen
class SharesRejected:
    """FROST aggregation named these witnesses' shares for `package_id` as invalid; the shares
    were dropped (a correct one may still arrive, e.g. by gossip)."""

    package_id: Hash32
    witnesses: tuple[AuthorityId, ...]


@attrs.frozen
class InstanceFailed:
    reason: FailureReason


@attrs.frozen(eq=False)
class Rejected:
    """One relayed item (of a gossip batch or an evidence delta) was refused, the rest was
    applied. A `ForgedStatement`, `StaleStatement` or `ForgedEvidence` convicts whoever
    forwarded it (the networked layer scores that peer down)."""

    error: AuraError


Action = (
    SendExecute
    | SendSignRequest
    | RequestNonces
    | StartTimer
    | CancelTimer
    | SendGossip
    | BroadcastCommit
    | Decided
    | EquivocationDetected
    | SharesRejected
    | InstanceFailed
    | Rejected
)
