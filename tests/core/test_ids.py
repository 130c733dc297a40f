"""Identifiers: creation from entropy, text forms, kinds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_core.crypto.ed25519 import SigningKey
from aura_core.errors import InvalidArgument, InvalidIdentifier
from aura_core.hashing import Hash32, tagged_hash
from aura_core.ids import (
    DEVICE_ADDRESS_TAG,
    AuthorityId,
    CeremonyId,
    ChannelId,
    ConsensusId,
    ContextId,
    DeviceId,
    DkdContextId,
    FactId,
    GroupId,
    GuardianId,
    ProposalId,
    RelayId,
    SessionId,
    compatible,
    device_address,
)
from aura_sim.testing.strategies import entropy

ENTROPY_IDS = [AuthorityId, ContextId, DeviceId, SessionId, GuardianId]
DIGEST_IDS = [FactId, ChannelId, ConsensusId, ProposalId, CeremonyId]


@pytest.mark.parametrize("kind", ENTROPY_IDS)
@given(seed=entropy)
def test_entropy_ids_round_trip_through_text(kind: type[AuthorityId], seed: bytes) -> None:
    value = kind.from_entropy(seed)
    assert value.raw == seed[:16]
    text = str(value)
    assert text.startswith(kind.PREFIX + "-")
    assert kind.parse(text) == value
    assert str(kind.parse(text)) == text


@pytest.mark.parametrize("kind", DIGEST_IDS)
@given(digest=st.binary(min_size=32, max_size=32))
def test_digest_ids_round_trip_through_text(kind: type[FactId], digest: bytes) -> None:
    value = kind(Hash32(digest))
    assert kind.parse(str(value)) == value
    assert str(value) == f"{kind.PREFIX}:{digest.hex()}"


@given(entropy)
def test_kinds_never_compare_equal(seed: bytes) -> None:
    values = [kind.from_entropy(seed) for kind in ENTROPY_IDS]
    assert len(set(values)) == len(values)
    with pytest.raises(InvalidIdentifier):
        ContextId.parse(str(AuthorityId.from_entropy(seed)))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "authority-",
        "authority-" + "0" * 31,
        "authority-" + "0" * 33,
        "authority-" + "G" * 32,
        "authority-" + "A" * 32,  # uppercase is not the canonical text form
        "Authority-" + "0" * 32,
        "authority:" + "0" * 32,
        " authority-" + "0" * 32,
        "authority-" + "0" * 32 + "\n",
        "authority-" + "0" * 30 + "\u0660\u0660",  # non-ASCII digits
    ],
)
def test_parse_rejects_junk(text: str) -> None:
    with pytest.raises(InvalidIdentifier):
        AuthorityId.parse(text)


def test_construction_checks_lengths() -> None:
    with pytest.raises(InvalidArgument):
        AuthorityId.from_entropy(bytes(31))
    with pytest.raises(InvalidArgument):
        AuthorityId.from_entropy(bytearray(32))  # type: ignore[arg-type]
    with pytest.raises(InvalidIdentifier):
        AuthorityId(bytes(15))
    with pytest.raises(InvalidIdentifier):
        AuthorityId.parse(b"authority-" + b"0" * 32)  # type: ignore[arg-type]


@given(entropy, entropy)
def test_relay_id_is_symmetric(x: bytes, y: bytes) -> None:
    a, b = AuthorityId.from_entropy(x), AuthorityId.from_entropy(y)
    assert RelayId.between(a, b) == RelayId.between(b, a)
    c = AuthorityId(bytes(v ^ 0xFF for v in a.raw))
    if c != b:
        assert RelayId.between(a, b) != RelayId.between(c, b)


@given(
    st.lists(entropy, min_size=1, max_size=6, unique=True),
    st.randoms(use_true_random=False),
    st.data(),
)
def test_group_id_ignores_member_order(
    seeds: list[bytes], rng: object, data: st.DataObject
) -> None:
    members = [AuthorityId.from_entropy(s) for s in seeds]
    shuffled = list(members)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    threshold = data.draw(st.integers(1, len(set(members))))
    assert GroupId.of(members, threshold) == GroupId.of(shuffled, threshold)
    if threshold < len(set(members)):
        assert GroupId.of(members, threshold) != GroupId.of(members, threshold + 1)
    with pytest.raises(InvalidArgument):
        GroupId.of(members, 0)


@given(entropy, entropy)
def test_message_contexts_are_compatible_iff_equal(x: bytes, y: bytes) -> None:
    a, b = AuthorityId.from_entropy(x), AuthorityId.from_entropy(y)
    relay, group = RelayId.between(a, b), GroupId.of([a, b], 1)
    dkd = DkdContextId.of("chat", x)
    contexts = [relay, group, dkd]
    for first in contexts:
        for second in contexts:
            assert compatible(first, second) == (first == second)
    assert relay.hash == RelayId.between(b, a).hash
    assert compatible(relay, RelayId(relay.hash))  # same kind and digest: the same context
    assert not compatible(relay, GroupId(relay.hash))  # same digest, different kind


@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_a_device_address_is_its_keys_and_no_other(one: bytes, two: bytes) -> None:
    first, second = SigningKey(one).verifying_key, SigningKey(two).verifying_key
    address = device_address(first)
    assert address == AuthorityId(tagged_hash(DEVICE_ADDRESS_TAG, first.raw).digest[:16])
    assert (device_address(second) == address) == (first == second)


def test_a_device_address_needs_a_verifying_key() -> None:
    with pytest.raises(InvalidArgument):
        device_address(b"\x00" * 32)  # type: ignore[arg-type]
