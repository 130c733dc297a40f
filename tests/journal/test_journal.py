"""Journal laws, validation, views, snapshots and pruning."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.encoding import canonical_encode
from aura_core.errors import (
    FactRejected,
    InvalidArgument,
    InvalidAttestation,
    LocalOnlyFact,
    MissingParent,
    NamespaceMismatch,
    PayloadTooLarge,
    SnapshotMismatch,
    UnknownFactType,
    WrongNamespace,
)
from aura_core.time import OrderTime
from aura_journal.budget import FLOW_REDUCER
from aura_journal.fact import Fact, FactBody, Unattested
from aura_journal.journal import Journal
from aura_journal.leakage import LEAKAGE_REDUCER, LeakageRecorded, LeakageReset, ObserverClass
from aura_journal.registry import FactRegistry, Origin
from aura_journal.standard import standard_registry
from tests.journal.helpers import (
    ALICE,
    ALICE_NS,
    BOB,
    CAROL,
    CONTEXT_NS,
    DEVICE_KEY,
    KEYS,
    MALLORY,
    body,
    journal,
    local,
    member_signed,
    signed,
    spent,
    spent_payload,
)

PEERS = [ALICE, BOB, CAROL]
REDUCERS = [FLOW_REDUCER, LEAKAGE_REDUCER]


@st.composite
def replicated_facts(draw: st.DrawFn) -> Fact:
    """Facts any replica of the context may hold: flow spending written by its source."""
    source = draw(st.sampled_from(PEERS))
    peer = draw(st.sampled_from(PEERS))
    return spent(source, peer, 0, draw(st.integers(0, 500)), draw(st.integers(0, 10**9)))


@st.composite
def local_facts(draw: st.DrawFn) -> Fact:
    """One device's own leakage accounting (unsigned, offered locally)."""
    label = draw(st.integers(0, 10**9))
    if draw(st.booleans()):
        payload: object = LeakageRecorded(
            draw(st.sampled_from(ObserverClass)),
            draw(st.integers(0, 50)),
            draw(st.integers(0, 10**6)),
            "op",
        )
    else:
        payload = LeakageReset(draw(st.integers(0, 10**6)))
    return local(payload, label)


fact_lists = st.lists(replicated_facts(), max_size=12, unique_by=lambda f: f.id)
device_fact_lists = st.lists(
    st.one_of(replicated_facts(), local_facts()), max_size=12, unique_by=lambda f: f.id
)


def build(facts: list[Fact], origin: Origin = Origin.PEER) -> Journal:
    j = journal()
    j.insert_batch(facts, origin=origin)
    return j


def views(j: Journal) -> list[object]:
    return [j.view(r) for r in REDUCERS]


@settings(max_examples=60)
@given(fact_lists, fact_lists, fact_lists)
def test_join_laws(a: list[Fact], b: list[Fact], c: list[Fact]) -> None:
    ja, jb, jc = build(a), build(b), build(c)
    empty = journal()
    assert ja.join(jb) == jb.join(ja)
    assert ja.join(jb).join(jc) == ja.join(jb.join(jc))
    assert ja.join(ja) == ja
    assert ja.join(empty) == ja and empty.join(ja) == ja
    joined = ja.join(jb)
    assert ja.fact_ids() <= joined.fact_ids()
    assert views(ja.join(jb)) == views(jb.join(ja))


@settings(max_examples=60)
@given(device_fact_lists, st.randoms(use_true_random=False), st.data())
def test_reduction_ignores_arrival_order_and_batching(
    facts: list[Fact], rng: object, data: st.DataObject
) -> None:
    reference = build(facts, Origin.LOCAL)
    expected = [reference.full_view(r) for r in REDUCERS]

    shuffled = list(facts)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    one_by_one = journal()
    for r in REDUCERS:
        one_by_one.view(r)  # cache views first so every insert updates them incrementally
    for fact in shuffled:
        one_by_one.insert(fact, origin=Origin.LOCAL)
    assert views(one_by_one) == expected

    cuts = sorted(data.draw(st.lists(st.integers(0, len(facts)), max_size=4)))
    pieces = [shuffled[i:j] for i, j in zip([0, *cuts], [*cuts, len(facts)], strict=True)]
    merged = journal()
    for piece in pieces:
        merged.insert_batch(piece, origin=Origin.LOCAL)
    assert merged == reference
    assert views(merged) == expected
    assert [merged.full_view(r) for r in REDUCERS] == expected


