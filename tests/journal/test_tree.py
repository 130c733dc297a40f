"""Tree operations as facts: validation, causal max-hash reduction, tighten-only policy.

Operations are agreed by consensus, so each is a `TreeCommit` fact. A commit's threshold
signature is a plain Ed25519 signature under the group key, so one `SigningKey` stands in for
the FROST group here (tests/consensus drives real FROST rounds).
"""

from __future__ import annotations

import itertools
import random

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_consensus.commit import CommitFact
from aura_consensus.tree import TreeCommit, authority_registry, tree_prestate
from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import decode, encode
from aura_core.errors import (
    FactRejected,
    IdentityMismatch,
    InvalidAttestation,
    MissingParent,
    PolicyWidening,
    SchemaError,
    UnauthorizedWriter,
)
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, ContextId
from aura_core.kdf import derive_context_key
from aura_core.tree import branch_policy
from aura_journal.fact import Fact, JournalNamespace
from aura_journal.journal import Journal
from aura_journal.tree import (
    TREE_REDUCER,
    AddLeaf,
    ChangePolicy,
    RemoveLeaf,
    RotateEpoch,
    TreeGenesis,
    TreeOp,
    TreeState,
)
from tests.journal.helpers import ALICE, leaf, leaf_key, signed, threshold_signed

GROUP = SigningKey(b"\x77" * 32)
OTHER = SigningKey(b"\x78" * 32)
DEVICE = leaf_key(0)
"""The device of leaf 0: it records commits in the authority's journal."""
STRANGER = SigningKey(b"\x79" * 32)
REGISTRY = authority_registry()


def genesis(leaves: int = 3, threshold: int = 2) -> TreeGenesis:
    return TreeGenesis.found(tuple(leaf(i) for i in range(leaves)), threshold, GROUP.verifying_key)


def namespace_of(leaves: int = 3, threshold: int = 2) -> JournalNamespace:
    """The journal of the authority `genesis(leaves, threshold)` founds (its id is derived)."""
    return JournalNamespace.of(genesis(leaves, threshold).authority)


NS = namespace_of()


def genesis_fact(leaves: int = 3, threshold: int = 2) -> Fact:
    return threshold_signed(
        namespace_of(leaves, threshold),
        genesis(leaves, threshold),
        "genesis",
        GROUP,
        tuple(range(1, threshold + 1)),
    )


def journal(namespace: JournalNamespace = NS) -> Journal:
    return Journal(namespace, REGISTRY)


def commit_of(
    parent: TreeState,
    op: TreeOp,
    *,
    key: SigningKey = GROUP,
    signers: int | None = None,
    nonce: int = 1,
    prestate: Hash32 | None = None,
) -> CommitFact:
    """A commit of `op` on `parent`, signed by `key` (standing in for the FROST group)."""
    count = parent.required_signers if signers is None else signers
    participants = tuple(AuthorityId(bytes([0x20 + i]) * 16) for i in range(count))
    unsigned = CommitFact.build(
        prestate_hash=tree_prestate(parent).hash if prestate is None else prestate,
        operation_bytes=encode(op),
        nonce=nonce,
        threshold=count,
        participants=participants,
        fast_path=True,
        group_public_key=key.verifying_key,
        threshold_signature=bytes(64),
    )
    return attrs.evolve(unsigned, threshold_signature=key.sign(unsigned.message))


def op_fact(
    parent: TreeState,
    kind: object,
    label: object = None,
    *,
    key: SigningKey = GROUP,
    signers: int | None = None,
    recorder: SigningKey = DEVICE,
) -> Fact:
    op = TreeOp(parent.epoch, parent.commitment, kind)  # type: ignore[arg-type]
    commit = commit_of(parent, op, key=key, signers=signers)
    namespace = JournalNamespace.of(parent.authority)
    return signed(namespace, TreeCommit(commit), label or repr(kind), recorder)


def founded(leaves: int = 3, threshold: int = 2) -> Journal:
    j = journal(namespace_of(leaves, threshold))
    j.insert(genesis_fact(leaves, threshold))
    return j


def current(j: Journal) -> TreeState:
    state = j.view(TREE_REDUCER).current
    assert state is not None
    return state


