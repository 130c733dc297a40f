"""The agent's reactive signals: what front ends subscribe to through the local API.

Each signal is a latest-value slot of the agent's `SignalHub` holding one record; a
subscriber sees the current value, then each newer one (a burst of changes may reach it as
the last one only, so every payload is a whole state, never a delta). The agent emits
`ACCOUNT`, `DEVICES`, `SYNC` and `NOTIFICATIONS`; the account workflows emit `CEREMONIES`
and update the others through `Agent.emit`. More signals can be served by adding a
`SignalSpec` to the agent's table (`Agent.signals.add`).
"""

from __future__ import annotations

from typing import Any, Final, Generic, TypeVar

import attrs

from aura_core.effects import Signal
from aura_core.encoding import record
from aura_core.errors import InvalidArgument, UnknownRequest
from aura_core.ids import AuthorityId, DeviceId

__all__ = [
    "SignalSpec",
    "SignalTable",
    "AccountState",
    "DeviceEntry",
    "DeviceList",
    "CeremonyProgress",
    "Ceremonies",
    "PeerSync",
    "SyncStatus",
    "Notification",
    "Notifications",
    "ACCOUNT",
    "DEVICES",
    "CEREMONIES",
    "SYNC",
    "NOTIFICATIONS",
    "CORE_SIGNALS",
    "NOTIFICATIONS_KEPT",
]

T = TypeVar("T")


@attrs.frozen
class SignalSpec(Generic[T]):
    """A signal's name (what clients subscribe by) and the record its values are."""

    name: str
    record: type[T]

    @property
    def signal(self) -> Signal[T]:
        return Signal(self.name)


class SignalTable:
    """The signals an agent serves, by name."""

    def __init__(self, specs: tuple[SignalSpec[Any], ...] = ()) -> None:
        self._specs: dict[str, SignalSpec[Any]] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: SignalSpec[Any]) -> None:
        if spec.name in self._specs:
            raise InvalidArgument(f"signal {spec.name} is already served")
        self._specs[spec.name] = spec

    def get(self, name: str) -> SignalSpec[Any]:
        spec = self._specs.get(name)
        if spec is None:
            raise UnknownRequest(f"no signal named {name!r}; this agent serves {self.names()}")
        return spec

    def names(self) -> list[str]:
        return sorted(self._specs)


@record("agent.account_state", version=1)
@attrs.frozen
class AccountState:
    """Where this device stands with its account.

    `phase`: `none` (no account: the agent waits to create or join one), `starting`, `active`
    (its account services run), `removed` (the account's tree no longer has this device),
    `failed` (the account's services could not start: `detail` says why); the account
    workflows add `creating` and `joining`."""

    phase: str
    account: AuthorityId | None = None
    epoch: int | None = None
    devices: int = 0
    threshold: int | None = None
    detail: str = ""


@record("agent.device_entry", version=1)
@attrs.frozen
class DeviceEntry:
    """One device of the account (a leaf of its tree)."""

    device: DeviceId
    leaf_id: int
    address: AuthorityId | None
    """The authority it answers as on the network (None: not a member of the devices'
    context)."""
    this_device: bool
    holds_share: bool


@record("agent.devices", version=1)
@attrs.frozen
class DeviceList:
    devices: tuple[DeviceEntry, ...] = ()


@record("agent.ceremony_progress", version=1)
@attrs.frozen
class CeremonyProgress:
    """A ceremony under way (emitted by the account workflows)."""

    ceremony: str
    kind: str
    phase: str
    epoch: int


@record("agent.ceremonies", version=1)
@attrs.frozen
class Ceremonies:
    ceremonies: tuple[CeremonyProgress, ...] = ()


@record("agent.peer_sync", version=1)
@attrs.frozen
class PeerSync:
    """The latest sync session with one peer (either side started it)."""

    peer: AuthorityId
    outcome: str
    at_ms: int
    merged: int


@record("agent.sync_status", version=1)
@attrs.frozen
class SyncStatus:
    peers: tuple[PeerSync, ...] = ()


@record("agent.notification", version=1)
@attrs.frozen
class Notification:
    """Something to tell the user; `seq` increases by one per notification."""

    seq: int
    level: str
    text: str
    at_ms: int


@record("agent.notifications", version=1)
@attrs.frozen
class Notifications:
    """The latest notifications, oldest first (a subscriber that skipped a value still sees
    every one of the last `NOTIFICATIONS_KEPT`)."""

    items: tuple[Notification, ...] = ()


NOTIFICATIONS_KEPT: Final = 32

ACCOUNT: Final = SignalSpec("agent.account", AccountState)
DEVICES: Final = SignalSpec("agent.devices", DeviceList)
CEREMONIES: Final = SignalSpec("agent.ceremonies", Ceremonies)
SYNC: Final = SignalSpec("agent.sync", SyncStatus)
NOTIFICATIONS: Final = SignalSpec("agent.notifications", Notifications)
CORE_SIGNALS: Final[tuple[SignalSpec[Any], ...]] = (
    ACCOUNT,
    DEVICES,
    CEREMONIES,
    SYNC,
    NOTIFICATIONS,
)