@settings(max_examples=40)
@given(fact_lists, st.data())
def test_join_of_replicated_pieces_is_the_whole(facts: list[Fact], data: st.DataObject) -> None:
    reference = build(facts)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(facts)), max_size=4)))
    pieces = [facts[i:j] for i, j in zip([0, *cuts], [*cuts, len(facts)], strict=True)]
    merged = journal()
    for piece in pieces:
        merged = merged.join(build(piece))
    assert merged == reference
    assert views(merged) == [reference.full_view(r) for r in REDUCERS]


def test_join_refuses_another_devices_local_facts() -> None:
    mine = build([local(LeakageReset(5), "mine")], Origin.LOCAL)
    theirs = build([local(LeakageReset(7), "theirs")], Origin.LOCAL)
    replicated = build([spent(ALICE, BOB, 0, 3, "shared")])
    for a, b in ((mine, theirs), (replicated, theirs), (theirs, replicated)):
        before = (a.fact_ids(), b.fact_ids())
        with pytest.raises(LocalOnlyFact):
            a.join(b)
        assert (a.fact_ids(), b.fact_ids()) == before
    assert mine.join(mine) == mine  # its own local facts are its own


def test_insert_is_idempotent_and_reports_new_facts() -> None:
    fact = spent(ALICE, BOB, 0, 5, 1)
    j = journal()
    assert j.insert(fact) is True
    assert j.insert(fact) is False
    assert j.insert_batch([fact, fact]) == 0
    assert len(j) == 2  # the context genesis and the fact


def test_join_across_namespaces_is_an_error() -> None:
    with pytest.raises(NamespaceMismatch):
        journal(CONTEXT_NS).join(journal(ALICE_NS))
    with pytest.raises(InvalidArgument):
        journal().join(Journal(CONTEXT_NS, standard_registry()))


def snapshot_of(j: Journal) -> dict[str, object]:
    return {"ids": j.fact_ids(), "views": views(j)}


def assert_rejected(j: Journal, facts: list[Fact], error: type[Exception]) -> None:
    before = snapshot_of(j)
    with pytest.raises(error):
        j.insert_batch(facts)
    assert snapshot_of(j) == before


def test_bad_input_is_rejected_and_changes_nothing() -> None:
    j = journal()
    j.insert(spent(ALICE, BOB, 0, 5, "seed"))
    good = spent(ALICE, BOB, 0, 9, "good")

    forged = Fact(good.body, type(good.attestation)(good.attestation.signer, bytes(64)))  # type: ignore[union-attr]
    assert_rejected(j, [good, forged], InvalidAttestation)

    wrong_ns = signed(ALICE_NS, spent_payload(ALICE, BOB, 0, 1), "ns")
    assert_rejected(j, [good, wrong_ns], WrongNamespace)

    unknown = FactBody(
        CONTEXT_NS, "nope.type", 1, canonical_encode({}), good.body.order, good.body.timestamp
    )
    from aura_journal.fact import sign_fact

    assert_rejected(j, [good, sign_fact(unknown, DEVICE_KEY)], UnknownFactType)

    huge = FactBody(
        CONTEXT_NS, "flow.spent", 2, bytes(64 * 1024 + 1), good.body.order, good.body.timestamp
    )
    assert_rejected(j, [good, sign_fact(huge, DEVICE_KEY)], PayloadTooLarge)

    payload = canonical_encode(
        {
            "$t": "flow.spent",
            "$v": 2,
            "epoch": 0,
            "nonce": 1,
            "peer": BOB.raw,
            "receipt": bytes(32),
            "source": ALICE.raw,
            "spent": 1,
        }
    )
    non_canonical = payload[:-1] + b"\x18\x01"  # spent = 1 written with a non-minimal head
    bad_bytes = FactBody(
        CONTEXT_NS, "flow.spent", 2, non_canonical, good.body.order, good.body.timestamp
    )
    assert_rejected(j, [good, sign_fact(bad_bytes, DEVICE_KEY)], FactRejected)

    unsigned = Fact(good.body, Unattested())
    assert_rejected(j, [unsigned], InvalidAttestation)
    assert_rejected(j, ["not a fact"], FactRejected)  # type: ignore[list-item]

    assert j.insert(good)  # the good fact alone is fine


