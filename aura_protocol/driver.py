"""`drive`: run an endpoint through its local type with no application behind it.

At every node the driver does what the node allows: sends (random payload bytes when the
message has a payload type), receives, collects, branches, runs `par` branches concurrently,
and picks a `Select` case uniformly at random. Choices and payloads come from the
`RandomEffects` passed in, so a seeded stream replays the same run. A `TimerFired` is not an
error here: the endpoint is already in the `on timeout` branch and the driver carries on.

Used by the property tests (every projected endpoint of a random protocol, driven together,
must reach `End`) and by anything that needs a role played without an application: load
generators, fuzzing peers, the benchmark.
"""

from __future__ import annotations

from aura_core.choreo import Branch, End, Par, Receive, Select, Send
from aura_core.effects import RandomEffects
from aura_protocol.endpoint import Endpoint, TimerFired

__all__ = ["drive"]


async def drive(endpoint: Endpoint, random: RandomEffects, *, max_payload: int = 32) -> None:
    """Drive `endpoint` to `End`, choosing and filling payloads (0 ... `max_payload` bytes)
    from `random`. Raises what the endpoint raises (`ProtocolViolation`, ...)."""

    async def branch(child: Endpoint) -> None:
        await drive(child, random, max_payload=max_payload)

    while True:
        node = endpoint.node
        try:
            if isinstance(node, End):
                return
            if isinstance(node, Send):
                payload = b""
                if node.message.payload is not None:
                    size = await random.random_range(0, max_payload + 1)
                    payload = await random.random_bytes(size)
                await endpoint.send(node.message.label, payload)
            elif isinstance(node, Select):
                labels = node.labels
                await endpoint.select(labels[await random.random_range(0, len(labels))])
            elif isinstance(node, Receive) and node.peer.every:
                await endpoint.collect()
            elif isinstance(node, Receive):
                await endpoint.receive()
            elif isinstance(node, Branch):
                await endpoint.branch()
            elif isinstance(node, Par):
                await endpoint.par(*[branch] * len(node.branches))
            else:  # Rec, Var and Timeout are entered by the endpoint itself
                raise AssertionError(f"endpoint stopped at a structural node {node!r}")
        except TimerFired:
            continue
