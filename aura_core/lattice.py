"""Semilattice interfaces and the commitment-tree `Policy` lattice.

Facts grow by join, authority shrinks by meet: every replicated or attenuated structure in the
library implements one of the two protocols below, and `aura_sim.testing.laws` (the testing
kit) checks the laws for any implementation.

`Policy` is the signing policy of a tree branch, ordered `All ≤ Threshold{m, n} ≤ Any` (stricter
is smaller). `meet` returns the stricter policy: for thresholds with different n, the larger
fraction m/n wins and a tie goes to the lexicographically smaller (m, n). n-of-n is always
represented as `All`, so the meet of two distinct policies never yields n-of-n.
"""

from __future__ import annotations

import enum
from typing import Protocol, Self

import attrs

from aura_core.encoding import record
from aura_core.errors import PolicyError

__all__ = ["JoinSemilattice", "MeetSemilattice", "PolicyKind", "Policy", "MAX_SIGNERS"]

MAX_SIGNERS = 0xFFFF


class JoinSemilattice(Protocol):
    """`join` is commutative, associative and idempotent; it only ever adds information."""

    def join(self, other: Self) -> Self: ...


class MeetSemilattice(Protocol):
    """`meet` is commutative, associative and idempotent; it only ever removes authority."""

    def meet(self, other: Self) -> Self: ...


class PolicyKind(enum.Enum):
    ANY = "any"
    THRESHOLD = "threshold"
    ALL = "all"


@record("tree.policy")
@attrs.frozen
class Policy:
    """How many children of a tree branch must sign. Build with `any`, `threshold` or `all`."""

    kind: PolicyKind
    m: int = 0
    n: int = 0

    def __attrs_post_init__(self) -> None:
        if type(self.kind) is not PolicyKind:
            raise PolicyError("policy kind must be a PolicyKind")
        if type(self.m) is not int or type(self.n) is not int:
            raise PolicyError("policy m and n are ints")
        if self.kind is PolicyKind.THRESHOLD:
            if not 1 <= self.m < self.n <= MAX_SIGNERS:
                raise PolicyError(
                    f"Threshold{{{self.m},{self.n}}} needs 1 <= m < n <= {MAX_SIGNERS} "
                    "(n-of-n is All)"
                )
        elif (self.m, self.n) != (0, 0):
            raise PolicyError(f"{self.kind.value} policy carries no m or n")

    @classmethod
    def any(cls) -> Policy:
        """One signature from any child suffices (the identity of `meet`)."""
        return cls(PolicyKind.ANY)

    @classmethod
    def all(cls) -> Policy:
        """Every child must sign (absorbing for `meet`)."""
        return cls(PolicyKind.ALL)

    @classmethod
    def threshold(cls, m: int, n: int) -> Policy:
        """m of n children must sign; `threshold(n, n)` is `All`."""
        if type(m) is not int or type(n) is not int or not 1 <= m <= n <= MAX_SIGNERS:
            raise PolicyError(f"a threshold needs 1 <= m <= n <= {MAX_SIGNERS}, got {m}-of-{n}")
        if m == n:
            return cls.all()
        return cls(PolicyKind.THRESHOLD, m, n)

    def meet(self, other: Policy) -> Policy:
        """The stricter of the two policies."""
        if self == other or self.kind is PolicyKind.ALL or other.kind is PolicyKind.ANY:
            return self
        if other.kind is PolicyKind.ALL or self.kind is PolicyKind.ANY:
            return other
        if self.n == other.n:
            return self if self.m >= other.m else other
        left, right = self.m * other.n, other.m * self.n
        if left != right:
            return self if left > right else other
        return self if (self.m, self.n) < (other.m, other.n) else other

    def __le__(self, other: Policy) -> bool:
        """`self` is at least as strict as `other`."""
        return self.meet(other) == self

    def tightens(self, old: Policy) -> bool:
        """Whether replacing `old` by `self` keeps or narrows who can sign.

        That is `meet(old, new) == new`; `ChangePolicy` accepts only such changes.
        """
        return old.meet(self) == self

    def required_signers(self, children: int) -> int:
        """How many of `children` signers this policy requires.

        `Any` needs 1 and `All` needs every child; a threshold policy applies only to a branch
        with exactly n children. Zero children raises `PolicyError`.
        """
        if type(children) is not int or children < 1:
            raise PolicyError("a branch needs at least one child")
        if self.kind is PolicyKind.ANY:
            return 1
        if self.kind is PolicyKind.ALL:
            return children
        if children != self.n:
            raise PolicyError(f"Threshold{{{self.m},{self.n}}} applied to {children} children")
        return self.m

    def __str__(self) -> str:
        if self.kind is PolicyKind.THRESHOLD:
            return f"{self.m}-of-{self.n}"
        return str(self.kind.value)
