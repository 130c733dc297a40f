"""What a choreography message looks like on the wire.

Every message of a session is one `SessionMessage` record, encoded with the canonical codec and
handed to `GuardedTransport.send` as the body (operation `<protocol>.<label>`, the message's guard
annotations). The receipt the guard chain attaches authenticates the sending authority; the
record says which session, which message statement (`msg_id`, `label`), which member sent it to
which member, and where it stands in that pair's stream (`seq`), so the receiver can restore the
per-pair order the runtime relies on and refuse anything its local type does not allow.
"""

from __future__ import annotations

import attrs

from aura_core.encoding import record
from aura_core.errors import InvalidArgument
from aura_core.ids import SessionId

__all__ = ["MAX_INDEX", "SessionMessage"]

MAX_INDEX = 0xFFFF
"""Largest member index (families have at most 65 535 members)."""


def _index(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value <= MAX_INDEX:
        raise InvalidArgument(f"{attribute.name} must be a member index (0 ... {MAX_INDEX})")


def _u32(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**32:
        raise InvalidArgument(f"{attribute.name} must be an unsigned 32-bit integer")


def _u64(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidArgument(f"{attribute.name} must be an unsigned 64-bit integer")


@record("protocol.message", version=1)
@attrs.frozen
class SessionMessage:
    """One choreography message: the body of a guarded send.

    `sender`/`sender_index` and `receiver`/`receiver_index` name roles and member indices (0
    for a single role); `seq` counts the messages from that sender member to that receiver
    member in this session, from 0; `payload` is the application's bytes (empty for a label
    without a payload type).
    """

    session: SessionId
    msg_id: int = attrs.field(validator=_u32)
    label: str
    sender: str
    sender_index: int = attrs.field(validator=_index)
    receiver: str
    receiver_index: int = attrs.field(validator=_index)
    seq: int = attrs.field(validator=_u64)
    payload: bytes
