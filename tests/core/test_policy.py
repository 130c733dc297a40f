"""The tree `Policy` meet-semilattice."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_core.encoding import decode, encode
from aura_core.errors import PolicyError, SchemaError
from aura_core.lattice import Policy, PolicyKind
from aura_sim.testing.laws import check_semilattice, check_semilattice_exhaustive

ANY, ALL = Policy.any(), Policy.all()


def all_policies(max_n: int) -> list[Policy]:
    out = [ANY, ALL]
    out += [Policy.threshold(m, n) for n in range(2, max_n + 1) for m in range(1, n)]
    return out


policies = st.sampled_from(all_policies(12)) | st.builds(
    lambda n, m: Policy.threshold(min(m, n), n), st.integers(1, 2000), st.integers(1, 2000)
)


def test_meet_laws_exhaustive_up_to_ten() -> None:
    carrier = all_policies(10)
    checked = check_semilattice_exhaustive(carrier, Policy.meet, identity=ANY, absorbing=ALL)
    assert checked == len(carrier) ** 3


def test_meet_laws_hypothesis() -> None:
    check_semilattice(policies, Policy.meet, identity=ANY, absorbing=ALL)


@given(policies, policies)
def test_meet_is_below_both_and_never_n_of_n(a: Policy, b: Policy) -> None:
    met = a.meet(b)
    assert met <= a and met <= b
    assert met in (a, b)
    if met.kind is PolicyKind.THRESHOLD:
        assert met.m < met.n


def test_meet_rules() -> None:
    t = Policy.threshold
    assert t(2, 5).meet(t(3, 5)) == t(3, 5)  # same n: larger m
    assert t(2, 3).meet(t(3, 5)) == t(2, 3)  # 2/3 > 3/5
    assert t(1, 2).meet(t(2, 4)) == t(1, 2)  # tie: lexicographically smaller
    assert t(3, 3) == ALL  # n-of-n is All
    assert ANY.meet(t(1, 4)) == t(1, 4)


def test_required_signers() -> None:
    assert ANY.required_signers(7) == 1
    assert ALL.required_signers(7) == 7
    assert Policy.threshold(2, 3).required_signers(3) == 2
    with pytest.raises(PolicyError):
        Policy.threshold(2, 3).required_signers(4)
    for policy in (ANY, ALL, Policy.threshold(2, 3)):
        with pytest.raises(PolicyError):
            policy.required_signers(0)


def test_tightens() -> None:
    assert Policy.threshold(3, 5).tightens(Policy.threshold(2, 5))
    assert not Policy.threshold(2, 5).tightens(Policy.threshold(3, 5))
    assert ALL.tightens(ANY) and not ANY.tightens(ALL)


@pytest.mark.parametrize("m,n", [(0, 3), (4, 3), (-1, 2), (1, 0), (1, 70000)])
def test_invalid_thresholds(m: int, n: int) -> None:
    with pytest.raises(PolicyError):
        Policy.threshold(m, n)


def test_direct_construction_is_validated() -> None:
    for args in (
        (PolicyKind.THRESHOLD, 3, 3),
        (PolicyKind.ANY, 1, 2),
        (PolicyKind.THRESHOLD, 0, 2),
    ):
        with pytest.raises(PolicyError):
            Policy(*args)


@given(policies)
def test_codec_round_trip(policy: Policy) -> None:
    assert decode(encode(policy), Policy) == policy


def test_codec_rejects_invalid_policy_bytes() -> None:
    from aura_core.encoding import canonical_encode

    bad = {"$t": "tree.policy", "$v": 1, "kind": "threshold", "m": 3, "n": 3}
    with pytest.raises(SchemaError):
        decode(canonical_encode(bad), Policy)  # type: ignore[arg-type]
