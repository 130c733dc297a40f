"""`SyncService`: a device's anti-entropy, periodic per peer and on demand.

The service answers sessions peers start (the `AuraSync` acceptor on the device's dispatcher)
and starts its own: one loop per peer syncs every namespace the device shares with that peer
(`SharedScopes`) every `interval_s` (jittered), and `request(peer)` makes that loop sync at
once: the transport calls it when a channel to the peer (re)connects, the device after a
restart. `sync_now(peer)` runs the sessions and returns their reports. At most `concurrency`
sessions run at once as initiator; a peer may have at most `serve_per_peer` open here.

Structured: `async with SyncService(...) as sync:` owns a task group; leaving it cancels the
loops and sessions, and unregisters the acceptor.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from types import TracebackType

import anyio
import attrs
from anyio.abc import TaskGroup

from aura_core.encoding import decode
from aura_core.errors import AuraError, EncodingError, InvalidArgument
from aura_core.failures import raise_single
from aura_core.ids import AuthorityId, ContextId, SessionId
from aura_effects.bundle import Effects
from aura_journal.capability import ContextScope
from aura_protocol.choreography import Session
from aura_protocol.dispatch import Accepted, Dispatcher
from aura_protocol.endpoint import Endpoint
from aura_protocol.outcome import Completed, Outcome
from aura_protocol.sync.protocol import PROTOCOL, RECONCILE, choreography
from aura_protocol.sync.scopes import SharedScopes, SyncScope, shared_contexts
from aura_protocol.sync.session import Initiator, Responder, SyncConfig, SyncReport
from aura_protocol.sync.wire import RefusalReason, SyncReconcile
from aura_protocol.wire import SessionMessage

__all__ = ["SyncService", "ANSWER_POLL_S"]

ANSWER_POLL_S = 0.1
"""How often a responder that may not answer in a session's context yet looks again."""


@attrs.define
class _Peer:
    """One peer's loop: the cancel scope of its current wait (cancelled by `request`) and
    whether a sync was asked for while one was running."""

    scope: anyio.CancelScope
    waiting: anyio.CancelScope | None = None
    again: bool = False


