"""RFC 9591 Appendix E.1, FROST(Ed25519, SHA-512), reproduced byte for byte through the Python API.

The vector is data in `frost_rfc9591_ed25519.json`. Secret values (shares, nonces) are read
out of their canonical encodings: our one-byte type tag, then the ZF crates' postcard format,
whose layouts that crate fixes: a 5-byte header (version 0, ciphersuite id), then the fields in
order. A signature share's encoding is its tag, then the bare 32-byte scalar.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from aura_core.crypto import frost
from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.errors import InvalidSignature

VECTOR: dict[str, Any] = json.loads(
    (Path(__file__).parent / "frost_rfc9591_ed25519.json").read_text()
)
HEADER = bytes.fromhex("00b169f0da")  # format version 0, CRC-32 of "FROST-ED25519-SHA512-v1"
KEY_PACKAGE_TAG = b"\x03"
SIGNING_NONCES_TAG = b"\x05"
SIGNATURE_SHARE_TAG = b"\x08"


def h(value: str) -> bytes:
    return bytes.fromhex(value)


def signing_share(package: frost.KeyPackage) -> bytes:
    """KeyPackage = tag ‖ header ‖ identifier(32) ‖ signing_share(32) ‖ verifying_share(32) ‖ ..."""
    raw = package.to_bytes()
    assert raw[:6] == KEY_PACKAGE_TAG + HEADER
    assert raw[6:38] == package.identifier.to_bytes(32, "little")
    return raw[38:70]


def nonces_of(nonces: frost.SigningNonces) -> tuple[bytes, bytes]:
    """SigningNonces = tag ‖ header ‖ hiding(32) ‖ binding(32) ‖ commitments."""
    raw = nonces.to_bytes()
    assert raw[:6] == SIGNING_NONCES_TAG + HEADER
    return raw[6:38], raw[38:70]


@pytest.fixture(scope="module")
def dealt() -> tuple[dict[int, frost.KeyPackage], frost.PublicKeyPackage]:
    inputs = VECTOR["inputs"]
    shares, public = frost.split_with_coefficients(
        h(inputs["group_secret_key"]),
        [h(c) for c in inputs["share_polynomial_coefficients"]],
        VECTOR["config"]["max_participants"],
    )
    return {i: frost.key_package(s) for i, s in shares.items()}, public


def test_shares_and_group_key(
    dealt: tuple[dict[int, frost.KeyPackage], frost.PublicKeyPackage],
) -> None:
    packages, public = dealt
    inputs = VECTOR["inputs"]
    assert public.group_public_key == VerifyingKey(h(inputs["group_public_key"]))
    assert public.min_signers == VECTOR["config"]["min_participants"]
    assert sorted(packages) == [1, 2, 3]
    for identifier, package in packages.items():
        assert signing_share(package) == h(inputs["participant_shares"][str(identifier)])
        assert package.verifying_share == public.verifying_shares[identifier]


def test_signing_round_by_round(
    dealt: tuple[dict[int, frost.KeyPackage], frost.PublicKeyPackage],
) -> None:
    packages, public = dealt
    message = h(VECTOR["inputs"]["message"])
    signers = VECTOR["inputs"]["participant_list"]
    assert signers == [1, 3]
    nonces: dict[int, frost.SigningNonces] = {}
    commitments: dict[int, frost.SigningCommitments] = {}
    for i in signers:
        expected = VECTOR["round_one_outputs"][str(i)]
        nonces[i], commitments[i] = frost.commit_with_randomness(
            packages[i],
            h(expected["hiding_nonce_randomness"]),
            h(expected["binding_nonce_randomness"]),
        )
        assert nonces_of(nonces[i]) == (h(expected["hiding_nonce"]), h(expected["binding_nonce"]))
        assert commitments[i].hiding == h(expected["hiding_nonce_commitment"])
        assert commitments[i].binding == h(expected["binding_nonce_commitment"])
        assert nonces[i].commitments == commitments[i]

    package = frost.signing_package(commitments, message)
    factors = frost.binding_factors(package, public)
    assert factors == {i: h(VECTOR["round_one_outputs"][str(i)]["binding_factor"]) for i in signers}

    shares = {i: frost.sign(package, nonces[i], packages[i]) for i in signers}
    for i in signers:
        sig_share = h(VECTOR["round_two_outputs"][str(i)]["sig_share"])
        assert shares[i].to_bytes() == SIGNATURE_SHARE_TAG + sig_share

    signature = frost.aggregate(package, shares, public)
    assert signature == h(VECTOR["final_output"]["sig"])
    frost.verify(public.group_public_key, message, signature)
    public.group_public_key.verify(message, signature)
    nacl.signing.VerifyKey(public.group_public_key.raw).verify(message, signature)
    with pytest.raises(InvalidSignature):
        frost.verify(public.group_public_key, message + b"!", signature)