def unchanged_after(j: Journal, fact: Fact, error: type[Exception]) -> None:
    before = (j.fact_ids(), current(j))
    with pytest.raises(error):
        j.insert(fact)
    assert (j.fact_ids(), current(j)) == before


def test_genesis_state() -> None:
    state = current(founded())
    assert (state.epoch, state.threshold, len(state.leaves)) == (0, 2, 3)
    assert state.required_signers == 2


def test_operations_apply() -> None:
    j = founded()
    s0 = current(j)
    j.insert(op_fact(s0, AddLeaf(leaf(3))))
    s1 = current(j)
    assert len(s1.leaves) == 4 and s1.epoch == 0 and s1.commitment != s0.commitment
    j.insert(op_fact(s1, RemoveLeaf(0)))
    s2 = current(j)
    assert [x.leaf_id for x in s2.leaves] == [1, 2, 3] and s2.epoch == 1
    j.insert(op_fact(s2, RotateEpoch(OTHER.verifying_key)))
    s3 = current(j)
    assert s3.epoch == 2 and s3.group_key == OTHER.verifying_key
    # Later operations must be signed by the new group key.
    unchanged_after(j, op_fact(s3, AddLeaf(leaf(5))), InvalidAttestation)
    j.insert(op_fact(s3, AddLeaf(leaf(5)), key=OTHER))
    assert len(current(j).leaves) == 4


def test_rejections_leave_the_journal_unchanged() -> None:
    j = founded()
    s0 = current(j)
    unchanged_after(j, op_fact(s0, AddLeaf(leaf(3)), signers=1), InvalidAttestation)  # < threshold
    unchanged_after(j, op_fact(s0, AddLeaf(leaf(3)), key=OTHER), InvalidAttestation)  # wrong key
    future = attrs.evolve(s0, epoch=5)
    unchanged_after(j, op_fact(future, AddLeaf(leaf(3))), MissingParent)  # future parent epoch
    mismatched = attrs.evolve(s0, commitment=Hash32.of(b"elsewhere"))
    unchanged_after(j, op_fact(mismatched, AddLeaf(leaf(3))), MissingParent)  # unknown commitment
    unchanged_after(j, op_fact(s0, AddLeaf(leaf(1))), FactRejected)  # duplicate leaf
    unchanged_after(j, op_fact(s0, RemoveLeaf(9)), FactRejected)  # no such leaf
    two = founded(2, 2)
    unchanged_after(two, op_fact(current(two), RemoveLeaf(0)), FactRejected)  # below threshold


def test_policy_only_tightens() -> None:
    j = founded(5, 3)
    s0 = current(j)
    unchanged_after(j, op_fact(s0, ChangePolicy(2, GROUP.verifying_key)), PolicyWidening)
    j.insert(op_fact(s0, ChangePolicy(4, OTHER.verifying_key)))
    s1 = current(j)
    assert (s1.threshold, s1.epoch, s1.required_signers) == (4, 1, 4)


def test_operations_wait_for_their_genesis_and_parents_in_a_batch() -> None:
    j = journal()
    g = genesis_fact()
    tmp = journal()
    tmp.insert(g)
    s0 = current(tmp)
    add = op_fact(s0, AddLeaf(leaf(3)))
    tmp.insert(add)
    rotate = op_fact(current(tmp), RotateEpoch(GROUP.verifying_key))
    tmp.insert(rotate)
    assert j.insert_batch([rotate, add, g]) == 3
    assert current(j) == current(tmp)
    with pytest.raises(MissingParent):
        journal().insert(add)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32), st.integers(2, 6))
