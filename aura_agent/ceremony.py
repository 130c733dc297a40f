"""Key ceremonies computed in one process: DKG, refresh and the genesis signature.

A stand-in until DKG and refresh run as networked protocols: every participant's secret passes
through this process, so use it only where all participants are local (the demo, tests). The
randomness comes in as seeds (from `RandomEffects`, or fixed in tests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aura_core.crypto import frost
from aura_core.errors import InvalidArgument

__all__ = ["dkg_in_process", "refresh_in_process", "sign_in_process"]

Keys = dict[int, frost.KeyPackage]


def _seeds_for(identifiers: Sequence[int], seeds: Mapping[int, bytes]) -> None:
    if set(seeds) != set(identifiers) or len(set(identifiers)) != len(identifiers):
        raise InvalidArgument("one seed per distinct participant")


def dkg_in_process(
    identifiers: Sequence[int], threshold: int, seeds: Mapping[int, bytes]
) -> tuple[Keys, frost.PublicKeyPackage]:
    """A DKG among `identifiers` (every participant's three rounds run here): each one's key
    package and the group's public key package."""
    _seeds_for(identifiers, seeds)
    n = len(identifiers)
    round1 = {i: frost.dkg_part1(i, threshold, n, seeds[i]) for i in identifiers}
    round2 = {
        i: frost.dkg_part2(round1[i][0], {j: round1[j][1] for j in identifiers if j != i})
        for i in identifiers
    }
    keys: Keys = {}
    public: frost.PublicKeyPackage | None = None
    for i in identifiers:
        keys[i], public = frost.dkg_part3(
            round2[i][0],
            {j: round1[j][1] for j in identifiers if j != i},
            {j: round2[j][1][i] for j in identifiers if j != i},
        )
    assert public is not None
    return keys, public


def refresh_in_process(
    identifiers: Sequence[int],
    keys: Mapping[int, frost.KeyPackage],
    public: frost.PublicKeyPackage,
    seeds: Mapping[int, bytes],
) -> tuple[Keys, frost.PublicKeyPackage]:
    """A DKG-style refresh among `identifiers` only: the same group key, new shares; anyone not
    listed is out of the new public key package and their old share no longer combines."""
    _seeds_for(identifiers, seeds)
    threshold, n = public.min_signers, len(identifiers)
    round1 = {i: frost.refresh_dkg_part1(i, threshold, n, seeds[i]) for i in identifiers}
    round2 = {
        i: frost.refresh_dkg_part2(round1[i][0], {j: round1[j][1] for j in identifiers if j != i})
        for i in identifiers
    }
    fresh: Keys = {}
    new_public: frost.PublicKeyPackage | None = None
    for i in identifiers:
        fresh[i], new_public = frost.refresh_dkg_shares(
            round2[i][0],
            {j: round1[j][1] for j in identifiers if j != i},
            {j: round2[j][1][i] for j in identifiers if j != i},
            public,
            keys[i],
        )
    assert new_public is not None
    return fresh, new_public


def sign_in_process(
    keys: Mapping[int, frost.KeyPackage],
    public: frost.PublicKeyPackage,
    message: bytes,
    seeds: Mapping[int, bytes],
) -> bytes:
    """A threshold signature of `message` by `keys` (both rounds and the aggregate here)."""
    _seeds_for(list(keys), seeds)
    nonces = {i: frost.commit(key, seeds[i]) for i, key in keys.items()}
    package = frost.signing_package({i: c for i, (_, c) in nonces.items()}, message)
    shares = {i: frost.sign(package, nonces[i][0], keys[i]) for i in keys}
    return frost.aggregate(package, shares, public)
