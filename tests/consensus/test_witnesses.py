"""Witness sets: 1 <= t <= |W|, distinct authorities and FROST identifiers, vote keys, fit to
the group, and the fault bound: a threshold that is not safe (2t <= n + f) or not live
(t > n - f) for the set's f is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_consensus.witnesses import Witness, WitnessSet, fault_bound, safe_threshold
from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import decode, encode
from aura_core.errors import InvalidWitnessSet, UnknownWitness, UnsafeThreshold
from aura_core.ids import AuthorityId
from tests.consensus.support import authority, group, seed


def members(n: int) -> dict[AuthorityId, int]:
    return {authority(i): i + 1 for i in range(n)}


def test_valid_sets_round_trip_and_map_both_ways() -> None:
    signers = members(4)
    keys = {a: SigningKey(seed("key", i)).verifying_key for i, a in enumerate(signers)}
    ws = WitnessSet.of(signers, 3, faults=1, keys=keys)
    assert ws.authorities == tuple(sorted(signers))
    assert len(ws) == 4 and all(a in ws for a in signers) and ws.has_keys
    for a, i in signers.items():
        assert ws.signer_of(a) == i and ws.authority_of(i) == a and ws.key_of(a) == keys[a]
    assert decode(encode(ws), WitnessSet) == ws
    assert (ws.faults, ws.fast_quorum, ws.change_quorum) == (1, 4, 3)
    with pytest.raises(UnknownWitness):
        ws.signer_of(authority("stranger"))
    with pytest.raises(UnknownWitness):
        ws.key_of(authority("stranger"))
    with pytest.raises(UnknownWitness):
        ws.authority_of(99)
    keyless = WitnessSet.of(signers, 3)
    assert not keyless.has_keys and keyless.with_keys(keys) == WitnessSet.of(signers, 3, keys=keys)
    with pytest.raises(InvalidWitnessSet):
        keyless.key_of(authority(0))
    with pytest.raises(InvalidWitnessSet):
        keyless.with_keys({authority(0): keys[authority(0)]})  # not every witness
    with pytest.raises(InvalidWitnessSet):
        WitnessSet.of(signers, 3, keys={**keys, authority("x"): keys[authority(0)]})


@pytest.mark.parametrize("threshold", [0, 5, -1])
def test_threshold_outside_one_to_n_is_refused(threshold: int) -> None:
    with pytest.raises(InvalidWitnessSet):
        WitnessSet.of(members(4), threshold)


@pytest.mark.parametrize(
    ("n", "t", "f"),
    [
        (4, 2, 0),  # two disjoint halves could each commit
        (4, 3, 2),  # liveness: the 2 honest cannot reach 3; safety: 2t = 6 <= 6
        (5, 3, 1),  # 2t = 6 <= n + f = 6
        (7, 4, 1),
        (10, 7, 4),  # n < 3f + 1
        (3, 3, 1),  # live only with all 3
        (1, 1, 1),
    ],
)
def test_an_unsafe_threshold_for_the_fault_bound_is_refused(n: int, t: int, f: int) -> None:
    with pytest.raises(UnsafeThreshold):
        WitnessSet.of(members(n), t, faults=f)


def test_fault_bounds_of_policies() -> None:
    assert [fault_bound(4, t) for t in (3, 4)] == [1, 0]
    assert [fault_bound(7, t) for t in (4, 5, 6, 7)] == [0, 2, 1, 0]
    assert fault_bound(10, 7) == 3 and safe_threshold(10, 3) == 7
    assert [safe_threshold(n, (n - 1) // 3) for n in range(3, 11)] == [2, 3, 4, 4, 5, 6, 6, 7]
    with pytest.raises(UnsafeThreshold, match="2-of-4"):
        fault_bound(4, 2)
    with pytest.raises(UnsafeThreshold):
        safe_threshold(3, 1)
    for bad in ((0, 1), (3, 0), (3, 4)):
        with pytest.raises(InvalidWitnessSet):
            fault_bound(*bad)
    with pytest.raises(InvalidWitnessSet):
        safe_threshold(3, -1)


@given(st.integers(1, 24), st.data())
def test_the_bounds_agree_with_what_a_set_accepts(n: int, data: st.DataObject) -> None:
    t = data.draw(st.integers(1, n))
    f = data.draw(st.integers(0, n))
    accepted = 2 * t > n + f and t <= n - f
    if accepted:
        ws = WitnessSet.of(members(n), t, faults=f)
        assert fault_bound(n, t) >= f and safe_threshold(n, f) <= t
        # the fast quorum: at least t, at most n, and two of it overlap in more than 3f
        assert t <= ws.fast_quorum <= n and 2 * ws.fast_quorum > n + 3 * f
        assert n >= 3 * f + 1
    else:
        with pytest.raises(UnsafeThreshold):
            WitnessSet.of(members(n), t, faults=f)
    if 2 * t > n:
        bound = fault_bound(n, t)
        WitnessSet.of(members(n), t, faults=bound)
        with pytest.raises(UnsafeThreshold):
            WitnessSet.of(members(n), t, faults=bound + 1)


def test_malformed_sets_are_refused() -> None:
    a, b = authority("a"), authority("b")
    with pytest.raises(InvalidWitnessSet):
        WitnessSet.of({}, 1)
    with pytest.raises(InvalidWitnessSet):
        WitnessSet.of([(a, 1), (a, 2)], 1)  # one authority twice
    with pytest.raises(InvalidWitnessSet):
        WitnessSet.of({a: 1, b: 1}, 2)  # one identifier twice
    with pytest.raises(InvalidWitnessSet):
        WitnessSet.of({a: 0}, 1)
    with pytest.raises(InvalidWitnessSet):
        WitnessSet(tuple(sorted([Witness(a, 1), Witness(b, 2)], reverse=True)), 2)
    with pytest.raises(InvalidWitnessSet):
        WitnessSet.of({a: 1}, 1, faults=-1)
    with pytest.raises(InvalidWitnessSet):
        Witness(a, 1, b"not a key")  # type: ignore[arg-type]


def test_check_group() -> None:
    g = group(2, 3)
    g.witnesses.check_group(g.public)
    strict = group(3, 3)
    with pytest.raises(InvalidWitnessSet):  # t below the FROST threshold cannot sign
        WitnessSet(g.witnesses.members, 2).check_group(strict.public)
    signers = {w.authority: w.signer for w in g.witnesses.members}
    stranger = WitnessSet.of({**signers, authority("x"): 9}, 3)
    with pytest.raises(InvalidWitnessSet):
        stranger.check_group(g.public)
