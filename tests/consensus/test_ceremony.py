"""Ceremonies (issue 8, item 4): lifecycle, abort and supersession leave the old epoch live
with the pending keys unused, one live ceremony per prestate, and order-independence."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_consensus import hashing
from aura_consensus.ceremony import (
    Aborted,
    AbortReason,
    CeremonyAborted,
    CeremonyCommitted,
    CeremonyFact,
    CeremonyPendingEpoch,
    CeremonyRegistry,
    CeremonyResponse,
    CeremonyStarted,
    CeremonySuperseded,
    Committed,
    Committing,
    PendingEpoch,
    Preparing,
    Superseded,
    SupersessionReason,
)
from aura_consensus.commit import CommitFact
from aura_core.encoding import decode, encode
from aura_core.errors import (
    CeremonyClosed,
    CeremonyConflict,
    CeremonyError,
    InvalidArgument,
    UnknownCeremony,
    WrongInstance,
)
from aura_core.hashing import Hash32
from aura_core.ids import CeremonyId
from aura_sim.testing.laws import check_semilattice
from tests.consensus.support import authority, group
from tests.consensus.test_commit import sign_commit

BASE_EPOCH = 4
PRESTATE = Hash32.of(b"authority tree at epoch 4")
OPERATION = b"rotate guardians"
NEW_KEYS = Hash32.of(b"public key package of epoch 5")
PARTICIPANTS = (authority("guardian 1"), authority("guardian 2"))


def committed_operation(operation: bytes = OPERATION, prestate: Hash32 = PRESTATE) -> CommitFact:
    return _commit(operation, prestate)


@functools.cache
def _commit(operation: bytes, prestate: Hash32) -> CommitFact:
    g = group(2, 3)
    return sign_commit(g, g.params(operation=operation, prestate=prestate), g.authorities[:2])


def started(
    registry: CeremonyRegistry | None = None, nonce: int = 1, operation: bytes = OPERATION
) -> tuple[CeremonyId, CeremonyRegistry]:
    fact, reg = (registry or CeremonyRegistry()).start(
        PRESTATE, hashing.operation_hash(operation), nonce, BASE_EPOCH, PARTICIPANTS
    )
    return fact.ceremony_id, reg


def ready_to_commit() -> tuple[CeremonyId, CeremonyRegistry]:
    cid, reg = started()
    _, reg = reg.enter_pending_epoch(cid, BASE_EPOCH + 1, NEW_KEYS)
    for p in PARTICIPANTS:
        _, reg = reg.respond(cid, p, True)
    return cid, reg


def test_the_lifecycle_to_commit_makes_the_pending_epoch_live() -> None:
    cid, reg = started()
    assert reg.state(cid) == Preparing() and reg.live(PRESTATE) == cid
    _, reg = reg.enter_pending_epoch(cid, BASE_EPOCH + 1, NEW_KEYS)
    state = reg.state(cid)
    assert state == PendingEpoch(BASE_EPOCH + 1, NEW_KEYS, frozenset(PARTICIPANTS), frozenset())
    # new keys exist, but the old epoch stays live and the new keys are inert
    assert reg.live_epoch(BASE_EPOCH) == BASE_EPOCH and not reg.key_usable(NEW_KEYS)
    _, reg = reg.respond(cid, PARTICIPANTS[0], True)
    assert isinstance(reg.state(cid), PendingEpoch)
    _, reg = reg.respond(cid, PARTICIPANTS[1], True)
    assert reg.state(cid) == Committing(BASE_EPOCH + 1, NEW_KEYS)
    assert reg.live_epoch(BASE_EPOCH) == BASE_EPOCH and not reg.key_usable(NEW_KEYS)
    fact, reg = reg.commit(cid, committed_operation())
    assert reg.state(cid) == Committed(fact.commit.consensus_id, BASE_EPOCH + 1, NEW_KEYS)
    assert reg.live_epoch(BASE_EPOCH) == BASE_EPOCH + 1 and reg.key_usable(NEW_KEYS)
    assert reg.live(PRESTATE) is None
    assert decode(encode(reg), CeremonyRegistry) == reg


@pytest.mark.parametrize("stage", ["preparing", "pending", "committing"])
@pytest.mark.parametrize("ending", ["abort", "supersede"])
def test_abort_or_supersession_leaves_the_old_epoch_live_and_keys_unused(
    stage: str, ending: str
) -> None:
    cid, reg = started()
    if stage != "preparing":
        _, reg = reg.enter_pending_epoch(cid, BASE_EPOCH + 1, NEW_KEYS)
    if stage == "committing":
        for p in PARTICIPANTS:
            _, reg = reg.respond(cid, p, True)
    newer = hashing.ceremony_id(PRESTATE, hashing.operation_hash(b"newer"), 9)
    if ending == "abort":
        _, reg = reg.abort(cid, AbortReason.TIMEOUT)
        assert reg.state(cid) == Aborted(AbortReason.TIMEOUT)
    else:
        _, reg = reg.supersede(cid, newer, SupersessionReason.NEWER_REQUEST)
        assert reg.state(cid) == Superseded(newer, SupersessionReason.NEWER_REQUEST)
    assert reg.live_epoch(BASE_EPOCH) == BASE_EPOCH
    assert not reg.key_usable(NEW_KEYS)
    assert reg.live(PRESTATE) is None
    # nothing can revive it
    with pytest.raises(CeremonyClosed):
        reg.commit(cid, committed_operation())
    with pytest.raises(CeremonyClosed):
        reg.respond(cid, PARTICIPANTS[0], True)
    # and the prestate is free for the newer ceremony
    newer_id, reg = started(reg, nonce=9, operation=b"newer")
    assert newer_id == newer and reg.live(PRESTATE) == newer


def test_a_second_ceremony_on_the_same_prestate_is_refused() -> None:
    cid, reg = started()
    before = reg
    with pytest.raises(CeremonyConflict):
        started(reg, nonce=2, operation=b"competing operation")
    with pytest.raises(CeremonyConflict):
        started(reg)  # the same one again
    assert reg == before and reg.ceremonies() == (cid,)
    # a prestate a ceremony already committed is stale
    done, reg2 = ready_to_commit()
    _, reg2 = reg2.commit(done, committed_operation())
    with pytest.raises(CeremonyConflict):
        started(reg2, nonce=3, operation=b"late")


def test_refused_commands_change_nothing() -> None:
    cid, reg = started()
    _, pending = reg.enter_pending_epoch(cid, BASE_EPOCH + 1, NEW_KEYS)
    stranger = authority("stranger")
    unknown = CeremonyId(Hash32.of(b"unknown"))
    cases = [
        (lambda: reg.respond(cid, PARTICIPANTS[0], True), CeremonyClosed),  # before the epoch
        (lambda: reg.enter_pending_epoch(cid, BASE_EPOCH, NEW_KEYS), CeremonyError),
        (lambda: reg.enter_pending_epoch(cid, BASE_EPOCH + 1, b"keys"), InvalidArgument),
        (lambda: pending.enter_pending_epoch(cid, BASE_EPOCH + 2, NEW_KEYS), CeremonyClosed),
        (lambda: pending.respond(cid, stranger, True), CeremonyError),
        (lambda: pending.commit(cid, committed_operation()), CeremonyClosed),  # responses missing
        (lambda: reg.abort(unknown, AbortReason.CANCELLED), UnknownCeremony),
        (lambda: reg.state(unknown), UnknownCeremony),
        (lambda: reg.abort(cid, "timeout"), InvalidArgument),
        (lambda: reg.supersede(cid, cid, SupersessionReason.PRECEDENCE), InvalidArgument),
    ]
    for call, error in cases:
        before_reg, before_pending = reg, pending
        with pytest.raises(error):
            call()
        assert reg == before_reg and pending == before_pending
    _, answered = pending.respond(cid, PARTICIPANTS[0], False)
    with pytest.raises(CeremonyError):
        answered.respond(cid, PARTICIPANTS[0], True)  # once each
    declined = answered.state(cid)
    assert isinstance(declined, PendingEpoch) and declined.declined == {PARTICIPANTS[0]}
    ready_id, ready = ready_to_commit()
    with pytest.raises(WrongInstance):
        ready.commit(ready_id, committed_operation(b"another operation"))
    with pytest.raises(WrongInstance):
        ready.commit(ready_id, committed_operation(prestate=Hash32.of(b"another prestate")))


def test_concurrent_ceremonies_on_one_prestate_resolve_by_precedence() -> None:
    one_id, replica_one = started(nonce=1)
    two_id, replica_two = started(nonce=2, operation=b"competing operation")
    merged = replica_one.join(replica_two)
    assert merged == replica_two.join(replica_one)
    winner, loser = sorted([one_id, two_id])
    assert merged.live(PRESTATE) == winner
    assert merged.state(loser) == Superseded(winner, SupersessionReason.PRECEDENCE)
    (derived,) = merged.conflicts()
    assert derived == CeremonySuperseded(loser, winner, SupersessionReason.PRECEDENCE)
    recorded = merged.apply(derived)
    assert recorded.conflicts() == ()
    _, after_abort = recorded.abort(winner, AbortReason.DECLINED)
    assert after_abort.state(loser) == Superseded(winner, SupersessionReason.PRECEDENCE)
    assert after_abort.live(PRESTATE) is None


def test_a_commit_wins_over_a_concurrent_abort() -> None:
    cid, reg = ready_to_commit()
    commit_fact, committed = reg.commit(cid, committed_operation())
    abort_fact, aborted = reg.abort(cid, AbortReason.TIMEOUT)
    for merged in (committed.join(aborted), aborted.join(committed)):
        assert isinstance(merged.state(cid), Committed)
        assert merged.key_usable(NEW_KEYS)
    # an embedded commit for another operation does not count
    foreign = CeremonyCommitted(cid, committed_operation(b"another operation"))
    assert isinstance(reg.apply(foreign).state(cid), Committing)
    assert commit_fact in committed.facts and abort_fact in aborted.facts


# ------------------------------------------------------------- order-independence


@functools.cache
def fact_pool() -> tuple[CeremonyFact, ...]:
    """Facts of three ceremonies on one prestate and one on another, including conflicting
    commits, aborts and supersessions."""
    facts: list[CeremonyFact] = []
    ids = []
    for nonce, op in ((1, OPERATION), (2, b"competing"), (3, b"third")):
        fact, _ = CeremonyRegistry().start(
            PRESTATE, hashing.operation_hash(op), nonce, BASE_EPOCH, PARTICIPANTS
        )
        facts.append(fact)
        ids.append(fact.ceremony_id)
    other, _ = CeremonyRegistry().start(
        Hash32.of(b"other"), hashing.operation_hash(b"x"), 1, 0, PARTICIPANTS
    )
    facts.append(other)
    first = ids[0]
    facts += [
        CeremonyPendingEpoch(first, BASE_EPOCH + 1, NEW_KEYS),
        CeremonyPendingEpoch(ids[1], BASE_EPOCH + 1, Hash32.of(b"other keys")),
        *(CeremonyResponse(first, p, True) for p in PARTICIPANTS),
        CeremonyResponse(ids[1], PARTICIPANTS[0], False),
        CeremonyCommitted(first, committed_operation()),
        CeremonyAborted(first, AbortReason.TIMEOUT),
        CeremonyAborted(ids[1], AbortReason.DECLINED),
        CeremonySuperseded(ids[2], ids[1], SupersessionReason.NEWER_REQUEST),
        CeremonySuperseded(other.ceremony_id, ids[2], SupersessionReason.EXPLICIT_CANCEL),
    ]
    return tuple(facts)


def _states(reg: CeremonyRegistry) -> dict[CeremonyId, object]:
    return {cid: reg.state(cid) for cid in reg.ceremonies()}


@given(st.permutations(range(14)), st.integers(0, 14))
def test_states_do_not_depend_on_fact_order_or_batching(order: list[int], split: int) -> None:
    pool = fact_pool()
    assert len(pool) == 14
    in_order = CeremonyRegistry()
    for fact in pool:
        in_order = in_order.apply(fact)
    shuffled = [pool[i] for i in order]
    left, right = CeremonyRegistry(), CeremonyRegistry()
    for fact in shuffled[:split]:
        left = left.apply(fact)
    for fact in shuffled[split:]:
        right = right.apply(fact)
    merged = left.join(right)
    assert merged == in_order
    assert _states(merged) == _states(in_order)
    # every prestate has at most one live ceremony, whatever subset is known
    for reg in (left, right, merged):
        for prestate in {reg.started(c).prestate_hash for c in reg.ceremonies()}:
            live = [
                c
                for c in reg.ceremonies()
                if reg.started(c).prestate_hash == prestate
                and not isinstance(reg.state(c), Committed | Aborted | Superseded)
            ]
            assert len(live) <= 1


def test_registry_join_is_a_semilattice() -> None:
    registries = st.sets(st.sampled_from(fact_pool()), max_size=8).map(
        lambda facts: functools.reduce(CeremonyRegistry.apply, facts, CeremonyRegistry())
    )
    check_semilattice(
        registries, CeremonyRegistry.join, identity=CeremonyRegistry(), max_examples=60
    )


def test_started_facts_bind_their_id() -> None:
    good, _ = CeremonyRegistry().start(PRESTATE, Hash32.zero(), 1, 0, PARTICIPANTS)
    with pytest.raises(InvalidArgument):
        CeremonyStarted(CeremonyId(Hash32.zero()), PRESTATE, Hash32.zero(), 1, 0, PARTICIPANTS)
    with pytest.raises(InvalidArgument):
        CeremonyStarted(good.ceremony_id, PRESTATE, Hash32.zero(), 1, 0, ())
    with pytest.raises(InvalidArgument):
        CeremonyRegistry().apply("fact")  # type: ignore[arg-type]
