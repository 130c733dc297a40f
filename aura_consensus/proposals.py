"""Category-B proposals: operations that wait for approvals and revert otherwise.

A `Proposal` names the operation, who must approve it, how many approvals it needs (any one,
all, at least k, or a percentage) and how long it may wait. `ProposalState` is its tally:

- it *applies* (status APPLIED) the moment the approvals reach the threshold, never before;
- it *reverts* on rejection, once so many approvers rejected that the threshold can no longer
  be met (with `Unanimous`, the first rejection; with `AnyApproval`, when everyone rejected);
- it *reverts* on timeout: `expire(now_ms)` at or after the deadline, and votes at or after
  the deadline are refused (`ProposalExpired`).

Time is an argument (milliseconds from the caller's `PhysicalTimeEffects`); nothing here reads
a clock. APPLIED and REVERTED are final. Every refused vote raises a `ProposalError` and
returns nothing: the caller's state is unchanged.
"""

from __future__ import annotations

import enum

import attrs

from aura_core.encoding import record
from aura_core.errors import (
    AlreadyDecided,
    InvalidArgument,
    NotAnApprover,
    ProposalClosed,
    ProposalExpired,
)
from aura_core.hashing import content_id
from aura_core.ids import AuthorityId, ProposalId
from aura_core.memo import memoized_property

__all__ = [
    "DEFAULT_TIMEOUT_MS",
    "AnyApproval",
    "Unanimous",
    "AtLeast",
    "Percent",
    "ApprovalThreshold",
    "required_approvals",
    "Proposal",
    "ProposalStatus",
    "RevertReason",
    "ProposalState",
]

DEFAULT_TIMEOUT_MS = 24 * 60 * 60 * 1000
"""The reference's proposal timeout: 24 hours."""


@record("proposal.any")
@attrs.frozen
class AnyApproval:
    """One approval suffices."""


@record("proposal.unanimous")
@attrs.frozen
class Unanimous:
    """Every approver must approve."""


