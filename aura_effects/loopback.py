"""An in-process network: named mailboxes between authorities, lossless and in order.

The raw, unguarded transport for devices that share one process (the demo's embedded
default, tests, examples). Only the guard chain may hold it: the layers above get guarded
transports from `aura_guards.loopback.connect`, and an import-linter contract keeps them from
importing this module, directly or through anything else. `Mailbox` is also the simulator's
inbox (`aura_sim.network`), which adds faults, partitions and crashes on top.
"""

from __future__ import annotations

import math
from collections import deque

import anyio

from aura_core.effects import Envelope
from aura_core.errors import InvalidArgument, TransportError
from aura_core.ids import AuthorityId, ContextId

__all__ = ["Mailbox", "LoopbackNetwork", "LoopbackTransport"]


class Mailbox:
    """Envelopes waiting for one node, in arrival order.

    A network may close a mailbox (the simulator does when a node crashes): what it held is
    gone, and a receive waiting on it (or started after) fails instead of taking messages meant
    for a later incarnation.
    """

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.queue: deque[Envelope] = deque()
        self.arrived: anyio.Event | None = None
        self.closed = False

    def put(self, envelope: Envelope) -> None:
        self.queue.append(envelope)
        self._wake()

    def close(self) -> int:
        """Drop what is queued and fail every receive, now and later; returns how many dropped."""
        dropped = len(self.queue)
        self.queue.clear()
        self.closed = True
        self._wake()
        return dropped

    def _wake(self) -> None:
        if self.arrived is not None:
            self.arrived.set()
            self.arrived = None

    async def get(self) -> Envelope:
        while not self.queue:
            if self.closed:
                # A receiver cancelled along with the crash that closed this mailbox ends
                # cancelled, not with this error: the simulator's loop may run it again before
                # the cancellation reaches it, so let the cancellation arrive.
                while anyio.current_effective_deadline() == -math.inf:
                    await anyio.lowlevel.checkpoint()
                raise TransportError(f"{self.name} is down")
            if self.arrived is None:
                self.arrived = anyio.Event()
            await self.arrived.wait()
        return self.queue.popleft()

    async def get_many(self, limit: int) -> list[Envelope]:
        """The oldest `limit` envelopes or fewer: waits for one, then takes what is already
        here without waiting again."""
        if limit < 1:
            raise InvalidArgument("a receive takes at least one envelope")
        queue = self.queue
        batch = [await self.get()]
        while queue and len(batch) < limit:
            batch.append(queue.popleft())
        return batch


class LoopbackNetwork:
    """Named mailboxes between authorities: what is sent is delivered, in order."""

    def __init__(self) -> None:
        self._inboxes: dict[AuthorityId, Mailbox] = {}
        self.delivered: list[Envelope] = []
        """Every envelope handed to a mailbox (for tests and monitors)."""

    def attach(self, node: AuthorityId) -> LoopbackTransport:
        """The transport of one node (create it once per node)."""
        if node in self._inboxes:
            raise InvalidArgument(f"{node} is already attached")
        self._inboxes[node] = Mailbox(str(node))
        return LoopbackTransport(self, node)

    def _deliver(self, envelope: Envelope) -> None:
        inbox = self._inboxes.get(envelope.destination)
        if inbox is None:
            raise TransportError(f"no route to {envelope.destination}")
        inbox.put(envelope)
        self.delivered.append(envelope)

    async def _receive(self, node: AuthorityId) -> Envelope:
        return await self._inboxes[node].get()

    async def _receive_many(self, node: AuthorityId, limit: int) -> list[Envelope]:
        return await self._inboxes[node].get_many(limit)


class LoopbackTransport:
    """`TransportEffects` of one node on a `LoopbackNetwork` (raw and unguarded)."""

    def __init__(self, network: LoopbackNetwork, node: AuthorityId) -> None:
        self._network = network
        self._node = node

    async def send(self, destination: AuthorityId, context: ContextId, payload: bytes) -> None:
        self._network._deliver(Envelope(self._node, destination, context, payload))

    async def receive(self) -> Envelope:
        return await self._network._receive(self._node)

    async def receive_many(self, limit: int) -> list[Envelope]:
        return await self._network._receive_many(self._node, limit)
