"""The local API's wire format: length-prefixed frames of canonical CBOR records.

A frame is a u32 big-endian length (1..limit) and that many bytes: the canonical encoding of
one frame record. The client's first frame is `Hello` (the API's magic and its version); the
agent answers `Welcome` or an `api_version` `Failure` and closes. Then the client sends
`Request`s (an id it chooses, the request's name, the request record's encoding) and
`Cancel`s (end a subscription); the agent sends `Reply` or `Failure` for each request id, and
`Event`s for subscriptions. `Failure` with id 0 is about the connection itself (a frame that
did not decode). Requests from a client are limited to `MAX_REQUEST_FRAME` bytes, frames from
the agent to `MAX_REPLY_FRAME`.

This module is sans-IO apart from `read_frame`/`frame` helpers over anyio streams.
"""

from __future__ import annotations

import struct
from typing import Any, Final

import attrs
from anyio.streams.buffered import BufferedByteReceiveStream

from aura_core.encoding import encode, from_value, record, record_tag, strict_decode
from aura_core.errors import (
    AuraError,
    EncodingError,
    ErrorKind,
    InvalidArgument,
    MalformedRequest,
    RemoteError,
    RequestTooLarge,
)
from aura_core.ids import DeviceId

__all__ = [
    "API_MAGIC",
    "API_VERSION",
    "MAX_REQUEST_FRAME",
    "MAX_REPLY_FRAME",
    "Hello",
    "Welcome",
    "Request",
    "Cancel",
    "Reply",
    "Failure",
    "Event",
    "CLIENT_FRAMES",
    "AGENT_FRAMES",
    "frame",
    "read_frame",
    "parse_frame",
    "failure_of",
    "error_of",
]

API_MAGIC: Final = b"aura-agent-api"
API_VERSION: Final = 1
MAX_REQUEST_FRAME: Final = 64 * 1024
"""The largest frame a client may send: requests are small."""
MAX_REPLY_FRAME: Final = 4 * 1024 * 1024
"""The largest frame the agent sends (a reply listing many peers or devices)."""
_LENGTH: Final = struct.Struct(">I")


def _u63(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**63:
        raise InvalidArgument(f"{attribute.name} is 0..2^63-1")


def _name(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if type(value) is not str or not 0 < len(value) <= 128:
        raise InvalidArgument(f"{attribute.name} is 1..128 characters")


@record("api.hello", version=1)
@attrs.frozen
class Hello:
    """The client's first frame."""

    magic: bytes
    version: int = attrs.field(validator=_u63)


@record("api.welcome", version=1)
@attrs.frozen
class Welcome:
    """The agent's answer to a hello it accepts: the version spoken and whose agent it is."""

    version: int = attrs.field(validator=_u63)
    device: DeviceId


@record("api.request", version=1)
@attrs.frozen
class Request:
    """Request `name` with `body` (the encoding of the request's record); `id` (≥ 1) is the
    client's, unique among its requests in flight."""

    id: int = attrs.field(validator=_u63)
    name: str = attrs.field(validator=_name)
    body: bytes


@record("api.cancel", version=1)
@attrs.frozen
class Cancel:
    """End the subscription opened by request `id`."""

    id: int = attrs.field(validator=_u63)


@record("api.reply", version=1)
@attrs.frozen
class Reply:
    """The answer to request `id`: the encoding of the request's response record."""

    id: int = attrs.field(validator=_u63)
    body: bytes


@record("api.failure", version=1)
@attrs.frozen
class Failure:
    """Request `id` failed (id 0: the connection did). `code` and `kind` are the error's
    (`AuraError.code`, `ErrorKind` value); `message` is for the user."""

    id: int = attrs.field(validator=_u63)
    code: str
    kind: str
    message: str


@record("api.event", version=1)
@attrs.frozen
class Event:
    """A value of `signal` for the subscription opened by request `id`; `seq` counts the
    subscription's events from 1."""

    id: int = attrs.field(validator=_u63)
    signal: str
    seq: int = attrs.field(validator=_u63)
    body: bytes


CLIENT_FRAMES: Final[dict[str, type[Any]]] = {
    record_tag(cls)[0]: cls for cls in (Hello, Request, Cancel)
}
AGENT_FRAMES: Final[dict[str, type[Any]]] = {
    record_tag(cls)[0]: cls for cls in (Welcome, Reply, Failure, Event)
}


def frame(value: object) -> bytes:
    """The frame of a record: its length and its canonical encoding."""
    data = encode(value)
    return _LENGTH.pack(len(data)) + data


async def read_frame(stream: BufferedByteReceiveStream, limit: int) -> bytes:
    """The next frame's bytes; `RequestTooLarge` for a length of 0 or over `limit` (before
    reading any of it). End of stream propagates as anyio's `EndOfStream` /
    `IncompleteRead`."""
    (length,) = _LENGTH.unpack(await stream.receive_exactly(_LENGTH.size))
    if not 0 < length <= limit:
        raise RequestTooLarge(f"a frame of {length} bytes (the limit is {limit})")
    return await stream.receive_exactly(length)


def parse_frame(data: bytes, kinds: dict[str, type[Any]]) -> Any:
    """The frame record `data` encodes, one of `kinds` (by tag); `MalformedRequest` for
    anything else."""
    try:
        value = strict_decode(data)
        tag = value.get("$t") if isinstance(value, dict) else None
        kind = kinds.get(tag) if isinstance(tag, str) else None
        if kind is None:
            raise MalformedRequest(f"not a frame of the local API (tag {tag!r})")
        return from_value(value, kind)
    except EncodingError as exc:
        raise MalformedRequest(f"a frame that does not decode: {exc.message}") from None


def failure_of(request: int, error: AuraError) -> Failure:
    return Failure(request, error.code, error.kind.value, error.message)


def _single_message_errors() -> dict[str, type[AuraError]]:
    """The error classes a client can raise as the agent's own, by code: those whose code
    names one class only (among every `AuraError` subclass) and whose constructor takes just
    a message."""
    found: dict[str, set[type[AuraError]]] = {}
    pending: list[type[AuraError]] = [AuraError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        found.setdefault(cls.code, set()).add(cls)
    return {
        code: cls
        for code, classes in found.items()
        if len(classes) == 1 and (cls := next(iter(classes))).__init__ is AuraError.__init__
    }


_ERRORS: dict[str, type[AuraError]] | None = None


def error_of(failure: Failure) -> AuraError:
    """The error a `Failure` reports, as its own class where this process knows one for the
    code (and the kind agrees), else `RemoteError`."""
    global _ERRORS  # noqa: PLW0603 - built once, on first use (after every error class exists)
    if _ERRORS is None:
        _ERRORS = _single_message_errors()
    cls = _ERRORS.get(failure.code)
    if cls is not None and cls.kind.value == failure.kind:
        return cls(failure.message)
    try:
        kind = ErrorKind(failure.kind)
    except ValueError:
        kind = ErrorKind.PERMANENT
    return RemoteError(failure.message, failure.code, kind)
