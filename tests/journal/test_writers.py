"""Who may write which fact: every registered fact type's writer rule, enforced on ingest, on
merge and on load, and the property that strangers change no view.

Two journals carry every fact type the library registers: an authority's (founded by a 2-of-3
tree whose group key `GROUP` stands in for the FROST aggregate; its devices are the leaves'
keys) and a context's (founded by ALICE, BOB and CAROL). For each type the table below builds
a validly encoded fact written by someone who may not write it; the tests offer it through
`Journal.ingest`, `JournalHandler.merge` and a reload from storage, and check it is refused
with a typed error and that nothing changed.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

import anyio
import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_consensus.ceremony import (
    AbortReason,
    CeremonyAborted,
    CeremonyCommitted,
    CeremonyPendingEpoch,
    CeremonyRegistry,
    CeremonyResponse,
    CeremonyStarted,
    CeremonySuperseded,
    SupersessionReason,
)
from aura_consensus.facts import consensus_fact_types, trust_key
from aura_consensus.tree import TreeCommit, authority_registry
from aura_core.crypto.ed25519 import SigningKey
from aura_core.errors import (
    FactRejected,
    InvalidArgument,
    LocalOnlyFact,
    UnauthorizedWriter,
)
from aura_core.hashing import Hash32
from aura_core.time import OrderTime
from aura_effects.journal import JournalHandler, fact_key
from aura_effects.trace import Tracer
from aura_journal.context import (
    ContextEpoch,
    ContextGenesis,
    ContextMember,
    EpochApproval,
    approve_epoch,
)
from aura_journal.coupling import CoupledSend
from aura_journal.fact import (
    Fact,
    JournalNamespace,
    NamespaceKind,
    Unattested,
)
from aura_journal.journal import Journal
from aura_journal.leakage import LeakageRecorded, LeakageReset, ObserverClass
from aura_journal.registry import FactRegistry, FactType, Origin
from aura_journal.rendezvous import DescriptorRevocation, SealedDescriptor
from aura_journal.standard import standard_registry
from aura_journal.tree import AddLeaf, TreeOp
from aura_sim.examples.naive_push import NaivePush, Note
from aura_sim.handlers import MemoryStorage
from tests.consensus.test_facts import commits
from tests.journal.helpers import (
    ALICE,
    BOB,
    CAROL,
    CONTEXT,
    CONTEXT_GENESIS,
    CONTEXT_NS,
    KEYS,
    MALLORY,
    body,
    genesis_fact,
    leaf,
    leaf_key,
    local,
    member_signed,
    signed,
    spent,
    spent_payload,
    threshold_signed,
)
from tests.journal.test_tree import NS, commit_of, current, founded, op_fact

STRANGER = KEYS[MALLORY]
# Outside 0x40..0x76, the seeds of `leaf(i)`: a stranger is never the device a change adds.
STRANGE_GROUP = SigningKey(b"\xa5" * 32)


# ------------------------------------------------------------------------------- journals


@functools.cache
def context_registry() -> FactRegistry:
    """Every fact type a context journal may hold: the standard ones, consensus commits and
    ceremonies under the context's agreed key, and the simulator's notes."""
    registry = standard_registry()
    _, _, g = commits()
    for fact_type in consensus_fact_types(trust_key(g.public.group_public_key)):
        registry.register(fact_type)
    NaivePush({}).register(registry)
    return registry


@functools.cache
def authority_journal() -> Journal:
    """A founded 2-of-3 authority (leaves 0-2) with one agreed change."""
    j = Journal(NS, authority_registry())
    j.insert_batch(_authority_facts())
    return j


def _authority_facts() -> list[Fact]:
    j = founded()
    facts = [j.get(fid) for fid in sorted(j.fact_ids())]
    facts.append(op_fact(current(j), AddLeaf(leaf(3)), "a change"))
    return [f for f in facts if f is not None]


SEALED = SealedDescriptor(0, b"\x5d" * 64)
"""A rendezvous descriptor as the journal sees it (it cannot open it)."""


@functools.cache
def alice_descriptor() -> Fact:
    return member_signed(SEALED, "alice's descriptor", ALICE)


@functools.cache
def context_journal() -> Journal:
    """The founded context with a little member-written history (a spending, a descriptor)."""
    j = Journal(CONTEXT_NS, context_registry())
    j.insert(genesis_fact())
    j.insert(spent(ALICE, BOB, 0, 30, "history"))
    j.insert(alice_descriptor())
    return j


def base(namespace: JournalNamespace) -> Journal:
    return (
        authority_journal() if namespace.kind is NamespaceKind.AUTHORITY else context_journal()
    ).copy()


def state_of(j: Journal) -> tuple[object, ...]:
    return (j.fact_ids(), *(j.full_view(r) for r in j.registry.reducers()))


# ---------------------------------------------------------------- forbidden facts, by type


def _ceremony() -> tuple[CeremonyStarted, Any]:
    commit, _, _ = commits()
    started, _ = CeremonyRegistry().start(
        commit.prestate_hash, commit.operation_hash, 1, 0, (ALICE, BOB, CAROL)
    )
    return started, commit


def _epoch(approvers: list[tuple[Any, SigningKey]], epoch: int = 1) -> ContextEpoch:
    approvals = sorted(approve_epoch(CONTEXT, epoch, a, k) for a, k in approvers)
    return ContextEpoch(epoch, tuple(approvals))


def _snapshot(j: Journal) -> Any:
    return j.snapshot_payload(OrderTime(b"\xff" * 32), 1)


@attrs.frozen
class Forbidden:
    """A fact of `type_id` that its writer rule refuses, and the error that says so.

    `unsigned_local` marks an unsigned fact of this device's own kind: refused when a peer
    offers it (ingest, merge), but what a device legitimately finds in its own storage."""

    type_id: str
    namespace: JournalNamespace
    build: Callable[[], Fact]
    error: type[FactRejected]
    why: str
    unsigned_local: bool = False


def _forbidden() -> list[Forbidden]:
    started, commit = _ceremony()
    cid = started.ceremony_id
    ctx, auth = CONTEXT_NS, NS
    stranger_commit = lambda payload, label: signed(ctx, payload, label, STRANGER)  # noqa: E731
    state0 = current(founded())
    tree_op = TreeOp(state0.epoch, state0.commitment, AddLeaf(leaf(4)))
    return [
        Forbidden(
            "context.genesis",
            ctx,
            lambda: signed(ctx, CONTEXT_GENESIS, "g", STRANGER),
            UnauthorizedWriter,
            "a genesis signed by someone it does not list",
        ),
        Forbidden(
            "flow.spent",
            ctx,
            lambda: member_signed(spent_payload(ALICE, BOB, 0, 99), "alice's by bob", BOB),
            UnauthorizedWriter,
            "a member writing another member's spending",
        ),
        Forbidden(
            "flow.spent",
            ctx,
            lambda: signed(ctx, spent_payload(ALICE, BOB, 0, 2**64 - 1), "exhaust", STRANGER),
            UnauthorizedWriter,
            "a stranger exhausting a flow",
        ),
        Forbidden(
            "context.epoch",
            ctx,
            lambda: member_signed(_epoch([(ALICE, KEYS[ALICE])]), "one approval"),
            UnauthorizedWriter,
            "an epoch change with fewer approvals than the context's threshold",
        ),
        Forbidden(
            "context.epoch",
            ctx,
            lambda: member_signed(
                _epoch([(ALICE, KEYS[ALICE]), (MALLORY, STRANGER)]), "stranger approves"
            ),
            UnauthorizedWriter,
            "an approval by a non-member",
        ),
        Forbidden(
            "context.epoch",
            ctx,
            lambda: member_signed(
                ContextEpoch(
                    1,
                    (
                        approve_epoch(CONTEXT, 1, ALICE, KEYS[ALICE]),
                        EpochApproval(BOB, approve_epoch(CONTEXT, 2, BOB, KEYS[BOB]).signature),
                    ),
                ),
                "bob's approval of another epoch",
            ),
            UnauthorizedWriter,
            "an approval signed for another epoch",
        ),
        Forbidden(
            "context.epoch",
            ctx,
            lambda: signed(
                ctx, _epoch([(ALICE, KEYS[ALICE]), (BOB, KEYS[BOB])]), "outsider", STRANGER
            ),
            UnauthorizedWriter,
            "an approved change recorded by a stranger",
        ),
        *(
            variant
            for type_id, payload in (
                ("flow.coupled_send", CoupledSend(BOB, 0, 1, Hash32.zero(), "op", "label")),
                ("leakage.recorded", LeakageRecorded(ObserverClass.GROUP, 1, 5, "op")),
                ("leakage.reset", LeakageReset(10**9)),
            )
            for variant in (
                Forbidden(
                    type_id,
                    ctx,
                    functools.partial(local, payload, ("peer's", type_id)),
                    LocalOnlyFact,
                    "a peer's own accounting",
                    unsigned_local=True,
                ),
                Forbidden(
                    type_id,
                    ctx,
                    functools.partial(member_signed, payload, ("signed", type_id)),
                    LocalOnlyFact,
                    "local accounting carries no signature",
                ),
            )
        ),
        Forbidden(
            "sim.note",
            ctx,
            lambda: signed(ctx, Note(MALLORY, 1, "hi"), "note", STRANGER),
            UnauthorizedWriter,
            "a note from a non-member",
        ),
        Forbidden(
            "rendezvous.descriptor",
            ctx,
            lambda: signed(ctx, SEALED, "stranger's descriptor", STRANGER),
            UnauthorizedWriter,
            "a descriptor published by a non-member",
        ),
        Forbidden(
            "rendezvous.revocation",
            ctx,
            lambda: member_signed(DescriptorRevocation(alice_descriptor().id), "revoke", BOB),
            UnauthorizedWriter,
            "a member revoking another member's descriptor",
        ),
        Forbidden(
            "rendezvous.revocation",
            ctx,
            lambda: signed(ctx, DescriptorRevocation(alice_descriptor().id), "revoke", STRANGER),
            UnauthorizedWriter,
            "a non-member revoking a descriptor",
        ),
        Forbidden(
            "journal.snapshot",
            ctx,
            lambda: Fact(body(ctx, _snapshot(context_journal()), "unsigned snap"), Unattested()),
            UnauthorizedWriter,
            "a peer's unsigned snapshot",
            unsigned_local=True,
        ),
        Forbidden(
            "journal.snapshot",
            ctx,
            lambda: signed(ctx, _snapshot(context_journal()), "stranger snap", STRANGER),
            UnauthorizedWriter,
            "a snapshot signed by a stranger",
        ),
        Forbidden(
            "journal.snapshot",
            auth,
            lambda: signed(auth, _snapshot(authority_journal()), "stranger snap", STRANGER),
            UnauthorizedWriter,
            "an authority snapshot signed by a stranger",
        ),
        Forbidden(
            "consensus.commit_fact",
            ctx,
            lambda: stranger_commit(commit, "commit"),
            UnauthorizedWriter,
            "a valid commit recorded by a non-member",
        ),
        Forbidden(
            "consensus.commit_fact",
            auth,
            lambda: signed(auth, commit_of(state0, tree_op), "commit", STRANGER),
            UnauthorizedWriter,
            "a valid commit recorded by someone who is not a device of the authority",
        ),
        Forbidden(
            "consensus.tree_commit",
            auth,
            lambda: signed(auth, TreeCommit(commit_of(state0, tree_op)), "tc", STRANGER),
            UnauthorizedWriter,
            "an agreed change recorded by a stranger",
        ),
        Forbidden(
            "consensus.tree_commit",
            auth,
            lambda: threshold_signed(
                auth, TreeCommit(commit_of(state0, tree_op)), "tc", STRANGE_GROUP, (1, 2)
            ),
            UnauthorizedWriter,
            "an agreed change attested by another group",
        ),
        Forbidden(
            "tree.genesis",
            auth,
            lambda: signed(auth, founded_genesis(), "device genesis", leaf_key(0)),
            UnauthorizedWriter,
            "a genesis signed by one device instead of its founding group",
        ),
        Forbidden(
            "ceremony.started",
            ctx,
            lambda: stranger_commit(started, "started"),
            UnauthorizedWriter,
            "a ceremony started by a non-member",
        ),
        Forbidden(
            "ceremony.pending_epoch",
            ctx,
            lambda: stranger_commit(CeremonyPendingEpoch(cid, 1, Hash32.zero()), "pending"),
            UnauthorizedWriter,
            "a pending epoch announced by a non-member",
        ),
        Forbidden(
            "ceremony.response",
            ctx,
            lambda: member_signed(CeremonyResponse(cid, ALICE, True), "for alice", BOB),
            UnauthorizedWriter,
            "a member answering for another participant",
        ),
        Forbidden(
            "ceremony.response",
            auth,
            lambda: signed(auth, CeremonyResponse(cid, ALICE, True), "in authority", leaf_key(0)),
            UnauthorizedWriter,
            "a response in an authority journal, where participants have no keys",
        ),
        Forbidden(
            "ceremony.committed",
            ctx,
            lambda: stranger_commit(CeremonyCommitted(cid, commit), "committed"),
            UnauthorizedWriter,
            "a ceremony commit recorded by a non-member",
        ),
        Forbidden(
            "ceremony.aborted",
            ctx,
            lambda: stranger_commit(CeremonyAborted(cid, AbortReason.TIMEOUT), "aborted"),
            UnauthorizedWriter,
            "an abort by a non-member",
        ),
        Forbidden(
            "ceremony.superseded",
            auth,
            lambda: signed(
                auth,
                CeremonySuperseded(cid, cid, SupersessionReason.EXPLICIT_CANCEL),
                "superseded",
                STRANGER,
            ),
            UnauthorizedWriter,
            "a supersession by someone who is not a device of the authority",
        ),
    ]


def founded_genesis() -> Any:
    from tests.journal.test_tree import genesis

    return genesis()


FORBIDDEN = _forbidden()
IDS = [f"{f.type_id}: {f.why}" for f in FORBIDDEN]


def _registered_types() -> set[str]:
    types = {t.type_id for t in context_registry().types()}
    types |= {t.type_id for t in authority_registry().types()}
    return types | {"journal.snapshot"}


def test_every_fact_type_has_a_forbidden_writer_case() -> None:
    assert {f.type_id for f in FORBIDDEN} == _registered_types()


def test_every_registered_fact_type_declares_its_writer() -> None:
    for registry in (context_registry(), authority_registry(), standard_registry()):
        for fact_type in registry.types():
            assert fact_type.writer.summary, fact_type.type_id
    with pytest.raises(InvalidArgument):  # a fact type cannot exist without a writer rule
        FactType(payload_type=Note, namespace_kind=None, writer=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        FactType(payload_type=Note, namespace_kind=None)  # type: ignore[call-arg]


@pytest.mark.parametrize("case", FORBIDDEN, ids=IDS)
def test_refused_on_ingest(case: Forbidden) -> None:
    j = base(case.namespace)
    before = state_of(j)
    with pytest.raises(case.error):
        j.ingest([case.build().encoded])
    assert state_of(j) == before


async def _handler_with(
    facts: list[Fact], namespace: JournalNamespace
) -> tuple[JournalHandler, MemoryStorage, Tracer]:
    storage = MemoryStorage()
    tracer = Tracer()
    registry = base(namespace).registry
    for fact in facts:
        await storage.put(fact_key(namespace, fact), fact.encoded)
    return JournalHandler(storage, registry, tracer), storage, tracer


def _stored(namespace: JournalNamespace) -> list[Fact]:
    j = base(namespace)
    return [f for f in (j.get(fid) for fid in sorted(j.fact_ids())) if f is not None]


@pytest.mark.parametrize("case", FORBIDDEN, ids=IDS)
def test_refused_on_merge(case: Forbidden) -> None:
    async def main() -> None:
        handler, storage, _ = await _handler_with(_stored(case.namespace), case.namespace)
        journal = await handler.journal(case.namespace)
        before, keys = state_of(journal), await storage.list_keys("")
        with pytest.raises(case.error):
            await handler.merge(case.namespace, [case.build()])
        assert state_of(await handler.journal(case.namespace)) == before
        assert await storage.list_keys("") == keys

    anyio.run(main)


SIGNED = [c for c in FORBIDDEN if not c.unsigned_local]


@pytest.mark.parametrize("case", SIGNED, ids=[f"{f.type_id}: {f.why}" for f in SIGNED])
def test_refused_on_load(case: Forbidden) -> None:
    async def main() -> None:
        fact = case.build()
        handler, _, tracer = await _handler_with([*_stored(case.namespace), fact], case.namespace)
        journal = await handler.journal(case.namespace)
        assert state_of(journal) == state_of(base(case.namespace))
        [rejection] = handler.rejected(case.namespace)
        assert rejection.key == fact_key(case.namespace, fact)
        assert isinstance(rejection.error, case.error)
        [event] = tracer.events("journal.load.rejected")
        assert event.get("key") == rejection.key

    anyio.run(main)


def test_the_device_a_change_adds_may_record_it() -> None:
    """The one exception to "devices of the authority record tree changes": the added device
    records its own enrollment, if the group agreed it; a change adding someone else, or one
    the group did not sign, stays refused."""
    state0 = current(founded())
    op = TreeOp(state0.epoch, state0.commitment, AddLeaf(leaf(5)))
    adds_five = TreeCommit(commit_of(state0, op))
    j = base(NS)
    enrolled = signed(NS, adds_five, "enrolled", leaf_key(5))
    j.ingest([enrolled.encoded])
    assert enrolled.id in j
    before = state_of(j)
    with pytest.raises(UnauthorizedWriter):
        j.ingest([signed(NS, adds_five, "not mine", leaf_key(6)).encoded])
    assert state_of(j) == before


def test_a_device_loads_its_own_local_facts() -> None:
    async def main() -> None:
        mine = [c.build() for c in FORBIDDEN if c.unsigned_local]
        accounting = [f for f in mine if f.type_id != "journal.snapshot"]
        snapshots = [f for f in mine if f.type_id == "journal.snapshot"]
        for own in (accounting, snapshots):
            handler, _, _ = await _handler_with([*_stored(CONTEXT_NS), *own], CONTEXT_NS)
            journal = await handler.journal(CONTEXT_NS)
            assert all(f.id in journal for f in own) and handler.rejected(CONTEXT_NS) == ()
        assert await handler.merge(
            CONTEXT_NS, [local(LeakageReset(3), "mine")], origin=Origin.LOCAL
        )

    anyio.run(main)


# ------------------------------------------------------------------ strangers change nothing

STRANGER_KEYS = [STRANGER, STRANGE_GROUP, SigningKey(b"\xa6" * 32)]


@st.composite
def stranger_facts(draw: st.DrawFn, namespace: JournalNamespace) -> Fact:
    """A well-formed fact of any kind, written by a stranger (signed, threshold-attested by a
    stranger group, or unsigned)."""
    label = draw(st.integers(0, 10**6))
    started, commit = _ceremony()
    if namespace.kind is NamespaceKind.CONTEXT:
        payloads: list[Any] = [
            spent_payload(
                draw(st.sampled_from([ALICE, BOB, MALLORY])), BOB, 0, draw(st.integers(0, 10**6))
            ),
            _epoch([(ALICE, KEYS[ALICE]), (BOB, KEYS[BOB])], 1),
            Note(ALICE, label, "x"),
            SealedDescriptor(label % 5, b"\x5e" * 48),
            DescriptorRevocation(alice_descriptor().id),
            commit,
            started,
            CeremonyResponse(started.ceremony_id, ALICE, True),
            LeakageRecorded(ObserverClass.EXTERNAL, 5, label, "op"),
            LeakageReset(label),
            CoupledSend(BOB, 0, 1, Hash32.zero(), "op", "l"),
            ContextGenesis.create(
                [ContextMember(MALLORY, STRANGER.verifying_key)], 1, label.to_bytes(32, "big")
            ),
            _snapshot(context_journal()),
        ]
    else:
        state0 = current(founded())
        op = TreeOp(state0.epoch, state0.commitment, AddLeaf(leaf(5 + label % 50)))
        payloads = [
            TreeCommit(commit_of(state0, op)),
            commit_of(state0, op),
            started,
            founded_genesis(),
            _snapshot(authority_journal()),
        ]
    payload = draw(st.sampled_from(payloads))
    how = draw(st.sampled_from(["signed", "threshold", "unsigned"]))
    key = draw(st.sampled_from(STRANGER_KEYS))
    if how == "signed":
        return signed(namespace, payload, ("stranger", label), key)
    if how == "threshold":
        return threshold_signed(namespace, payload, ("stranger", label), key, (1, 2, 3))
    return Fact(body(namespace, payload, ("stranger", label)), Unattested())


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_no_sequence_of_facts_from_strangers_changes_a_view(data: st.DataObject) -> None:
    for namespace in (CONTEXT_NS, NS):
        j = base(namespace)
        before = state_of(j)
        facts = data.draw(st.lists(stranger_facts(namespace), max_size=8))
        batches = data.draw(st.lists(st.integers(1, 3), max_size=8))
        position = 0
        for size in batches or [len(facts)]:
            batch, position = facts[position : position + size], position + size
            with contextlib.suppress(FactRejected):
                j.insert_batch(batch)
        for fact in facts:  # one by one too, and through the wire
            with pytest.raises(FactRejected):
                j.ingest([fact.encoded])
        assert state_of(j) == before


def test_architecture_lists_every_fact_type_with_its_writer() -> None:
    """docs/architecture.md's table names every fact type with its rule's summary."""
    from pathlib import Path

    from aura_journal.writers import SNAPSHOT_WRITER

    doc = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    rows = {
        line.split("|")[1].strip().strip("`"): line.split("|")[3].strip()
        for line in doc.splitlines()
        if line.startswith("| `") and line.count("|") == 4
    }
    expected = {"journal.snapshot": SNAPSHOT_WRITER.summary}
    for registry in (context_registry(), authority_registry()):
        expected |= {t.type_id: t.writer.summary for t in registry.types()}
    assert {k: rows.get(k) for k in expected} == expected
