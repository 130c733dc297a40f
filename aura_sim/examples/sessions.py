"""SESSIONS: choreography sessions under faults end with a typed outcome, never hang.

Every node keeps starting sessions of the two protocols in `aura_protocol.protocols`: a
`RequestResponse` with a random peer as its client (deadline 1 s), and a `ThresholdVote` as the
coordinator of every other node (the first t = n // 2 + 1 votes, window 1 s). Other nodes
answer through their dispatcher's acceptors; the roles without a timer (server, witness) run
with a limit. Drops, partitions, crashes and holds make replies late or lost, so deadlines and
windows fire and limits pass.

Invariants (`always = ["workload"]`): no run ends `Violated` (every node is honest, so a
violation would be a runtime bug), and every run ends within its bound (its timer or limit plus
a slack): a run still going after that is a hung session. Goal (`require = ["workload"]`):
after healing, every core node completes a request/response exchange with an answer.

Options (`[workload]`): interval_s (between a node's sessions, default 0.5).
"""

from __future__ import annotations

import functools
from typing import Any

import anyio
import attrs

from aura_core.encoding import decode, encode, record
from aura_core.errors import AuraError
from aura_core.ids import AuthorityId, ContextId, SessionId
from aura_journal.registry import FactRegistry
from aura_protocol import (
    Accepted,
    Choreography,
    Completed,
    Dispatcher,
    Outcome,
    Session,
    TimedOut,
    Violated,
)
from aura_protocol.protocols import request_response, threshold_vote
from aura_protocol.wire import SessionMessage
from aura_sim.node import SimNode
from aura_sim.runner import SimRun
from aura_sim.scenario import Action

__all__ = ["SessionsWorkload", "VoteProposal", "workload"]

DEADLINE_MS = 1_000
WINDOW_MS = 1_000
LIMIT_S = 3.0
"""How long a server or witness waits for the end of its session."""
SLACK_S = 1.0


@record("sim.vote_proposal")
@attrs.frozen
class VoteProposal:
    """A `ThresholdVote` proposal that names the session's witnesses (so each can rebuild the
    session) and the threshold."""

    witnesses: tuple[AuthorityId, ...]
    threshold: int
    value: bytes


@functools.cache
def _rpc() -> Choreography:
    return Choreography.compile(request_response.TEXT, {"deadline": DEADLINE_MS})


@functools.cache
def _vote(witnesses: int, threshold: int) -> Choreography:
    bindings = {"n": witnesses, "t": threshold, "window": WINDOW_MS}
    return Choreography.compile(threshold_vote.TEXT, bindings)


def _capabilities() -> tuple[str, ...]:
    found: set[str] = set()
    for choreography in (_rpc(), _vote(3, 2)):
        for guard in choreography.guards.values():
            if guard is not None and guard.capability is not None:
                found.add(guard.capability)
    return tuple(sorted(found))


@attrs.define
class _Run:
    incarnation: int
    started: float
    bound: float
    outcome: Outcome | None = None


