"""Cryptography that needs randomness, drawn from a `RandomEffects`.

The pure operations live in `aura_core.crypto` and take their randomness as arguments; this
handler draws it from the bundle's random handler, so the same code is reproducible under the
simulator's seeded randomness. AEAD is XChaCha20-Poly1305 from libsodium (PyNaCl) with a fresh
24-byte nonce per message, prepended to the ciphertext.
"""

from __future__ import annotations

from collections.abc import Iterable

import nacl.bindings
import nacl.exceptions

from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SEED_LEN, SigningKey
from aura_core.effects import RandomEffects
from aura_core.errors import CryptoError, InvalidArgument

__all__ = ["AEAD_KEY_LEN", "AEAD_NONCE_LEN", "CryptoHandler"]

AEAD_KEY_LEN = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_KEYBYTES
AEAD_NONCE_LEN = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES


class CryptoHandler:
    """`CryptoEffects` over the native core and libsodium."""

    def __init__(self, random: RandomEffects) -> None:
        self._random = random

    async def seed(self) -> bytes:
        """32 bytes of key or RNG seed material for the pure crypto functions."""
        return await self._random.random_bytes(SEED_LEN)

    async def generate_signing_key(self) -> SigningKey:
        return SigningKey(await self.seed())

    # FROST operations that need randomness: the seed is drawn here, the rest is pure.

    async def frost_generate_with_dealer(
        self, min_signers: int, max_signers: int, identifiers: Iterable[int] | None = None
    ) -> tuple[dict[int, frost.SecretShare], frost.PublicKeyPackage]:
        return frost.generate_with_dealer(min_signers, max_signers, await self.seed(), identifiers)

    async def frost_split(
        self, secret: bytes, min_signers: int, max_signers: int
    ) -> tuple[dict[int, frost.SecretShare], frost.PublicKeyPackage]:
        return frost.split(secret, min_signers, max_signers, await self.seed())

    async def frost_dkg_part1(
        self, identifier: int, min_signers: int, max_signers: int
    ) -> tuple[frost.DkgRound1Secret, frost.DkgRound1Package]:
        return frost.dkg_part1(identifier, min_signers, max_signers, await self.seed())

    async def frost_commit(
        self, key_package: frost.KeyPackage
    ) -> tuple[frost.SigningNonces, frost.SigningCommitments]:
        return frost.commit(key_package, await self.seed())

    async def frost_refreshing_shares(
        self, public_key_package: frost.PublicKeyPackage, identifiers: Iterable[int]
    ) -> tuple[dict[int, frost.RefreshingShare], frost.PublicKeyPackage]:
        return frost.compute_refreshing_shares(public_key_package, identifiers, await self.seed())

    async def frost_refresh_dkg_part1(
        self, identifier: int, min_signers: int, max_signers: int
    ) -> tuple[frost.DkgRound1Secret, frost.DkgRound1Package]:
        return frost.refresh_dkg_part1(identifier, min_signers, max_signers, await self.seed())

    async def frost_repair_part1(
        self, helpers: Iterable[int], helper_key_package: frost.KeyPackage, participant: int
    ) -> dict[int, frost.Delta]:
        return frost.repair_share_part1(helpers, helper_key_package, await self.seed(), participant)

    async def aead_encrypt(self, key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
        _check_key(key)
        nonce = await self._random.random_bytes(AEAD_NONCE_LEN)
        sealed: bytes = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            plaintext, associated_data, nonce, key
        )
        return nonce + sealed

    async def aead_decrypt(self, key: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
        _check_key(key)
        if len(ciphertext) < AEAD_NONCE_LEN + 16:
            raise CryptoError("ciphertext too short")
        nonce, sealed = ciphertext[:AEAD_NONCE_LEN], ciphertext[AEAD_NONCE_LEN:]
        try:
            opened: bytes = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                sealed, associated_data, nonce, key
            )
        except nacl.exceptions.CryptoError:
            raise CryptoError("ciphertext or associated data was tampered with") from None
        return opened


def _check_key(key: bytes) -> None:
    if type(key) is not bytes or len(key) != AEAD_KEY_LEN:
        raise InvalidArgument(f"an AEAD key is {AEAD_KEY_LEN} bytes")
