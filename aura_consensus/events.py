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
    """A witness's vote for (result id, prestate hash), with its FROST signature share for one
    signing package when the vote is for the instance's own result.

    Shares for other results carry no usable signature (this node cannot form their
    transcript); they still count as votes, so a witness that also votes for the instance's
    result is caught equivocating.
    """

    witness: AuthorityId
    result_id: Hash32
    prestate_hash: Hash32
    package_id: Hash32 | None = None
    share: frost.SignatureShare | None = None


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
    """A `SignShare` from `share.witness` (the authenticated sender)."""

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
    """Fallback gossip from a peer: signing packages, shares (relayed, so each is checked on
    its own and a bad one is reported, not fatal) and evidence."""

    packages: tuple[frost.SigningPackage, ...] = ()
    shares: tuple[WitnessShare, ...] = ()
    evidence: Evidence = attrs.field(factory=Evidence)


@attrs.frozen
class EvidenceReceived:
    """Evidence from any message (`evidence_delta`) or from another instance or replica."""

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
    """One item of a gossip batch was refused (the rest was applied); for tracing."""

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
