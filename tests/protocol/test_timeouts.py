"""Timers and late messages, on virtual time.

Only the owner of `timeout d at O` has a timer; it starts when O enters the node and covers
O's wait. A peer that never answers (its node runs no dispatcher: the messages sit in its
inbox) makes the timer fire at exactly d, and the owner goes on with the `on timeout` branch.
Messages the abandoned wait still expected are discarded when they come, as are votes beyond
a threshold. Every time asserted is the simulator's virtual clock.
"""

from __future__ import annotations

from collections.abc import Callable

import aura_sim
from aura_effects.trace import Tracer
from aura_protocol import (
    Completed,
    Endpoint,
    EventKind,
    Member,
    Outcome,
    Program,
    RuntimeEvent,
    TimedOut,
    TimerFired,
)
from aura_protocol.protocols import request_response, threshold_vote
from tests.protocol.cluster import Node, Setup, run_session, setup

WINDOW = threshold_vote.BINDINGS["window"] / 1000
DEADLINE = request_response.BINDINGS["deadline"] / 1000


def now() -> float:
    return aura_sim.current_loop().time()


def trace_names(node: Node, name: str) -> list[dict[str, object]]:
    tracer = node.effects.trace
    assert isinstance(tracer, Tracer)
    return [dict(event.fields) for event in tracer.events(name)]


Scenario = Callable[[Setup], dict[Member, Program]]
Played = tuple[Setup, dict[Member, tuple[Outcome, float]], list[RuntimeEvent]]


async def play(text: str, bindings: dict[str, int], scenario: Scenario) -> Played:
    """Run the scenario's programs; each outcome comes with the virtual time it ended at."""
    world = setup(text, bindings)
    events: list[RuntimeEvent] = []
    timed: dict[Member, Program] = {}
    ended: dict[Member, float] = {}
    for member, program in scenario(world).items():

        async def stamped(ep: Endpoint, program: Program = program) -> object:
            try:
                return await program(ep)
            finally:
                ended[ep.member] = now()

        timed[member] = stamped
    outcomes = await run_session(world.nodes, world.session, timed, monitor=events.append)
    return world, {m: (o, ended[m]) for m, o in outcomes.items()}, events


def vote(scenario: Scenario, bindings: dict[str, int] | None = None) -> Played:
    return aura_sim.run(
        play, threshold_vote.TEXT, bindings or threshold_vote.BINDINGS, scenario, seed=5
    )


def witnesses(count: int, *, delay: float = 0.0) -> Callable[[Setup], dict[Member, Program]]:
    """`count` witnesses (the first ones) that wait `delay` seconds before voting."""

    def programs(world: Setup) -> dict[Member, Program]:
        found: dict[Member, Program] = {}
        for index in range(count):
            node = world.node("Witness", index)

            async def witness(ep: Endpoint, node: Node = node) -> bytes | None:
                proposal = await ep.receive("Propose")
                await node.effects.time.sleep(delay)
                await ep.send("Vote", proposal.payload)
                verdict = await ep.branch()
                return verdict.payload if verdict.label == "Decide" else None

            found[Member("Witness", index)] = witness
        return found

    return programs


def test_the_owner_times_out_when_no_witness_answers() -> None:
    def scenario(world: Setup) -> dict[Member, Program]:
        return {Member("Coordinator"): threshold_vote.coordinator(b"p")}

    world, outcomes, events = vote(scenario)
    assert outcomes == {Member("Coordinator"): (Completed(None), WINDOW)}
    sent = [e.label for e in events if e.kind is EventKind.SENT]
    assert sent == ["Propose"] * 5 + ["Abort"] * 5
    fired = trace_names(world.node("Coordinator"), "protocol.timer_fired")
    assert [(f["after_ms"], f["member"]) for f in fired] == [(2000, "Coordinator[0]")]


def test_a_timer_the_program_does_not_handle_ends_the_run_timed_out() -> None:
    async def coordinator(ep: Endpoint) -> None:
        await ep.send("Propose", b"p")
        await ep.collect("Vote")

    _, outcomes, _ = vote(lambda world: {Member("Coordinator"): coordinator})
    ((outcome, at),) = outcomes.values()
    assert isinstance(outcome, TimedOut) and "timer of 2000 ms" in outcome.reason
    assert at == WINDOW


def test_too_few_votes_in_time_abort_for_everyone() -> None:
    t = threshold_vote.BINDINGS["t"]

    def scenario(world: Setup) -> dict[Member, Program]:
        return {
            Member("Coordinator"): threshold_vote.coordinator(b"p"),
            **witnesses(t - 1)(world),
        }

    _, outcomes, events = vote(scenario)
    assert outcomes[Member("Coordinator")] == (Completed(None), WINDOW)
    for index in range(t - 1):
        assert outcomes[Member("Witness", index)] == (Completed(None), WINDOW)
    counted = [e.sender.index for e in events if e.kind is EventKind.CONSUMED and e.label == "Vote"]
    assert sorted(counted) == list(range(t - 1))  # at time 0, before the window closed


def test_enough_votes_decide_at_once() -> None:
    def scenario(world: Setup) -> dict[Member, Program]:
        return {Member("Coordinator"): threshold_vote.coordinator(b"p"), **witnesses(3)(world)}

    _, outcomes, _ = vote(scenario)
    assert {at for _, at in outcomes.values()} == {0.0}
    assert all(isinstance(outcome, Completed) for outcome, _ in outcomes.values())


