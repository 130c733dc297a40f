"""FROST encodings: every type round-trips, and random or damaged bytes fed to every decoder
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
from tests.core.crypto.frost_support import derive, round_two

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


TYPES = [
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


def test_cross_type_bytes_are_refused() -> None:
    """Bytes of one type never decode as another (apart from the pairs that share a format:
    dealt and refreshing shares, and the raw 32-byte scalars)."""
    same_format = [
        {frost.SecretShare, frost.RefreshingShare},
        {frost.SignatureShare, frost.Delta, frost.Sigma},
    ]
    for source, value in samples().items():
        raw = value.to_bytes()
        for target in TYPES:
            if target is source or any({source, target} <= group for group in same_format):
                continue
            with pytest.raises(MalformedCryptoData):
                target.from_bytes(raw)


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