class SyncService:
    """See the module docstring. `shared` defaults to `shared_contexts(effects, local)`;
    `on_report` is told every session's report, initiated or answered (metrics, monitors)."""

    def __init__(
        self,
        effects: Effects,
        dispatcher: Dispatcher,
        *,
        peers: Iterable[AuthorityId] = (),
        shared: SharedScopes | None = None,
        config: SyncConfig | None = None,
        on_report: Callable[[SyncReport], None] | None = None,
    ) -> None:
        self._fx = effects
        self._dispatcher = dispatcher
        self.local = dispatcher.local
        self._shared = shared if shared is not None else shared_contexts(effects, self.local)
        self.config = config or SyncConfig()
        self._on_report = on_report
        self._initial = sorted(set(peers) - {self.local})
        self._peers: dict[AuthorityId, _Peer] = {}
        self._limiter = anyio.CapacityLimiter(self.config.concurrency)
        self._turns: dict[AuthorityId, anyio.Lock] = {}
        self._serving: Counter[AuthorityId] = Counter()
        self._tasks: TaskGroup | None = None
        self.reports: dict[tuple[AuthorityId, SyncScope], SyncReport] = {}
        """The latest report of each (peer, scope) this device initiated."""
        self.served: dict[tuple[AuthorityId, SyncScope], SyncReport] = {}
        """The latest report of each (peer, scope) this device answered."""

    # ------------------------------------------------------------------------- lifetime

    async def __aenter__(self) -> SyncService:
        if self._tasks is not None:
            raise InvalidArgument("the sync service is already running")
        tasks = anyio.create_task_group()
        await tasks.__aenter__()
        self._tasks = tasks
        self._dispatcher.serve(PROTOCOL, self._accept)
        for peer in self._initial:
            self.add_peer(peer)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        tasks = self._tasks
        assert tasks is not None
        self._dispatcher.unserve(PROTOCOL)
        tasks.cancel_scope.cancel()
        self._tasks = None
        self._peers.clear()
        try:
            return await tasks.__aexit__(exc_type, exc, traceback)
        except BaseExceptionGroup as failures:
            raise_single(failures)

    # ------------------------------------------------------------------------- peers

    @property
    def peers(self) -> list[AuthorityId]:
        """The peers this device syncs with periodically, sorted."""
        return sorted(self._peers)

    def add_peer(self, peer: AuthorityId) -> None:
        """Sync with `peer` periodically from now on (the first time within one interval)."""
        if self._tasks is None:
            raise InvalidArgument("start the sync service first (async with)")
        if peer == self.local or peer in self._peers:
            return
        state = self._peers[peer] = _Peer(anyio.CancelScope())
        self._tasks.start_soon(self._loop, peer, state)

    def remove_peer(self, peer: AuthorityId) -> None:
        """Stop syncing with `peer` periodically (a session under way is cancelled)."""
        state = self._peers.pop(peer, None)
        if state is not None:
            state.scope.cancel()

    def request(self, peer: AuthorityId, context: ContextId | None = None) -> None:
        """Sync with `peer` at once (the event hook for a channel to `peer`, in `context`,
        that has just (re)connected; the whole peer is synced). A peer not synced periodically
        is added."""
        state = self._peers.get(peer)
        if state is None:
            self.add_peer(peer)
            state = self._peers.get(peer)
            if state is None:
                return
        if state.waiting is not None:
            state.waiting.cancel()
        else:
            state.again = True

    async def _loop(self, peer: AuthorityId, state: _Peer) -> None:
        with state.scope:
            delay = await self._draw(0.0, 1.0)
            while True:
                if not state.again:
                    with anyio.CancelScope() as waiting:
                        state.waiting = waiting
                        await self._fx.time.sleep(delay)
                    state.waiting = None
                state.again = False
                await self.sync_now(peer)
                delay = await self._draw(*self._spread)

    @property
    def _spread(self) -> tuple[float, float]:
        jitter = self.config.jitter
        return 1.0 - jitter, 1.0 + jitter

    async def _draw(self, low: float, high: float) -> float:
        """interval_s * a fraction drawn uniformly from [low, high) (randomness from effects)."""
        step = await self._fx.random.random_range(0, 10_000)
        return self.config.interval_s * (low + (high - low) * step / 10_000)

    # ------------------------------------------------------------------------- initiating

    async def sync_now(self, peer: AuthorityId) -> tuple[SyncReport, ...]:
        """Sync every scope shared with `peer`, one session each; their reports.

        Syncs of one peer take turns (the periodic one, a reconnect's, a user's): run together
        they only repeat each other's work and can go over the sessions the peer serves at once
        (`serve_per_peer`), which it counts until it has read each one's `Done`, so two run
        back to back beside a third already count as three there and one is refused `busy`."""
        turn = self._turns.setdefault(peer, anyio.Lock())
        try:
            async with turn:
                try:
                    scopes = await self._shared(peer)
                except AuraError as exc:
                    self._fx.trace.event("sync.scopes_failed", peer=str(peer), error=exc.code)
                    return ()
                return tuple([await self.sync(peer, scope) for scope in scopes])
        finally:
            if not turn.locked() and self._turns.get(peer) is turn:
                del self._turns[peer]  # no one waits: kept only while a peer is being synced

    async def sync(self, peer: AuthorityId, scope: SyncScope) -> SyncReport:
        """One session with `peer` over `scope`, as its initiator."""
        async with self._limiter:
            initiator = Initiator(self._fx.journal, self._fx.trace, peer, scope, self.config)
            try:
                session_id = SessionId.from_entropy(await self._fx.random.random_bytes(32))
                session = Session(
                    choreography(),
                    session_id,
                    scope.context,
                    {"Initiator": (self.local,), "Responder": (peer,)},
                )
                outcome = await self._dispatcher.run(
                    session, "Initiator", initiator.run, limit=self.config.session_limit_s
                )
                report = _report(outcome, initiator)
            except AuraError as exc:
                report = initiator.report(type(exc).__name__)
        self.reports[(peer, scope)] = report
        self._trace("sync.session", "initiator", report)
        return report

    # ------------------------------------------------------------------------- responding

    def _accept(self, message: SessionMessage, source: AuthorityId) -> Accepted | None:
        """A session a peer opens: rebuild it from its first `Reconcile` (the scope it names)
        and answer it; the program checks the scope against `SharedScopes`."""
        if message.label != "Reconcile" or message.receiver != "Responder":
            return None
        try:
            request = decode(message.payload, SyncReconcile)
            session = Session(
                choreography(),
                message.session,
                request.context,
                {"Initiator": (source,), "Responder": (self.local,)},
            )
        except (EncodingError, InvalidArgument) as exc:
            self._fx.trace.event("sync.declined", peer=str(source), error=exc.code)
            return None
        scope = SyncScope(request.namespace, request.context)
        if self._serving[source] >= self.config.serve_per_peer:
            return self._refuse_busy(session, source, scope)
        # Counted from here to the run's end (`ended`): counting in the program instead would
        # let a burst of first messages all pass before any program starts. (If the dispatcher
        # then refuses to open the endpoint, a reused session id, the count stays: only that
        # peer is held back.)
        self._serving[source] += 1

        async def program(endpoint: Endpoint) -> SyncReport:
            responder = Responder(self._fx.journal, self._fx.trace, source, scope, self.config)
            await self._until_answerable(responder)
            try:
                shared = scope in await self._shared(source)
            except AuraError as exc:  # cannot tell: refuse rather than serve
                self._fx.trace.event("sync.scopes_failed", peer=str(source), error=exc.code)
                shared = False
            return await responder.run(
                endpoint, refusal=None if shared else RefusalReason.NOT_SHARED
            )

        def ended(outcome: Outcome) -> None:
            self._serving[source] -= 1
            report = (
                outcome.value
                if isinstance(outcome, Completed) and isinstance(outcome.value, SyncReport)
                else SyncReport(source, scope, type(outcome).__name__)
            )
            self.served[(source, scope)] = report
            self._trace("sync.served", "responder", report)

        return Accepted(
            session, "Responder", 0, program, self.config.session_limit_s, on_outcome=ended
        )

    def _refuse_busy(self, session: Session, source: AuthorityId, scope: SyncScope) -> Accepted:
        """A session over the peer's `serve_per_peer`: answered with `Refuse(busy)` at once
        (not counted, nothing read from the journal), so the peer's session ends now instead
        of at its limit; it tries again at its next interval."""
        self._fx.trace.event("sync.busy", peer=str(source))

        async def program(endpoint: Endpoint) -> SyncReport:
            responder = Responder(self._fx.journal, self._fx.trace, source, scope, self.config)
            if not await self._can_answer(scope):
                return await responder.unanswerable(endpoint)
            return await responder.run(endpoint, refusal=RefusalReason.BUSY)

        return Accepted(session, "Responder", 0, program, self.config.session_limit_s)

    async def _can_answer(self, scope: SyncScope) -> bool:
        """Whether this device may send anything in `scope`'s context: every answer, a
        refusal included, is a guarded `sync:reconcile` send."""
        return await self._fx.authorization.allows(RECONCILE, ContextScope(scope.context))

    async def _until_answerable(self, responder: Responder) -> None:
        """Wait, within the session's limit, until this device may answer in its context. A
        peer asks in a context this device is a member of but holds no grant in yet when it
        moved there first (the account's new devices' context, before this device's `Switch`
        or admission brings the grant, usually moments later): answering then beats a denied
        refusal and the peer's wait to its session limit. A device that never gets the grant
        sends nothing, and the session ends at its limit on both sides."""
        if await self._can_answer(responder.scope):
            return
        responder.waiting()
        while not await self._can_answer(responder.scope):
            await self._fx.time.sleep(ANSWER_POLL_S)

    def _trace(self, name: str, role: str, report: SyncReport) -> None:
        if self._on_report is not None:
            self._on_report(report)
        self._fx.trace.event(
            name,
            role=role,
            peer=str(report.peer),
            namespace=str(report.scope.namespace),
            outcome=report.outcome,
            rounds=report.rounds,
            fetches=report.fetches,
            sent=report.sent_bytes,
            received=report.received_bytes,
            merged=report.merged,
            dropped=report.dropped,
        )


def _report(outcome: Outcome, initiator: Initiator) -> SyncReport:
    if isinstance(outcome, Completed) and isinstance(outcome.value, SyncReport):
        return outcome.value
    return initiator.report(type(outcome).__name__)