def test_wrong_reducer_namespace_kind() -> None:
    # Flow facts live in context journals; an authority journal refuses them.
    j = journal(ALICE_NS)
    assert_rejected(j, [signed(ALICE_NS, spent_payload(ALICE, BOB, 0, 1), "x")], WrongNamespace)


@settings(max_examples=40)
@given(fact_lists, fact_lists, st.integers(0, 255))
def test_snapshot_then_prune_changes_no_view(
    before: list[Fact], after: list[Fact], cut: int
) -> None:
    j = build(before)
    expected_views = [j.full_view(r) for r in REDUCERS]
    cutoff = OrderTime(bytes([cut]) + b"\xff" * 31)
    snapshot = j.snapshot_payload(cutoff, sequence=1)
    snap_fact = Fact(body(CONTEXT_NS, snapshot, "snap"), Unattested())  # this device's own
    assert j.insert(snap_fact, origin=Origin.LOCAL)
    pruned = j.prune()
    assert pruned == snapshot.fact_count
    assert views(j) == expected_views
    assert [j.full_view(r) for r in REDUCERS] == expected_views
    # Later facts apply on top of the snapshot exactly as they would without it.
    j.insert_batch(after)
    unpruned = build(before + after)
    assert [j.full_view(r) for r in REDUCERS] == [unpruned.full_view(r) for r in REDUCERS]
    assert j.fact_ids() - {snap_fact.id} == unpruned.fact_ids()
    # Re-offering pruned facts is a no-op.
    assert j.insert_batch(before) == 0


def snapshot_fact(j: Journal, sequence: int, label: str, cut: bytes = b"\xff" * 32) -> Fact:
    """A snapshot of `j` signed by a member (acceptable from a peer)."""
    return member_signed(j.snapshot_payload(OrderTime(cut), sequence), label)


def test_snapshot_validation() -> None:
    import attrs

    j = build([spent(ALICE, BOB, 0, i, i) for i in range(5)])
    cutoff = OrderTime(b"\xff" * 32)
    good = j.snapshot_payload(cutoff, sequence=1)
    tampered = attrs.evolve(good, states={**good.states, "flow": good.states["leakage"]})
    miscount = attrs.evolve(good, fact_count=good.fact_count + 1)
    for bad in (tampered, miscount):
        assert_rejected(j, [member_signed(bad, "bad")], SnapshotMismatch)
    # Sequences count up from 1, one by one: a later one waits for its predecessor.
    skipping = j.snapshot_payload(cutoff, sequence=2)
    assert_rejected(j, [member_signed(skipping, "skipping")], MissingParent)
    # A peer's snapshot needs the owner's attestation: unsigned or signed by a stranger, no.
    assert_rejected(j, [Fact(body(CONTEXT_NS, good, "unsigned"), Unattested())], FactRejected)
    assert_rejected(j, [signed(CONTEXT_NS, good, "stranger", KEYS[MALLORY])], FactRejected)
    assert j.insert(member_signed(good, "good"))
    again = j.snapshot_payload(cutoff, sequence=1)
    assert_rejected(j, [member_signed(again, "old")], SnapshotMismatch)
    huge = j.snapshot_payload(cutoff, sequence=2**64 - 1)  # would block every later snapshot
    assert_rejected(j, [member_signed(huge, "huge")], MissingParent)
    assert j.insert(member_signed(j.snapshot_payload(cutoff, sequence=2), "next"))


