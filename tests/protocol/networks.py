"""A raw test network to swap in for `LoopbackNetwork`: seeded latency.

`LatencyNetwork` delays every envelope by an exponentially distributed virtual time (seeded,
drawn from the simulator's seed tree) while keeping each (source, destination) pair in FIFO
order, as a real stream transport would: the guard chain's receipt check refuses a nonce below
one already seen, so a reordered pair would look like loss. Lossless; deliveries are timer
callbacks on the simulator loop, each put on the trace.
"""

from __future__ import annotations

import asyncio
from collections import deque

import anyio

from aura_core.effects import Envelope
from aura_core.errors import TransportError
from aura_core.ids import AuthorityId, ContextId
from aura_sim import Stream, current_loop


class _Inbox:
    def __init__(self) -> None:
        self.queue: deque[Envelope] = deque()
        self.arrived = anyio.Event()

    def put(self, envelope: Envelope) -> None:
        self.queue.append(envelope)
        self.arrived.set()
        self.arrived = anyio.Event()

    async def get(self) -> Envelope:
        while not self.queue:
            await self.arrived.wait()
        return self.queue.popleft()


class LatencyNetwork:
    """Seeded per-message latency (mean `mean` seconds), FIFO per pair, nothing lost."""

    def __init__(self, mean: float, stream: Stream | None = None) -> None:
        self.mean = mean
        self._stream = stream or current_loop().seeds.child("net").stream("latency")
        self._inboxes: dict[AuthorityId, _Inbox] = {}
        self._last: dict[tuple[AuthorityId, AuthorityId], float] = {}
        self.sent = 0

    def attach(self, node: AuthorityId) -> _Port:
        self._inboxes[node] = _Inbox()
        return _Port(self, node)

    def _send(self, envelope: Envelope) -> None:
        inbox = self._inboxes.get(envelope.destination)
        if inbox is None:
            raise TransportError(f"no route to {envelope.destination}")
        loop = asyncio.get_running_loop()
        pair = (envelope.source, envelope.destination)
        # Strictly after the pair's previous delivery: timers due at one instant run in a
        # seeded order, which would reorder the pair.
        at = max(
            loop.time() + self._stream.expovariate(1 / self.mean), self._last.get(pair, -1.0) + 1e-6
        )
        self._last[pair] = at
        self.sent += 1
        loop.call_at(at, inbox.put, envelope)

    async def _receive(self, node: AuthorityId) -> Envelope:
        return await self._inboxes[node].get()

    async def _receive_many(self, node: AuthorityId, limit: int) -> list[Envelope]:
        inbox = self._inboxes[node]
        batch = [await inbox.get()]
        while inbox.queue and len(batch) < limit:
            batch.append(inbox.queue.popleft())
        return batch


class _Port:
    def __init__(self, network: LatencyNetwork, node: AuthorityId) -> None:
        self._network = network
        self._node = node

    async def send(self, destination: AuthorityId, context: ContextId, payload: bytes) -> None:
        self._network._send(Envelope(self._node, destination, context, payload))

    async def receive(self) -> Envelope:
        return await self._network._receive(self._node)

    async def receive_many(self, limit: int) -> list[Envelope]:
        return await self._network._receive_many(self._node, limit)
