"""The two roles of an `AuraSync` session, and the bounds every session keeps.

Initiator: reconcile the namespace's items with the responder (at most `max_rounds` round
trips), then fetch: each `Fetch` asks for up to `MAX_WANT` missing ids and carries the next
piece of the facts the responder lacks, each `Facts` answer the next piece of what was asked
for, until nothing is left on either side (at most `max_fetch_rounds` round trips and
`max_session_bytes` of facts received). Responder: check that the namespace is shared with the
initiator in this context, answer reconciliation statelessly, queue asked-for facts and stream
them, validate what it is pushed. Both sides merge as pieces arrive (`Ingest`), so a session cut
short still keeps what it got.

A peer that lies within the protocol is bounded, not trusted: ids reported again are counted
once (and traced), a reconciliation that never ends stops at `max_rounds`, facts not asked for
or of another namespace are dropped, and a message that does not decode, a malformed
reconciliation message or a corrupt fact stream ends the session (`sync.malformed`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs

from aura_core.effects import TraceEffects
from aura_core.encoding import decode, encode
from aura_core.errors import (
    EncodingError,
    InvalidArgument,
    MalformedReconcileMessage,
    MalformedSyncMessage,
)
from aura_core.ids import AuthorityId, FactId
from aura_core.reconcile import MIN_FRAME_SIZE_LIMIT, Reconciler
from aura_journal.effects import JournalEffects
from aura_journal.fact import Fact
from aura_journal.journal import Journal
from aura_protocol.endpoint import Endpoint, Received
from aura_protocol.sync.ingest import Ingest
from aura_protocol.sync.items import fact_id, shareable, sync_items
from aura_protocol.sync.scopes import SyncScope
from aura_protocol.sync.wire import (
    MAX_MESSAGE,
    MAX_WANT,
    WANT_BYTES,
    FactFeed,
    RefusalReason,
    SyncFacts,
    SyncFetch,
    SyncRanges,
    SyncReconcile,
    SyncRefusal,
)

__all__ = ["SyncConfig", "SyncReport", "Exchange", "Initiator", "Responder"]

_HEADROOM = 256
"""Bytes of a `Fetch` left for its record's own encoding."""


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        raise InvalidArgument(f"{attribute.name} must be a positive number")


