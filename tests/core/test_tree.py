"""Commitment tree: the reference fixtures, proofs and sensitivity."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_core.errors import InvalidArgument
from aura_core.lattice import Policy
from aura_core.tree import branch_policy, compute_tree

K11, K22, K33 = b"\x11" * 32, b"\x22" * 32, b"\x33" * 32


def test_reference_fixtures() -> None:
    two = [(0, K11), (1, K22)]
    assert compute_tree(two, epoch=0, threshold=2).root.hex().upper() == (
        "E149BD5E2F731F0FCDF7A702635198A0761356D8F9085669EA1439FE790B31AB"
    )
    assert compute_tree(two, epoch=1, threshold=2).root.hex().upper() == (
        "594D1969CE756E9C289A99A877230D1DF60BC6901170A8057B544AD72140A018"
    )
    assert compute_tree([(0, K33), (1, K22)], epoch=1, threshold=2).root.hex().upper() == (
        "070F9D885ADBC3543A6D9CDCCAE02CE184101C65D52A6859ADFCB6E411DE3FD8"
    )


leaf_sets = st.dictionaries(
    st.integers(0, 2**32 - 1), st.binary(min_size=1, max_size=64), min_size=1, max_size=9
)


@given(leaf_sets, st.integers(0, 10), st.integers(1, 9))
def test_root_is_deterministic_and_order_free(
    leaves: dict[int, bytes], epoch: int, threshold: int
) -> None:
    items = list(leaves.items())
    a = compute_tree(items, epoch=epoch, threshold=threshold)
    b = compute_tree(list(reversed(items)), epoch=epoch, threshold=threshold)
    assert a.root == b.root


@given(leaf_sets, st.integers(0, 10), st.integers(1, 9), st.data())
def test_every_input_changes_the_root(
    leaves: dict[int, bytes], epoch: int, threshold: int, data: st.DataObject
) -> None:
    base = compute_tree(leaves.items(), epoch=epoch, threshold=threshold).root
    assert compute_tree(leaves.items(), epoch=epoch + 1, threshold=threshold).root != base
    assert compute_tree(leaves.items(), epoch=epoch, threshold=threshold + 1).root != base
    target = data.draw(st.sampled_from(sorted(leaves)))
    changed = {**leaves, target: leaves[target] + b"\x00"}
    assert compute_tree(changed.items(), epoch=epoch, threshold=threshold).root != base


@given(leaf_sets, st.integers(0, 10), st.integers(1, 9))
def test_proofs_verify_and_go_stale(leaves: dict[int, bytes], epoch: int, threshold: int) -> None:
    tree = compute_tree(leaves.items(), epoch=epoch, threshold=threshold)
    for leaf_id, key in leaves.items():
        proof = tree.proof(leaf_id)
        assert proof.verify(key, tree.root)
        assert not proof.verify(key + b"x", tree.root)
    rotated = compute_tree(leaves.items(), epoch=epoch + 1, threshold=threshold)
    some = next(iter(leaves))
    assert not tree.proof(some).verify(leaves[some], rotated.root)


def test_branch_policies_and_errors() -> None:
    assert branch_policy(1, 2) == Policy.all()
    assert branch_policy(3, 3) == Policy.all()
    assert branch_policy(3, 1) == Policy.any()
    assert branch_policy(5, 3) == Policy.threshold(3, 5)
    assert branch_policy(2, 9) == Policy.all()  # m is clamped to n
    assert (
        compute_tree([], epoch=0, threshold=1).root != compute_tree([], epoch=1, threshold=1).root
    )
    with pytest.raises(InvalidArgument):
        compute_tree([(1, K11), (1, K22)], epoch=0, threshold=1)
    with pytest.raises(InvalidArgument):
        compute_tree([(1, K11)], epoch=0, threshold=1).proof(2)
