"""FROST signing through the Python API: thresholds, cheater detection, nonce handling,
determinism, errors, and what a `repr` shows."""

from __future__ import annotations

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.crypto import frost
from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.errors import (
    CryptoError,
    InsufficientSigners,
    InvalidArgument,
    InvalidShare,
    InvalidSignature,
    MalformedCryptoData,
    MalformedKey,
    NonceReuse,
)
from aura_sim.testing.strategies import entropy
from tests.core.crypto.frost_support import (
    corrupt,
    dealer,
    derive,
    dkg,
    repeated,
    round_two,
    signature,
    thresholds,
)

messages = st.binary(max_size=80)
custom_ids = st.integers(1, 65535)


@settings(max_examples=80)
@given(st.data(), thresholds(), entropy, messages)
def test_any_threshold_subset_signs_a_plain_ed25519_signature(
    data: st.DataObject, tn: tuple[int, int], seed: bytes, message: bytes
) -> None:
    t, n = tn
    ids = data.draw(st.none() | st.lists(custom_ids, min_size=n, max_size=n, unique=True))
    packages, public = dealer(t, n, seed, ids)
    assert sorted(packages) == sorted(ids or range(1, n + 1))
    assert public.identifiers == tuple(sorted(packages))
    assert (public.min_signers, public.max_signers) == (t, n)
    signers = data.draw(
        st.lists(st.sampled_from(sorted(packages)), min_size=t, max_size=t, unique=True)
    )
    sig = signature(packages, public, signers, message, seed)
    assert len(sig) == frost.SIGNATURE_LEN
    frost.verify(public.group_public_key, message, sig)
    public.group_public_key.verify(message, sig)
    nacl.signing.VerifyKey(public.group_public_key.raw).verify(message, sig)
    for package in packages.values():
        assert package.group_public_key == public.group_public_key
        assert package.min_signers == t
    with pytest.raises(InvalidSignature):
        frost.verify(public.group_public_key, message + b"x", sig)


@settings(max_examples=40)
@given(st.data(), thresholds(), entropy)
def test_fewer_than_threshold_cannot_sign(
    data: st.DataObject, tn: tuple[int, int], seed: bytes
) -> None:
    t, n = tn
    packages, public = dealer(t, n, seed)
    signers = data.draw(st.lists(st.integers(1, n), min_size=1, max_size=t - 1, unique=True))
    round1 = {i: frost.commit(packages[i], derive(seed, "c", i)) for i in signers}
    package = frost.signing_package({i: c for i, (_, c) in round1.items()}, b"m")
    for i, (nonces, _) in round1.items():
        with pytest.raises(InsufficientSigners):
            frost.sign(package, nonces, packages[i])
        assert not nonces.used

    # Lowering the recorded threshold in the encodings does not help: t - 1 shares interpolate
    # the wrong key, every share checks out on its own, and the aggregate does not verify.
    if len(signers) < 2:
        with pytest.raises(MalformedCryptoData):  # a threshold of 1 does not even decode
            frost.KeyPackage.from_bytes(packages[signers[0]].to_bytes()[:-1] + b"\x01")
        return
    lowered = len(signers)
    forged = {
        i: frost.KeyPackage.from_bytes(packages[i].to_bytes()[:-1] + bytes([lowered]))
        for i in signers
    }
    forged_public = frost.PublicKeyPackage.from_bytes(public.to_bytes()[:-1] + bytes([lowered]))
    assert forged_public.min_signers == lowered
    with pytest.raises(InvalidSignature):
        signature(forged, forged_public, signers, b"m", seed)


@settings(max_examples=60)
@given(st.data(), thresholds(), entropy)
def test_corrupted_shares_are_named_exactly(
    data: st.DataObject, tn: tuple[int, int], seed: bytes
) -> None:
    t, n = tn
    packages, public = dealer(t, n, seed)
    signers = data.draw(st.lists(st.integers(1, n), min_size=t, max_size=n, unique=True))
    cheaters = data.draw(st.lists(st.sampled_from(signers), min_size=1, unique=True))
    package, shares = round_two(packages, signers, b"msg", seed)
    honest = dict(shares)
    for i in cheaters:
        shares[i] = corrupt(shares[i])
    with pytest.raises(InvalidShare) as caught:
        frost.aggregate(package, shares, public)
    assert caught.value.culprits == tuple(sorted(cheaters))
    # Nothing was consumed or changed by the failure: the honest shares still aggregate.
    frost.verify(public.group_public_key, b"msg", frost.aggregate(package, honest, public))


