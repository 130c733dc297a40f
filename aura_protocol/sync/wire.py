"""The payloads of `AuraSync` messages, and the fact stream that `Fetch` and `Facts` carry.

Facts travel as a byte stream cut into message-sized pieces: each fact is its canonical
encoding preceded by its length (u32, big-endian). A stream, rather than a list of facts per
message, lets a fact larger than one message (a payload may be 64 KiB, a transport frame is
not much more) cross in several pieces, and keeps every message under the frame limit whatever
the facts' sizes. `FactFeed` cuts the outgoing stream, `FactStream` reassembles the incoming
one and refuses (`MalformedSyncMessage`) a length no fact can have before buffering its bytes,
so a peer cannot make the receiver hold more than one fact's worth.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable

import attrs

from aura_core.encoding import record
from aura_core.errors import InvalidArgument, MalformedSyncMessage
from aura_core.ids import ContextId, FactId
from aura_journal.fact import MAX_PAYLOAD, Fact, JournalNamespace

__all__ = [
    "MAX_MESSAGE",
    "MAX_WANT",
    "WANT_BYTES",
    "MAX_FACT_BYTES",
    "RefusalReason",
    "SyncReconcile",
    "SyncRanges",
    "SyncFetch",
    "SyncFacts",
    "SyncRefusal",
    "FactFeed",
    "FactStream",
]

MAX_MESSAGE = 60_000
"""The most bytes of reconciliation message or fact stream one sync message may carry (the
reconciler's default frame; one Noise transport message holds 65519)."""
MAX_WANT = 1024
"""The most fact ids one `Fetch` may ask for."""
WANT_BYTES = 34
"""What one asked-for id costs in a `Fetch` (32 bytes and its CBOR head)."""
MAX_FACT_BYTES = MAX_PAYLOAD + 8192
"""The longest encoding of a fact: its payload and at most 8 KiB of body and attestation."""
_LENGTH = 4


class RefusalReason(enum.Enum):
    """Why a responder ends a session early (a coarse code, safe to tell the peer)."""

    NOT_SHARED = "not_shared"
    """The namespace is not one this device shares with the initiator, in that context."""
    MALFORMED = "malformed"
    """A message no honest initiator sends."""
    LIMIT = "limit"
    """The session went past the responder's bounds (rounds or bytes)."""
    BUSY = "busy"
    """The initiator already has as many sessions open here as the responder serves at once
    (`serve_per_peer`): try again later (told at once, so the initiator does not wait out its
    session limit)."""


def _message(_: object, attribute: attrs.Attribute[bytes], value: bytes) -> None:
    if type(value) is not bytes or len(value) > MAX_MESSAGE:
        raise InvalidArgument(f"{attribute.name} is at most {MAX_MESSAGE} bytes")


def _want(_: object, __: object, value: tuple[FactId, ...]) -> None:
    if type(value) is not tuple or len(value) > MAX_WANT:
        raise InvalidArgument(f"a fetch asks for at most {MAX_WANT} facts")
    if any(a >= b for a, b in itertools.pairwise(value)):
        raise InvalidArgument("the ids a fetch asks for are increasing, each once")


@record("sync.reconcile")
@attrs.frozen
class SyncReconcile:
    """Initiator → responder: a reconciliation message over `namespace`'s facts; every one of
    a session names the same namespace and the context the session travels in."""

    namespace: JournalNamespace
    context: ContextId
    message: bytes = attrs.field(validator=_message)


@record("sync.ranges")
@attrs.frozen
class SyncRanges:
    """Responder → initiator: the answer to one reconciliation message."""

    message: bytes = attrs.field(validator=_message)


@record("sync.fetch")
@attrs.frozen
class SyncFetch:
    """Initiator → responder: ids of facts it lacks (increasing), and the next piece of the
    stream of facts the responder lacks."""

    want: tuple[FactId, ...] = attrs.field(validator=_want)
    facts: bytes = attrs.field(validator=_message)


@record("sync.facts")
@attrs.frozen
class SyncFacts:
    """Responder → initiator: the next piece of the stream of asked-for facts; `pending` says
    more of them are queued (the initiator fetches again)."""

    facts: bytes = attrs.field(validator=_message)
    pending: bool


@record("sync.refusal")
@attrs.frozen
class SyncRefusal:
    """Responder → initiator: the session ends here, and why."""

    reason: RefusalReason


class FactFeed:
    """The outgoing stream of one session's facts, cut into pieces on demand.

    Facts wait in the order they will go: sorted by their total order (order token, then id),
    which puts a device's facts after those they were written after, so parents tend to come
    first; facts added later are sorted into those not yet started.
    """

    def __init__(self) -> None:
        self._waiting: list[Fact] = []
        self._current = b""
        self._offset = 0
        self._queued: set[FactId] = set()

    def add(self, facts: Iterable[Fact]) -> int:
        """Queue facts not queued before (in this session); returns how many were new."""
        fresh = [f for f in facts if f.id not in self._queued]
        for fact in fresh:
            self._queued.add(fact.id)
        if fresh:
            self._waiting = sorted([*self._waiting, *fresh], key=Fact.sort_key, reverse=True)
        return len(fresh)

    def __bool__(self) -> bool:
        """Whether any bytes remain to be sent."""
        return bool(self._waiting) or self._offset < len(self._current)

    def take(self, budget: int) -> bytes:
        """The next at most `budget` bytes of the stream."""
        pieces: list[bytes] = []
        while budget > 0:
            if self._offset >= len(self._current):
                if not self._waiting:
                    break
                encoded = self._waiting.pop().encoded
                self._current = len(encoded).to_bytes(_LENGTH, "big") + encoded
                self._offset = 0
            piece = self._current[self._offset : self._offset + budget]
            self._offset += len(piece)
            budget -= len(piece)
            pieces.append(piece)
        return b"".join(pieces)


class FactStream:
    """The incoming stream of one session's facts, reassembled from its pieces."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.received = 0
        """Stream bytes received so far."""

    @property
    def partial(self) -> bool:
        """Whether a fact has begun and not ended (a stream that stops here was cut short)."""
        return bool(self._buffer)

    def feed(self, piece: bytes) -> list[bytes]:
        """The encodings of the facts `piece` completes, in stream order.

        Raises `MalformedSyncMessage` (and keeps nothing more) for a declared length of 0 or
        above `MAX_FACT_BYTES`."""
        self.received += len(piece)
        buffer = self._buffer
        buffer += piece
        found: list[bytes] = []
        start = 0
        while len(buffer) - start >= _LENGTH:
            length = int.from_bytes(buffer[start : start + _LENGTH], "big")
            if not 0 < length <= MAX_FACT_BYTES:
                self._buffer = bytearray()
                raise MalformedSyncMessage(f"a fact of {length} bytes in the stream")
            end = start + _LENGTH + length
            if end > len(buffer):
                break
            found.append(bytes(buffer[start + _LENGTH : end]))
            start = end
        del buffer[:start]
        return found
