"""Clocks: wall time, the device's vector clock and order tokens.

`SystemClock` is the only reader of real time in the library. The vector clock and the order
clock are pure bookkeeping over a `RandomEffects`, so the simulator uses them unchanged.
"""

from __future__ import annotations

import time

import anyio

from aura_core.effects import RandomEffects
from aura_core.errors import InvalidArgument
from aura_core.ids import DeviceId
from aura_core.time import LogicalTime, OrderTime, PhysicalTime

__all__ = ["SystemClock", "VectorClock", "OrderClock"]


class SystemClock:
    """`PhysicalTimeEffects` over the system clock and anyio's sleep."""

    async def now(self) -> PhysicalTime:
        return PhysicalTime(time.time_ns() // 1_000_000)

    async def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise InvalidArgument("cannot sleep a negative time")
        await anyio.sleep(seconds)


class VectorClock:
    """`LogicalClockEffects`: this device's entry advances on every local event."""

    def __init__(self, device: DeviceId, start: LogicalTime | None = None) -> None:
        self._device = device
        self._time = start or LogicalTime({}, 0)

    async def tick(self) -> LogicalTime:
        vector = dict(self._time.vector)
        vector[self._device] = vector.get(self._device, 0) + 1
        self._time = LogicalTime(vector, self._time.lamport + 1)
        return self._time

    async def observe(self, remote: LogicalTime) -> LogicalTime:
        merged = dict(self._time.vector)
        for device, count in remote.vector.items():
            merged[device] = max(merged.get(device, 0), count)
        self._time = LogicalTime(merged, max(self._time.lamport, remote.lamport))
        return await self.tick()


class OrderClock:
    """`OrderClockEffects`: an increasing 8-byte counter followed by 24 random bytes.

    Tokens order a device's own facts by creation and break ties between devices at random; they
    carry no wall-clock time.
    """

    def __init__(self, random: RandomEffects, start: int = 0) -> None:
        self._random = random
        self._counter = start

    def observe(self, token: OrderTime) -> None:
        """Keep later tokens after `token` (call with tokens of facts received from peers)."""
        self._counter = max(self._counter, int.from_bytes(token.token[:8], "big"))

    async def order_time(self) -> OrderTime:
        self._counter += 1
        suffix = await self._random.random_bytes(24)
        return OrderTime(self._counter.to_bytes(8, "big") + suffix)
