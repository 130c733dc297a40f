"""The demonstration `aura demo` prints: the core types, then devices agreeing on changes.

First what every layer builds on (identifiers from entropy, the canonical record codec, content
ids, the policy lattice, context-key derivation, native Ed25519 signing), then the multi-device
tour in `aura_terminal.devices` (SQLite per device, simulated peers or TCP on loopback,
threshold consensus).

`--seed` makes the inputs reproducible, not the measurements: every identifier, key and
key-ceremony input, and so every content id, derived key and tree root printed, is the same on
each run with one seed; the time a change took, which witnesses answered first (`signed by`,
`path`) and, over TCP, the listeners' ports and static keys and the sync figures are measured on
the run and vary (the devices run on the real clock, threads and sockets, not the simulator).

`--data-dir` must be a new or empty directory, or one holding only an earlier demo's files
(`device-N.sqlite`, which are replaced); anything else is refused before anything is written.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

import attrs
from rich.console import Console
from rich.table import Table

from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import decode, encode, record
from aura_core.errors import EncodingError, InvalidArgument
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


_DEMO_FILE = re.compile(r"device-\d+\.sqlite(-wal|-shm|-journal)?")
"""What an earlier demo leaves in its data directory (SQLite's side files included)."""


def prepare_data_dir(path: Path) -> Path:
    """Make `path` ready for the demo's SQLite files: create it, or empty it of an earlier
    demo's files; `InvalidArgument` (before anything is written) if it is a file, holds
    anything else, or cannot be created or written to."""
    if path.exists() and not path.is_dir():
        raise InvalidArgument(f"--data-dir {path} exists and is not a directory")
    if path.is_dir():
        others = sorted(p.name for p in path.iterdir() if not _DEMO_FILE.fullmatch(p.name))
        if others:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            raise InvalidArgument(
                f"--data-dir {path} holds files the demo did not write ({shown}); "
                "give a new or empty directory"
            )
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise InvalidArgument(f"--data-dir {path} cannot be used: {exc.strerror or exc}") from None
    for earlier in sorted(path.iterdir()):
        earlier.unlink()
    return path


def run(seed: int | None, data_dir: Path | None = None, network: Network = Network.MEMORY) -> None:
    """Print the tour (see the module docstring for what a seed makes reproducible)."""
    if data_dir is not None:
        prepare_data_dir(data_dir)
    console = Console()
    counter = 0

    def entropy() -> bytes:
        nonlocal counter
        counter += 1
        if seed is None:
            return os.urandom(32)
        return hashlib.sha256(f"aura-demo:{seed}:{counter}".encode()).digest()

    console.rule("[bold]Aura for Python: core types")
    if seed is None:
        console.print("Entropy comes from the operating system.\n")
    else:
        console.print(
            f"Entropy comes from seed {seed}: every identifier, key and tree root below is the "
            "same on each run with it; the times, which witnesses signed first and (over TCP) "
            "ports, static keys and sync figures are measured on this run.\n"
        )

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