@settings(max_examples=10)
@given(thresholds(max_n=6), entropy, entropy)
def test_same_seed_same_bytes_for_keygen_dkg_and_signing(
    tn: tuple[int, int], seed: bytes, other: bytes
) -> None:
    t, n = tn

    def run(s: bytes) -> list[bytes]:
        shares, public = frost.generate_with_dealer(t, n, s)
        packages = {i: frost.key_package(x) for i, x in shares.items()}
        package, sig_shares = round_two(packages, range(1, t + 1), b"same", s)
        out = [x.to_bytes() for x in shares.values()] + [public.to_bytes(), package.to_bytes()]
        out += [x.to_bytes() for x in sig_shares.values()]
        out.append(frost.aggregate(package, sig_shares, public))
        dkg_packages, dkg_publics = dkg(t, n, s)
        out += [x.to_bytes() for x in dkg_packages.values()] + [dkg_publics[1].to_bytes()]
        return out

    first = run(seed)
    assert first == run(seed)
    if other != seed:
        assert all(a != b for a, b in zip(first, run(other), strict=True))


def test_nonces_are_single_use_and_survive_failures() -> None:
    packages, public = dealer(2, 3, b"n" * 32)
    n1, c1 = frost.commit(packages[1], b"\x01" * 32)
    n2, c2 = frost.commit(packages[2], b"\x02" * 32)
    _, c3 = frost.commit(packages[3], b"\x03" * 32)
    saved = n1.to_bytes()
    # A package without participant 1's commitment, or with another one in its place, fails
    # and leaves the nonces unused.
    with pytest.raises(InvalidArgument):
        frost.sign(frost.signing_package({2: c2, 3: c3}, b"m"), n1, packages[1])
    with pytest.raises(InvalidArgument):
        frost.sign(frost.signing_package({1: c3, 2: c2}, b"m"), n1, packages[1])
    assert not n1.used
    package = frost.signing_package({1: c1, 2: c2}, b"m")
    share1 = frost.sign(package, n1, packages[1])
    assert n1.used
    with pytest.raises(NonceReuse):
        frost.sign(package, n1, packages[1])
    with pytest.raises(NonceReuse):
        frost.sign(frost.signing_package({1: c1, 3: c3}, b"other"), n1, packages[1])
    with pytest.raises(NonceReuse):
        n1.to_bytes()
    assert n1.commitments == c1
    share2 = frost.sign(package, n2, packages[2])
    frost.verify(
        public.group_public_key, b"m", frost.aggregate(package, {1: share1, 2: share2}, public)
    )
    # Restored nonces are a new handle: the caller who restores must delete what it stored.
    restored = frost.SigningNonces.from_bytes(saved)
    assert restored.commitments == c1 and not restored.used


def test_aggregate_argument_errors() -> None:
    packages, public = dealer(2, 4, b"a" * 32)
    package, shares = round_two(packages, [1, 2, 3], b"m", b"a" * 32)
    with pytest.raises(InsufficientSigners):
        frost.aggregate(package, {1: shares[1], 2: shares[2]}, public)
    _, extra = round_two(packages, [3, 4], b"m", b"b" * 32)
    with pytest.raises(InvalidArgument):
        frost.aggregate(package, {**shares, 4: extra[4]}, public)
    _, other_public = dealer(2, 4, b"b" * 32)
    with pytest.raises(InvalidShare) as caught:  # shares for another group's key
        frost.aggregate(package, shares, other_public)
    assert caught.value.culprits == (1, 2, 3)
    foreign, _ = dealer(2, 3, b"c" * 32, [5, 6, 7])
    foreign_package, foreign_shares = round_two(foreign, [5, 6], b"m", b"c" * 32)
    with pytest.raises(InvalidArgument):  # signers outside this group
        frost.aggregate(foreign_package, foreign_shares, public)


@settings(max_examples=40)
@given(st.data(), thresholds(), entropy)
def test_a_signer_listed_twice_is_refused(
    data: st.DataObject, tn: tuple[int, int], seed: bytes
) -> None:
    """A `Mapping` that yields a signer twice (with its own or another value, anywhere in the
    order) is refused by `signing_package` and `aggregate`; before, the last entry won, so a bad
    share followed by a good one aggregated silently."""
    t, n = tn
    packages, public = dealer(t, n, seed)
    signers = data.draw(st.lists(st.integers(1, n), min_size=t, max_size=n, unique=True))
    package, shares = round_two(packages, signers, b"twice", seed)
    twice = data.draw(st.sampled_from(signers))
    at = data.draw(st.integers(0, len(signers)))
    share = data.draw(st.sampled_from([shares[twice], corrupt(shares[twice])]))
    with pytest.raises(InvalidArgument, match=f"participant {twice} appears more than once"):
        frost.aggregate(package, repeated(shares, twice, share, at), public)
    commitments = package.commitments
    with pytest.raises(InvalidArgument, match=f"participant {twice} appears more than once"):
        frost.signing_package(repeated(commitments, twice, commitments[twice], at), b"twice")
    # Nothing changed: the same shares, listed once, aggregate.
    frost.verify(public.group_public_key, b"twice", frost.aggregate(package, shares, public))


