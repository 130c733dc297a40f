"""The effect interfaces: every impure operation the library performs goes through one of these.

Production handlers live in `aura_effects`, seeded and in-memory ones in `aura_sim`; library code
receives handlers explicitly (one `Effects` bundle per device) and never reaches for a global.
Interfaces that may block are async. The application-level interfaces over journal types
(journal, authorization, flow budget, leakage) are declared next to those types in
`aura_journal.effects`, since this layer cannot name them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Generic, Protocol, TypeAlias, TypeVar

import attrs

from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import record
from aura_core.errors import InvalidArgument
from aura_core.ids import AuthorityId, ContextId
from aura_core.time import LogicalTime, OrderTime, PhysicalTime

__all__ = [
    "RandomEffects",
    "PhysicalTimeEffects",
    "LogicalClockEffects",
    "OrderClockEffects",
    "Put",
    "Delete",
    "StorageOp",
    "StorageEffects",
    "Envelope",
    "TransportEffects",
    "CryptoEffects",
    "TraceValue",
    "TraceEffects",
    "Signal",
    "ReactiveEffects",
]

T = TypeVar("T")


class RandomEffects(Protocol):
    """Randomness. The simulator's handler draws from the run's seed."""

    async def random_bytes(self, n: int) -> bytes: ...

    async def random_u64(self) -> int: ...

    async def random_range(self, low: int, high: int) -> int:
        """A uniform integer in [low, high)."""
        ...


class PhysicalTimeEffects(Protocol):
    """Wall-clock time and sleeping. The simulator's handler is a virtual clock."""

    async def now(self) -> PhysicalTime: ...

    async def sleep(self, seconds: float) -> None: ...


class LogicalClockEffects(Protocol):
    """This device's vector clock."""

    async def tick(self) -> LogicalTime:
        """Advance for a local event and return the new time."""
        ...

    async def observe(self, remote: LogicalTime) -> LogicalTime:
        """Merge a received time (pointwise max, then tick) and return the new time."""
        ...


class OrderClockEffects(Protocol):
    """Fresh `OrderTime` tokens: a total order with no timing meaning."""

    async def order_time(self) -> OrderTime: ...


def _storage_key(_: object, __: object, key: str) -> None:
    if type(key) is not str or not key:
        raise InvalidArgument("storage keys are non-empty str")


@attrs.frozen
class Put:
    """Write `value` at `key` (part of an atomic batch)."""

    key: str = attrs.field(validator=_storage_key)
    value: bytes = attrs.field(validator=attrs.validators.instance_of(bytes))


@attrs.frozen
class Delete:
    """Remove `key` if present (part of an atomic batch)."""

    key: str = attrs.field(validator=_storage_key)


StorageOp: TypeAlias = Put | Delete


class StorageEffects(Protocol):
    """A durable key-value store of one device. `batch` applies all of its operations or none."""

    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes) -> None: ...

    async def delete(self, key: str) -> bool:
        """Remove `key`; whether it was present."""
        ...

    async def list_keys(self, prefix: str) -> list[str]:
        """Every key starting with `prefix`, sorted."""
        ...

    async def scan(self, prefix: str) -> list[tuple[str, bytes]]:
        """Every (key, value) whose key starts with `prefix`, sorted by key: what `list_keys`
        and a `get` per key would read, in one call (a journal loads thousands at once)."""
        ...

    async def batch(self, ops: Sequence[StorageOp]) -> None:
        """Apply `ops` in order, atomically: after a crash either all are visible or none."""
        ...

    async def close(self) -> None:
        """Release the store (a file, a connection); later calls raise `StorageError`. Closing
        a closed store does nothing."""
        ...


@record("transport.envelope")
@attrs.frozen(init=False)
class Envelope:
    """What crosses the network between two authorities in one relational context."""

    source: AuthorityId
    destination: AuthorityId
    context: ContextId
    payload: bytes

    def __init__(
        self, source: AuthorityId, destination: AuthorityId, context: ContextId, payload: bytes
    ) -> None:
        # One is built per message received, so its construction is on the transport's hot
        # path: writing through the slots' own descriptors takes about a third less time than
        # attrs' frozen `__init__` (a bound `object.__setattr__` call per field). Assignment
        # from outside still raises `FrozenInstanceError`.
        _SET_SOURCE(self, source)
        _SET_DESTINATION(self, destination)
        _SET_CONTEXT(self, context)
        _SET_PAYLOAD(self, payload)


def _slot_setter(cls: type[object], name: str) -> Callable[[object, object], None]:
    """The `__set__` of a slotted attrs class's field, which bypasses its frozen `__setattr__`."""
    setter: Callable[[object, object], None] = cls.__dict__[name].__set__
    return setter


_SET_SOURCE = _slot_setter(Envelope, "source")
_SET_DESTINATION = _slot_setter(Envelope, "destination")
_SET_CONTEXT = _slot_setter(Envelope, "context")
_SET_PAYLOAD = _slot_setter(Envelope, "payload")


class TransportEffects(Protocol):
    """The raw network. Only the guard chain holds one; everything else sends through it.

    A node sends only as itself, so `send` takes no source: what it is given is addressed, and
    the receiver gets it as an `Envelope` whose source the transport vouches for.
    """

    async def send(self, destination: AuthorityId, context: ContextId, payload: bytes) -> None:
        """Queue `payload` for `destination` in `context`."""
        ...

    async def receive(self) -> Envelope:
        """The next envelope (waits for one)."""
        ...

    async def receive_many(self, limit: int) -> list[Envelope]:
        """The envelopes that have arrived, oldest first, at most `limit` (>= 1): waits for
        one, then takes what is already here without waiting again. Receivers that check
        many at once (the guard chain verifies a batch's signatures together) use this."""
        ...


class CryptoEffects(Protocol):
    """Cryptography that needs randomness; the handler draws it from `RandomEffects`."""

    async def generate_signing_key(self) -> SigningKey: ...

    async def aead_encrypt(self, key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
        """Encrypt and authenticate; the fresh nonce is part of the returned bytes."""
        ...

    async def aead_decrypt(self, key: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
        """Decrypt or raise `CryptoError` if anything was tampered with."""
        ...


TraceValue: TypeAlias = str | int | bool | None
"""Trace fields are plain values; never put key material or plaintext in one."""


class TraceEffects(Protocol):
    """Structured local traces. Never sent to peers; never given secrets."""

    def event(self, name: str, /, **fields: TraceValue) -> None: ...


@attrs.frozen
class Signal(Generic[T]):
    """A named, typed slot of reactive state (e.g. the device list)."""

    name: str


class ReactiveEffects(Protocol):
    """Latest-value signals that the UI subscribes to."""

    async def emit(self, signal: Signal[T], value: T) -> None: ...

    def read(self, signal: Signal[T]) -> T | None: ...

    def subscribe(self, signal: Signal[T]) -> AsyncIterator[T]:
        """Yield the current value (if any) and then each newer one; slow readers skip stale."""
        ...