def test_messages_count_by_when_they_arrived_not_when_the_owner_looks() -> None:
    """The coordinator is busy past its deadline: votes that arrived in time still count,
    votes that arrived after the deadline do not (the timer fired first)."""

    def busy_coordinator(world: Setup) -> Program:
        node = world.node("Coordinator")

        async def coordinator(ep: Endpoint) -> str:
            await ep.send("Propose", b"p")
            await node.effects.time.sleep(3 * WINDOW)
            try:
                await ep.collect("Vote")
            except TimerFired:
                await ep.send("Abort")
                return "abort"
            await ep.send("Decide", b"d")
            return "decide"

        return coordinator

    for delay, expected in ((0.0, "decide"), (1.5 * WINDOW, "abort")):

        def scenario(world: Setup, delay: float = delay) -> dict[Member, Program]:
            return {
                Member("Coordinator"): busy_coordinator(world),
                **witnesses(5, delay=delay)(world),
            }

        _, outcomes, events = vote(scenario)
        assert outcomes[Member("Coordinator")] == (Completed(expected), 3 * WINDOW)
        kinds = [e.kind for e in events if e.label == "Vote" and e.kind is not EventKind.SENT]
        if expected == "decide":  # 3 counted, the other 2 discarded
            assert sorted(k.value for k in kinds) == ["consumed"] * 3 + ["discarded"] * 2
        else:  # all 5 arrived after the deadline: discarded when the timer fired
            assert kinds == [EventKind.DISCARDED] * 5


ROUNDS = """
protocol Rounds {
  roles C, W[3];
  C [guard_capability = "r:c"] -> W[*] : Start;
  timeout 1s at C {
    W[*] [guard_capability = "r:w"] -> C : Vote within 2;
    C [guard_capability = "r:c"] -> W[*] : Ok;
  } on timeout {
    C [guard_capability = "r:c"] -> W[*] : Late;
  }
  W[*] [guard_capability = "r:w"] -> C : Done;
}
"""


def test_votes_owed_after_a_timeout_are_discarded_when_they_come() -> None:
    """W[0] votes at once; W[1] and W[2] vote at 1.5 s, after C's 1 s timer fired. C, still in
    the session (it waits for Done from all three), discards their votes on arrival."""

    def scenario(world: Setup) -> dict[Member, Program]:
        async def c(ep: Endpoint) -> str:
            await ep.send("Start")
            try:
                await ep.collect("Vote")
                await ep.send("Ok")
                verdict = "ok"
            except TimerFired:
                await ep.send("Late")
                verdict = "late"
            done = await ep.collect("Done")
            assert len(done) == 3
            return verdict

        programs: dict[Member, Program] = {Member("C"): c}
        for index, delay in enumerate((0.0, 1.5, 1.5)):
            node = world.node("W", index)

            async def w(ep: Endpoint, node: Node = node, delay: float = delay) -> str:
                await ep.receive("Start")
                await node.effects.time.sleep(delay)
                await ep.send("Vote")
                verdict = await ep.branch()
                await ep.send("Done")
                return verdict.label

            programs[Member("W", index)] = w
        return programs

    _, outcomes, events = aura_sim.run(play, ROUNDS, {}, scenario, seed=2)
    assert outcomes[Member("C")] == (Completed("late"), 1.5)
    assert outcomes[Member("W", 0)] == (Completed("Late"), 1.0)
    discarded = [(e.sender.index, e.at) for e in events if e.kind is EventKind.DISCARDED]
    assert sorted(discarded) == [(1, 1.5), (2, 1.5)]


def test_a_server_that_never_answers_makes_the_client_cancel_at_its_deadline() -> None:
    def scenario(world: Setup) -> dict[Member, Program]:
        return {Member("Client"): request_response.client(b"hello")}

    _, outcomes, events = aura_sim.run(
        play, request_response.TEXT, request_response.BINDINGS, scenario, seed=1
    )
    assert outcomes == {Member("Client"): (Completed(None), DEADLINE)}
    assert [e.label for e in events if e.kind is EventKind.SENT] == ["Request", "Cancel"]


def test_a_slow_answer_is_cancelled_and_both_sides_agree() -> None:
    def scenario(world: Setup) -> dict[Member, Program]:
        node = world.node("Server")

        async def slow(ep: Endpoint) -> bool:
            request = await ep.receive("Request")
            await node.effects.time.sleep(DEADLINE + 1)
            await ep.send("Response", request.payload)
            return (await ep.branch()).label == "Ack"

        return {Member("Client"): request_response.client(b"hello"), Member("Server"): slow}

    world, outcomes, _ = aura_sim.run(
        play, request_response.TEXT, request_response.BINDINGS, scenario, seed=1
    )
    assert outcomes == {
        Member("Client"): (Completed(None), DEADLINE),
        Member("Server"): (Completed(False), DEADLINE + 1),
    }
    # the client had finished when the response came: its dispatcher dropped it
    drops = trace_names(world.node("Client"), "protocol.dropped")
    assert [(d["reason"], d["label"]) for d in drops] == [("finished", "Response")]