def test_competing_operations_resolve_the_same_in_any_order(seed: int, rounds: int) -> None:
    rng = random.Random(seed)
    builder = founded(4, 2)
    facts = [genesis_fact(4, 2)]
    # Build a tree of alternatives: from several known states, several competing children.
    states = [current(builder)]
    next_leaf = 10
    for _ in range(rounds):
        parent = rng.choice(states)
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(["add", "rotate"])
            if kind == "add":
                fact = op_fact(parent, AddLeaf(leaf(next_leaf)), ("add", next_leaf))
                next_leaf += 1
            else:
                fact = op_fact(parent, RotateEpoch(GROUP.verifying_key), ("rot", rng.random()))
            builder.insert(fact)
            facts.append(fact)
        states = list(builder.view(TREE_REDUCER).states.values())
    expected = current(builder)
    for _ in range(4):
        shuffled = list(facts)
        rng.shuffle(shuffled)
        j = journal(namespace_of(4, 2))
        j.view(TREE_REDUCER)
        j.insert_batch(shuffled)
        assert current(j) == expected
        assert j.view(TREE_REDUCER) == j.full_view(TREE_REDUCER)
        assert j.full_view(TREE_REDUCER).current == expected
        # The winner chain runs from the genesis to the current state, each state a known
        # child of the one before, and is the same however the facts came.
        view = j.view(TREE_REDUCER)
        chain = view.chain()
        assert chain == builder.view(TREE_REDUCER).chain() == j.full_view(TREE_REDUCER).chain()
        assert chain[0] == view.genesis and chain[-1] == expected
        for parent, child in itertools.pairwise(chain):
            assert child.key in {key for _, key in view.children[parent.key]}


def test_rotate_epoch_adds_one_and_changes_every_context_key() -> None:
    j = founded()
    root_secret = b"\x55" * 32
    contexts = [ContextId(bytes([i]) * 16) for i in range(3)]
    epochs = []
    keys = []
    for _ in range(3):
        state = current(j)
        epochs.append(state.epoch)
        keys.append(
            {
                derive_context_key(root_secret, app="chat", context=c, epoch=state.epoch)
                for c in contexts
            }
        )
        j.insert(op_fact(state, RotateEpoch(GROUP.verifying_key)))
    assert epochs == [0, 1, 2]
    assert not keys[0] & keys[1] and not keys[1] & keys[2]


def test_genesis_validation() -> None:
    bad_threshold = TreeGenesis.found((leaf(0), leaf(1)), 3, GROUP.verifying_key)
    bad_ns = JournalNamespace.of(bad_threshold.authority)
    with pytest.raises(FactRejected):
        journal(bad_ns).insert(threshold_signed(bad_ns, bad_threshold, "g", GROUP, (1, 2, 3)))
    j = journal()
    few = genesis()
    with pytest.raises(UnauthorizedWriter):
        j.insert(threshold_signed(NS, few, "g", GROUP, (1,)))
    with pytest.raises(UnauthorizedWriter):
        j.insert(threshold_signed(NS, few, "g", OTHER, (1, 2)))
    with pytest.raises(UnauthorizedWriter):
        j.insert(signed(NS, few, "g", DEVICE))  # a device alone cannot found its authority
    assert len(j) == 0


def test_an_authority_is_named_by_its_genesis() -> None:
    """A genesis founds exactly the authority its content derives, in that authority's
    journal; one naming another id, or offered to another journal, founds nothing."""
    good = genesis()
    assert (
        good.authority
        == TreeGenesis.found(tuple(reversed(good.leaves)), 2, GROUP.verifying_key).authority
    )
    assert good.authority != genesis(4, 2).authority != genesis(3, 3).authority
    claims_alice = attrs.evolve(good, authority=ALICE)
    alice = journal(JournalNamespace.of(ALICE))
    with pytest.raises(IdentityMismatch):
        alice.insert(threshold_signed(JournalNamespace.of(ALICE), claims_alice, "g", GROUP, (1, 2)))
    with pytest.raises(IdentityMismatch):  # a valid genesis of another authority
        alice.insert(threshold_signed(JournalNamespace.of(ALICE), good, "g", GROUP, (1, 2)))
    unsorted = attrs.evolve(good, leaves=tuple(reversed(good.leaves)))
    j = journal()
    with pytest.raises(FactRejected):
        j.insert(threshold_signed(NS, unsorted, "g", GROUP, (1, 2)))
    assert len(alice) == len(j) == 0
    # A rival founding state (the attacker's own key) names a different authority: the
    # journal of this one never accepts it, and its own tree is unaffected.
    j.insert(genesis_fact())
    rival = TreeGenesis.found(good.leaves, 2, STRANGER.verifying_key)
    assert rival.authority != good.authority
    unchanged_after(j, threshold_signed(NS, rival, "rival", STRANGER, (1, 2)), IdentityMismatch)


