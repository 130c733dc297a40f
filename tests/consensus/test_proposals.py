"""Category-B proposals (issue 8, item 4): apply only at the approval threshold; revert on
rejection and on timeout; refused votes change nothing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_consensus.proposals import (
    DEFAULT_TIMEOUT_MS,
    AnyApproval,
    ApprovalThreshold,
    AtLeast,
    Percent,
    Proposal,
    ProposalState,
    ProposalStatus,
    RevertReason,
    Unanimous,
    required_approvals,
)
from aura_core.encoding import decode, encode
from aura_core.errors import (
    AlreadyDecided,
    InvalidArgument,
    NotAnApprover,
    ProposalClosed,
    ProposalExpired,
)
from tests.consensus.support import authority

APPROVERS = tuple(authority(("approver", i)) for i in range(5))
START = 1_000_000


def proposal(threshold: ApprovalThreshold, timeout_ms: int = 60_000) -> Proposal:
    return Proposal.of(
        b"kick member", set(APPROVERS), threshold, created_at_ms=START, timeout_ms=timeout_ms
    )


def test_required_approvals() -> None:
    assert required_approvals(AnyApproval(), 5) == 1
    assert required_approvals(Unanimous(), 5) == 5
    assert required_approvals(AtLeast(3), 5) == 3
    assert required_approvals(Percent(50), 5) == 3  # rounded up
    assert required_approvals(Percent(1), 5) == 1
    assert required_approvals(Percent(100), 5) == 5
    with pytest.raises(InvalidArgument):
        required_approvals(AtLeast(6), 5)
    with pytest.raises(InvalidArgument):
        Percent(0)
    with pytest.raises(InvalidArgument):
        AtLeast(0)
    with pytest.raises(InvalidArgument):
        Proposal.of(b"op", set(), AnyApproval(), created_at_ms=0)
    with pytest.raises(InvalidArgument):
        Proposal.of(b"op", set(APPROVERS), AtLeast(9), created_at_ms=0)


@given(
    st.sampled_from([AnyApproval(), Unanimous(), AtLeast(2), AtLeast(4), Percent(60)]),
    st.permutations(APPROVERS),
    st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_applies_exactly_when_the_threshold_is_met(
    threshold: ApprovalThreshold, order: list[object], votes: list[bool]
) -> None:
    state = ProposalState.open(proposal(threshold))
    required = state.proposal.required
    for i, (approver, approve) in enumerate(zip(order, votes, strict=True)):
        if state.status is not ProposalStatus.PENDING:
            with pytest.raises(ProposalClosed):
                state.approve(approver, START + i)  # type: ignore[arg-type]
            break
        state = (state.approve if approve else state.reject)(approver, START + i)  # type: ignore[arg-type]
        assert state.applied == (len(state.approvals) >= required)
        possible = len(APPROVERS) - len(state.rejections)
        reverted = state.status is ProposalStatus.REVERTED
        assert reverted == (possible < required)
        if reverted:
            assert state.revert_reason is RevertReason.REJECTED and not state.applied


def test_unanimous_reverts_on_the_first_rejection() -> None:
    state = ProposalState.open(proposal(Unanimous()))
    for approver in APPROVERS[:4]:
        state = state.approve(approver, START + 1)
    assert state.status is ProposalStatus.PENDING and not state.applied
    state = state.reject(APPROVERS[4], START + 2)
    assert state.status is ProposalStatus.REVERTED
    assert state.revert_reason is RevertReason.REJECTED and not state.applied


def test_reverts_on_timeout_and_refuses_late_votes() -> None:
    state = ProposalState.open(proposal(AtLeast(3), timeout_ms=1_000))
    state = state.approve(APPROVERS[0], START + 10)
    state = state.approve(APPROVERS[1], START + 999)
    assert state.expire(START + 999) is state  # not yet
    with pytest.raises(ProposalExpired):
        state.approve(APPROVERS[2], START + 1_000)  # at the deadline: too late
    expired = state.expire(START + 1_000)
    assert expired.status is ProposalStatus.REVERTED
    assert expired.revert_reason is RevertReason.TIMEOUT and not expired.applied
    with pytest.raises(ProposalClosed):
        expired.approve(APPROVERS[2], START + 500)
    assert expired.expire(START + 5_000) is expired  # final


def test_an_applied_proposal_does_not_expire() -> None:
    state = ProposalState.open(proposal(AnyApproval(), timeout_ms=100))
    state = state.approve(APPROVERS[3], START + 1)
    assert state.applied
    assert state.expire(START + 10_000) is state
    with pytest.raises(ProposalClosed):
        state.reject(APPROVERS[0], START + 2)


def test_refused_votes_change_nothing() -> None:
    state = ProposalState.open(proposal(AtLeast(3))).approve(APPROVERS[0], START)
    cases = [
        (lambda: state.approve(authority("outsider"), START), NotAnApprover),
        (lambda: state.approve(APPROVERS[0], START), AlreadyDecided),
        (lambda: state.reject(APPROVERS[0], START), AlreadyDecided),
        (lambda: state.approve(APPROVERS[1], START + 60_000), ProposalExpired),
        (lambda: state.approve(APPROVERS[1], -1), InvalidArgument),
        (lambda: state.expire(-5), InvalidArgument),
    ]
    for call, error in cases:
        before = (state.approvals, state.rejections, state.status, state.revert_reason)
        with pytest.raises(error):
            call()
        assert (state.approvals, state.rejections, state.status, state.revert_reason) == before


def test_proposals_encode_and_have_stable_ids() -> None:
    p = proposal(Percent(75))
    assert decode(encode(p), Proposal) == p
    assert p.id == decode(encode(p), Proposal).id
    assert p.id != proposal(Percent(74)).id
    assert p.deadline_ms == START + 60_000
    default = Proposal.of(b"op", {APPROVERS[0]}, AnyApproval(), created_at_ms=0)
    assert default.timeout_ms == DEFAULT_TIMEOUT_MS == 86_400_000
