"""Prestate and instance hashes: formulas, determinism, and invalid prestates."""

from __future__ import annotations

import blake3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_consensus import hashing
from aura_consensus.prestate import AuthorityCommitment, Prestate, prestate_hash
from aura_core.encoding import canonical_encode, decode, encode, to_value
from aura_core.errors import EncodingError, InvalidArgument, InvalidPrestate, SchemaError
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, CeremonyId, ConsensusId

ids = st.binary(min_size=16, max_size=16).map(AuthorityId)
hashes = st.binary(min_size=32, max_size=32).map(Hash32)
commitment_maps = st.dictionaries(ids, hashes, min_size=1, max_size=12)


def manual_prestate_hash(entries: dict[AuthorityId, Hash32], context: Hash32) -> Hash32:
    """The digest's formula, written out byte by byte."""
    data = b"AURA_PRESTATE_V1" + len(entries).to_bytes(4, "little")
    for authority in sorted(entries):
        data += authority.raw + entries[authority].digest
    return Hash32(blake3.blake3(data + context.digest).digest())


@given(commitment_maps, hashes)
def test_prestate_hash_is_the_formula_and_ignores_input_order(
    entries: dict[AuthorityId, Hash32], context: Hash32
) -> None:
    forward = Prestate.of(entries, context)
    backward = Prestate.of(list(reversed(list(entries.items()))), context)
    assert forward == backward
    assert forward.hash == backward.hash == prestate_hash(forward)
    assert forward.hash == manual_prestate_hash(entries, context)
    assert decode(encode(forward), Prestate) == forward


@given(commitment_maps, hashes, st.data())
def test_prestate_hash_changes_with_any_commitment(
    entries: dict[AuthorityId, Hash32], context: Hash32, data: st.DataObject
) -> None:
    base = Prestate.of(entries, context).hash
    victim = data.draw(st.sampled_from(sorted(entries)))
    other = data.draw(hashes.filter(lambda h: h != entries[victim]))
    assert Prestate.of({**entries, victim: other}, context).hash != base
    other_context = data.draw(hashes.filter(lambda h: h != context))
    assert Prestate.of(entries, other_context).hash != base
    newcomer = data.draw(ids.filter(lambda a: a not in entries))
    assert Prestate.of({**entries, newcomer: other}, context).hash != base


def test_invalid_prestates_are_rejected() -> None:
    a, b = AuthorityId(bytes(16)), AuthorityId(bytes([1] * 16))
    h = Hash32.of(b"x")
    with pytest.raises(InvalidPrestate):
        Prestate.of({}, h)  # no authorities
    with pytest.raises(InvalidPrestate):
        Prestate.of([(a, h), (a, h)], h)  # duplicate, even with equal commitments
    with pytest.raises(InvalidPrestate):
        Prestate.of([(a, h), (a, Hash32.of(b"y"))], h)
    with pytest.raises(InvalidPrestate):
        Prestate((AuthorityCommitment(b, h), AuthorityCommitment(a, h)), h)  # unsorted
    with pytest.raises(InvalidPrestate):
        Prestate.of({AuthorityId(i.to_bytes(16, "big")): h for i in range(257)}, h)
    with pytest.raises(InvalidPrestate):
        Prestate.of([(a, b"not a hash")], h)  # type: ignore[list-item]
    with pytest.raises(InvalidPrestate):
        Prestate.of({a: h}, b"context")  # type: ignore[arg-type]
    largest = Prestate.of({AuthorityId(i.to_bytes(16, "big")): h for i in range(256)}, h)
    assert len(largest.authorities) == 256


def test_decoding_refuses_unsorted_or_duplicate_prestates() -> None:
    a, b = AuthorityId(bytes(16)), AuthorityId(bytes([1] * 16))
    h = Hash32.of(b"x")
    value = to_value(Prestate.of({a: h, b: h}, h))
    assert isinstance(value, dict) and isinstance(value["authority_commitments"], list)
    entries = value["authority_commitments"]
    for bad in ([entries[1], entries[0]], [entries[0], entries[0]], []):
        data = canonical_encode({**value, "authority_commitments": bad})
        with pytest.raises(SchemaError):
            decode(data, Prestate)
    with pytest.raises(EncodingError):
        decode(encode(Prestate.of({a: h}, h)) + b"\x00", Prestate)


@given(hashes, hashes, st.integers(0, 2**64 - 1), st.binary(max_size=64))
def test_instance_hashes_are_the_formulas(
    prestate: Hash32, op_hash: Hash32, nonce: int, op: bytes
) -> None:
    def h(*parts: bytes) -> Hash32:
        return Hash32(blake3.blake3(b"".join(parts)).digest())

    n = nonce.to_bytes(8, "little")
    assert hashing.consensus_id(prestate, op_hash, nonce) == ConsensusId(
        h(b"CONSENSUS_ID", prestate.digest, op_hash.digest, n)
    )
    assert hashing.ceremony_id(prestate, op_hash, nonce) == CeremonyId(
        h(b"AURA_CEREMONY_ID", prestate.digest, op_hash.digest, n)
    )
    assert hashing.operation_hash(op) == h(b"AURA_OPERATION_V1", op)
    binding = h(b"AURA_OP_BINDING", prestate.digest, op)
    assert hashing.operation_binding(prestate, op) == binding == hashing.result_id(prestate, op)
    # deterministic, and the nonce separates runs
    assert hashing.consensus_id(prestate, op_hash, nonce) == hashing.consensus_id(
        prestate, op_hash, nonce
    )
    assert hashing.consensus_id(prestate, op_hash, nonce) != hashing.consensus_id(
        prestate, op_hash, (nonce + 1) % 2**64
    )


def test_hashes_refuse_wrong_types() -> None:
    h = Hash32.zero()
    with pytest.raises(InvalidArgument):
        hashing.consensus_id(h.digest, h, 0)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        hashing.consensus_id(h, h, -1)
    with pytest.raises(InvalidArgument):
        hashing.consensus_id(h, h, 2**64)
    with pytest.raises(InvalidArgument):
        hashing.result_id(h, "op")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        hashing.operation_hash(bytearray(b"op"))  # type: ignore[arg-type]
