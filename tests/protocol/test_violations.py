"""What the runtime refuses: actions outside the local type, unguarded or denied sends, and
incoming messages the protocol does not allow. Every refused local action must leave the
network, the node's storage (journal facts, receipt chain) and the guarded send count as they
were."""

from __future__ import annotations

import anyio
import pytest

import aura_sim
from aura_core.encoding import encode
from aura_core.errors import GuardDenied, InvalidArgument, ProtocolViolation
from aura_core.ids import ContextId, SessionId
from aura_effects.trace import Tracer
from aura_guards.chain import GuardAnnotations
from aura_journal.budget import UNLIMITED, Capped
from aura_journal.capability import CapabilityFrontier, ContextScope, issue_token
from aura_protocol import (
    Aborted,
    Completed,
    Dispatcher,
    Endpoint,
    Outcome,
    SessionMessage,
    TimedOut,
    Violated,
)
from tests.protocol.cluster import CONTEXT, SESSION, Node, Setup, setup

CHAT = """
protocol Chat {
  roles Alice, Bob;
  Alice [guard_capability = "chat:send", flow_cost = 7] -> Bob : Hello(bytes);
  choice Bob {
    yes: Bob [guard_capability = "chat:send"] -> Alice : Yes;
    no:  Bob [guard_capability = "chat:send"] -> Alice : No(bytes);
  }
  Alice [guard_capability = "chat:send", journal_facts = "chat_done"] -> Bob : Bye;
}
"""
HELLO, YES, NO, BYE = range(4)  # msg_ids


def tracer(node: Node) -> Tracer:
    trace = node.effects.trace
    assert isinstance(trace, Tracer)
    return trace


async def refused(world: Setup, role: str, attempt: object) -> ProtocolViolation:
    """Await `attempt`; it must raise ProtocolViolation and change nothing."""
    before = await world.state(role)
    with pytest.raises(ProtocolViolation) as caught:
        await attempt  # type: ignore[misc]
    assert await world.state(role) == before
    return caught.value


async def noop(endpoint: Endpoint) -> None:
    return None


def test_actions_outside_the_local_type_are_refused_before_any_io() -> None:
    async def main() -> dict[str, Outcome]:
        world = setup(CHAT)

        async def alice(ep: Endpoint) -> None:
            await refused(world, "Alice", ep.send("Bye"))
            await refused(world, "Alice", ep.send("Hello", b"x", to="Carol"))
            await refused(world, "Alice", ep.receive())
            await refused(world, "Alice", ep.branch())
            await refused(world, "Alice", ep.collect())
            await refused(world, "Alice", ep.select("yes"))
            await refused(world, "Alice", ep.par(noop))
            await ep.send("Hello", b"hi", to="Bob")  # a refusal leaves the endpoint usable
            await refused(world, "Alice", ep.send("Yes"))
            await refused(world, "Alice", ep.receive("No"))  # a Branch is not a plain receive
            answer = await ep.branch()
            assert answer.label == "Yes"
            await ep.send("Bye")
            await refused(world, "Alice", ep.send("Bye"))  # at End nothing is allowed

        async def bob(ep: Endpoint) -> None:
            hello = await ep.receive("Hello")
            assert hello.payload == b"hi"
            await refused(world, "Bob", ep.send("Yes"))  # must select first
            await refused(world, "Bob", ep.select("maybe"))
            await ep.select("yes")
            violation = await refused(world, "Bob", ep.send("Yes", b"payload"))
            assert "with a payload" in violation.message
            await ep.send("Yes")
            await ep.receive()

        return await run_two(world, alice, bob)

    outcomes = aura_sim.run(main, seed=3)
    assert outcomes == {"Alice": Completed(), "Bob": Completed()}


async def run_two(world: Setup, alice: object, bob: object) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    alice_node, bob_node = world.node("Alice"), world.node("Bob")
    async with (
        Dispatcher(alice_node.guarded, alice_node.effects.trace) as at_alice,
        Dispatcher(bob_node.guarded, bob_node.effects.trace) as at_bob,
        anyio.create_task_group() as group,
    ):

        async def play(dispatcher: Dispatcher, role: str, program: object) -> None:
            outcomes[role] = await dispatcher.run(world.session, role, program)  # type: ignore[arg-type]

        group.start_soon(play, at_alice, "Alice", alice)
        group.start_soon(play, at_bob, "Bob", bob)
    return outcomes


