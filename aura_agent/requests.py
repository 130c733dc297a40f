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
| `account.create` | `CreateAccountRequest` | `AccountCreated` |
| `account.invite` | `InviteRequest` | `InviteCode` |
| `account.join` | `JoinAccountRequest` | `AccountJoined` |
| `account.cancel` | `CancelInviteRequest` | `InviteCancelled` |
| `account.remove` | `RemoveDeviceRequest` | `AccountChanged` |
| `account.threshold` | `ThresholdRequest` | `AccountChanged` |
| `account.refresh` | `RefreshRequest` | `AccountChanged` |

The account requests are served by `aura_agent.accounts.AccountService`. An `InviteCode`
and a `JoinAccountRequest` carry an enrollment code: a secret (it admits a device), so neither
is ever traced or logged.
"""

from __future__ import annotations

from typing import Final, Generic, TypeVar

import attrs

from aura_agent.keystore import Identity
from aura_agent.signals import AccountState
from aura_core.encoding import record
from aura_core.errors import InvalidArgument
from aura_core.ids import AuthorityId, CeremonyId, DeviceId

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
    "CreateAccountRequest",
    "AccountCreated",
    "InviteRequest",
    "InviteCode",
    "JoinAccountRequest",
    "AccountJoined",
    "CancelInviteRequest",
    "InviteCancelled",
    "CREATE_ACCOUNT",
    "INVITE",
    "JOIN_ACCOUNT",
    "CANCEL_INVITE",
    "RemoveDeviceRequest",
    "ThresholdRequest",
    "RefreshRequest",
    "AccountChanged",
    "REMOVE_DEVICE",
    "CHANGE_THRESHOLD",
    "REFRESH",
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
    """Where other devices dial this one: `tcp://host:port`, the advertised host and the port
    the transport listens on."""
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
    """Where other devices reach the device (its listener: the advertised host, else the listen
    host, and the port) and the advertised host as configured."""

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


@record("account.create_request", version=1)
@attrs.frozen
class CreateAccountRequest:
    pass


@record("account.created", version=1)
@attrs.frozen
class AccountCreated:
    account: AuthorityId


def _threshold(_: object, __: object, value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**16:
        raise InvalidArgument("a threshold is 0..65535")


def _lifetime(_: object, __: object, value: int) -> None:
    if type(value) is not int or not 0 < value <= 7 * 86_400_000:
        raise InvalidArgument("a code lives 1 ms .. 7 days")


@record("account.invite_request", version=1)
@attrs.frozen
class InviteRequest:
    """Invite one device; the account is `threshold`-of-(devices + 1) after it joins."""

    threshold: int = attrs.field(default=2, validator=_threshold)
    expires_in_ms: int = attrs.field(default=600_000, validator=_lifetime)


@record("account.invite_code", version=1)
@attrs.frozen
class InviteCode:
    """The enrollment code (a secret: give it only to the device being added)."""

    code: str = attrs.field(repr=False)
    ceremony: CeremonyId
    expires_ms: int


@record("account.join_request", version=1)
@attrs.frozen
class JoinAccountRequest:
    code: str = attrs.field(repr=False)


@record("account.joined", version=1)
@attrs.frozen
class AccountJoined:
    account: AuthorityId


@record("account.cancel_request", version=1)
@attrs.frozen
class CancelInviteRequest:
    ceremony: CeremonyId


@record("account.cancelled", version=1)
@attrs.frozen
class InviteCancelled:
    ceremony: CeremonyId


@record("account.remove_request", version=1)
@attrs.frozen
class RemoveDeviceRequest:
    device: DeviceId


@record("account.threshold_request", version=1)
@attrs.frozen
class ThresholdRequest:
    threshold: int = attrs.field(validator=_threshold)


@record("account.refresh_request", version=1)
@attrs.frozen
class RefreshRequest:
    pass


@record("account.changed", version=1)
@attrs.frozen
class AccountChanged:
    """The account after a committed change."""

    account: AccountState


STATUS: Final = RequestType("agent.status", StatusRequest, AgentStatus)
IDENTITY: Final = RequestType("agent.identity", IdentityRequest, Identity)
NETWORK: Final = RequestType("agent.network", NetworkRequest, NetworkStatus)
PEERS: Final = RequestType("agent.peers", PeersRequest, Peers)
SYNC_NOW: Final = RequestType("agent.sync_now", SyncNowRequest, SyncResults)
SUBSCRIBE: Final = RequestType("agent.subscribe", SubscribeRequest, Subscribed)
CREATE_ACCOUNT: Final = RequestType("account.create", CreateAccountRequest, AccountCreated)
INVITE: Final = RequestType("account.invite", InviteRequest, InviteCode)
JOIN_ACCOUNT: Final = RequestType("account.join", JoinAccountRequest, AccountJoined)
CANCEL_INVITE: Final = RequestType("account.cancel", CancelInviteRequest, InviteCancelled)
REMOVE_DEVICE: Final = RequestType("account.remove", RemoveDeviceRequest, AccountChanged)
CHANGE_THRESHOLD: Final = RequestType("account.threshold", ThresholdRequest, AccountChanged)
REFRESH: Final = RequestType("account.refresh", RefreshRequest, AccountChanged)
