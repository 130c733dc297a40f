"""Nodes that run choreography sessions together, on any raw network.

A cluster is one node per authority: a deterministic effect bundle on the loop's clock, a raw
transport from a *transport factory* (an `AuthorityId -> TransportEffects` callable: the
in-memory network's `attach` by default, a latency or faulty network in other tests), a
`GuardedTransport`, every peer's receipt key, unlimited flow budgets in the session's context
and a token granting every capability the protocol names. `run_session` opens every node's
dispatcher and runs the given programs, one per member, to their outcomes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AsyncExitStack

import anyio
import attrs

from aura_core.crypto.ed25519 import SigningKey
from aura_core.effects import TransportEffects
from aura_core.ids import AuthorityId, ContextId, DeviceId, SessionId
from aura_effects.bundle import Effects
from aura_effects.loopback import LoopbackNetwork
from aura_guards.transport import GuardedTransport
from aura_journal.budget import UNLIMITED, Capped, Unlimited
from aura_journal.capability import CapabilityFrontier, ContextScope, issue_token
from aura_journal.fact import JournalNamespace
from aura_journal.registry import FactRegistry
from aura_protocol import Choreography, Dispatcher, Member, Monitor, Outcome, Program, Session
from aura_sim.handlers import LoopClock, testing_effects

CONTEXT = ContextId(b"\xc7" * 16)
SESSION = SessionId(b"\x5e" * 16)

TransportFactory = Callable[[AuthorityId], TransportEffects]


def authority(number: int) -> AuthorityId:
    return AuthorityId(number.to_bytes(2, "big") * 8)


@attrs.define
class Node:
    authority: AuthorityId
    key: SigningKey
    effects: Effects
    raw: TransportEffects
    guarded: GuardedTransport

    async def spent(self, peer: AuthorityId, context: ContextId = CONTEXT) -> int:
        return await self.guarded.spent(context, peer)

    async def facts(self, context: ContextId = CONTEXT) -> tuple[object, ...]:
        journal = await self.effects.journal.journal(JournalNamespace.of(context))
        return tuple(journal.fact_ids())


def capabilities_of(choreography: Choreography) -> list[str]:
    return sorted({g.capability for g in choreography.guards.values() if g and g.capability})


def make_nodes(
    authorities: Iterable[AuthorityId],
    *,
    seed: int,
    capabilities: Iterable[str],
    attach: TransportFactory | None = None,
    flow_limit: Capped | Unlimited = UNLIMITED,
    registry: FactRegistry | None = None,
) -> dict[AuthorityId, Node]:
    """One node per authority, all knowing each other (call inside the running loop); their
    journals use `registry` (default: the standard one)."""
    attach = attach if attach is not None else LoopbackNetwork().attach
    granted = sorted(set(capabilities))
    nodes: dict[AuthorityId, Node] = {}
    for number, who in enumerate(authorities, start=1):
        key = SigningKey(bytes([number % 256]) + who.raw + bytes(15))
        effects = testing_effects(
            seed,
            authority=who,
            device=DeviceId(who.raw[::-1]),
            clock=LoopClock(),
            registry=registry,
        )
        raw = attach(who)
        guarded = GuardedTransport(effects, raw, local=who, signing_key=key)
        effects.flow.set_default(CONTEXT, flow_limit)
        if granted:
            token = issue_token(
                bytes([number % 256 ^ 0x5A]) * 32,
                who,
                granted,
                seed=bytes(32),
                scope=ContextScope(CONTEXT),
            )
            effects.authorization.grant(CONTEXT, CapabilityFrontier.of(token))
        nodes[who] = Node(who, key, effects, raw, guarded)
    for node in nodes.values():
        for other in nodes.values():
            if other is not node:
                node.effects.peers.add(other.authority, other.key.verifying_key)
    return nodes


def roster_for(choreography: Choreography, first: int = 1) -> dict[str, tuple[AuthorityId, ...]]:
    """A distinct authority for every member of every role, numbered from `first`."""
    roster: dict[str, tuple[AuthorityId, ...]] = {}
    number = first
    for role in (*choreography.singles, *choreography.families):
        size = choreography.families.get(role, 1)
        roster[role] = tuple(authority(number + i) for i in range(size))
        number += size
    return roster


def members_of(session: Session) -> list[Member]:
    return [
        Member(role, index)
        for role, authorities in session.roster.items()
        for index in range(len(authorities))
    ]


async def run_session(
    nodes: Mapping[AuthorityId, Node],
    session: Session,
    programs: Mapping[Member, Program],
    *,
    monitor: Monitor | None = None,
    limit: float | None = None,
) -> dict[Member, Outcome]:
    """Run `programs` (members without one do not run) until every one has an outcome."""
    outcomes: dict[Member, Outcome] = {}
    async with AsyncExitStack() as stack:
        dispatchers: dict[AuthorityId, Dispatcher] = {}
        for who, node in nodes.items():
            dispatcher = Dispatcher(node.guarded, node.effects.trace, monitor=monitor)
            dispatchers[who] = await stack.enter_async_context(dispatcher)

        async def play(member: Member, program: Program) -> None:
            dispatcher = dispatchers[session.authority(member)]
            outcomes[member] = await dispatcher.run(
                session, member.role, program, index=member.index, limit=limit
            )

        async with anyio.create_task_group() as group:
            for member, program in programs.items():
                group.start_soon(play, member, program)
    return outcomes


@attrs.define
class Setup:
    """A session over an inspectable in-memory network (for scenario tests)."""

    choreography: Choreography
    session: Session
    network: LoopbackNetwork
    nodes: dict[AuthorityId, Node]

    def node(self, role: str, index: int = 0) -> Node:
        return self.nodes[self.session.roster[role][index]]

    async def state(self, role: str, index: int = 0) -> tuple[object, ...]:
        """Everything a refused action must leave untouched at this member's node: the
        network, the storage (journal facts, receipt-chain head), the guarded send count."""
        node = self.node(role, index)
        storage = node.effects.storage
        keys = await storage.list_keys("")
        values = [await storage.get(key) for key in keys]
        return (
            len(self.network.delivered),
            tuple(keys),
            tuple(values),
            await node.facts(),
            node.guarded.sent,
        )


def setup(
    text: str,
    bindings: Mapping[str, int] | None = None,
    *,
    capabilities: Iterable[str] | None = None,
    flow_limit: Capped | Unlimited = UNLIMITED,
    extra: int = 0,
) -> Setup:
    """Compile `text`, give every member its own node on one `LoopbackNetwork` (plus `extra`
    nodes outside the roster); call inside the simulator."""
    choreography = Choreography.compile(text, bindings)
    session = Session(choreography, SESSION, CONTEXT, roster_for(choreography))
    network = LoopbackNetwork()
    authorities = [a for members in session.roster.values() for a in members]
    authorities += [authority(100 + i) for i in range(extra)]
    nodes = make_nodes(
        authorities,
        seed=1,
        capabilities=capabilities_of(choreography) if capabilities is None else capabilities,
        attach=network.attach,
        flow_limit=flow_limit,
    )
    return Setup(choreography, session, network, nodes)