def test_argument_errors_are_typed() -> None:
    seed = b"s" * 32
    for bad in [(1, 3), (4, 3), (0, 0), (2, 1)]:
        with pytest.raises(InvalidArgument):
            frost.generate_with_dealer(*bad, seed)
    with pytest.raises(InvalidArgument):
        frost.generate_with_dealer(2, 3, seed[:31])
    with pytest.raises(InvalidArgument):
        frost.generate_with_dealer(2, 3, bytearray(seed))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        frost.generate_with_dealer(2, 70000, seed)
    with pytest.raises(InvalidArgument):
        frost.generate_with_dealer(2, 3, seed, [1, 2])
    with pytest.raises(InvalidArgument):
        frost.generate_with_dealer(2, 3, seed, [1, 2, 2])
    with pytest.raises(InvalidArgument):
        frost.split(b"\x01" + bytes(31), 2, 3, seed, [3, 1, 3])
    with pytest.raises(InvalidArgument):
        frost.split_with_coefficients(b"\x01" + bytes(31), [b"\x02" + bytes(31)], 3, [1, 2, 1])
    with pytest.raises(InvalidArgument):
        frost.generate_with_dealer(2, 3, seed, [0, 1, 2])
    with pytest.raises(InvalidArgument):
        frost.generate_with_dealer(2, 3, seed, [1, 2, 65536])
    with pytest.raises(InvalidArgument):
        frost.generate_with_dealer(True, 3, seed)
    with pytest.raises(MalformedKey):
        frost.split(bytes(32), 2, 3, seed)
    with pytest.raises(MalformedKey):
        frost.split(b"\xff" * 32, 2, 3, seed)  # not a canonical scalar
    packages, public = dealer(2, 3, seed)
    with pytest.raises(InvalidArgument):
        frost.commit(packages[1], seed[:5])
    with pytest.raises(InvalidArgument):
        frost.commit_with_randomness(packages[1], seed, seed[:31])
    with pytest.raises(InvalidArgument):
        frost.sign(public, *frost.commit(packages[1], seed))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        frost.signing_package({0: frost.commit(packages[1], seed)[1]}, b"m")
    with pytest.raises(InsufficientSigners):
        frost.signing_package({}, b"m")
    with pytest.raises(InvalidArgument):
        frost.verify(public.group_public_key.raw, b"m", bytes(64))  # type: ignore[arg-type]
    with pytest.raises(InvalidSignature):
        frost.verify(public.group_public_key, b"m", bytes(63))
    with pytest.raises(MalformedKey):
        frost.verify(VerifyingKey((1).to_bytes(32, "little")), b"m", bytes(64))
    with pytest.raises(TypeError):
        frost.KeyPackage()
    with pytest.raises(AttributeError):
        packages[1]._native = None
    # All of these are CryptoErrors or InvalidArguments, never a bare native exception.
    assert issubclass(NonceReuse, CryptoError)


def test_secrets_never_show_in_repr() -> None:
    seed = b"r" * 32
    shares, public = frost.generate_with_dealer(2, 3, seed)
    package = frost.key_package(shares[1])
    nonces, commitments = frost.commit(package, seed)
    secret_share = package.to_bytes()[38:70]  # after the tag, ZF header and identifier
    r1_secret, r1_package = frost.dkg_part1(1, 2, 3, seed)
    deltas = frost.repair_share_part1([1, 2], package, seed, 3)
    secrets: list[object] = [shares[1], package, nonces, r1_secret, deltas[1]]
    for value in secrets:
        text = repr(value) + str(value)
        assert "<secret>" in text
        raw = value.to_bytes()  # type: ignore[attr-defined]
        for start in range(len(raw) - 15):
            assert raw[start : start + 16].hex() not in text or raw[start : start + 16] in (
                public.group_public_key.raw + package.verifying_share
            )
        assert secret_share.hex() not in text
        if not isinstance(value, frost.SigningNonces):  # nonces hash by identity
            with pytest.raises(TypeError):
                hash(value)
    assert public.group_public_key.raw.hex() in repr(public)
    assert "hiding=" in repr(commitments)
    assert "commitment[0]=" in repr(r1_package)
