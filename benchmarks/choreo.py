"""What the choreography language costs: parsing, the well-formedness rules and projection.

A synthetic protocol of 10 and of 50 messages is built from the shapes real protocols use
(fan-out, threshold fan-in under a timeout, choices with third parties, loops with an exit) and
timed through each stage: `parse`, the static rules (`check_static`), `check` (the rules plus
the projection of every role), `project` of one role (which checks first) and `compile` (all of
it from text). This happens once per protocol per process, before any session runs.

The script prints one table per concern. `language_table()` is the language's;
`runtime_table()` is the runtime's per-message overhead: an `Endpoint.send` (the local type's
check, the wire record, then the guard chain) against a bare `GuardedTransport.send` of the same
payload and annotations, and on the receiving side `GuardedTransport.accept` followed by the
dispatcher's routing and checks and an `Endpoint.receive`, against `accept` alone. The raw
transport is a no-op (sends are captured to feed the receiving side), on the testing bundle
(in-memory storage, cached capability decision), all in one run so the ratios compare like
with like.

Run: ./dev bench   (or .venv/bin/python benchmarks/choreo.py)
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio

from aura_core.choreo import check, compile, message_table, parse, project
from aura_core.choreo.wellformed import check_static
from aura_core.crypto.ed25519 import SigningKey
from aura_core.effects import Envelope
from aura_core.ids import AuthorityId, ContextId, DeviceId, SessionId
from aura_effects.bundle import Effects
from aura_guards.transport import GuardedTransport
from aura_journal.budget import UNLIMITED
from aura_journal.capability import CapabilityFrontier, ContextScope, issue_token
from aura_protocol import Choreography, Dispatcher, Session
from aura_sim.handlers import testing_effects
from benchmarks._harness import Timing, format_ns, measure, table

BINDINGS = {"n": 5, "t": 3}

# Segments of a synthetic protocol, by the number of messages each holds. `{i}` keeps labels
# and loop names unique.
SEGMENTS: list[tuple[int, str]] = [
    (
        1,
        'Coordinator [guard_capability = "consensus:initiate"] -> Witness[*] : Execute{i}(Op);',
    ),
    (
        5,
        """timeout 30s at Coordinator {{
    Witness[*] [guard_capability = "consensus:witness_sign", flow_cost = 50, leak = "neighbor"]
      -> Coordinator : Share{i}(Share) within t;
    Coordinator [journal_facts = "consensus_complete"] -> Witness[*] : Commit{i}(CommitFact);
    Coordinator -> Observer : Done{i};
  }} on timeout {{
    Coordinator -> Witness[*] : Abort{i};
    Coordinator -> Observer : Failed{i}(bytes);
  }}""",
    ),
    (
        4,
        """choice Coordinator {{
    go: Coordinator -> Auditor : Go{i}; Auditor -> Observer : Note{i}(bytes);
    stop: Coordinator -> Auditor : Stop{i}; Auditor -> Observer : Halt{i};
  }}""",
    ),
    (
        3,
        """rec L{i} {{
    choice Coordinator {{
      again: Coordinator -> Witness[*] : Ping{i}; Witness[*] -> Coordinator : Pong{i};
             continue L{i};
      stop: Coordinator -> Witness[*] : Last{i};
    }}
  }}""",
    ),
]


def synthetic_protocol(messages: int) -> str:
    """A well-formed protocol of exactly `messages` message statements."""
    parts: list[str] = []
    written = 0
    index = 0
    while written < messages:
        size, template = SEGMENTS[index % len(SEGMENTS)]
        if written + size > messages:
            size, template = SEGMENTS[0]
        parts.append("  " + template.format(i=index))
        written += size
        index += 1
    body = "\n".join(parts)
    return (
        f"protocol Synthetic {{\n  roles Coordinator, Witness[n], Observer, Auditor;\n{body}\n}}\n"
    )


def language_table() -> str:
    rows: list[Timing] = []
    baseline: Timing | None = None
    for messages in (10, 50):
        text = synthetic_protocol(messages)
        protocol = parse(text)
        assert len(message_table(protocol)) == messages
        compile(text, BINDINGS)  # well-formed, or the benchmark is meaningless
        parse_row = measure(f"parse ({messages} messages)", partial(parse, text))
        baseline = baseline or parse_row
        rows += [
            parse_row,
            measure(
                f"rules only: check_static ({messages})",
                partial(check_static, protocol, BINDINGS),
            ),
            measure(
                f"check: rules + project all 4 roles ({messages})",
                partial(check, protocol, BINDINGS),
            ),
            measure(
                f"project one role, checked ({messages})",
                partial(project, protocol, "Witness", bindings=BINDINGS),
            ),
            measure(
                f"compile: text to all local types ({messages})",
                partial(compile, text, BINDINGS),
            ),
        ]
    assert baseline is not None
    per_message = rows[-1].median / 50 / 1000
    return (
        table("Choreography language: parse, check, project", rows, baseline)
        + f"\ncompile of the 50-message protocol: {per_message:.1f} µs per message"
    )


STREAM = """
protocol Stream {
  roles Sender, Receiver;
  rec L {
    Sender [guard_capability = "bench:send", flow_cost = 1] -> Receiver : Item(bytes);
    continue L;
  }
}
"""
CONTEXT = ContextId(b"\xc1" * 16)
PAYLOAD = b"x" * 100
SAMPLES, BATCH = 21, 100


class Capture:
    """A raw transport that keeps what is sent and never delivers anything."""

    def __init__(self, local: AuthorityId) -> None:
        self.local = local
        self.sent: list[Envelope] = []

    async def send(self, destination: AuthorityId, context: ContextId, payload: bytes) -> None:
        self.sent.append(Envelope(self.local, destination, context, payload))

    async def receive(self) -> Envelope:
        await anyio.sleep_forever()
        raise AssertionError

    async def receive_many(self, limit: int) -> list[Envelope]:
        await anyio.sleep_forever()
        raise AssertionError


async def timed(name: str, step: Callable[[], Awaitable[object]]) -> Timing:
    """SAMPLES batches of BATCH calls (after one warm-up batch), per-call nanoseconds; the
    garbage collector is off while timing, as in `_harness.measure`."""
    for _ in range(BATCH):
        await step()
    samples = []
    gc.disable()
    try:
        for _ in range(SAMPLES):
            start = time.perf_counter_ns()
            for _ in range(BATCH):
                await step()
            samples.append((time.perf_counter_ns() - start) / BATCH)
    finally:
        gc.enable()
    return Timing(name, tuple(samples))


def node(me: int, peer: int) -> tuple[Effects, GuardedTransport, Capture]:
    """A testing-bundle node of authority `me` that knows `peer` and may send `bench:send`."""
    who = AuthorityId(bytes([me]) * 16)
    effects = testing_effects(me, authority=who, device=DeviceId(bytes([me]) * 16))
    effects.peers.add(AuthorityId(bytes([peer]) * 16), SigningKey(bytes([peer]) * 32).verifying_key)
    effects.flow.set_default(CONTEXT, UNLIMITED)  # unlimited: measure the work, not a refusal
    token = issue_token(
        bytes([me]) * 32, who, ["bench:send"], seed=bytes(32), scope=ContextScope(CONTEXT)
    )
    effects.authorization.grant(CONTEXT, CapabilityFrontier.of(token))
    raw = Capture(who)
    guarded = GuardedTransport(effects, raw, local=who, signing_key=SigningKey(bytes([me]) * 32))
    return effects, guarded, raw


async def runtime_rows() -> list[Timing]:
    """Sends first (bare, then through an endpoint), capturing the envelopes; then the
    receiving side consumes them in the same order, so every receipt nonce checks out."""
    choreography = Choreography.compile(STREAM)
    sender_fx, sender, captured = node(1, 2)
    receiver_fx, receiver, _ = node(2, 1)
    roster = {"Sender": [sender.local], "Receiver": [receiver.local]}
    session = Session(choreography, SessionId(b"\x5e" * 16), CONTEXT, roster)
    annotations = choreography.guards[0]
    operation = choreography.operation("Item")
    bare_send = partial(sender.send, CONTEXT, receiver.local, operation, PAYLOAD, annotations)
    rows = [await timed("GuardedTransport.send (bare)", bare_send)]
    bare = iter(list(captured.sent))
    captured.sent.clear()
    async with (
        Dispatcher(sender, sender_fx.trace) as at_sender,
        Dispatcher(receiver, receiver_fx.trace) as at_receiver,
    ):
        out = at_sender.open(session, "Sender")
        send = partial(out.send, "Item", PAYLOAD)
        rows.append(await timed("Endpoint.send (local type + record + guard chain)", send))
        through_runtime = iter(list(captured.sent))

        async def accept() -> object:
            return await receiver.accept(next(bare))

        rows.append(await timed("GuardedTransport.accept (bare)", accept))
        inbound = at_receiver.open(session, "Receiver")

        async def receive() -> object:
            at_receiver._route(await receiver.accept(next(through_runtime)))
            return await inbound.receive("Item")

        rows.append(await timed("accept + route + Endpoint.receive", receive))
    return rows


def runtime_table() -> str:
    send, endpoint_send, accept, endpoint_receive = anyio.run(runtime_rows)
    rows = [send, endpoint_send, accept, endpoint_receive]
    sending = endpoint_send.median - send.median
    receiving = endpoint_receive.median - accept.median
    return (
        table("Choreography runtime: per message, transport excluded", rows, send)
        + f"\nsend: runtime adds {format_ns(sending)} per message"
        f" ({endpoint_send.median / send.median:.2f}x a bare guarded send)"
        + f"\nreceive: runtime adds {format_ns(receiving)} per message"
        f" ({endpoint_receive.median / accept.median:.2f}x a bare accept)"
    )


def main() -> None:
    print(language_table())
    print()
    print(runtime_table())


if __name__ == "__main__":
    main()
