"""What an agent runs on: the seam between the agent's one core and the world around it.

`Agent.open` puts a device on its production parts (OS randomness and clock, SQLite storage,
a key file, TCP, a Unix-socket API); `Agent.run` runs the same core on any `AgentParts`, which
is how the simulator hosts agents on seeded randomness, virtual time, a crashable disk and its
faulty network. The core never learns which: it asks the parts for effects, keys and a network
endpoint, and serves the local API only when given a socket.

A network is a function from what the device is (`Attachment`) to a running `Endpoint`: the
guarded transport the layers above send through, and the `listener` other devices dial this
one at (its advertised host and port and its static key), which the account workflows write in
enrollment codes, contacts and seeds, and the device's rendezvous descriptor gives.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Protocol

import attrs

from aura_agent.keystore import KeyHolder
from aura_core.crypto.ed25519 import SigningKey
from aura_core.effects import PhysicalTimeEffects, RandomEffects, StorageEffects
from aura_core.ids import AuthorityId
from aura_core.noise import StaticKeypair
from aura_effects.bundle import Effects
from aura_effects.locator import PeerAddress, PeerLocator
from aura_effects.tcpconfig import Connected
from aura_guards.transport import GuardedTransport

__all__ = ["Endpoint", "Attachment", "Network", "AgentParts"]


class Endpoint(Protocol):
    """A device on its network, as the agent sees it (the raw transport stays inside)."""

    @property
    def guarded(self) -> GuardedTransport:
        """The only way to send and receive."""
        ...

    @property
    def listener(self) -> PeerAddress:
        """Where other devices reach this one: the advertised host and port, the static key."""
        ...

    def on_connected(self, callback: Callable[[Connected], None]) -> None:
        """Call `callback` whenever a channel with a peer comes up (to sync with it at once);
        a network without channels never calls it."""
        ...


@attrs.frozen
class Attachment:
    """What a network needs to put the device on it."""

    effects: Effects
    address: AuthorityId
    """The device's network authority (self-certifying: derived from `signing_key`)."""
    signing_key: SigningKey
    keypair: StaticKeypair
    locator: PeerLocator
    """Where peers are and who a caller is (a network that routes by authority ignores it)."""


Network = Callable[[Attachment], AbstractAsyncContextManager[Endpoint]]
"""Runs the device's endpoint for the duration of the context."""


@attrs.frozen
class AgentParts:
    """Everything an agent runs on besides its settings (see the module docstring)."""

    random: RandomEffects
    time: PhysicalTimeEffects
    storage: StorageEffects
    """The device's storage; the caller opens and closes it."""
    keys: KeyHolder
    network: Network
    data_dir: Path | None = None
    """The data directory the parts live in (None: none, e.g. a simulated device)."""
    socket: Path | None = None
    """Where the local API serves (None: no API; the agent is used in-process only)."""
    advertise: str | None = None
    """The host the device advertises, as configured (reported by `agent.network`)."""
