"""The in-memory network between simulated nodes: the raw, unguarded transport.

Only the guard chain may hold a node's transport; an import-linter contract keeps
`aura_protocol`, `aura_agent` and `aura_terminal` from importing this module.
"""

from __future__ import annotations

from collections import deque

import anyio

from aura_core.effects import Envelope
from aura_core.errors import InvalidArgument, TransportError
from aura_core.ids import AuthorityId

__all__ = ["MemoryNetwork", "NodeTransport"]


class _Inbox:
    """Envelopes waiting for one node, in arrival order."""

    def __init__(self) -> None:
        self.queue: deque[Envelope] = deque()
        self.arrived: anyio.Event | None = None

    def put(self, envelope: Envelope) -> None:
        self.queue.append(envelope)
        if self.arrived is not None:
            self.arrived.set()
            self.arrived = None

    async def get(self) -> Envelope:
        while not self.queue:
            if self.arrived is None:
                self.arrived = anyio.Event()
            await self.arrived.wait()
        return self.queue.popleft()


class MemoryNetwork:
    """Named mailboxes between authorities: what is sent is delivered, in order."""

    def __init__(self) -> None:
        self._inboxes: dict[AuthorityId, _Inbox] = {}
        self.delivered: list[Envelope] = []
        """Every envelope handed to a mailbox (for tests and monitors)."""

    def attach(self, node: AuthorityId) -> NodeTransport:
        """The transport of one node (create it once per node)."""
        if node in self._inboxes:
            raise InvalidArgument(f"{node} is already attached")
        self._inboxes[node] = _Inbox()
        return NodeTransport(self, node)

    def _deliver(self, envelope: Envelope) -> None:
        inbox = self._inboxes.get(envelope.destination)
        if inbox is None:
            raise TransportError(f"no route to {envelope.destination}")
        inbox.put(envelope)
        self.delivered.append(envelope)

    async def _receive(self, node: AuthorityId) -> Envelope:
        return await self._inboxes[node].get()


class NodeTransport:
    """`TransportEffects` of one node on a `MemoryNetwork` (the raw, unguarded transport)."""

    def __init__(self, network: MemoryNetwork, node: AuthorityId) -> None:
        self._network = network
        self._node = node

    async def send(self, envelope: Envelope) -> None:
        if envelope.source != self._node:
            raise TransportError("a node sends only as itself")
        self._network._deliver(envelope)

    async def receive(self) -> Envelope:
        return await self._network._receive(self._node)