def test_an_uncaught_violation_ends_the_run_violated_with_nothing_sent() -> None:
    async def main() -> tuple[Outcome, int, int]:
        world = setup(CHAT)
        node = world.node("Alice")

        async def alice(ep: Endpoint) -> None:
            await ep.send("Bye")

        async with Dispatcher(node.guarded, node.effects.trace) as dispatcher:
            outcome = await dispatcher.run(world.session, "Alice", alice)
        return outcome, len(world.network.delivered), await node.spent(world.node("Bob").authority)

    outcome, delivered, spent = aura_sim.run(main, seed=1)
    assert isinstance(outcome, Violated)
    assert "send Bye is not allowed here" in outcome.reason
    assert "send Hello to Bob" in outcome.reason
    assert (delivered, spent) == (0, 0)


UNGUARDED = """
protocol Unguarded {
  roles Alice, Bob;
  Alice [flow_cost = 5, journal_facts = "f", leak = "group"] -> Bob : Hello;
}
"""


def test_a_message_without_guard_capability_is_denied() -> None:
    async def main() -> Outcome:
        world = setup(UNGUARDED, capabilities=["chat:send"])
        node = world.node("Alice")

        async def alice(ep: Endpoint) -> None:
            violation = await refused(world, "Alice", ep.send("Hello"))
            assert isinstance(violation.__cause__, GuardDenied)
            assert violation.__cause__.reason == "unguarded"
            await refused(world, "Alice", ep.send("Hello"))  # the role's run is over
            raise violation

        async with Dispatcher(node.guarded, node.effects.trace) as dispatcher:
            outcome = await dispatcher.run(world.session, "Alice", alice)
        assert [e.get("reason") for e in tracer(node).events("guard.denied")] == ["unguarded"]
        assert await node.spent(world.node("Bob").authority) == 0
        assert world.network.delivered == []
        return outcome

    outcome = aura_sim.run(main, seed=1)
    assert isinstance(outcome, Aborted)
    assert "unguarded" in outcome.reason


def test_a_capability_the_node_does_not_hold_is_denied() -> None:
    async def main() -> Outcome:
        world = setup(CHAT, capabilities=["other:thing"])
        node = world.node("Alice")
        async with Dispatcher(node.guarded, node.effects.trace) as dispatcher:
            outcome = await dispatcher.run(
                world.session, "Alice", lambda ep: ep.send("Hello", b"hi")
            )
        assert world.network.delivered == []
        return outcome

    outcome = aura_sim.run(main, seed=1)
    assert outcome == Aborted("guard chain denied Hello to Bob[0] (capability); nothing sent")


FAN_OUT = """
protocol FanOut {
  roles C, W[3];
  C [guard_capability = "fan:out", flow_cost = 40] -> W[*] : Ping;
}
"""


def test_a_fan_out_is_one_guarded_send_per_member_and_stops_at_the_first_denial() -> None:
    async def main() -> tuple[Outcome, list[int]]:
        world = setup(FAN_OUT, flow_limit=Capped(100))
        node = world.node("C")
        # W[1] already received 70 of its 100: the second copy is over budget
        await node.guarded.send(
            CONTEXT,
            world.session.roster["W"][1],
            "warmup",
            b"",
            GuardAnnotations(capability="fan:out", flow_cost=70),
        )
        async with Dispatcher(node.guarded, node.effects.trace) as dispatcher:
            outcome = await dispatcher.run(world.session, "C", lambda ep: ep.send("Ping"))
        spent = [await node.spent(w) for w in world.session.roster["W"]]
        return outcome, spent

    outcome, spent = aura_sim.run(main, seed=1)
    assert outcome == Aborted("guard chain denied Ping to W[1] (budget); nothing sent")
    assert spent == [40, 70, 0]  # W[0] got its copy; W[1] was refused; W[2] was never tried


