"""Endpoints driven by hand: loops, `par`, and what a member that owes a late message may do."""

from __future__ import annotations

import pytest

import aura_sim
from aura_core.encoding import encode
from aura_core.errors import ProtocolViolation
from aura_guards.chain import GuardAnnotations
from aura_protocol import (
    Completed,
    Endpoint,
    EventKind,
    Member,
    Outcome,
    Program,
    RuntimeEvent,
    SessionMessage,
    Violated,
)
from tests.protocol.cluster import CONTEXT, SESSION, Setup, run_session, setup

LOOP = """
protocol Loop {
  roles A, B;
  rec L {
    choice A {
      more: A [guard_capability = "l:a"] -> B : Item(bytes);
            B [guard_capability = "l:b"] -> A : Ack;
            continue L;
      stop: A [guard_capability = "l:a"] -> B : Stop;
    }
  }
}
"""


def test_a_loop_runs_as_often_as_the_decider_chooses() -> None:
    async def a(ep: Endpoint) -> int:
        for item in (b"1", b"2", b"3"):
            await ep.select("more")
            await ep.send("Item", item)
            await ep.receive("Ack")
        await ep.select("stop")
        await ep.send("Stop")
        return 3

    async def b(ep: Endpoint) -> list[bytes]:
        items = []
        while (message := await ep.branch()).label == "Item":
            items.append(message.payload)
            await ep.send("Ack")
        return items

    async def main() -> dict[Member, Outcome]:
        world = setup(LOOP)
        programs: dict[Member, Program] = {Member("A"): a, Member("B"): b}
        return await run_session(world.nodes, world.session, programs)

    assert aura_sim.run(main, seed=4) == {
        Member("A"): Completed(3),
        Member("B"): Completed([b"1", b"2", b"3"]),
    }


SPLIT = """
protocol Split {
  roles A, B, C;
  par {
    A [guard_capability = "s:a"] -> B : ToB(bytes);
    B [guard_capability = "s:b"] -> A : FromB;
  } and {
    A [guard_capability = "s:a"] -> C : ToC;
    C [guard_capability = "s:c"] -> A : FromC;
  }
  A [guard_capability = "s:a"] -> B : After;
}
"""


async def to_b(ep: Endpoint) -> None:
    await ep.send("ToB", b"x")
    await ep.receive("FromB")


async def to_c(ep: Endpoint) -> None:
    await ep.send("ToC")
    await ep.receive("FromC")


async def b_side(ep: Endpoint) -> None:
    await ep.receive("ToB")
    await ep.send("FromB")
    await ep.receive("After")


async def c_side(ep: Endpoint) -> None:
    await ep.receive("ToC")
    await ep.send("FromC")


def split(a: Program) -> dict[Member, Outcome]:
    async def main() -> dict[Member, Outcome]:
        world = setup(SPLIT)
        programs: dict[Member, Program] = {Member("A"): a, Member("B"): b_side}
        programs[Member("C")] = c_side
        return await run_session(world.nodes, world.session, programs, limit=5)

    return aura_sim.run(main, seed=2)


def test_par_runs_one_program_per_branch_then_joins() -> None:
    async def a(ep: Endpoint) -> None:
        await ep.par(to_b, to_c)
        await ep.send("After")

    outcomes = split(a)
    assert set(outcomes.values()) == {Completed()}


def test_par_needs_every_branch_to_finish() -> None:
    async def half(ep: Endpoint) -> None:
        await ep.send("ToC")

    async def a(ep: Endpoint) -> None:
        await ep.par(to_b, half)

    outcomes = split(a)
    outcome = outcomes[Member("A")]
    assert isinstance(outcome, Violated)
    assert "par branch 1 returned before its end; it expects receive FromC from C" in outcome.reason


def test_par_with_the_wrong_number_of_programs_is_refused() -> None:
    async def a(ep: Endpoint) -> None:
        with pytest.raises(ProtocolViolation, match="par with 1 programs is not allowed"):
            await ep.par(to_b)
        with pytest.raises(ProtocolViolation, match="send ToB is not allowed here"):
            await ep.send("ToB", b"x")  # inside a par, only the branches' endpoints act
        await ep.par(to_b, to_c)
        await ep.send("After")

    assert set(split(a).values()) == {Completed()}


OWE = """
protocol Owe {
  roles C, W[2];
  W[*] [guard_capability = "o:w"] -> C : Vote within 1;
  W[*] [guard_capability = "o:w"] -> C : Done;
}
"""


def test_a_member_that_owes_a_late_message_must_send_it_first() -> None:
    async def main() -> tuple[Outcome, list[RuntimeEvent]]:
        world: Setup = setup(OWE)
        events: list[RuntimeEvent] = []

        async def c(ep: Endpoint) -> None:
            (vote,) = await ep.collect("Vote")
            assert vote.sender == Member("W", 0)
            await ep.collect("Done")

        async def w0(ep: Endpoint) -> None:
            await ep.send("Vote")
            await aura_sim.wait_all_tasks_blocked()  # C has counted this vote: W[1] owes one
            await ep.send("Done")
            # W[1] skips its Vote and sends Done
            message = SessionMessage(SESSION, 1, "Done", "W", 1, "C", 0, 0, b"")  # msg 1
            await world.node("W", 1).guarded.send(
                CONTEXT,
                world.node("C").authority,
                "Owe.Done",
                encode(message),
                GuardAnnotations("o:w"),
            )

        programs: dict[Member, Program] = {Member("C"): c, Member("W", 0): w0}
        outcomes = await run_session(world.nodes, world.session, programs, monitor=events.append)
        return outcomes[Member("C")], events

    outcome, events = aura_sim.run(main, seed=1)
    assert outcome == Violated("W[1] sent Done before the late Vote it still owes C[0]")
    taken = [(e.kind, e.sender, e.label) for e in events if e.kind is not EventKind.SENT]
    assert taken[0] == (EventKind.CONSUMED, Member("W", 0), "Vote")
    assert all(kind is EventKind.CONSUMED for kind, _, _ in taken)  # nothing discarded