class SessionsWorkload:
    """See the module docstring."""

    capabilities = _capabilities()

    def __init__(self, options: dict[str, Any]) -> None:
        unknown = set(options) - {"interval_s"}
        if unknown:
            raise ValueError(f"unknown sessions options {sorted(unknown)}")
        self.interval = float(options.get("interval_s", 0.5))
        self.runs: dict[tuple[str, str, int], _Run] = {}
        """(node, what, number) → the run's start, bound and outcome."""
        self._counter = 0
        self._answered: dict[str, float] = {}
        """Node → the last time one of its requests got its answer."""
        self._liveness_from: float | None = None

    def register(self, registry: FactRegistry) -> None:
        """No fact types of its own."""

    async def act(self, run: SimRun, node: SimNode, action: Action) -> None:
        raise ValueError(f"the sessions workload has no action {action.do!r}")

    async def state(self, node: SimNode) -> frozenset[object]:
        return frozenset()

    # ------------------------------------------------------------------------- bookkeeping

    def _start(self, node: SimNode, what: str, bound: float) -> _Run:
        self._counter += 1
        entry = _Run(node.incarnation, anyio.current_time(), bound)
        self.runs[(node.name, what, self._counter)] = entry
        return entry

    def _finish(self, run: SimRun, node: SimNode, what: str, entry: _Run, outcome: Outcome) -> None:
        entry.outcome = outcome
        kind = type(outcome).__name__
        run.hit(f"{what}_{kind.lower()}")
        if (
            isinstance(outcome, Completed)
            and outcome.value is None
            and what in ("client", "coordinator")
        ):
            run.hit(f"{what}_timer_fired")
        if isinstance(outcome, Violated):
            run.violate("workload", f"{node.name} {what} run violated: {outcome.reason}")
        if what == "client" and isinstance(outcome, Completed) and outcome.value is not None:
            self._answered[node.name] = anyio.current_time()

    # ------------------------------------------------------------------------- a node

    async def run_node(self, run: SimRun, node: SimNode) -> None:
        assert node.effects is not None and node.guarded is not None
        effects, guarded = node.effects, node.guarded
        peers = [p for name, p in sorted(run.nodes.items()) if p is not node]
        async with Dispatcher(guarded, effects.trace) as dispatcher:
            dispatcher.serve("RequestResponse", self._acceptor(run, node, "server"))
            dispatcher.serve("ThresholdVote", self._acceptor(run, node, "witness"))
            async with anyio.create_task_group() as group:
                while True:
                    peer = peers[await effects.random.random_range(0, len(peers))]
                    group.start_soon(self._client, run, node, dispatcher, peer)
                    if await effects.random.random_range(0, 3) == 0:
                        group.start_soon(self._coordinate, run, node, dispatcher, peers)
                    await anyio.sleep(self.interval)

    async def _session_id(self, node: SimNode) -> SessionId:
        assert node.effects is not None
        return SessionId.from_entropy(await node.effects.random.random_bytes(32))

    async def _client(
        self, run: SimRun, node: SimNode, dispatcher: Dispatcher, peer: SimNode
    ) -> None:
        session = Session(
            _rpc(),
            await self._session_id(node),
            run.context,
            {"Client": (node.authority,), "Server": (peer.authority,)},
        )
        entry = self._start(node, "client", DEADLINE_MS / 1000)
        outcome = await dispatcher.run(
            session, "Client", request_response.client(node.name.encode())
        )
        self._finish(run, node, "client", entry, outcome)

    async def _coordinate(
        self, run: SimRun, node: SimNode, dispatcher: Dispatcher, peers: list[SimNode]
    ) -> None:
        witnesses = tuple(p.authority for p in peers)
        threshold = len(witnesses) // 2 + 1
        session = Session(
            _vote(len(witnesses), threshold),
            await self._session_id(node),
            run.context,
            {"Coordinator": (node.authority,), "Witness": witnesses},
        )
        proposal = encode(VoteProposal(witnesses, threshold, node.name.encode()))
        entry = self._start(node, "coordinator", WINDOW_MS / 1000)
        outcome = await dispatcher.run(session, "Coordinator", threshold_vote.coordinator(proposal))
        self._finish(run, node, "coordinator", entry, outcome)

    def _acceptor(self, run: SimRun, node: SimNode, what: str) -> Any:
        def accept(message: SessionMessage, source: AuthorityId) -> Accepted | None:
            context: ContextId = run.context
            if what == "server":
                if message.label != "Request":
                    return None
                choreography = _rpc()
                roster: dict[str, tuple[AuthorityId, ...]] = {
                    "Client": (source,),
                    "Server": (node.authority,),
                }
                program = request_response.server(lambda request: request[::-1])
                role = "Server"
            else:
                if message.label != "Propose":
                    return None
                try:
                    proposal = decode(message.payload, VoteProposal)
                except AuraError:
                    return None
                try:
                    choreography = _vote(len(proposal.witnesses), proposal.threshold)
                except AuraError:
                    return None
                roster = {"Coordinator": (source,), "Witness": proposal.witnesses}
                program = threshold_vote.witness(lambda value: value[:8])
                role = "Witness"
            session = Session(choreography, message.session, context, roster)
            entry = self._start(node, what, LIMIT_S)

            def ended(outcome: Outcome) -> None:
                self._finish(run, node, what, entry, outcome)

            return Accepted(session, role, message.receiver_index, program, LIMIT_S, ended)

        return accept

    # ------------------------------------------------------------------------- properties

    def check(self, run: SimRun) -> None:
        now = anyio.current_time()
        for (name, what, number), entry in sorted(self.runs.items()):
            if entry.outcome is not None or now - entry.started <= entry.bound + SLACK_S:
                continue
            node = run.nodes[name]
            if node.alive and node.incarnation == entry.incarnation:  # a crash ends its runs
                run.violate("workload", f"{name} {what} run {number} hangs")
            entry.outcome = TimedOut("reported")  # report it once

    async def settled(self, run: SimRun, core: list[SimNode]) -> str | None:
        now = anyio.current_time()
        if self._liveness_from is None:
            self._liveness_from = now
        for node in core:
            if self._answered.get(node.name, -1.0) < self._liveness_from:
                return f"{node.name} has had no answer since the core was healed"
        return None


def workload(options: dict[str, Any]) -> SessionsWorkload:
    """The factory a scenario names."""
    return SessionsWorkload(options)
