"""FROST signing with every share in this process: test fixtures only (accounts dealt by a
trusted dealer for the agent and multi-host tests). Devices sign through the networked
`aura_protocol.ceremonies.CeremonyService`."""

from __future__ import annotations

from collections.abc import Mapping

from aura_core.crypto import frost


def sign_locally(
    keys: Mapping[int, frost.KeyPackage],
    public: frost.PublicKeyPackage,
    message: bytes,
    seeds: Mapping[int, bytes],
) -> bytes:
    """Both FROST rounds and the aggregate for `keys`, with one nonce seed per signer."""
    nonces = {i: frost.commit(key, seeds[i]) for i, key in keys.items()}
    package = frost.signing_package({i: c for i, (_, c) in nonces.items()}, message)
    shares = {i: frost.sign(package, nonces[i][0], keys[i]) for i in keys}
    return frost.aggregate(package, shares, public)