def test_join_refuses_to_lose_pruned_facts() -> None:
    facts = [spent(ALICE, BOB, 0, i, i) for i in range(4)]
    a, b = build(facts[:2]), build(facts[2:])
    a.insert(snapshot_fact(a, 1, "sa"))
    b.insert(snapshot_fact(b, 1, "sb"))
    a.prune()
    b.prune()
    with pytest.raises(SnapshotMismatch):
        a.join(b)
    # Unpruned journals with different snapshots join fine and agree on every view.
    c, d = build(facts[:2]), build(facts[2:])
    c.insert(snapshot_fact(c, 1, "sc"))
    d.insert(snapshot_fact(d, 1, "sd"))
    joined = c.join(d)
    assert [joined.full_view(r) for r in REDUCERS] == views(build(facts))


def test_registry_rejects_duplicates() -> None:
    registry = FactRegistry()
    from aura_journal.budget import FLOW_SPENT

    registry.register(FLOW_SPENT)
    with pytest.raises(ValueError):
        registry.register(FLOW_SPENT)


def test_ingest_commits_batch_by_batch_and_stops_at_a_bad_one() -> None:
    facts = [spent(ALICE, BOB, 0, i, ("ingest", i)) for i in range(25)]
    good = build(facts)
    j = journal()
    assert j.ingest([f.encoded for f in facts], batch=10) == 25
    assert j == good and views(j) == views(good)

    forged = Fact(
        facts[14].body, type(facts[14].attestation)(facts[14].attestation.signer, bytes(64))
    )  # type: ignore[union-attr]
    wire = [f.encoded for f in facts[:14]] + [forged.encoded] + [f.encoded for f in facts[15:]]
    j = journal()
    with pytest.raises(InvalidAttestation):
        j.ingest(wire, batch=10)
    assert j.fact_ids() == build(facts[:10]).fact_ids()  # the first batch stayed, nothing after
    # Facts only a device writes for itself are refused from the wire (the default origin).
    j = journal()
    with pytest.raises(LocalOnlyFact):
        j.ingest([local(LeakageReset(1), "leak").encoded])
    assert j == journal()

    from aura_core.errors import EncodingError

    with pytest.raises(EncodingError):
        journal().ingest([b"\x00junk"])
    with pytest.raises(InvalidArgument):
        journal().ingest([], batch=0)


def test_staged_facts_refuse_a_stale_commit() -> None:
    j = journal()
    first = j.stage([spent(ALICE, BOB, 0, 1, "s1")])
    j.insert(spent(ALICE, CAROL, 0, 1, "s2"))
    with pytest.raises(InvalidArgument):
        first.commit()
    second = j.stage([spent(ALICE, BOB, 0, 2, "s3")])
    assert second.commit() == 1
    with pytest.raises(InvalidArgument):
        second.commit()


@settings(max_examples=30)
@given(fact_lists, fact_lists)
def test_of_type_is_the_filtered_journal(a: list[Fact], b: list[Fact]) -> None:
    j = build(a).join(build(b))
    for type_id in ("flow.spent", "leakage.recorded", "leakage.reset", "nope"):
        assert j.of_type(type_id) == [f for f in j if f.body.type_id == type_id]
    j.insert(snapshot_fact(j, 1, "s"))
    j.prune()
    assert j.of_type("flow.spent") == [f for f in j if f.body.type_id == "flow.spent"]


def test_a_snapshot_is_checked_after_the_facts_it_covers_in_one_batch() -> None:
    facts = [spent(ALICE, BOB, 0, i, ("covered", i)) for i in range(6)]
    source = build(facts)
    first = snapshot_fact(source, 1, "first")
    source.insert(first)
    second = snapshot_fact(source, 2, "second")
    j = journal()
    assert j.insert_batch([second, first, *reversed(facts)]) == 8  # any order
    assert j.snapshot is not None and j.snapshot.sequence == 2
    assert views(j) == views(source)