def test_one_action_at_a_time_per_endpoint() -> None:
    async def main() -> Outcome:
        world = setup(CHAT)
        node = world.node("Bob")

        async def bob(ep: Endpoint) -> None:
            async with anyio.create_task_group() as group:
                group.start_soon(ep.receive)
                await aura_sim.wait_all_tasks_blocked()
                with pytest.raises(ProtocolViolation, match="already under way"):
                    await ep.receive()
                group.cancel_scope.cancel()
            raise ProtocolViolation("done")

        async with Dispatcher(node.guarded, node.effects.trace) as dispatcher:
            return await dispatcher.run(world.session, "Bob", bob)

    assert aura_sim.run(main, seed=1) == Violated("done")


def test_a_program_that_returns_before_the_end_aborts() -> None:
    async def main() -> Outcome:
        world = setup(CHAT)
        node = world.node("Alice")
        async with Dispatcher(node.guarded, node.effects.trace) as dispatcher:
            return await dispatcher.run(world.session, "Alice", noop)

    outcome = aura_sim.run(main, seed=1)
    assert outcome == Aborted(
        "the program returned early; the local type expects send Hello to Bob"
    )


def test_bugs_in_a_program_propagate() -> None:
    async def main() -> None:
        world = setup(CHAT)
        node = world.node("Alice")

        async def alice(ep: Endpoint) -> None:
            raise ValueError("bug")

        async with Dispatcher(node.guarded, node.effects.trace) as dispatcher:
            with pytest.raises(ValueError, match="bug"):
                await dispatcher.run(world.session, "Alice", alice)
            # the endpoint was closed: the member cannot be opened again
            with pytest.raises(InvalidArgument, match="already opened"):
                dispatcher.open(world.session, "Alice")

    aura_sim.run(main, seed=1)


# -------------------------------------------------------------------------------------------
# Incoming messages: a peer that does not follow the protocol (it sends forged session
# messages through its own guard chain, so receipts are valid and the sender authenticated).


async def forge(
    world: Setup,
    *,
    label: str,
    msg_id: int,
    seq: int = 0,
    payload: bytes = b"",
    sender: str = "Alice",
    by: Node | None = None,
    session: SessionId = SESSION,
    context: ContextId = CONTEXT,
    operation: str | None = None,
) -> None:
    node = by if by is not None else world.node("Alice")
    message = SessionMessage(
        session=session,
        msg_id=msg_id,
        label=label,
        sender=sender,
        sender_index=0,
        receiver="Bob",
        receiver_index=0,
        seq=seq,
        payload=payload,
    )
    await node.guarded.send(
        context,
        world.node("Bob").authority,
        operation or world.choreography.operation(label),
        encode(message),
        GuardAnnotations(capability="chat:send", flow_cost=1),
    )


async def bob_after(world: Setup, *forged: dict[str, object], limit: float = 10.0) -> Outcome:
    """Run Bob (receive Hello, then pick `yes`, then receive Bye) while `forged` arrive."""
    node = world.node("Bob")

    async def bob(ep: Endpoint) -> None:
        await ep.receive("Hello")
        await ep.select("yes")
        await ep.send("Yes")
        await ep.receive("Bye")

    async with Dispatcher(node.guarded, node.effects.trace) as dispatcher:
        for fields in forged:
            await forge(world, **fields)  # type: ignore[arg-type]
        await aura_sim.wait_all_tasks_blocked()  # all of them wait in the backlog
        return await dispatcher.run(world.session, "Bob", bob, limit=limit)


OTHER = ContextId(b"\x01" * 16)