def _positive(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or value < 1:
        raise InvalidArgument(f"{attribute.name} is a positive integer")


@record("proposal.at_least")
@attrs.frozen
class AtLeast:
    """At least `count` approvals (1 ≤ count ≤ number of approvers)."""

    count: int = attrs.field(validator=_positive)


def _percent(_: object, __: object, value: int) -> None:
    if type(value) is not int or not 1 <= value <= 100:
        raise InvalidArgument("a percentage threshold is an integer in 1..100")


@record("proposal.percent")
@attrs.frozen
class Percent:
    """At least `percent`% of the approvers, rounded up."""

    percent: int = attrs.field(validator=_percent)


ApprovalThreshold = AnyApproval | Unanimous | AtLeast | Percent


def required_approvals(threshold: ApprovalThreshold, approvers: int) -> int:
    """How many approvals `threshold` needs out of `approvers` (always 1..approvers)."""
    if type(approvers) is not int or approvers < 1:
        raise InvalidArgument("a proposal needs at least one approver")
    if isinstance(threshold, AnyApproval):
        return 1
    if isinstance(threshold, Unanimous):
        return approvers
    if isinstance(threshold, AtLeast):
        if threshold.count > approvers:
            raise InvalidArgument(f"{threshold.count} approvals asked of {approvers} approvers")
        return threshold.count
    if isinstance(threshold, Percent):
        return max(1, -(-threshold.percent * approvers // 100))
    raise InvalidArgument(f"not an approval threshold: {type(threshold).__name__}")


def _approvers(_: object, __: object, value: tuple[AuthorityId, ...]) -> None:
    if type(value) is not tuple or not all(type(a) is AuthorityId for a in value):
        raise InvalidArgument("approvers are a tuple of AuthorityIds")
    if not value or list(value) != sorted(set(value)):
        raise InvalidArgument("approvers are non-empty, sorted and distinct")


def _check_u64(value: object, name: str) -> None:
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidArgument(f"{name} is an unsigned 64-bit integer")


def _u64(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    _check_u64(value, attribute.name)


@record("proposal")
@attrs.frozen(slots=False)
class Proposal:
    """An operation awaiting approval. Build with `Proposal.of` (which sorts approvers)."""

    operation: bytes
    requires_approval_from: tuple[AuthorityId, ...] = attrs.field(validator=_approvers)
    threshold: ApprovalThreshold
    timeout_ms: int = attrs.field(validator=_positive)
    created_at_ms: int = attrs.field(validator=_u64)

    def __attrs_post_init__(self) -> None:
        if type(self.operation) is not bytes:
            raise InvalidArgument("a proposal's operation is bytes")
        required_approvals(self.threshold, len(self.requires_approval_from))
        _check_u64(self.created_at_ms + self.timeout_ms, "the deadline")

    @classmethod
    def of(
        cls,
        operation: bytes,
        approvers: frozenset[AuthorityId] | set[AuthorityId] | tuple[AuthorityId, ...],
        threshold: ApprovalThreshold,
        *,
        created_at_ms: int,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
    ) -> Proposal:
        return cls(operation, tuple(sorted(set(approvers))), threshold, timeout_ms, created_at_ms)

    @memoized_property
    def id(self) -> ProposalId:
        return ProposalId(content_id(self))

    @property
    def deadline_ms(self) -> int:
        """Votes at or after this time are refused; `expire` reverts the proposal."""
        return self.created_at_ms + self.timeout_ms

    @property
    def required(self) -> int:
        return required_approvals(self.threshold, len(self.requires_approval_from))


class ProposalStatus(enum.Enum):
    PENDING = "pending"
    APPLIED = "applied"
    REVERTED = "reverted"


class RevertReason(enum.Enum):
    REJECTED = "rejected"
    TIMEOUT = "timeout"


@attrs.frozen
class ProposalState:
    """A proposal's votes and status. Start with `ProposalState.open(proposal)`."""

    proposal: Proposal
    approvals: frozenset[AuthorityId] = frozenset()
    rejections: frozenset[AuthorityId] = frozenset()
    status: ProposalStatus = ProposalStatus.PENDING
    revert_reason: RevertReason | None = None

    @classmethod
    def open(cls, proposal: Proposal) -> ProposalState:
        if type(proposal) is not Proposal:
            raise InvalidArgument("expected a Proposal")
        return cls(proposal)

    @property
    def applied(self) -> bool:
        """The operation may take effect: the approval threshold was met."""
        return self.status is ProposalStatus.APPLIED

    def _vote_allowed(self, approver: AuthorityId, now_ms: int) -> None:
        _check_u64(now_ms, "now_ms")
        if self.status is not ProposalStatus.PENDING:
            raise ProposalClosed(f"proposal {self.proposal.id} is {self.status.value}")
        if now_ms >= self.proposal.deadline_ms:
            raise ProposalExpired(f"proposal {self.proposal.id} expired")
        if approver not in self.proposal.requires_approval_from:
            raise NotAnApprover(f"{approver} is not asked to approve {self.proposal.id}")
        if approver in self.approvals or approver in self.rejections:
            raise AlreadyDecided(f"{approver} already voted on {self.proposal.id}")

    def approve(self, approver: AuthorityId, now_ms: int) -> ProposalState:
        """Count an approval; the proposal applies when approvals reach the threshold."""
        self._vote_allowed(approver, now_ms)
        approvals = self.approvals | {approver}
        if len(approvals) >= self.proposal.required:
            return attrs.evolve(self, approvals=approvals, status=ProposalStatus.APPLIED)
        return attrs.evolve(self, approvals=approvals)

    def reject(self, approver: AuthorityId, now_ms: int) -> ProposalState:
        """Count a rejection; the proposal reverts once the threshold is out of reach."""
        self._vote_allowed(approver, now_ms)
        rejections = self.rejections | {approver}
        still_possible = len(self.proposal.requires_approval_from) - len(rejections)
        if still_possible < self.proposal.required:
            return attrs.evolve(
                self,
                rejections=rejections,
                status=ProposalStatus.REVERTED,
                revert_reason=RevertReason.REJECTED,
            )
        return attrs.evolve(self, rejections=rejections)

    def expire(self, now_ms: int) -> ProposalState:
        """Revert a pending proposal whose deadline has passed (unchanged otherwise)."""
        _check_u64(now_ms, "now_ms")
        if self.status is ProposalStatus.PENDING and now_ms >= self.proposal.deadline_ms:
            return attrs.evolve(
                self, status=ProposalStatus.REVERTED, revert_reason=RevertReason.TIMEOUT
            )
        return self
