"""The demonstration `aura demo` prints: the core types, then devices agreeing on changes.

First what every layer builds on (identifiers from entropy, the canonical record codec, content
ids, the policy lattice, context-key derivation, native Ed25519 signing), then the multi-device
tour in `aura_terminal.devices` (SQLite per device, simulated peers or TCP on loopback,
threshold consensus).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import attrs
from rich.console import Console
from rich.table import Table

from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import decode, encode, record
from aura_core.errors import EncodingError
from aura_core.hashing import content_id
from aura_core.ids import AuthorityId, ContextId, DeviceId
from aura_core.kdf import derive_context_key
from aura_core.lattice import Policy
from aura_terminal import devices
from aura_terminal.devices import Network


@record("demo.device_added")
@attrs.frozen
class DeviceAdded:
    """A toy record: a device joined an authority."""

    authority: AuthorityId
    device: DeviceId
    label: str
    public_key: bytes


def run(seed: int | None, data_dir: Path | None = None, network: Network = Network.MEMORY) -> None:
    """Print the tour. With a seed, every identity, key and key-ceremony input is derived from
    it (consensus nonces and timings still come from the system)."""
    console = Console()
    counter = 0

    def entropy() -> bytes:
        nonlocal counter
        counter += 1
        if seed is None:
            return os.urandom(32)
        return hashlib.sha256(f"aura-demo:{seed}:{counter}".encode()).digest()

    source = "operating system" if seed is None else f"seed {seed}"
    console.rule("[bold]Aura for Python: core types")
    console.print(f"Entropy comes from the {source}.\n")

    alice = AuthorityId.from_entropy(entropy())
    laptop = DeviceId.from_entropy(entropy())
    family = ContextId.from_entropy(entropy())
    ids = Table("kind", "text form", "parses back", title="Identifiers")
    for value in (alice, laptop, family):
        ids.add_row(type(value).__name__, str(value), str(type(value).parse(str(value)) == value))
    console.print(ids)

    key = SigningKey(entropy())
    fact = DeviceAdded(alice, laptop, "laptop", key.verifying_key.raw)
    data = encode(fact)
    signature = key.sign(data)
    key.verifying_key.verify(data, signature)
    codec = Table("step", "result", title="Canonical record codec")
    codec.add_row("encode(DeviceAdded)", f"{len(data)} bytes: {data[:24].hex()}…")
    codec.add_row("content id", str(content_id(fact)))
    codec.add_row("decode(encode(x)) == x", str(decode(data, DeviceAdded) == fact))
    codec.add_row("Ed25519 signature (native)", f"{signature[:16].hex()}… verifies")
    try:
        decode(data + b"\x00", DeviceAdded)
    except EncodingError as exc:
        codec.add_row("trailing byte", f"rejected: {exc.message}")
    console.print(codec)

    policies = Table("a", "b", "meet (the stricter)", "signers needed", title="Policy lattice")
    pairs = [
        (Policy.any(), Policy.threshold(3, 5)),
        (Policy.threshold(2, 3), Policy.threshold(3, 5)),
        (Policy.threshold(1, 2), Policy.threshold(2, 4)),
        (Policy.threshold(4, 5), Policy.all()),
    ]
    for a, b in pairs:
        met = a.meet(b)
        children = met.n or 5
        needed = f"{met.required_signers(children)} of {children}"
        policies.add_row(str(a), str(b), str(met), needed)
    console.print(policies)

    root = entropy()
    keys = Table("epoch", "chat key for the family context", title="Context keys (KDF)")
    for epoch in (0, 1):
        derived = derive_context_key(root, app="chat", context=family, epoch=epoch)
        keys.add_row(str(epoch), derived.hex())
    console.print(keys)
    console.print("Rotating the epoch changes every derived key; no device id is an input.")
    devices.run(console, entropy, data_dir, network)
