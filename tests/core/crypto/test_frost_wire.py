"""FROST encodings: every type round-trips, bytes of one type never decode as another, secret
DKG state must agree with its own commitment, and random or damaged bytes fed to every decoder
give `MalformedCryptoData` (or, for bytes that happen to be valid, a value that re-encodes to
exactly those bytes) — never another exception, a panic or a crash."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.crypto import frost
from aura_core.errors import MalformedCryptoData
from aura_sim.testing.strategies import entropy
from tests.core.crypto.frost_support import dealer, derive, round_two, thresholds

Decoder = Callable[[bytes], Any]


@cache
def samples() -> dict[type[Any], Any]:
    """One value of every FROST type, from a 3-of-4 group."""
    seed = b"w" * 32
    shares, public = frost.generate_with_dealer(3, 4, seed)
    packages = {i: frost.key_package(s) for i, s in shares.items()}
    nonces, commitments = frost.commit(packages[1], derive(seed, "n"))
    signing_package, signature_shares = round_two(packages, [1, 2, 3], b"wire", seed)
    r1 = {i: frost.dkg_part1(i, 2, 3, derive(seed, "dkg", i)) for i in (1, 2, 3)}
    r2_secret, r2_packages = frost.dkg_part2(r1[1][0], {2: r1[2][1], 3: r1[3][1]})
    zero, _ = frost.compute_refreshing_shares(public, [1, 2, 3], seed)
    deltas = frost.repair_share_part1([1, 2, 3], packages[1], seed, 4)
    sigma = frost.repair_share_part2(list(deltas.values()))
    values: list[Any] = [
        shares[1],
        zero[1],
        packages[1],
        public,
        nonces,
        commitments,
        signing_package,
        signature_shares[1],
        r1[1][0],
        r1[1][1],
        r2_secret,
        r2_packages[2],
        deltas[2],
        sigma,
    ]
    return {type(v): v for v in values}


TYPES: list[type[Any]] = [
    frost.SecretShare,
    frost.RefreshingShare,
    frost.KeyPackage,
    frost.PublicKeyPackage,
    frost.SigningNonces,
    frost.SigningCommitments,
    frost.SigningPackage,
    frost.SignatureShare,
    frost.DkgRound1Secret,
    frost.DkgRound1Package,
    frost.DkgRound2Secret,
    frost.DkgRound2Package,
    frost.Delta,
    frost.Sigma,
]


def test_samples_cover_every_type() -> None:
    assert set(samples()) == set(TYPES)
    exported = {getattr(frost, name) for name in frost.__all__}
    assert {t for t in exported if isinstance(t, type)} == set(TYPES)


@pytest.mark.parametrize("kind", TYPES, ids=lambda t: t.__name__)
def test_round_trip(kind: type[Any]) -> None:
    value = samples()[kind]
    raw = value.to_bytes()
    again = kind.from_bytes(raw)
    assert again.to_bytes() == raw
    if kind is not frost.SigningNonces:  # nonces compare by identity
        assert again == value
        assert again is not value


@pytest.mark.parametrize("kind", TYPES, ids=lambda t: t.__name__)
def test_values_are_immutable_and_not_pickled(kind: type[Any]) -> None:
    value = samples()[kind]
    assert copy.copy(value) is value
    assert copy.deepcopy(value) is value
    with pytest.raises(TypeError):
        pickle.dumps(value)
    with pytest.raises(AttributeError):
        value._native = None


def check_decoder(kind: type[Any], data: bytes) -> None:
    try:
        value = kind.from_bytes(data)
    except MalformedCryptoData:
        return
    assert value.to_bytes() == data


@settings(max_examples=600)
@given(st.sampled_from(TYPES), st.binary(max_size=400))
def test_random_bytes_give_typed_errors(kind: type[Any], data: bytes) -> None:
    check_decoder(kind, data)


@settings(max_examples=600)
@given(st.sampled_from(TYPES), st.data())
def test_damaged_encodings_give_typed_errors(kind: type[Any], data: st.DataObject) -> None:
    raw = samples()[kind].to_bytes()
    edit = data.draw(st.sampled_from(["flip", "cut", "extend", "splice"]))
    if edit == "flip":
        at = data.draw(st.integers(0, len(raw) - 1))
        damaged = raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1 :]
    elif edit == "cut":
        damaged = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif edit == "extend":
        damaged = raw + data.draw(st.binary(min_size=1, max_size=8))
    else:
        at = data.draw(st.integers(0, len(raw)))
        damaged = raw[:at] + data.draw(st.binary(min_size=1, max_size=40)) + raw[at:]
    check_decoder(kind, damaged)
    if edit in ("cut", "extend"):
        with pytest.raises(MalformedCryptoData):
            kind.from_bytes(damaged)


@pytest.mark.parametrize("kind", TYPES, ids=lambda t: t.__name__)
def test_non_bytes_are_refused(kind: type[Any]) -> None:
    raw = samples()[kind].to_bytes()
    for wrong in (bytearray(raw), memoryview(raw), raw.hex(), None):
        with pytest.raises(MalformedCryptoData):
            kind.from_bytes(wrong)


def every_type(t: int, n: int, seed: bytes) -> dict[type[Any], list[Any]]:
    """Values of every FROST type from a t-of-n group: every participant's dealt share and share
    of zero (for t >= 3 their bodies look alike), and one or more of each other type."""
    shares, public = frost.generate_with_dealer(t, n, derive(seed, "dealer"))
    packages = {i: frost.key_package(s) for i, s in shares.items()}
    nonces, commitments = frost.commit(packages[1], derive(seed, "commit"))
    signing_package, signature_shares = round_two(packages, range(1, t + 1), b"tags", seed)
    r1 = {i: frost.dkg_part1(i, t, n, derive(seed, "dkg", i)) for i in range(1, n + 1)}
    r2_secret, r2_packages = frost.dkg_part2(r1[1][0], {i: r1[i][1] for i in range(2, n + 1)})
    zero, _ = frost.compute_refreshing_shares(public, range(1, n + 1), derive(seed, "zero"))
    refresh_secret, _ = frost.refresh_dkg_part1(1, t, n, derive(seed, "refresh"))
    helpers = list(range(1, t + 1))
    deltas = frost.repair_share_part1(helpers, packages[1], derive(seed, "repair"), n + 1)
    return {
        frost.SecretShare: list(shares.values()),
        frost.RefreshingShare: list(zero.values()),
        frost.KeyPackage: [packages[1]],
        frost.PublicKeyPackage: [public],
        frost.SigningNonces: [nonces],
        frost.SigningCommitments: [commitments],
        frost.SigningPackage: [signing_package],
        frost.SignatureShare: list(signature_shares.values()),
        frost.DkgRound1Secret: [r1[1][0], refresh_secret],
        frost.DkgRound1Package: [r1[1][1]],
        frost.DkgRound2Secret: [r2_secret],
        frost.DkgRound2Package: list(r2_packages.values()),
        frost.Delta: list(deltas.values()),
        frost.Sigma: [frost.repair_share_part2(list(deltas.values()))],
    }


@settings(max_examples=40, deadline=None)
@given(thresholds(max_n=10), entropy)
def test_bytes_of_one_type_never_decode_as_another(tn: tuple[int, int], seed: bytes) -> None:
    """For every ordered pair of distinct types, no value's bytes decode as the other type; each
    decodes as its own. (Before type tags, a share of zero decoded as a dealt share, and
    signature shares, deltas and sigmas — all bare scalars — as each other.)"""
    t, n = tn
    values = every_type(t, n, seed)
    assert set(values) == set(TYPES)
    for source, sources in values.items():
        for value in sources:
            raw = value.to_bytes()
            assert source.from_bytes(raw).to_bytes() == raw
            for target in TYPES:
                if target is not source:
                    with pytest.raises(MalformedCryptoData):
                        target.from_bytes(raw)


def test_encodings_start_with_distinct_type_tags() -> None:
    """The first byte names the type: one distinct tag per type, so no two types' encodings can
    ever be equal, whatever the bodies."""
    tags = {kind: samples()[kind].to_bytes()[0] for kind in TYPES}
    assert len(set(tags.values())) == len(TYPES)
    for kind, value in samples().items():
        raw = value.to_bytes()
        retagged = bytes([(raw[0] % 255) + 1 if raw[0] != 0xFF else 1]) + raw[1:]
        assert retagged[0] != raw[0]
        with pytest.raises(MalformedCryptoData):
            kind.from_bytes(retagged)
        with pytest.raises(MalformedCryptoData):  # the untagged body
            kind.from_bytes(raw[1:])


def test_secret_values_hide_in_repr() -> None:
    public_types = {
        frost.PublicKeyPackage,
        frost.SigningCommitments,
        frost.SigningPackage,
        frost.SignatureShare,
        frost.DkgRound1Package,
    }
    for kind, value in samples().items():
        text = repr(value)
        if kind in public_types:
            hash(value)
            continue
        assert "<secret>" in text, kind
        if kind is frost.SigningNonces:
            assert hash(value) == hash(value)  # by identity
        else:
            with pytest.raises(TypeError):
                hash(value)


def round1_layout(raw: bytes, t: int) -> tuple[int, int, int]:
    """Where the coefficients and the commitment of a DKG round-1 secret start, and how many
    coefficients its commitment has (t for a DKG, t - 1 for a refresh). The encoding is the
    tag, then the ZF postcard body (no header): identifier(32) ‖ varint t ‖ t scalars ‖ varint c
    ‖ c points ‖ min_signers ‖ max_signers; every count here is below 128, one varint byte."""
    assert raw[33] == t
    coefficients = 34
    committed = raw[coefficients + 32 * t]
    assert committed in (t, t - 1)
    commitment = coefficients + 32 * t + 1
    assert len(raw) == commitment + 32 * committed + 2
    return coefficients, commitment, committed


def splice(raw: bytes, at: int, part: bytes) -> bytes:
    return raw[:at] + part + raw[at + len(part) :]


@settings(max_examples=40, deadline=None)
@given(thresholds(max_n=10), entropy, st.booleans(), st.data())
def test_round1_secret_must_match_its_commitment(
    tn: tuple[int, int], seed: bytes, refresh: bool, data: st.DataObject
) -> None:
    """A round-1 secret whose coefficients and commitment disagree (a coefficient or the whole
    commitment taken from another polynomial, or a share-of-zero polynomial with a non-zero
    constant term) is `MalformedCryptoData`; it would deal shares that fail against the
    commitment its owner broadcast."""
    t, n = tn
    part1 = frost.refresh_dkg_part1 if refresh else frost.dkg_part1
    me = data.draw(st.integers(1, n))
    secret, _ = part1(me, t, n, derive(seed, "mine"))
    other, _ = part1(me, t, n, derive(seed, "other"))
    raw, alt = secret.to_bytes(), other.to_bytes()
    coefficients, commitment, committed = round1_layout(raw, t)
    assert committed == (t - 1 if refresh else t)

    k = data.draw(st.integers(1 if refresh else 0, t - 1))  # a committed coefficient
    at = coefficients + 32 * k
    tampered = [
        splice(raw, at, alt[at : at + 32]),
        splice(raw, commitment, alt[commitment : commitment + 32 * committed]),
    ]
    if refresh:  # a non-zero constant term (the commitment leaves it out)
        dkg_secret, _ = frost.dkg_part1(me, t, n, derive(seed, "dkg"))
        tampered.append(splice(raw, coefficients, dkg_secret.to_bytes()[34:66]))
    for bad in tampered:
        with pytest.raises(MalformedCryptoData, match="DKG round 1 secret"):
            frost.DkgRound1Secret.from_bytes(bad)
    # The bytes as they were still decode, to an equal secret.
    assert frost.DkgRound1Secret.from_bytes(raw) == secret


def test_dkg_secrets_are_checked_on_decoding_and_still_finish() -> None:
    """Round-1 and round-2 secrets from the DKG and from the DKG-style refresh: tampered bytes
    are refused, and the untampered ones, restored from bytes, finish the protocol."""
    seed = b"k" * 32
    t, n = 3, 4
    ids = range(1, n + 1)
    old, public = dealer(t, n, seed)
    for refresh in (False, True):
        part1 = frost.refresh_dkg_part1 if refresh else frost.dkg_part1
        part2 = frost.refresh_dkg_part2 if refresh else frost.dkg_part2
        r1 = {i: part1(i, t, n, derive(seed, refresh, i)) for i in ids}

        others = {i: {j: r1[j][1] for j in ids if j != i} for i in ids}
        raw = r1[1][0].to_bytes()
        coefficients, _, _ = round1_layout(raw, t)
        last = coefficients + 32 * (t - 1)
        forged = splice(raw, last, r1[2][0].to_bytes()[last : last + 32])
        with pytest.raises(MalformedCryptoData, match="DKG round 1 secret"):
            frost.DkgRound1Secret.from_bytes(forged)
        restored = frost.DkgRound1Secret.from_bytes(raw)
        r2 = {i: part2(restored if i == 1 else r1[i][0], others[i]) for i in ids}

        # Round-2 secret = tag ‖ identifier(32) ‖ varint c ‖ c points ‖ own share(32) ‖ min ‖ max.
        raw2, foreign = r2[1][0].to_bytes(), r2[2][0].to_bytes()
        share_at = len(raw2) - 34
        for bad in (
            splice(raw2, share_at, foreign[share_at : share_at + 32]),  # another's own share
            splice(raw2, 34, foreign[34:share_at]),  # another's commitment
        ):
            with pytest.raises(MalformedCryptoData, match="DKG round 2 secret"):
                frost.DkgRound2Secret.from_bytes(bad)
        secret2 = frost.DkgRound2Secret.from_bytes(raw2)
        assert secret2 == r2[1][0]

        received = {j: r2[j][1][1] for j in ids if j != 1}
        if refresh:
            key, new_public = frost.refresh_dkg_shares(secret2, others[1], received, public, old[1])
            assert new_public.group_public_key == public.group_public_key
        else:
            key, new_public = frost.dkg_part3(secret2, others[1], received)
        assert key.identifier == 1
        assert key.verifying_share == new_public.verifying_shares[1]
