"""A device on the real network: its TCP transport, wrapped in its guard chain at once.

`open_tcp` starts the device's `TcpTransport` (the raw transport: only this module and the
guard chain hold it, which an import-linter contract checks) and hands the layers above a
`TcpNode`: the `GuardedTransport` they send through, where the device listens and its static
key (what its rendezvous descriptor publishes), and channel events (what sync listens to).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aura_core.crypto.ed25519 import SigningKey
from aura_core.ids import AuthorityId, ContextId
from aura_core.noise import StaticKeypair
from aura_effects.bundle import Effects
from aura_effects.journal import JournalHandler
from aura_effects.locator import PeerLocator
from aura_effects.tcp import EpochSource, TcpTransport
from aura_effects.tcpconfig import Connected, TcpConfig
from aura_guards.transport import GuardedTransport
from aura_journal.context import CONTEXT_REDUCER
from aura_journal.fact import JournalNamespace

__all__ = ["TcpNode", "open_tcp", "journal_epochs"]


def journal_epochs(journal: JournalHandler) -> EpochSource:
    """A context's current epoch as this device's journal of it says (0 before any change)."""

    async def epoch(context: ContextId) -> int:
        view = (await journal.journal(JournalNamespace.of(context))).view(CONTEXT_REDUCER)
        return view.epoch

    return epoch


class TcpNode:
    """A device's network endpoint as the layers above see it; the raw transport stays inside."""

    def __init__(self, guarded: GuardedTransport, raw: TcpTransport) -> None:
        self._guarded = guarded
        self._raw = raw

    @property
    def guarded(self) -> GuardedTransport:
        """The only way to send and receive."""
        return self._guarded

    @property
    def host(self) -> str:
        return self._raw.host

    @property
    def port(self) -> int:
        """The port the device listens on (the OS's choice when configured as 0)."""
        return self._raw.port

    @property
    def static_key(self) -> bytes:
        """The device's X25519 static public key, which peers dial it with."""
        return self._raw.static_key

    def on_connected(self, callback: Callable[[Connected], None]) -> None:
        """Call `callback` whenever a channel with a peer is established (to sync with it)."""
        self._raw.on_connected(callback)


@asynccontextmanager
async def open_tcp(
    effects: Effects,
    *,
    local: AuthorityId,
    signing_key: SigningKey,
    keypair: StaticKeypair,
    locator: PeerLocator,
    config: TcpConfig | None = None,
) -> AsyncIterator[TcpNode]:
    """Run `local`'s TCP transport for the duration, behind its guard chain. Context secrets
    come from `effects.contexts`, epochs from `effects.journal`, randomness, time and traces
    from the bundle."""
    raw = TcpTransport(
        keypair=keypair,
        local=local,
        locator=locator,
        keyring=effects.contexts,
        epoch=journal_epochs(effects.journal),
        random=effects.random,
        time=effects.time,
        trace=effects.trace,
        config=config,
    )
    async with raw:
        yield TcpNode(GuardedTransport(effects, raw, local=local, signing_key=signing_key), raw)