def _count(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or value < 1:
        raise InvalidArgument(f"{attribute.name} must be a positive int")


def _fraction(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < 1:
        raise InvalidArgument(f"{attribute.name} is a fraction in [0, 1)")


def _message_bytes(_: object, __: object, value: int) -> None:
    if type(value) is not int or not MIN_FRAME_SIZE_LIMIT <= value <= MAX_MESSAGE:
        raise InvalidArgument(f"message_bytes is {MIN_FRAME_SIZE_LIMIT}..{MAX_MESSAGE}")


@attrs.frozen
class SyncConfig:
    """How often and how much a device syncs. Times are seconds of the device's clock."""

    interval_s: float = attrs.field(default=30.0, validator=_positive)
    """Between two periodic syncs with one peer."""
    jitter: float = attrs.field(default=0.2, validator=_fraction)
    """Each interval is drawn from interval_s * [1 - jitter, 1 + jitter] (no sync storms)."""
    concurrency: int = attrs.field(default=4, validator=_count)
    """Sessions this device initiates at once, over all peers."""
    serve_per_peer: int = attrs.field(default=2, validator=_count)
    """Sessions a peer may have open here at once; more are declined."""
    session_limit_s: float = attrs.field(default=20.0, validator=_positive)
    """A session (either role) ends when this has passed, whatever it was doing."""
    max_rounds: int = attrs.field(default=24, validator=_count)
    """Reconciliation round trips per session."""
    max_fetch_rounds: int = attrs.field(default=512, validator=_count)
    """Fetch round trips per session."""
    max_session_bytes: int = attrs.field(default=32 * 2**20, validator=_count)
    """Fact stream bytes one side accepts per session."""
    message_bytes: int = attrs.field(default=48_000, validator=_message_bytes)
    """The most reconciliation or fact-stream bytes in one message (well under a 64 KiB
    frame, with room for the session, receipt and Noise framing)."""


@attrs.frozen
class SyncReport:
    """How one session went, from one side."""

    peer: AuthorityId
    scope: SyncScope
    outcome: str
    """`complete`; `partial` (a bound was reached: the next session goes on); `refused:<why>`;
    `malformed` (the peer sent what no honest peer sends); `unanswerable` (responder only:
    it holds no capability to send in the context, so it read the request and sent nothing);
    or how the run ended otherwise (`TimedOut`, `Aborted`, `Violated`)."""
    rounds: int = 0
    """Reconciliation round trips."""
    fetches: int = 0
    """Fetch round trips."""
    sent_bytes: int = 0
    """Payload bytes of the messages this side sent."""
    received_bytes: int = 0
    have: int = 0
    """Ids this side held and the peer lacked (initiator only)."""
    need: int = 0
    """Ids the peer held and this side lacked (initiator only)."""
    merged: int = 0
    """Facts added to this side's journal."""
    dropped: int = 0
    """Facts received and not merged."""

    @property
    def complete(self) -> bool:
        return self.outcome == "complete"


Exchange = Callable[[bytes], Awaitable[Received]]


class Initiator:
    """The initiator of one session: its program (`run`) and what it has counted so far (kept
    when the run is cut short, for the report)."""

    def __init__(
        self,
        journal: JournalEffects,
        trace: TraceEffects,
        peer: AuthorityId,
        scope: SyncScope,
        config: SyncConfig,
    ) -> None:
        self._journal = journal
        self._trace = trace
        self.peer = peer
        self.scope = scope
        self.config = config
        self.outcome = "unfinished"
        self.rounds = self.fetches = self.sent = self.received = 0
        self.have: set[bytes] = set()
        self.need: set[bytes] = set()
        self.ingest = Ingest(journal, scope.namespace, trace, peer, expected=set())

    def report(self, outcome: str | None = None) -> SyncReport:
        return SyncReport(
            self.peer,
            self.scope,
            outcome or self.outcome,
            self.rounds,
            self.fetches,
            self.sent,
            self.received,
            len(self.have),
            len(self.need),
            self.ingest.merged,
            self.ingest.dropped,
        )

    async def run(self, endpoint: Endpoint) -> SyncReport:
        """Play the initiator on `endpoint` to the end of the session."""
        finished = await self.reconcile(self._reconcile_on(endpoint))
        if self.outcome.startswith("refused") or self.outcome == "malformed":
            if self.outcome == "malformed":
                await self._done(endpoint)
            return self.report()
        await self._fetch(endpoint, bounded=not finished)
        await self.ingest.finish()
        return self.report()

    # ------------------------------------------------------------------------- reconciling

    def _reconcile_on(self, endpoint: Endpoint) -> Exchange:
        async def exchange(body: bytes) -> Received:
            await endpoint.select("reconcile")
            await endpoint.send("Reconcile", body)
            return await endpoint.branch()

        return exchange

    async def reconcile(self, exchange: Exchange, reconciler: Reconciler | None = None) -> bool:
        """Reconcile over `exchange` (send one `Reconcile` body, return the answer); whether it
        finished within `max_rounds`. Sets `outcome` on a refusal or a malformed answer. The
        reconciler reports each difference once, however often a peer's answers repeat it.

        The items are the namespace's (`sync_items`), unless a `reconciler` over others is
        given (benchmarks reconcile synthetic sets through the same loop)."""
        if reconciler is None:
            journal = await self._journal.journal(self.scope.namespace)
            reconciler = Reconciler(sync_items(journal), self.config.message_bytes)
        return await self._rounds(reconciler, exchange)

    async def _rounds(self, reconciler: Reconciler, exchange: Exchange) -> bool:
        message: bytes | None = reconciler.initiate()
        namespace, context = self.scope.namespace, self.scope.context
        while message is not None:
            if self.rounds >= self.config.max_rounds:
                self._event("sync.bounded", bound="rounds", rounds=self.rounds)
                return False
            body = encode(SyncReconcile(namespace, context, message))
            self.sent += len(body)
            answer = await exchange(body)
            self.received += len(answer.payload)
            self.rounds += 1
            if answer.label == "Refuse":
                self._refused(answer)
                return False
            try:
                ranges = decode(answer.payload, SyncRanges)
                message, have, need = reconciler.reconcile_with_ids(ranges.message)
            except (EncodingError, MalformedReconcileMessage) as exc:
                self._malformed(exc.code)
                return False
            self.have.update(have)
            self.need.update(need)
        return True

    # ------------------------------------------------------------------------- fetching

    async def _fetch(self, endpoint: Endpoint, *, bounded: bool) -> None:
        journal = await self._journal.journal(self.scope.namespace)
        wanted = sorted(fid for fid in map(fact_id, self.need) if fid not in journal)
        expected = self.ingest.expected
        assert expected is not None
        expected.update(wanted)
        feed = FactFeed()
        ours = (journal.get(fid) for fid in map(fact_id, self.have))
        feed.add(f for f in ours if f is not None and shareable(f))
        budget = self.config.message_bytes
        want_per_fetch = min(MAX_WANT, (budget - _HEADROOM) // WANT_BYTES)
        index, pending = 0, False
        while index < len(wanted) or feed or pending:
            if self.fetches >= self.config.max_fetch_rounds:
                self._event("sync.bounded", bound="fetches", fetches=self.fetches)
                bounded = True
                break
            if self.ingest.stream.received >= self.config.max_session_bytes:
                self._event("sync.bounded", bound="bytes", received=self.ingest.stream.received)
                bounded = True
                break
            batch = tuple(wanted[index : index + want_per_fetch])
            index += len(batch)
            chunk = feed.take(budget - _HEADROOM - WANT_BYTES * len(batch))
            body = encode(SyncFetch(batch, chunk))
            await endpoint.select("fetch")
            self.sent += len(body)
            await endpoint.send("Fetch", body)
            answer = await endpoint.branch()
            self.received += len(answer.payload)
            self.fetches += 1
            if answer.label == "Refuse":
                self._refused(answer)
                return
            try:
                facts = decode(answer.payload, SyncFacts)
                encodings = self.ingest.stream.feed(facts.facts)
            except (EncodingError, MalformedSyncMessage) as exc:
                self._malformed(exc.code)
                await self._done(endpoint)
                return
            await self.ingest.take(encodings)
            pending = facts.pending
        if self.ingest.stream.partial and not bounded:
            self._malformed(MalformedSyncMessage.code)
        await self._done(endpoint)
        missing = len(expected) - self.ingest.accepted
        if not bounded and missing:
            self._event("sync.not_supplied", count=missing)
        if self.outcome == "unfinished":
            self.outcome = "partial" if bounded else "complete"

    async def _done(self, endpoint: Endpoint) -> None:
        await endpoint.select("done")
        await endpoint.send("Done")

    # ------------------------------------------------------------------------- outcomes

    def _refused(self, answer: Received) -> None:
        try:
            reason = decode(answer.payload, SyncRefusal).reason.value
        except EncodingError:
            reason = "unknown"
        self.outcome = f"refused:{reason}"
        self._event("sync.refused", reason=reason)

    def _malformed(self, error: str) -> None:
        self.outcome = "malformed"
        self._event("sync.malformed", error=error)

    def _event(self, name: str, **fields: str | int) -> None:
        self._trace.event(
            name,
            role="initiator",
            peer=str(self.peer),
            namespace=str(self.scope.namespace),
            **fields,
        )


class Responder:
    """The responder of one session: its program (`run`) and what it has counted so far."""

    def __init__(
        self,
        journal: JournalEffects,
        trace: TraceEffects,
        peer: AuthorityId,
        scope: SyncScope,
        config: SyncConfig,
    ) -> None:
        self._journal = journal
        self._trace = trace
        self.peer = peer
        self.scope = scope
        self.config = config
        self.rounds = self.fetches = self.sent = self.received = 0
        self.ingest = Ingest(journal, scope.namespace, trace, peer, expected=None)

    def report(self, outcome: str) -> SyncReport:
        return SyncReport(
            self.peer,
            self.scope,
            outcome,
            self.rounds,
            self.fetches,
            self.sent,
            self.received,
            merged=self.ingest.merged,
            dropped=self.ingest.dropped,
        )

    async def run(self, endpoint: Endpoint, *, refusal: RefusalReason | None = None) -> SyncReport:
        """Answer the session on `endpoint`, or refuse it at once with `refusal` (the scope is
        not shared with the initiator, or the initiator has too many sessions open here)."""
        message = await endpoint.receive()
        self.received += len(message.payload)
        if refusal is not None:
            return await self._refuse(endpoint, refusal)
        held = await self._journal.journal(self.scope.namespace)
        reconciler = Reconciler(sync_items(held), self.config.message_bytes)
        feed = FactFeed()
        bound = self.config.max_rounds + self.config.max_fetch_rounds
        while message.label != "Done":
            if (
                self.rounds + self.fetches >= bound
                or self.ingest.stream.received > self.config.max_session_bytes
            ):
                self._event("sync.bounded", bound="session", rounds=self.rounds)
                return await self._refuse(endpoint, RefusalReason.LIMIT)
            try:
                if message.label == "Reconcile":
                    await self._ranges(endpoint, reconciler, message)
                else:
                    await self._facts(endpoint, held, feed, message)
            except (EncodingError, MalformedReconcileMessage, MalformedSyncMessage) as exc:
                self._event("sync.malformed", error=exc.code)
                await self._refuse(endpoint, RefusalReason.MALFORMED)
                return self.report("malformed")
            message = await endpoint.branch()
            self.received += len(message.payload)
        if self.ingest.stream.partial:
            self._event("sync.malformed", error=MalformedSyncMessage.code)
        await self.ingest.finish()
        return self.report("complete")

    async def unanswerable(self, endpoint: Endpoint) -> SyncReport:
        """Read the session's first message and send nothing: this device holds no capability
        to send in the session's context, so even a refusal would be denied."""
        message = await endpoint.receive()
        self.received += len(message.payload)
        self._event("sync.unanswerable", context=str(self.scope.context))
        return self.report("unanswerable")

    def waiting(self) -> None:
        """Trace that this side waits for a capability to answer in the session's context."""
        self._event("sync.unanswerable", context=str(self.scope.context), waiting=1)

    async def _ranges(self, endpoint: Endpoint, reconciler: Reconciler, message: Received) -> None:
        self.rounds += 1
        request = decode(message.payload, SyncReconcile)
        if SyncScope(request.namespace, request.context) != self.scope:
            raise MalformedSyncMessage("a reconciliation message for another scope")
        body = encode(SyncRanges(reconciler.reconcile(request.message)))
        await endpoint.select("ranges")
        self.sent += len(body)
        await endpoint.send("Ranges", body)

    async def _facts(
        self, endpoint: Endpoint, held: Journal, feed: FactFeed, message: Received
    ) -> None:
        self.fetches += 1
        fetch = decode(message.payload, SyncFetch)
        await self.ingest.take(self.ingest.stream.feed(fetch.facts))
        feed.add(_asked(held, fetch.want))
        chunk = feed.take(self.config.message_bytes)
        body = encode(SyncFacts(chunk, bool(feed)))
        await endpoint.select("facts")
        self.sent += len(body)
        await endpoint.send("Facts", body)

    async def _refuse(self, endpoint: Endpoint, reason: RefusalReason) -> SyncReport:
        body = encode(SyncRefusal(reason))
        await endpoint.select("refuse")
        self.sent += len(body)
        await endpoint.send("Refuse", body)
        self._event("sync.refusing", reason=reason.value)
        await self.ingest.finish()
        return self.report(f"refused:{reason.value}")

    def _event(self, name: str, **fields: str | int) -> None:
        self._trace.event(
            name,
            role="responder",
            peer=str(self.peer),
            namespace=str(self.scope.namespace),
            **fields,
        )


def _asked(journal: Journal, want: tuple[FactId, ...]) -> list[Fact]:
    """The retained, shareable facts among `want` (ids this side does not hold are skipped:
    the initiator notices them missing)."""
    found = (journal.get(fid) for fid in want)
    return [f for f in found if f is not None and shareable(f)]
