"""`CommitFact`: build, verify, and verification failing after any change to any field."""

from __future__ import annotations

import functools

import attrs
import nacl.signing
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_consensus.commit import CommitFact, commit_transcript, single_signer_commit
from aura_consensus.params import ConsensusParams
from aura_consensus.tree import TreeCommit, authority_registry, tree_prestate
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SigningKey, VerifyingKey
from aura_core.encoding import decode, encode
from aura_core.errors import InvalidAttestation, InvalidCommitFact, WrongInstance
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, ConsensusId, DeviceId, device_address
from aura_core.tree import LeafNode, LeafRole
from aura_journal.fact import JournalNamespace
from aura_journal.journal import Journal
from aura_journal.tree import TREE_REDUCER, AddLeaf, TreeGenesis, TreeOp
from tests.consensus.support import Group, authority, fresh_seed, group
from tests.journal.helpers import signed


def sign_commit(
    g: Group, params: ConsensusParams, signers: tuple[AuthorityId, ...], fast_path: bool = True
) -> CommitFact:
    """Run both FROST rounds for `signers` over the instance transcript."""
    rounds = {a: frost.commit(g.key_packages[a], fresh_seed()) for a in signers}
    package = frost.signing_package(
        {g.witnesses.signer_of(a): c for a, (_, c) in rounds.items()},
        params.transcript(signers, fast_path),
    )
    shares = {
        g.witnesses.signer_of(a): frost.sign(package, n, g.key_packages[a])
        for a, (n, _) in rounds.items()
    }
    signature = frost.aggregate(package, shares, g.public)
    return params.commit_fact(signers, fast_path, signature)


@functools.cache
def valid_commit() -> tuple[CommitFact, Group]:
    g = group(2, 3)
    params = g.params(operation=b"rotate epoch")
    return sign_commit(g, params, g.authorities[:2]), g


def test_a_built_commit_verifies_as_plain_ed25519() -> None:
    fact, g = valid_commit()
    fact.verify()
    fact.verify(g.public.group_public_key)
    nacl.signing.VerifyKey(fact.group_public_key.raw).verify(fact.message, fact.threshold_signature)
    assert fact.participants == tuple(sorted(fact.participants))
    assert decode(encode(fact), CommitFact) == fact
    assert fact.result_id == g.params(operation=b"rotate epoch").result_id
    rebuilt = CommitFact.build(
        prestate_hash=fact.prestate_hash,
        operation_bytes=fact.operation_bytes,
        nonce=fact.nonce,
        threshold=fact.threshold,
        participants=list(reversed(fact.participants)),
        fast_path=fact.fast_path,
        group_public_key=fact.group_public_key,
        threshold_signature=fact.threshold_signature,
    )
    assert rebuilt == fact


def test_the_transcript_covers_every_signed_field() -> None:
    fact, _ = valid_commit()
    base = {
        "consensus_id": fact.consensus_id,
        "prestate_hash": fact.prestate_hash,
        "operation_hash": fact.operation_hash,
        "operation_bytes": fact.operation_bytes,
        "threshold": fact.threshold,
    }
    reference = commit_transcript(
        **base, participants=fact.participants, fast_path=fact.fast_path, round=fact.round
    )
    assert reference == fact.message and len(reference) == 32
    changes = [
        {"consensus_id": ConsensusId(Hash32.zero())},
        {"prestate_hash": Hash32.zero()},
        {"operation_hash": Hash32.zero()},
        {"operation_bytes": b"other"},
        {"threshold": fact.threshold + 1},
    ]
    for change in changes:
        assert (
            commit_transcript(
                **{**base, **change},  # type: ignore[arg-type]
                participants=fact.participants,
                fast_path=fact.fast_path,
                round=fact.round,
            )
            != reference
        )
    others = (
        {"participants": fact.participants[:1], "fast_path": True, "round": 0},
        {"participants": fact.participants, "fast_path": False, "round": 0},
        {"participants": fact.participants, "fast_path": True, "round": 1},
    )
    for other in others:
        assert commit_transcript(**base, **other) != reference  # type: ignore[arg-type]


def _other_key() -> frost.PublicKeyPackage:
    return group(2, 3, "other").public


@st.composite
def mutations(draw: st.DrawFn) -> dict[str, object]:
    """One field of the valid commit, changed to a different value of the right type."""
    fact, g = valid_commit()
    field = draw(st.sampled_from([f.name for f in attrs.fields(CommitFact)]))
    h32 = st.binary(min_size=32, max_size=32)
    value: object
    if field == "consensus_id":
        value = ConsensusId(Hash32(draw(h32.filter(lambda b: b != fact.consensus_id.hash.digest))))
    elif field in ("prestate_hash", "operation_hash"):
        current = getattr(fact, field).digest
        value = Hash32(draw(h32.filter(lambda b: b != current)))
    elif field == "operation_bytes":
        value = draw(st.binary(max_size=40).filter(lambda b: b != fact.operation_bytes))
    elif field == "nonce":
        value = draw(st.integers(0, 2**64 - 1).filter(lambda n: n != fact.nonce))
    elif field == "threshold":
        value = draw(st.integers(0, 2**16 - 1).filter(lambda n: n != fact.threshold))
    elif field == "participants":
        ps = list(fact.participants)
        outsider = draw(st.sampled_from([*g.authorities, authority("outsider")]))
        how = draw(st.sampled_from(["drop", "add", "duplicate", "reverse", "replace", "empty"]))
        if how == "drop":
            ps.pop(draw(st.integers(0, len(ps) - 1)))
        elif how == "add":
            ps = sorted({*ps, outsider}) if outsider not in ps else [*ps, outsider]
        elif how == "duplicate":
            ps.append(ps[0])
        elif how == "reverse":
            ps.reverse()
        elif how == "replace":
            fresh = [a for a in [*g.authorities, authority("outsider")] if a not in ps]
            ps[draw(st.integers(0, len(ps) - 1))] = draw(st.sampled_from(fresh))
            ps.sort()
        else:
            ps = []
        value = tuple(ps)
    elif field == "fast_path":
        value = not fact.fast_path
    elif field == "round":
        value = draw(st.integers(1, 2**32 - 1))
    elif field == "group_public_key":
        random_keys = h32.filter(lambda b: b != fact.group_public_key.raw).map(VerifyingKey)
        value = draw(st.just(_other_key().group_public_key) | random_keys)
    else:
        sig = bytearray(fact.threshold_signature)
        index = draw(st.integers(0, len(sig) - 1))
        sig[index] ^= 1 << draw(st.integers(0, 7))
        value = bytes(sig)
    return {field: value}


