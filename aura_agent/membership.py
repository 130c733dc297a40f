"""What a device needs, beyond its journals and keys, to run in its account.

`Membership` is the agent's record of the account it belongs to (stored in its SQLite file
under `agent/membership`; nothing in it is secret): the account, the context its devices
share (its genesis in the journal, its secret in the key file), the account's FROST public
key package for the tree's current epoch (this device's own key package, if it holds a share,
is in the key file by (account, epoch)), and seed addresses for devices whose descriptors
have not reached this device yet. The account workflows write it (`Agent.join`); everything
else is read from the journals:

* the device's leaf: the leaf of the account's current tree whose device id is this device's
  (none: the device was removed);
* who is who on the network (`witness_addresses`): a leaf belongs to the member of the
  devices' context whose key is the leaf's key (a device signs its leaf, its facts and its
  receipts with one key);
* the peers: the context's other members.
"""

from __future__ import annotations

from typing import Final

import attrs

from aura_core.encoding import record
from aura_core.errors import InvalidArgument
from aura_core.ids import AuthorityId, ContextId, DeviceId
from aura_effects.locator import PeerAddress
from aura_journal.context import ContextGenesis
from aura_journal.tree import TreeState

__all__ = ["MEMBERSHIP_KEY", "IDENTITY_KEY", "PORT_KEY", "Seed", "Membership", "witness_addresses"]

MEMBERSHIP_KEY: Final = "agent/membership"
IDENTITY_KEY: Final = "agent/identity"
"""The device's `Identity`, written when its storage is created: a key file of another device
put beside it is refused."""
PORT_KEY: Final = "agent/port"
"""The TCP port of the last run (2 bytes, big-endian), tried first when listening on port 0."""


def _port(_: object, __: object, value: int) -> None:
    if type(value) is not int or not 0 < value < 65536:
        raise InvalidArgument("a port is 1..65535")


def _static_key(_: object, __: object, value: bytes) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidArgument("a static key is 32 bytes")


def _host(_: object, __: object, value: str) -> None:
    if type(value) is not str or not 0 < len(value) <= 253:
        raise InvalidArgument("a host is 1..253 characters")


@record("agent.seed", version=1)
@attrs.frozen
class Seed:
    """Where a device of the account listens before its descriptor reaches this one."""

    authority: AuthorityId
    host: str = attrs.field(validator=_host)
    port: int = attrs.field(validator=_port)
    static_key: bytes = attrs.field(validator=_static_key)

    @property
    def address(self) -> PeerAddress:
        return PeerAddress(self.host, self.port, self.static_key)


@record("agent.membership", version=1)
@attrs.frozen
class Membership:
    """The account this device belongs to (see the module docstring)."""

    account: AuthorityId
    context: ContextId
    public_key_package: bytes
    seeds: tuple[Seed, ...] = ()


def witness_addresses(state: TreeState, genesis: ContextGenesis) -> dict[DeviceId, AuthorityId]:
    """Each leaf's network authority: the member of the devices' context whose key is the
    leaf's key (leaves with no such member are left out)."""
    by_key = genesis.by_key
    found: dict[DeviceId, AuthorityId] = {}
    for leaf in state.leaves:
        member = by_key.get(leaf.public_key)
        if member is not None:
            found[leaf.device_id] = member.authority
    return found
