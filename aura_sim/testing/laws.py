"""Law checks for semilattices: for the tests of every layer here, and for your own types.

Call these from a test: each runs Hypothesis (or an exhaustive loop) immediately and raises
`AssertionError` naming the law and the counterexample. Importing this module needs Hypothesis
(the `testing` extra); library code never imports it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

__all__ = ["check_semilattice", "check_semilattice_exhaustive"]

T = TypeVar("T")
_UNSET: Any = object()


def _law(ok: bool, name: str, *values: object) -> None:
    if not ok:
        shown = ", ".join(repr(v) for v in values)
        raise AssertionError(f"semilattice law '{name}' fails for {shown}")


def check_semilattice(
    values: st.SearchStrategy[T],
    op: Callable[[T, T], T],
    *,
    identity: T = _UNSET,
    absorbing: T = _UNSET,
    eq: Callable[[T, T], bool] = lambda a, b: a == b,
    max_examples: int = 200,
) -> None:
    """Check that `op` (a join or a meet) is commutative, associative and idempotent on
    `values`, that `identity` (if given) is its identity and `absorbing` (if given) absorbs,
    and that the induced order is respected (`op(a, op(a, b)) == op(a, b)`)."""

    @settings(max_examples=max_examples, deadline=None)
    @given(values, values, values)
    def laws(a: T, b: T, c: T) -> None:
        ab = op(a, b)
        _law(eq(ab, op(b, a)), "commutative", a, b)
        _law(eq(op(ab, c), op(a, op(b, c))), "associative", a, b, c)
        _law(eq(op(a, a), a), "idempotent", a)
        _law(eq(op(a, ab), ab), "order: a <= a op b", a, b)
        if identity is not _UNSET:
            _law(eq(op(a, identity), a), "identity", a)
        if absorbing is not _UNSET:
            _law(eq(op(a, absorbing), absorbing), "absorbing", a)

    laws()


def check_semilattice_exhaustive(
    values: Sequence[T],
    op: Callable[[T, T], T],
    *,
    identity: T = _UNSET,
    absorbing: T = _UNSET,
) -> int:
    """The same laws as `check_semilattice`, over every pair and triple of a finite carrier.

    Returns the number of triples checked so a test can assert the space was covered.
    """
    checked = 0
    for a in values:
        _law(op(a, a) == a, "idempotent", a)
        if identity is not _UNSET:
            _law(op(a, identity) == a and op(identity, a) == a, "identity", a)
        if absorbing is not _UNSET:
            _law(op(a, absorbing) == absorbing, "absorbing", a)
    for a, b in itertools.product(values, repeat=2):
        ab = op(a, b)
        _law(ab == op(b, a), "commutative", a, b)
        _law(op(a, ab) == ab, "order: a <= a op b", a, b)
        for c in values:
            _law(op(ab, c) == op(a, op(b, c)), "associative", a, b, c)
            checked += 1
    return checked
