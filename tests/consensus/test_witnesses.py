"""Witness sets: 1 <= t <= |W|, distinct authorities and FROST identifiers, fit to the group."""

from __future__ import annotations

import pytest

from aura_consensus.witnesses import Witness, WitnessSet, majority_threshold
from aura_core.encoding import decode, encode
from aura_core.errors import InvalidWitnessSet, UnknownWitness
from tests.consensus.support import authority, group


def test_valid_sets_round_trip_and_map_both_ways() -> None:
    members = {authority(i): i + 1 for i in range(4)}
    ws = WitnessSet.of(members, 3)
    assert ws.authorities == tuple(sorted(members))
    assert len(ws) == 4 and all(a in ws for a in members)
    for a, i in members.items():
        assert ws.signer_of(a) == i and ws.authority_of(i) == a
    assert decode(encode(ws), WitnessSet) == ws
    with pytest.raises(UnknownWitness):
        ws.signer_of(authority("stranger"))
    with pytest.raises(UnknownWitness):
        ws.authority_of(99)


@pytest.mark.parametrize("threshold", [0, 5, -1])
def test_threshold_outside_one_to_n_is_refused(threshold: int) -> None:
    with pytest.raises(InvalidWitnessSet):
        WitnessSet.of({authority(i): i + 1 for i in range(4)}, threshold)


def test_malformed_sets_are_refused() -> None:
    a, b = authority("a"), authority("b")
    with pytest.raises(InvalidWitnessSet):
        WitnessSet.of({}, 1)
    with pytest.raises(InvalidWitnessSet):
        WitnessSet.of([(a, 1), (a, 2)], 1)  # one authority twice
    with pytest.raises(InvalidWitnessSet):
        WitnessSet.of({a: 1, b: 1}, 1)  # one identifier twice
    with pytest.raises(InvalidWitnessSet):
        WitnessSet.of({a: 0}, 1)
    with pytest.raises(InvalidWitnessSet):
        WitnessSet(tuple(sorted([Witness(a, 1), Witness(b, 2)], reverse=True)), 1)


def test_check_group() -> None:
    g = group(2, 3)
    g.witnesses.check_group(g.public)
    with pytest.raises(InvalidWitnessSet):  # t below the FROST threshold cannot sign
        WitnessSet(g.witnesses.members, 1).check_group(g.public)
    members = {w.authority: w.signer for w in g.witnesses.members}
    stranger = WitnessSet.of({**members, authority("x"): 9}, 2)
    with pytest.raises(InvalidWitnessSet):
        stranger.check_group(g.public)


def test_majority_threshold() -> None:
    assert [majority_threshold(n) for n in range(1, 8)] == [1, 1, 2, 2, 3, 3, 4]
    with pytest.raises(InvalidWitnessSet):
        majority_threshold(0)
