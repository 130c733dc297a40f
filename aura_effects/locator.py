"""Where and whom a transport dials: `PeerAddress` and the `PeerLocator` interface.

A secure transport needs two answers per relational context: for an outbound channel, the
address and static X25519 key of a peer's device (`locate`); for an inbound one, which member a
caller's static key belongs to (`identify`; None refuses the connection). Locators differ in
where they look: a fixed table for tests and demos, or the rendezvous descriptors members
publish in the context's journal (`aura_protocol.rendezvous.RendezvousLocator`). This module
holds only the interface, so the transports below the guard chain and the locators above it
share one definition without either importing the other.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from aura_core.errors import InvalidArgument
from aura_core.ids import AuthorityId, ContextId

__all__ = ["STATIC_KEY_LEN", "PeerAddress", "PeerLocator"]

STATIC_KEY_LEN = 32


def _port(_: object, __: object, value: int) -> None:
    if type(value) is not int or not 1 <= value <= 65535:
        raise InvalidArgument("a port is an int 1..65535")


def _static_key(_: object, __: object, value: bytes) -> None:
    if type(value) is not bytes or len(value) != STATIC_KEY_LEN:
        raise InvalidArgument(f"a static key is {STATIC_KEY_LEN} bytes (X25519)")


@attrs.frozen
class PeerAddress:
    """Where and whom to dial: a host (an IP literal or a name), a port, and the peer device's
    X25519 static public key (the Noise handshake fails unless the peer holds its secret)."""

    host: str
    port: int = attrs.field(validator=_port)
    static_key: bytes = attrs.field(validator=_static_key)


class PeerLocator(Protocol):
    """How a transport finds peers and recognises callers, per relational context."""

    async def locate(self, peer: AuthorityId, context: ContextId) -> PeerAddress | None:
        """Where to reach `peer` in `context` (None: not known, do not dial)."""
        ...

    async def identify(self, static_key: bytes, context: ContextId) -> AuthorityId | None:
        """Who an inbound caller is in `context` (None: refuse the connection)."""
        ...
