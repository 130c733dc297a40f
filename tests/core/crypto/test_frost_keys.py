"""FROST key management through the Python API: DKG, dealer and DKG-style refresh, repair."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.crypto import frost
from aura_core.errors import InsufficientSigners, InvalidArgument, InvalidShare, MalformedCryptoData
from aura_sim.testing.strategies import entropy
from tests.core.crypto.frost_support import (
    Packages,
    Repeating,
    dealer,
    derive,
    dkg,
    repeated,
    round_two,
    signature,
    thresholds,
)

# A DKG among n participants costs O(n^2 t) group operations; keep the example counts small.
DKG_EXAMPLES = 20


@settings(max_examples=DKG_EXAMPLES)
@given(st.data(), thresholds(), entropy)
def test_every_dkg_participant_derives_the_same_group_key(
    data: st.DataObject, tn: tuple[int, int], seed: bytes
) -> None:
    t, n = tn
    packages, publics = dkg(t, n, seed)
    public = publics[1]
    assert all(p == public for p in publics.values())
    assert (public.min_signers, public.max_signers) == (t, n)
    for i, package in packages.items():
        assert package.group_public_key == public.group_public_key
        assert package.verifying_share == public.verifying_shares[i]
    signers = data.draw(st.lists(st.integers(1, n), min_size=t, max_size=t, unique=True))
    sig = signature(packages, public, signers, b"dkg", seed)
    frost.verify(public.group_public_key, b"dkg", sig)


def test_dkg_names_participants_who_cheat() -> None:
    seed = b"d" * 32
    ids = [1, 2, 3, 4]
    round1 = {i: frost.dkg_part1(i, 3, 4, derive(seed, i)) for i in ids}

    def others(me: int) -> dict[int, frost.DkgRound1Package]:
        return {j: round1[j][1] for j in ids if j != me}

    # Participant 4 replays participant 3's broadcast: its proof of knowledge fails.
    replayed = {**others(1), 4: round1[3][1]}
    with pytest.raises(InvalidShare) as caught:
        frost.dkg_part2(round1[1][0], replayed)
    assert caught.value.culprits == (4,)
    # A broadcast for another threshold is blamed on its sender.
    _, wrong_degree = frost.dkg_part1(2, 2, 4, derive(seed, "other"))
    with pytest.raises(InvalidShare) as caught:
        frost.dkg_part2(round1[1][0], {**others(1), 2: wrong_degree})
    assert caught.value.culprits == (2,)
    with pytest.raises(InsufficientSigners):
        frost.dkg_part2(round1[1][0], {2: round1[2][1], 3: round1[3][1]})
    with pytest.raises(InvalidArgument):
        frost.dkg_part2(round1[1][0], {**others(1), 1: round1[1][1]})

    round2 = {i: frost.dkg_part2(round1[i][0], others(i)) for i in ids}
    # Participants 2 and 4 send participant 1 shares meant for someone else.
    received = {j: round2[j][1][1] for j in ids if j != 1}
    bad = {**received, 2: round2[2][1][3], 4: round2[4][1][3]}
    with pytest.raises(InvalidShare) as caught:
        frost.dkg_part3(round2[1][0], others(1), bad)
    assert caught.value.culprits in ((2,), (2, 4))  # FROST stops at the first bad share
    with pytest.raises(InsufficientSigners):
        frost.dkg_part3(round2[1][0], others(1), {2: received[2], 3: received[3]})
    # The failures changed nothing: the honest inputs still finish.
    key, public = frost.dkg_part3(round2[1][0], others(1), received)
    assert key.identifier == 1 and public.max_signers == 4


@settings(max_examples=40)
@given(st.data(), thresholds(), entropy)
def test_dealer_refresh_keeps_the_key_and_retires_old_shares(
    data: st.DataObject, tn: tuple[int, int], seed: bytes
) -> None:
    t, n = tn
    old, public = dealer(t, n, seed)
    members = data.draw(st.lists(st.integers(1, n), min_size=t, max_size=n, unique=True))
    zero, new_public = frost.compute_refreshing_shares(public, members, derive(seed, "refresh"))
    assert sorted(zero) == sorted(members)
    assert new_public.group_public_key == public.group_public_key
    assert new_public.identifiers == tuple(sorted(members))
    new: Packages = {i: frost.refresh_share(zero[i], old[i]) for i in members}
    for i in members:
        assert new[i] != old[i]
        assert new[i].verifying_share == new_public.verifying_shares[i]
        assert frost.KeyPackage.from_bytes(new[i].to_bytes()) == new[i]
    signers = data.draw(st.lists(st.sampled_from(members), min_size=t, max_size=t, unique=True))
    frost.verify(public.group_public_key, b"r", signature(new, new_public, signers, b"r", seed))
    # A threshold of old shares alone still signs (delete them once everyone has refreshed);
    # a mix of old and new shares never does.
    stale = data.draw(
        st.lists(st.sampled_from(signers), min_size=1, max_size=len(signers) - 1, unique=True)
    )
    mixed = {i: (old[i] if i in stale else new[i]) for i in signers}
    package, shares = round_two(mixed, signers, b"r", derive(seed, "mixed"))
    with pytest.raises(InvalidShare) as caught:
        frost.aggregate(package, shares, new_public)
    assert caught.value.culprits == tuple(sorted(stale))


def test_refresh_rejects_wrong_inputs() -> None:
    seed = b"f" * 32
    old, public = dealer(3, 4, seed)
    with pytest.raises(InsufficientSigners):
        frost.compute_refreshing_shares(public, [1, 2], seed)
    with pytest.raises(InvalidArgument):
        frost.compute_refreshing_shares(public, [1, 2, 9], seed)
    zero, _ = frost.compute_refreshing_shares(public, [1, 2, 3, 4], seed)
    with pytest.raises(InvalidArgument):  # someone else's share of zero
        frost.refresh_share(zero[2], old[1])
    shares, _ = frost.generate_with_dealer(3, 4, seed)
    with pytest.raises(InvalidArgument):  # a dealt share is not a share of zero
        frost.refresh_share(shares[1], old[1])  # type: ignore[arg-type]
    tampered = bytearray(zero[1].to_bytes())
    tampered[41] ^= 1  # inside the share scalar (after the tag, ZF header and identifier)
    forged = frost.RefreshingShare.from_bytes(bytes(tampered))
    with pytest.raises(InvalidShare):
        frost.refresh_share(forged, old[1])
    # FROST gives dealt shares and shares of zero the same structure; the types and their
    # encodings differ, so neither passes for the other.
    with pytest.raises(InvalidArgument):
        frost.key_package(zero[1])  # type: ignore[arg-type]
    with pytest.raises(MalformedCryptoData):
        frost.RefreshingShare.from_bytes(shares[1].to_bytes())
    with pytest.raises(MalformedCryptoData):
        frost.SecretShare.from_bytes(zero[1].to_bytes())


@settings(max_examples=30)
@given(st.data(), thresholds(min_t=3), entropy)
def test_shares_of_zero_never_pass_as_dealt_shares(
    data: st.DataObject, tn: tuple[int, int], seed: bytes
) -> None:
    """With t >= 3 a share of zero has a structurally valid dealt-share body, and participant 1's
    even verified as one (at x = 1 the shifted commitment sums to the same point); the type
    tags keep every share of zero and every dealt share to its own type."""
    t, n = tn
    shares, public = frost.generate_with_dealer(t, n, derive(seed, "dealer"))
    members = data.draw(st.lists(st.integers(1, n), min_size=t, max_size=n, unique=True))
    zero, _ = frost.compute_refreshing_shares(public, members, derive(seed, "refresh"))
    for i, share in zero.items():
        with pytest.raises(MalformedCryptoData):
            frost.SecretShare.from_bytes(share.to_bytes())
        assert frost.RefreshingShare.from_bytes(share.to_bytes()) == share
        assert share.identifier == i
    for dealt in shares.values():
        with pytest.raises(MalformedCryptoData):
            frost.RefreshingShare.from_bytes(dealt.to_bytes())


def test_participants_listed_twice_are_refused_by_dkg_and_refresh() -> None:
    """Every per-participant argument of the DKG, the refreshes and the repair refuses a
    participant listed twice (`InvalidArgument`), and the refusal changes nothing: the same
    inputs listed once still finish."""
    seed = b"2" * 32
    ids = [1, 2, 3, 4]
    for part1, part2, finish in [
        (frost.dkg_part1, frost.dkg_part2, "dkg"),
        (frost.refresh_dkg_part1, frost.refresh_dkg_part2, "refresh"),
    ]:
        r1 = {i: part1(i, 3, 4, derive(seed, finish, i)) for i in ids}
        others = {j: r1[j][1] for j in ids if j != 1}
        for twice, value in [(2, r1[2][1]), (4, r1[3][1]), (3, r1[3][1])]:
            with pytest.raises(InvalidArgument, match=f"participant {twice} appears"):
                part2(r1[1][0], repeated(others, twice, value, 1))
        r2 = {i: part2(r1[i][0], {j: r1[j][1] for j in ids if j != i}) for i in ids}
        received = {j: r2[j][1][1] for j in ids if j != 1}
        bad_r1 = repeated(others, 3, r1[3][1], 0)
        bad_r2 = repeated(received, 2, r2[4][1][1], 3)
        old, public = dealer(3, 4, seed)
        for round1_packages, round2_packages in [
            (bad_r1, received),
            (others, bad_r2),
            (Repeating([*others.items(), *others.items()]), received),
        ]:
            with pytest.raises(InvalidArgument, match="appears more than once"):
                if finish == "dkg":
                    frost.dkg_part3(r2[1][0], round1_packages, round2_packages)
                else:
                    frost.refresh_dkg_shares(
                        r2[1][0], round1_packages, round2_packages, public, old[1]
                    )
        if finish == "dkg":
            key, _ = frost.dkg_part3(r2[1][0], others, received)
        else:
            key, _ = frost.refresh_dkg_shares(r2[1][0], others, received, public, old[1])
        assert key.identifier == 1

    # Dealer-style refresh and repair take lists of participants, and repair lists of values.
    old, public = dealer(2, 4, seed)
    with pytest.raises(InvalidArgument):
        frost.compute_refreshing_shares(public, [1, 2, 2], seed)
    helpers = [1, 2, 3]
    deltas = {h: frost.repair_share_part1(helpers, old[h], derive(seed, h), 4) for h in helpers}
    with pytest.raises(InvalidArgument):
        frost.repair_share_part1([1, 2, 3, 2], old[1], seed, 4)
    received_deltas = [deltas[f][1] for f in helpers]
    with pytest.raises(InvalidArgument):
        frost.repair_share_part2([*received_deltas, received_deltas[0]])
    sigmas = [frost.repair_share_part2([deltas[f][h] for f in helpers]) for h in helpers]
    with pytest.raises(InvalidArgument):
        frost.repair_share_part3([*sigmas, sigmas[2]], 4, public)
    assert frost.repair_share_part3(sigmas, 4, public) == old[4]


def run_dkg_refresh(
    old: Packages, public: frost.PublicKeyPackage, seed: bytes
) -> tuple[Packages, dict[int, frost.PublicKeyPackage]]:
    ids = sorted(old)
    t, n = public.min_signers, len(ids)
    r1 = {i: frost.refresh_dkg_part1(i, t, n, derive(seed, "rd1", i)) for i in ids}
    r2 = {i: frost.refresh_dkg_part2(r1[i][0], {j: r1[j][1] for j in ids if j != i}) for i in ids}
    new: Packages = {}
    publics: dict[int, frost.PublicKeyPackage] = {}
    for i in ids:
        new[i], publics[i] = frost.refresh_dkg_shares(
            r2[i][0],
            {j: r1[j][1] for j in ids if j != i},
            {j: r2[j][1][i] for j in ids if j != i},
            public,
            old[i],
        )
    return new, publics


@settings(max_examples=DKG_EXAMPLES)
@given(st.data(), thresholds(), entropy, st.booleans())
def test_dkg_refresh_keeps_the_key_and_retires_old_shares(
    data: st.DataObject, tn: tuple[int, int], seed: bytes, from_dkg: bool
) -> None:
    t, n = tn
    if from_dkg:
        old, publics = dkg(t, n, seed)
        public = publics[1]
    else:
        old, public = dealer(t, n, seed)
    new, new_publics = run_dkg_refresh(old, public, derive(seed, "refresh"))
    new_public = new_publics[1]
    assert all(p == new_public for p in new_publics.values())
    assert new_public.group_public_key == public.group_public_key
    signers = data.draw(st.lists(st.integers(1, n), min_size=t, max_size=t, unique=True))
    frost.verify(public.group_public_key, b"x", signature(new, new_public, signers, b"x", seed))
    # A threshold of old shares alone still signs (delete them once everyone has refreshed);
    # a mix of old and new shares never does.
    stale = data.draw(
        st.lists(st.sampled_from(signers), min_size=1, max_size=len(signers) - 1, unique=True)
    )
    mixed = {i: (old[i] if i in stale else new[i]) for i in signers}
    package, shares = round_two(mixed, signers, b"x", derive(seed, "mixed"))
    with pytest.raises(InvalidShare) as caught:
        frost.aggregate(package, shares, new_public)
    assert caught.value.culprits == tuple(sorted(stale))


def test_dkg_refresh_names_bad_senders() -> None:
    seed = b"q" * 32
    old, public = dealer(2, 3, seed)
    ids = [1, 2, 3]
    r1 = {i: frost.refresh_dkg_part1(i, 2, 3, derive(seed, i)) for i in ids}
    r2 = {i: frost.refresh_dkg_part2(r1[i][0], {j: r1[j][1] for j in ids if j != i}) for i in ids}
    received = {2: r2[2][1][3], 3: r2[3][1][1]}  # 2 sends 1 the share meant for 3
    with pytest.raises(InvalidShare) as caught:
        frost.refresh_dkg_shares(r2[1][0], {2: r1[2][1], 3: r1[3][1]}, received, public, old[1])
    assert caught.value.culprits == (2,)
    with pytest.raises(InvalidArgument):  # a DKG secret is not a refresh secret
        dkg_secret, _ = frost.dkg_part1(1, 2, 3, seed)
        frost.refresh_dkg_part2(dkg_secret, {2: r1[2][1], 3: r1[3][1]})


@settings(max_examples=40)
@given(st.data(), thresholds(max_n=10), entropy)
def test_repair_restores_a_lost_share_that_signs(
    data: st.DataObject, tn: tuple[int, int], seed: bytes
) -> None:
    t, n = tn
    if n == t:  # the lost participant needs t helpers besides itself
        n += 1
    packages, public = dealer(t, n, seed)
    lost = data.draw(st.integers(1, n))
    others = [i for i in range(1, n + 1) if i != lost]
    helpers = data.draw(st.lists(st.sampled_from(others), min_size=t, max_size=n - 1, unique=True))
    deltas = {
        h: frost.repair_share_part1(helpers, packages[h], derive(seed, "repair", h), lost)
        for h in helpers
    }
    assert all(sorted(d) == sorted(helpers) for d in deltas.values())
    sigmas = [frost.repair_share_part2([deltas[f][h] for f in helpers]) for h in helpers]
    restored = frost.repair_share_part3(sigmas, lost, public)
    assert restored == packages[lost]
    signers = [
        lost,
        *data.draw(st.lists(st.sampled_from(others), min_size=t - 1, max_size=t - 1, unique=True)),
    ]
    restored_group = {**packages, lost: restored}
    frost.verify(
        public.group_public_key, b"y", signature(restored_group, public, signers, b"y", seed)
    )
    with pytest.raises(InsufficientSigners):
        frost.repair_share_part3(sigmas[: t - 1], lost, public)
    # A wrong sigma (one delta short) does not restore the share; the same sigma twice is
    # refused outright.
    short = frost.repair_share_part2([deltas[f][helpers[-1]] for f in helpers[:-1]])
    with pytest.raises(InvalidShare):
        frost.repair_share_part3([*sigmas[:-1], short], lost, public)
    with pytest.raises(InvalidArgument):
        frost.repair_share_part3([sigmas[0], *sigmas[:-1]], lost, public)


def test_repair_rejects_wrong_helper_sets() -> None:
    seed = b"h" * 32
    packages, public = dealer(2, 4, seed)
    with pytest.raises(InvalidArgument):  # the participant cannot help itself
        frost.repair_share_part1([1, 2], packages[1], seed, 2)
    with pytest.raises(InvalidArgument):  # this helper is not in the list
        frost.repair_share_part1([2, 3], packages[1], seed, 4)
    with pytest.raises(InsufficientSigners):
        frost.repair_share_part1([1], packages[1], seed, 4)
    with pytest.raises(InvalidArgument):
        frost.repair_share_part1([1, 1, 2], packages[1], seed, 4)
    with pytest.raises(InsufficientSigners):
        frost.repair_share_part2([])
    sigma = frost.repair_share_part2(
        list(frost.repair_share_part1([1, 2], packages[1], seed, 4).values())
    )
    with pytest.raises(InvalidArgument):
        frost.repair_share_part3([sigma, sigma], 9, public)
