"""Helpers for the FROST tests: whole protocol runs from one seed, and Hypothesis strategies."""

from __future__ import annotations

import hashlib
from collections.abc import ItemsView, Iterable, Iterator, Mapping, Sequence
from typing import TypeVar

import nacl.signing
from hypothesis import strategies as st

from aura_core.crypto import frost

Packages = dict[int, frost.KeyPackage]
V = TypeVar("V")


def derive(seed: bytes, *labels: object) -> bytes:
    """A 32-byte seed for one participant and step, derived from a test's seed."""
    return hashlib.sha256(seed + repr(labels).encode()).digest()


@st.composite
def thresholds(draw: st.DrawFn, min_t: int = 2, max_n: int = 10) -> tuple[int, int]:
    """(t, n) with min_t <= t <= n <= max_n."""
    n = draw(st.integers(min_t, max_n))
    return draw(st.integers(min_t, n)), n


def dealer(
    t: int, n: int, seed: bytes, identifiers: Iterable[int] | None = None
) -> tuple[Packages, frost.PublicKeyPackage]:
    shares, public = frost.generate_with_dealer(t, n, derive(seed, "dealer"), identifiers)
    return {i: frost.key_package(s) for i, s in shares.items()}, public


def dkg(t: int, n: int, seed: bytes) -> tuple[Packages, dict[int, frost.PublicKeyPackage]]:
    ids = range(1, n + 1)
    round1 = {i: frost.dkg_part1(i, t, n, derive(seed, "dkg1", i)) for i in ids}
    round2 = {
        i: frost.dkg_part2(round1[i][0], {j: round1[j][1] for j in ids if j != i}) for i in ids
    }
    packages: Packages = {}
    publics: dict[int, frost.PublicKeyPackage] = {}
    for i in ids:
        packages[i], publics[i] = frost.dkg_part3(
            round2[i][0],
            {j: round1[j][1] for j in ids if j != i},
            {j: round2[j][1][i] for j in ids if j != i},
        )
    return packages, publics


def round_two(
    packages: Packages, signers: Iterable[int], message: bytes, seed: bytes
) -> tuple[frost.SigningPackage, dict[int, frost.SignatureShare]]:
    """Both rounds for `signers`; returns the signing package and their signature shares."""
    round1 = {i: frost.commit(packages[i], derive(seed, "commit", i)) for i in signers}
    package = frost.signing_package({i: c for i, (_, c) in round1.items()}, message)
    return package, {i: frost.sign(package, n, packages[i]) for i, (n, _) in round1.items()}


def signature(
    packages: Packages,
    public: frost.PublicKeyPackage,
    signers: Iterable[int],
    message: bytes,
    seed: bytes,
) -> bytes:
    """Sign with `signers`; every signature that comes out is checked as a plain Ed25519
    signature under the group key, by libsodium and by our strict verifier."""
    package, shares = round_two(packages, signers, message, seed)
    sig = frost.aggregate(package, shares, public)
    nacl.signing.VerifyKey(public.group_public_key.raw).verify(message, sig)
    public.group_public_key.verify(message, sig)
    return sig


ORDER = 2**252 + 27742317777372353535851937790883648493  # of the Ed25519 group


def corrupt(share: frost.SignatureShare) -> frost.SignatureShare:
    """The share plus one. (Adding the same amount to every corrupted share means the errors
    never cancel out: shares whose errors sum to zero give a valid signature, which FROST's
    aggregate rightly accepts without looking at the shares one by one.) The encoding is the
    type tag byte, then the 32-byte little-endian scalar."""
    raw = share.to_bytes()
    value = (int.from_bytes(raw[1:], "little") + 1) % ORDER
    return frost.SignatureShare.from_bytes(raw[:1] + value.to_bytes(32, "little"))


class _Pairs(ItemsView[int, V]):
    def __init__(self, pairs: tuple[tuple[int, V], ...]) -> None:
        self._pairs = pairs

    def __iter__(self) -> Iterator[tuple[int, V]]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)


class Repeating(Mapping[int, V]):
    """A `Mapping` whose `items()` yields `pairs` as given, a key possibly more than once: what a
    buggy or hostile `Mapping` can hand the API (a dict never can). Lookups find the first."""

    def __init__(self, pairs: Sequence[tuple[int, V]]) -> None:
        self._pairs = tuple(pairs)

    def __getitem__(self, key: int) -> V:
        for k, v in self._pairs:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[int]:
        return (k for k, _ in self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def items(self) -> ItemsView[int, V]:
        return _Pairs(self._pairs)


def repeated(mapping: Mapping[int, V], key: int, value: V, at: int) -> Repeating[V]:
    """`mapping`'s entries with `(key, value)` inserted at position `at`."""
    pairs = list(mapping.items())
    pairs.insert(at, (key, value))
    return Repeating(pairs)