@pytest.mark.parametrize(
    ("forged", "reason"),
    [
        (
            [{"label": "Yes", "msg_id": YES}],
            "Alice[0] sent Yes as message 1, which the protocol does not send from Alice to Bob",
        ),
        (
            [{"label": "Hello", "msg_id": BYE}],
            "Alice[0] sent Hello as message 3, which the protocol does not send from Alice to Bob",
        ),
        ([{"label": "Bye", "msg_id": BYE}], "Alice[0] sent Bye where Bob[0] expects Hello"),
        (
            [
                {"label": "Hello", "msg_id": HELLO},
                {"label": "Bye", "msg_id": BYE, "seq": 1, "payload": b"x"},
            ],
            "Alice[0] sent a payload with Bye, which has none",
        ),
        (
            [{"label": "Hello", "msg_id": HELLO, "context": OTHER}],
            "Alice[0] sent Hello in another context or operation",
        ),
        (
            [{"label": "Hello", "msg_id": HELLO, "operation": "Other.Hello"}],
            "Alice[0] sent Hello in another context or operation",
        ),
    ],
)
def test_a_peer_message_the_protocol_does_not_allow_ends_the_run_violated(
    forged: list[dict[str, object]], reason: str
) -> None:
    async def main() -> Outcome:
        world = setup(CHAT)
        alice = world.node("Alice")
        # Alice may also send in another context, so a forgery there gets through her guards
        alice.effects.flow.set_default(OTHER, UNLIMITED)
        token = issue_token(
            b"\x42" * 32, alice.authority, ["chat:send"], seed=bytes(32), scope=ContextScope(OTHER)
        )
        alice.effects.authorization.grant(OTHER, CapabilityFrontier.of(token))
        return await bob_after(world, *forged)

    outcome = aura_sim.run(main, seed=1)
    assert outcome == Violated(reason)


def test_strangers_and_duplicates_are_dropped_and_order_is_restored() -> None:
    async def main() -> tuple[Outcome, list[object]]:
        world = setup(CHAT, extra=1)  # a node outside the roster, known to everyone
        stranger = world.nodes[sorted(world.nodes)[-1]]
        outcome = await bob_after(
            world,
            {"label": "Hello", "msg_id": HELLO, "by": stranger},  # claims to be Alice
            {"label": "Bye", "msg_id": BYE, "seq": 1},  # ahead of Hello: held back
            {"label": "Hello", "msg_id": HELLO, "payload": b"1"},
            {"label": "Hello", "msg_id": HELLO, "payload": b"2"},  # seq 0 again
        )
        drops = tracer(world.node("Bob")).events("protocol.dropped")
        return outcome, [event.get("reason") for event in drops]

    outcome, drops = aura_sim.run(main, seed=1)
    assert outcome == Completed()
    assert drops == ["not-a-member", "duplicate"]


def test_early_late_unknown_and_malformed_messages_at_the_dispatcher() -> None:
    async def main() -> tuple[Outcome, list[object]]:
        world = setup(CHAT)
        node = world.node("Bob")
        async with Dispatcher(node.guarded, node.effects.trace, backlog=3) as dispatcher:
            # three messages for a session nobody here opens, then one for Bob's, which
            # pushes the oldest out of the backlog of 3
            unknown = SessionId(b"\x09" * 16)
            for seq in range(3):
                await forge(world, label="Hello", msg_id=HELLO, seq=seq, session=unknown)
            await forge(world, label="Hello", msg_id=HELLO)  # before Bob opens: kept
            await aura_sim.wait_all_tasks_blocked()

            async def bob(ep: Endpoint) -> None:
                await ep.receive("Hello")
                await ep.select("no")
                await ep.send("No", b"sorry")
                await forge(world, label="Bye", msg_id=BYE, seq=1)
                await ep.receive("Bye")

            outcome = await dispatcher.run(world.session, "Bob", bob)
            await forge(world, label="Bye", msg_id=BYE, seq=2)  # after the end
            await world.node("Alice").guarded.send(
                CONTEXT, node.authority, "Chat.Hello", b"junk", GuardAnnotations("chat:send")
            )
            await aura_sim.wait_all_tasks_blocked()
        drops = tracer(node).events("protocol.dropped")
        return outcome, [event.get("reason") for event in drops]

    outcome, drops = aura_sim.run(main, seed=1)
    assert outcome == Completed()
    assert drops == ["backlog-full", "finished", "malformed"]


def test_a_limit_ends_a_run_that_waits_forever() -> None:
    async def main() -> tuple[Outcome, float]:
        world = setup(CHAT)
        node = world.node("Bob")
        async with Dispatcher(node.guarded, node.effects.trace) as dispatcher:
            outcome = await dispatcher.run(world.session, "Bob", lambda ep: ep.receive(), limit=7.5)
        return outcome, aura_sim.current_loop().time()

    assert aura_sim.run(main, seed=1) == (TimedOut("run limit of 7.5 s passed"), 7.5)
