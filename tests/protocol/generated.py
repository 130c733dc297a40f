"""Running random well-formed protocols (`tests/core/choreo/strategies.py`) end to end.

`guarded(text)` gives every message that names no capability one (`test:any`), so that the
protocol can run: the runtime denies unguarded messages, which `test_violations.py` checks on
its own. `run_generated` runs every member of every role with the automatic driver on its own
node, recording the runtime events, and returns the outcomes and the events.
"""

from __future__ import annotations

import attrs

from aura_core.choreo import format_protocol, parse
from aura_core.choreo.syntax import (
    Annotation,
    Choice,
    Continue,
    Message,
    Par,
    Rec,
    Statement,
    Timeout,
)
from aura_effects.trace import Tracer
from aura_protocol import (
    Choreography,
    Endpoint,
    Member,
    Outcome,
    Program,
    RuntimeEvent,
    Session,
    drive,
)
from aura_sim import current_loop
from aura_sim.handlers import SeededRandom
from tests.protocol.cluster import (
    CONTEXT,
    SESSION,
    TransportFactory,
    capabilities_of,
    make_nodes,
    members_of,
    roster_for,
    run_session,
)

DEFAULT_CAPABILITY = "test:any"


def _guard(statement: Statement) -> Statement:
    match statement:
        case Message(annotations=annotations):
            if any(a.key in ("guard_capability", "public") for a in annotations):
                return statement  # guarded already (public ones run without a capability)
            added = (Annotation("guard_capability", DEFAULT_CAPABILITY), *annotations)
            return attrs.evolve(statement, annotations=added)
        case Choice(branches=branches):
            return attrs.evolve(
                statement,
                branches=tuple(attrs.evolve(b, body=_block(b.body)) for b in branches),
            )
        case Rec(body=body):
            return attrs.evolve(statement, body=_block(body))
        case Par(branches=branches):
            return attrs.evolve(statement, branches=tuple(_block(b) for b in branches))
        case Timeout(body=body, on_timeout=handler):
            return attrs.evolve(statement, body=_block(body), on_timeout=_block(handler))
        case Continue():
            return statement


def _block(body: tuple[Statement, ...]) -> tuple[Statement, ...]:
    return tuple(_guard(statement) for statement in body)


def guarded(text: str) -> str:
    """`text` with a capability on every message that names none and is not public."""
    protocol = parse(text)
    return format_protocol(attrs.evolve(protocol, body=_block(protocol.body)))


@attrs.frozen
class GeneratedRun:
    """What a run of every member left: outcomes, monitor events, and the nodes' trace counts."""

    outcomes: dict[Member, Outcome]
    events: list[RuntimeEvent]
    timers_fired: int
    dropped: int


async def run_generated(
    choreography: Choreography, attach: TransportFactory | None = None
) -> GeneratedRun:
    """Drive every member of every role on its own node until all have an outcome."""
    loop = current_loop()
    session = Session(choreography, SESSION, CONTEXT, roster_for(choreography))
    authorities = [a for members in session.roster.values() for a in members]
    nodes = make_nodes(
        authorities,
        seed=loop.seed,
        capabilities=capabilities_of(choreography),
        attach=attach,
    )
    events: list[RuntimeEvent] = []
    programs: dict[Member, Program] = {}
    for member in members_of(session):
        random = SeededRandom(loop.seeds.child("driver", str(member)).stream("choices"))

        async def play(endpoint: Endpoint, random: SeededRandom = random) -> None:
            await drive(endpoint, random)

        programs[member] = play
    outcomes = await run_session(nodes, session, programs, monitor=events.append)
    fired = dropped = 0
    for node in nodes.values():
        tracer = node.effects.trace
        assert isinstance(tracer, Tracer)
        fired += len(tracer.events("protocol.timer_fired"))
        dropped += len(tracer.events("protocol.dropped"))
    return GeneratedRun(outcomes, events, fired, dropped)
