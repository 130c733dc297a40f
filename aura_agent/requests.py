"""The local API's requests: each a name, a request record and a response record.

`RequestType` ties the three together so that the client's `call` and the agent's handler
table are typed by the same object. The agent core serves the requests below; the account
workflows add their own (`Agent.handlers.add`), routed by name exactly like these.

| name | request | response |
|---|---|---|
| `agent.status` | `StatusRequest` | `AgentStatus` |
| `agent.identity` | `IdentityRequest` | `Identity` |
| `agent.network` | `NetworkRequest` | `NetworkStatus` |
| `agent.peers` | `PeersRequest` | `Peers` |
| `agent.sync_now` | `SyncNowRequest` | `SyncResults` |
| `agent.subscribe` | `SubscribeRequest` | `Subscribed`, then `Event` frames |
"""

from __future__ import annotations

from typing import Final, Generic, TypeVar

import attrs

from aura_agent.keystore import Identity
from aura_agent.signals import AccountState
from aura_core.encoding import record
from aura_core.errors import InvalidArgument
from aura_core.ids import AuthorityId

__all__ = [
    "RequestType",
    "StatusRequest",
    "AgentStatus",
    "IdentityRequest",
    "NetworkRequest",
    "NetworkStatus",
    "PeersRequest",
    "PeerInfo",
    "Peers",
    "SyncNowRequest",
    "SyncOutcome",
    "SyncResults",
    "SubscribeRequest",
    "Subscribed",
    "STATUS",
    "IDENTITY",
    "NETWORK",
    "PEERS",
    "SYNC_NOW",
    "SUBSCRIBE",
]

Q = TypeVar("Q")
R = TypeVar("R")


@attrs.frozen
class RequestType(Generic[Q, R]):
    """A request of the local API: its `name` on the wire, its request and response records."""

    name: str
    request: type[Q]
    response: type[R]


@record("agent.status_request", version=1)
@attrs.frozen
class StatusRequest:
    pass


@record("agent.status", version=1)
@attrs.frozen
class AgentStatus:
    """The agent at a glance."""

    identity: Identity
    account: AccountState
    data_dir: str
    socket: str
    sealed: bool
    """Whether the key file is sealed under a passphrase."""
    listening: str
    """The TCP transport's `tcp://host:port`."""
    api_version: int
    clients: int
    """Local API connections open (this one included)."""
    uptime_ms: int


@record("agent.identity_request", version=1)
@attrs.frozen
class IdentityRequest:
    pass


@record("agent.network_request", version=1)
@attrs.frozen
class NetworkRequest:
    pass


@record("agent.network", version=1)
@attrs.frozen
class NetworkStatus:
    """Where the device listens and what it advertises."""

    host: str
    port: int
    advertise: str | None
    static_key: bytes
    descriptor: str | None
    """The hint its published rendezvous descriptor gives (None: none published: no
    account)."""


@record("agent.peers_request", version=1)
@attrs.frozen
class PeersRequest:
    pass


@record("agent.peer", version=1)
@attrs.frozen
class PeerInfo:
    """One of the account's other devices as the network sees it."""

    authority: AuthorityId
    address: str | None
    """Where it is dialled (`tcp://host:port`, from its descriptor or the seed table)."""
    last_outcome: str | None
    last_sync_ms: int | None


@record("agent.peers", version=1)
@attrs.frozen
class Peers:
    peers: tuple[PeerInfo, ...] = ()


@record("agent.sync_now_request", version=1)
@attrs.frozen
class SyncNowRequest:
    """Sync with `peer` now (None: with every peer of the account)."""

    peer: AuthorityId | None = None


@record("agent.sync_outcome", version=1)
@attrs.frozen
class SyncOutcome:
    peer: AuthorityId
    namespace: str
    outcome: str
    merged: int
    dropped: int


@record("agent.sync_results", version=1)
@attrs.frozen
class SyncResults:
    sessions: tuple[SyncOutcome, ...] = ()


def _signals(_: object, __: object, value: tuple[str, ...]) -> None:
    if not 0 < len(value) <= 64 or len(set(value)) != len(value):
        raise InvalidArgument("subscribe to 1..64 distinct signals")


@record("agent.subscribe_request", version=1)
@attrs.frozen
class SubscribeRequest:
    signals: tuple[str, ...] = attrs.field(validator=_signals)


@record("agent.subscribed", version=1)
@attrs.frozen
class Subscribed:
    """The subscription is open; `Event` frames follow until it is cancelled."""

    signals: tuple[str, ...]


STATUS: Final = RequestType("agent.status", StatusRequest, AgentStatus)
IDENTITY: Final = RequestType("agent.identity", IdentityRequest, Identity)
NETWORK: Final = RequestType("agent.network", NetworkRequest, NetworkStatus)
PEERS: Final = RequestType("agent.peers", PeersRequest, Peers)
SYNC_NOW: Final = RequestType("agent.sync_now", SyncNowRequest, SyncResults)
SUBSCRIBE: Final = RequestType("agent.subscribe", SubscribeRequest, Subscribed)
