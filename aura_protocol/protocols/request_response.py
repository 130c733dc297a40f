"""A request, its response, and an acknowledgement; the client gives up after a deadline.

```
Client:  Server ! Request;
         timeout deadline { Server ? Response; Server ! Ack } on timeout { Server ! Cancel }
Server:  Client ? Request;  Client ! Response;  branch Client { Ack | Cancel }
```

The server always answers; if the answer misses the client's deadline the client discards it
when it comes and tells the server `Cancel` instead of `Ack`, so both sides end and agree on
whether the exchange counted.
"""

from __future__ import annotations

from collections.abc import Callable

from aura_protocol.endpoint import Endpoint, Program, TimerFired

__all__ = ["TEXT", "BINDINGS", "client", "server"]

TEXT = """\
protocol RequestResponse {
  roles Client, Server;
  Client [guard_capability = "rpc:request", flow_cost = 10] -> Server : Request(bytes);
  timeout deadline at Client {
    Server [guard_capability = "rpc:respond", flow_cost = 10] -> Client : Response(bytes);
    Client [guard_capability = "rpc:ack", flow_cost = 1] -> Server : Ack;
  } on timeout {
    Client [guard_capability = "rpc:ack", flow_cost = 1] -> Server : Cancel;
  }
}
"""

BINDINGS = {"deadline": 5_000}
"""The client's deadline in milliseconds."""


def client(request: bytes) -> Program:
    """The client: send `request`; returns the response's bytes, or None if it came too late."""

    async def run(endpoint: Endpoint) -> bytes | None:
        await endpoint.send("Request", request)
        try:
            response = await endpoint.receive("Response")
        except TimerFired:
            await endpoint.send("Cancel")
            return None
        await endpoint.send("Ack")
        return response.payload

    return run


def server(handler: Callable[[bytes], bytes]) -> Program:
    """The server: answer with `handler(request)`; returns whether the client acknowledged."""

    async def run(endpoint: Endpoint) -> bool:
        request = await endpoint.receive("Request")
        await endpoint.send("Response", handler(request.payload))
        verdict = await endpoint.branch()
        return verdict.label == "Ack"

    return run
