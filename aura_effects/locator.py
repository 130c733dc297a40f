"""Where peers are and who a caller is: the addressing the TCP transport dials and checks by.

A `PeerLocator` answers two questions in a relational context: where to dial a peer (host,
port and the static X25519 key its device answers with), and which authority an inbound
caller's static key belongs to (None: refuse it). `StaticLocator` is a fixed table for tests
and the demo; rendezvous descriptors in context journals give the production locator. This
module holds no transport, so every layer may use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import attrs

from aura_core.errors import InvalidArgument
from aura_core.ids import AuthorityId, ContextId
from aura_core.noise import KEY_LEN

__all__ = ["ANY_CALLER", "PeerAddress", "PeerLocator", "StaticLocator"]

ANY_CALLER = AuthorityId(bytes(16))
"""What `identify` answers for a context anyone holding its secret may enter (an enrollment's
bootstrap context: the PSK proves the code): the caller is the authority it names, and the guard
chain binds what it sends to the key its self-certifying address derives from."""


def _port(_: object, __: object, port: int) -> None:
    if type(port) is not int or not 0 < port < 65536:
        raise InvalidArgument("a port is 1..65535")


def _static_key(_: object, __: object, key: bytes) -> None:
    if type(key) is not bytes or len(key) != KEY_LEN:
        raise InvalidArgument(f"a static key is {KEY_LEN} bytes")


def _host(_: object, __: object, host: str) -> None:
    if type(host) is not str or not host:
        raise InvalidArgument("a host is a non-empty str")


@attrs.frozen
class PeerAddress:
    """Where and whom to dial: the peer device's listener and its static public key."""

    host: str = attrs.field(validator=_host)
    """An IP literal or a name (tests use 127.0.0.1 and network-namespace addresses)."""
    port: int = attrs.field(validator=_port)
    static_key: bytes = attrs.field(validator=_static_key, repr=lambda k: k.hex())
    """The peer device's X25519 static public key (32 bytes)."""


class PeerLocator(Protocol):
    """Addressing in a context: where a peer is, and who an inbound caller is."""

    async def locate(self, peer: AuthorityId, context: ContextId) -> PeerAddress | None:
        """Where to dial `peer` in `context` (None: no known address)."""
        ...

    async def identify(self, static_key: bytes, context: ContextId) -> AuthorityId | None:
        """Who an inbound caller is in `context` (None: refuse the connection; `ANY_CALLER`:
        whoever it says it is)."""
        ...


class StaticLocator:
    """`PeerLocator` over a fixed table: the same address for a peer in every context."""

    def __init__(self, peers: Mapping[AuthorityId, PeerAddress] | None = None) -> None:
        self._peers: dict[AuthorityId, PeerAddress] = {}
        for peer, address in (peers or {}).items():
            self.put(peer, address)

    def put(self, peer: AuthorityId, address: PeerAddress) -> None:
        """Set (or replace) `peer`'s address; a static key belongs to one peer only."""
        if type(peer) is not AuthorityId or not isinstance(address, PeerAddress):
            raise InvalidArgument("put(AuthorityId, PeerAddress)")
        for other, known in self._peers.items():
            if other != peer and known.static_key == address.static_key:
                raise InvalidArgument(f"that static key already belongs to {other}")
        self._peers[peer] = address

    def remove(self, peer: AuthorityId) -> None:
        self._peers.pop(peer, None)

    async def locate(self, peer: AuthorityId, context: ContextId) -> PeerAddress | None:
        return self._peers.get(peer)

    async def identify(self, static_key: bytes, context: ContextId) -> AuthorityId | None:
        for peer, address in self._peers.items():
            if address.static_key == static_key:
                return peer
        return None
