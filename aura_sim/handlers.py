"""Deterministic handlers for tests and simulations, and the testing bundle.

Randomness comes from a seeded stream, time from a manual clock (or the simulator loop's virtual
clock), storage from an in-memory "disk" with the same atomic-batch semantics as SQLite (and a
fault hook to kill a batch midway). The simulated raw network is in `aura_sim.network`. The
journal, authorization and policy handlers are the production ones: they are pure
bookkeeping over these.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence

import anyio
import attrs

from aura_core.effects import Delete, Put, StorageOp
from aura_core.errors import InvalidArgument, StorageError
from aura_core.ids import AuthorityId, DeviceId
from aura_core.time import PhysicalTime
from aura_effects.bundle import Effects, assemble_effects
from aura_journal.registry import FactRegistry
from aura_sim.seeds import SeedTree, Stream

__all__ = [
    "SeededRandom",
    "ManualClock",
    "LoopClock",
    "Disk",
    "MemoryStorage",
    "testing_effects",
]

EPOCH_MS = 1_763_700_000_000
"""Wall-clock origin of simulated time (2025-11-21), so timestamps look like real ones."""


class SeededRandom:
    """`RandomEffects` drawing from one seeded stream."""

    def __init__(self, stream: Stream) -> None:
        self._stream = stream

    async def random_bytes(self, n: int) -> bytes:
        if type(n) is not int or n < 0:
            raise InvalidArgument("a byte count is a non-negative int")
        return self._stream.bytes(n)

    async def random_u64(self) -> int:
        return self._stream.u64()

    async def random_range(self, low: int, high: int) -> int:
        if high <= low:
            raise InvalidArgument("random_range needs low < high")
        return self._stream.randrange(low, high)


class ManualClock:
    """`PhysicalTimeEffects` whose time moves only when told to (or by sleeping)."""

    def __init__(self, now_ms: int = EPOCH_MS) -> None:
        self.now_ms = now_ms

    def advance(self, ms: int) -> None:
        self.now_ms += ms

    async def now(self) -> PhysicalTime:
        return PhysicalTime(self.now_ms)

    async def sleep(self, seconds: float) -> None:
        """Advance the clock by `seconds` and yield once to other tasks."""
        if seconds < 0:
            raise InvalidArgument("cannot sleep a negative time")
        self.now_ms += math.ceil(seconds * 1000)
        await anyio.lowlevel.checkpoint()


class LoopClock:
    """`PhysicalTimeEffects` on the running event loop's clock (virtual under the simulator).

    `skew_ms` shifts what this node reads, to simulate a node whose clock is off.
    """

    def __init__(self, *, epoch_ms: int = EPOCH_MS, skew_ms: int = 0) -> None:
        self._epoch_ms = epoch_ms
        self.skew_ms = skew_ms

    async def now(self) -> PhysicalTime:
        loop_ms = round(asyncio.get_running_loop().time() * 1000)
        return PhysicalTime(max(self._epoch_ms + loop_ms + self.skew_ms, 0))

    async def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise InvalidArgument("cannot sleep a negative time")
        await anyio.sleep(seconds)


@attrs.define
class Disk:
    """The durable part of a device: survives `MemoryStorage` instances (crash and restart).

    With `unsynced_window` > 0 the disk behaves like one whose writes reach the platter late:
    a crash (`lose_unsynced`) undoes every batch written in the last `unsynced_window` seconds.
    """

    data: dict[str, bytes] = attrs.field(factory=dict)
    unsynced_window: float = 0.0
    _recent: list[tuple[float, dict[str, bytes | None]]] = attrs.field(factory=list)

    def record(self, now: float, undo: dict[str, bytes | None]) -> None:
        if self.unsynced_window > 0:
            self._recent = [(t, u) for t, u in self._recent if t > now - self.unsynced_window]
            self._recent.append((now, undo))

    def lose_unsynced(self, now: float) -> int:
        """Undo the batches not yet synced at `now` (a crash); returns how many were lost."""
        lost = [(t, u) for t, u in self._recent if t > now - self.unsynced_window]
        for _, undo in reversed(lost):
            for key, previous in undo.items():
                if previous is None:
                    self.data.pop(key, None)
                else:
                    self.data[key] = previous
        self._recent = []
        return len(lost)


class MemoryStorage:
    """`StorageEffects` over a `Disk`; batches are atomic.

    `fault` (tests) is called with the index of each write in a batch before it happens; if it
    raises, the batch is abandoned and the disk is untouched.
    """

    def __init__(
        self, disk: Disk | None = None, *, clock: Callable[[], float] | None = None
    ) -> None:
        self.disk = disk if disk is not None else Disk()
        self.fault: Callable[[int, StorageOp], None] | None = None
        self.on_commit: Callable[[Sequence[StorageOp]], None] | None = None
        self._clock = clock
        self._closed = False

    async def close(self) -> None:
        """Later calls raise `StorageError`; the disk stays (a restart opens a new storage on
        it)."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("storage is closed")

    async def get(self, key: str) -> bytes | None:
        self._check_open()
        return self.disk.data.get(key)

    async def put(self, key: str, value: bytes) -> None:
        await self.batch([Put(key, value)])

    async def delete(self, key: str) -> bool:
        present = key in self.disk.data
        await self.batch([Delete(key)])
        return present

    async def list_keys(self, prefix: str) -> list[str]:
        self._check_open()
        return sorted(key for key in self.disk.data if key.startswith(prefix))

    async def scan(self, prefix: str) -> list[tuple[str, bytes]]:
        data = self.disk.data
        return [(key, data[key]) for key in await self.list_keys(prefix)]

    async def batch(self, ops: Sequence[StorageOp]) -> None:
        # Every fault point and check runs before the disk changes; the writes themselves
        # cannot fail, so the batch becomes visible all at once or not at all.
        self._check_open()
        for index, op in enumerate(ops):
            if not isinstance(op, Put | Delete):
                raise InvalidArgument(f"not a storage operation: {op!r}")
            if self.fault is not None:
                self.fault(index, op)
        data = self.disk.data
        if self._clock is not None and self.disk.unsynced_window > 0:
            self.disk.record(self._clock(), {op.key: data.get(op.key) for op in ops})
        for op in ops:
            if isinstance(op, Put):
                data[op.key] = op.value
            else:
                data.pop(op.key, None)
        if self.on_commit is not None:
            self.on_commit(ops)


def testing_effects(
    seed: int,
    *,
    authority: AuthorityId | None,
    device: DeviceId,
    storage: MemoryStorage | None = None,
    clock: ManualClock | LoopClock | None = None,
    registry: FactRegistry | None = None,
    random: SeededRandom | None = None,
) -> Effects:
    """A deterministic bundle: every random draw comes from `seed` (or from `random`)."""
    if random is None:
        random = SeededRandom(SeedTree(seed).child("node", str(device)).stream("random"))
    return assemble_effects(
        random=random,
        time=clock if clock is not None else ManualClock(),
        storage=storage if storage is not None else MemoryStorage(),
        authority=authority,
        device=device,
        registry=registry,
    )