@pytest.mark.parametrize("leaves", [3, 4, 5])
def test_change_policy_accepted_iff_it_tightens(leaves: int) -> None:
    base = founded(leaves, 2)
    state = current(base)
    for new in range(1, leaves + 1):
        j = base.copy()
        fact = op_fact(state, ChangePolicy(new, OTHER.verifying_key), ("cp", new))
        tightens = branch_policy(leaves, new).tightens(branch_policy(leaves, 2))
        if tightens:
            j.insert(fact)
            assert current(j).threshold == new
        else:
            unchanged_after(j, fact, PolicyWidening)


def test_signature_binds_every_field() -> None:
    j = founded()
    s0 = current(j)
    j.insert(op_fact(s0, RotateEpoch(GROUP.verifying_key)))
    s1 = current(j)
    good = op_fact(s0, AddLeaf(leaf(3)))
    commit = decode(good.body.payload, TreeCommit).commit
    original = decode(commit.operation_bytes, TreeOp)
    for changed in (
        attrs.evolve(original, kind=AddLeaf(attrs.evolve(leaf(3), public_key=b"\x00" * 32))),
        attrs.evolve(original, kind=AddLeaf(leaf(4))),
        attrs.evolve(original, parent_epoch=s1.epoch, parent_commitment=s1.commitment),
    ):
        moved = original.parent != changed.parent
        forged_commit = CommitFact.build(
            prestate_hash=tree_prestate(s1).hash if moved else commit.prestate_hash,
            operation_bytes=encode(changed),
            nonce=commit.nonce,
            threshold=commit.threshold,
            participants=commit.participants,
            fast_path=commit.fast_path,
            group_public_key=commit.group_public_key,
            threshold_signature=commit.threshold_signature,
        )
        forged = signed(NS, TreeCommit(forged_commit), ("forged", repr(changed)), DEVICE)
        unchanged_after(j, forged, InvalidAttestation)
    j.insert(good)


def test_a_commit_for_another_prestate_is_refused() -> None:
    j = founded()
    s0 = current(j)
    op = TreeOp(s0.epoch, s0.commitment, AddLeaf(leaf(3)))
    elsewhere = commit_of(s0, op, prestate=Hash32.of(b"another prestate"))
    unchanged_after(j, signed(NS, TreeCommit(elsewhere), "elsewhere", DEVICE), FactRejected)


def test_only_the_authoritys_devices_record_its_changes() -> None:
    j = founded()
    s0 = current(j)
    for stranger in (STRANGER, OTHER):  # neither a leaf key nor a group key of any state
        fact = op_fact(s0, AddLeaf(leaf(3)), ("by", stranger.verifying_key.raw), recorder=stranger)
        unchanged_after(j, fact, UnauthorizedWriter)
    j.insert(op_fact(s0, AddLeaf(leaf(3)), "by a device", recorder=leaf_key(2)))


def test_a_commit_of_something_else_is_not_a_tree_commit() -> None:
    j = founded()
    s0 = current(j)
    commit = commit_of(s0, op=TreeOp(s0.epoch, s0.commitment, AddLeaf(leaf(3))))
    with pytest.raises(SchemaError):
        TreeCommit(attrs.evolve(commit, operation_bytes=encode(leaf(3))))
    assert len(current(j).leaves) == 3


def test_replicas_that_record_the_same_commit_agree() -> None:
    """Every replica that decides records the commit in a fact of its own: the op counts once."""
    j = founded()
    s0 = current(j)
    first = op_fact(s0, AddLeaf(leaf(3)), "a", recorder=DEVICE)
    second = op_fact(s0, AddLeaf(leaf(3)), "b", recorder=leaf_key(1))
    assert first.id != second.id
    j.insert(first)
    after_one = j.view(TREE_REDUCER)
    j.insert(second)
    assert j.view(TREE_REDUCER) == after_one == j.full_view(TREE_REDUCER)
    assert len(after_one.log.ops) == 1