@given(mutations())
def test_verify_fails_after_any_field_is_mutated(change: dict[str, object]) -> None:
    fact, g = valid_commit()
    mutated = attrs.evolve(fact, **change)  # type: ignore[misc]
    assert mutated != fact
    with pytest.raises(InvalidCommitFact):
        mutated.verify()
    with pytest.raises(InvalidCommitFact):
        mutated.verify(g.public.group_public_key)
    # and the mutated fact still encodes (the check is not an accident of the codec)
    assert decode(encode(mutated), CommitFact) == mutated


def test_verify_with_an_untrusted_key_fails() -> None:
    fact, _ = valid_commit()
    with pytest.raises(InvalidCommitFact):
        fact.verify(_other_key().group_public_key)


def test_a_forger_with_its_own_group_passes_only_without_a_trusted_key() -> None:
    honest_fact, g = valid_commit()
    forger = group(2, 3, "other")
    params = ConsensusParams(
        honest_fact.prestate_hash,
        honest_fact.operation_bytes,
        honest_fact.nonce,
        forger.witnesses,
        forger.public.group_public_key,
    )
    forged = sign_commit(forger, params, forger.authorities[:2])
    forged.verify()
    with pytest.raises(InvalidCommitFact):
        forged.verify(g.public.group_public_key)


def test_check_commit_binds_the_fact_to_its_instance() -> None:
    fact, g = valid_commit()
    params = g.params(operation=b"rotate epoch")
    params.check_commit(fact)
    with pytest.raises(WrongInstance):
        g.params(operation=b"something else").check_commit(fact)
    with pytest.raises(WrongInstance):
        g.params(operation=b"rotate epoch", nonce=2).check_commit(fact)
    with pytest.raises(InvalidCommitFact):
        g.params(operation=b"rotate epoch", threshold=3).check_commit(fact)
    with pytest.raises(InvalidCommitFact, match="another round"):
        attrs.evolve(params, round=1).check_commit(fact)
    with pytest.raises(InvalidCommitFact):
        params.check_commit("not a fact")  # type: ignore[arg-type]


# ----------------------------------------------------------------------- a group of one


@given(st.binary(min_size=32, max_size=32), st.binary(max_size=200), st.integers(0, 2**64 - 1))
def test_a_single_signer_commit_verifies_and_binds_every_field(
    seed: bytes, operation: bytes, nonce: int
) -> None:
    key = SigningKey(seed)
    witness = device_address(key.verifying_key)
    commit = single_signer_commit(
        prestate_hash=Hash32.of(b"prestate"),
        operation_bytes=operation,
        nonce=nonce,
        witness=witness,
        key=key,
    )
    commit.verify(key.verifying_key)
    assert (commit.threshold, commit.participants) == (1, (witness,))
    assert decode(encode(commit), CommitFact) == commit
    with pytest.raises(InvalidCommitFact):
        attrs.evolve(commit, operation_bytes=operation + b"!").verify()
    with pytest.raises(InvalidCommitFact):
        commit.verify(SigningKey(bytes(b ^ 1 for b in seed)).verifying_key)


def test_a_one_of_one_tree_commits_with_its_device_key() -> None:
    """A new account (1-of-1, the device key as group key) records a tree change committed by
    a single-signer commit, and the journal applies it; the same commit under another key is
    refused."""
    device = SigningKey(b"\x31" * 32)
    leaf = LeafNode(0, DeviceId(b"\x01" * 16), LeafRole.DEVICE, device.verifying_key.raw)
    genesis = TreeGenesis.found((leaf,), 1, device.verifying_key)
    namespace = JournalNamespace.of(genesis.authority)
    journal = Journal(namespace, authority_registry())
    journal.insert(signed(namespace, genesis, "genesis", device))
    state = journal.view(TREE_REDUCER).current
    assert state is not None
    joiner = SigningKey(b"\x32" * 32)
    added = LeafNode(1, DeviceId(b"\x02" * 16), LeafRole.DEVICE, joiner.verifying_key.raw)
    op = TreeOp(state.epoch, state.commitment, AddLeaf(added))

    def commit_by(key: SigningKey) -> TreeCommit:
        return TreeCommit(
            single_signer_commit(
                prestate_hash=tree_prestate(state).hash,
                operation_bytes=encode(op),
                nonce=7,
                witness=device_address(key.verifying_key),
                key=key,
            )
        )

    forged = signed(namespace, commit_by(joiner), "forged", device)
    with pytest.raises(InvalidAttestation):
        journal.insert(forged)
    assert journal.view(TREE_REDUCER).current == state
    journal.insert(signed(namespace, commit_by(device), "add", device))
    after = journal.view(TREE_REDUCER).current
    assert after is not None and [x.leaf_id for x in after.leaves] == [0, 1]
