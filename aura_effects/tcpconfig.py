"""How a TCP transport is tuned, and what it reports: the settings and events the layers above
may name without holding the raw transport (which is `aura_effects.tcp`)."""

from __future__ import annotations

from typing import Final

import attrs

from aura_core.errors import InvalidArgument
from aura_core.ids import AuthorityId, ContextId
from aura_effects.framing import MAX_FRAME

__all__ = ["MIN_FRAME", "TcpConfig", "Connected"]

MIN_FRAME: Final = 1024
"""The smallest frame limit a device may set: the handshake messages must fit."""


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if type(value) not in (int, float) or not value > 0:
        raise InvalidArgument(f"{attribute.name} must be a positive number")


def _count(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or value < 1:
        raise InvalidArgument(f"{attribute.name} must be a positive int")


def _host(_: object, __: object, value: str) -> None:
    if type(value) is not str or not value:
        raise InvalidArgument("the listen host is a non-empty str (an address or a name)")


def _port(_: object, __: object, value: int) -> None:
    if type(value) is not int or not 0 <= value < 65536:
        raise InvalidArgument("the listen port is 0..65535 (0: the OS picks)")


def _frame(_: object, __: object, value: int) -> None:
    if type(value) is not int or not MIN_FRAME <= value <= MAX_FRAME:
        raise InvalidArgument(f"the frame limit is {MIN_FRAME}..{MAX_FRAME}")


@attrs.frozen
class TcpConfig:
    """Every limit of one device's TCP transport. The defaults are production values; tests
    shorten the times."""

    host: str = attrs.field(default="127.0.0.1", validator=_host)
    """The address to listen on."""
    port: int = attrs.field(default=0, validator=_port)
    """The port to listen on (0: the OS picks one; read it back from the transport)."""
    handshake_timeout: float = attrs.field(default=5.0, validator=_positive)
    """Seconds a connection has, from accept or dial, to finish its handshake."""
    idle_timeout: float = attrs.field(default=60.0, validator=_positive)
    """A connection that carried nothing for this long (up to twice as long) is closed; an
    inbound one waits twice as long, so the dialling side normally closes first."""
    max_inbound: int = attrs.field(default=256, validator=_count)
    """Concurrent inbound connections (handshaking or established); more are closed at once."""
    send_queue: int = attrs.field(default=1024, validator=_count)
    """Messages queued per (peer, context) while not yet written; beyond it `SendQueueFull`."""
    inbox: int = attrs.field(default=1024, validator=_count)
    """Received messages waiting for `receive`; when full, connections stop reading (TCP
    flow control pushes back on the senders)."""
    backoff_base: float = attrs.field(default=0.1, validator=_positive)
    """Seconds before the first redial after a failure; doubles with each further failure."""
    backoff_cap: float = attrs.field(default=30.0, validator=_positive)
    """The longest wait between redials."""
    max_frame: int = attrs.field(default=MAX_FRAME, validator=_frame)
    """The largest frame sent or accepted (the protocol's is 65535, one Noise message; devices
    that talk must agree on any lower value)."""
    max_message: int = attrs.field(default=128 * 1024, validator=_count)
    """The largest message (envelope payload) sent or reassembled: a guarded body of 64 KiB
    plus its receipt fits with room to spare. Bounds each connection's reassembly memory."""
    write_batch: int = attrs.field(default=64 * 1024, validator=_count)
    """Bytes of queued messages encrypted and written with one socket send."""

    def __attrs_post_init__(self) -> None:
        if self.backoff_cap < self.backoff_base:
            raise InvalidArgument("backoff_cap must be at least backoff_base")


@attrs.frozen
class Connected:
    """A channel with `peer` in `context` was established (dialled by this device, or
    accepted from the peer once it proved its keys): the moment to sync with it."""

    peer: AuthorityId
    context: ContextId
    inbound: bool
