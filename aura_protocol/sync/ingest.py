"""Facts received in a sync session, on their way into the journal.

Everything a peer sends is a claim: each fact is decoded strictly, must belong to the session's
namespace, may arrive once, and (on the side that fetched) must be one that was asked for;
anything else is dropped and traced (`sync.dropped`, with a `reason`). What remains goes through
the journal's full validation (`JournalEffects.merge`, origin `PEER`: writer rules, validators,
signatures). A merge is all-or-nothing, so a batch that is refused is split in halves until the
bad facts stand alone: they are dropped and traced, and the good ones around them still land
(a handful of bad facts among n cost O(log n) merges each). A fact refused only because its
parent is not here yet (`MissingParent`) waits and is tried again after every merge that adds
something; those still waiting when the session ends are dropped (the next session fetches
them again, once their parents are in).
"""

from __future__ import annotations

from collections.abc import Sequence

from aura_core.effects import TraceEffects
from aura_core.errors import EncodingError, FactRejected, MissingParent
from aura_core.ids import AuthorityId, FactId
from aura_journal.effects import JournalEffects
from aura_journal.fact import Fact, JournalNamespace
from aura_journal.registry import Origin
from aura_protocol.sync.wire import FactStream

__all__ = ["Ingest"]


class Ingest:
    """One session's incoming facts, from one peer, into one namespace.

    `expected` is the set of ids this side asked for (the initiator, which fetches), or None
    for facts the peer pushed unasked (the responder, which cannot know what the initiator
    found missing; it validates them all the same).
    """

    def __init__(
        self,
        journal: JournalEffects,
        namespace: JournalNamespace,
        trace: TraceEffects,
        peer: AuthorityId,
        *,
        expected: set[FactId] | None,
    ) -> None:
        self._journal = journal
        self._namespace = namespace
        self._trace = trace
        self._peer = peer
        self.expected = expected
        self.stream = FactStream()
        self._seen: set[FactId] = set()
        self._waiting: list[Fact] = []
        self.merged = 0
        """Facts this session added to the journal."""
        self.dropped = 0
        """Facts received and not merged."""

    @property
    def accepted(self) -> int:
        """Facts that passed the session's own checks (merged, refused by the journal, or
        waiting for a parent)."""
        return len(self._seen)

    async def take(self, encodings: Sequence[bytes]) -> int:
        """Check and merge the facts a piece of the stream completed; how many were added."""
        facts: list[Fact] = []
        for data in encodings:
            try:
                fact = Fact.from_bytes(data)
            except EncodingError as exc:
                self._drop("undecodable", None, exc.code)
                continue
            if fact.namespace != self._namespace:
                self._drop("foreign_namespace", fact.id)
            elif fact.id in self._seen:
                self._drop("repeated", fact.id)
            elif self.expected is not None and fact.id not in self.expected:
                self._drop("unrequested", fact.id)
            else:
                self._seen.add(fact.id)
                facts.append(fact)
        before = self.merged
        await self._merge(facts)
        if self.merged > before and self._waiting:
            await self._retry()
        return self.merged - before

    async def finish(self) -> None:
        """The session is over: retry what waits for a parent once more, then drop it."""
        await self._retry()
        for fact in self._waiting:
            self._drop("orphan", fact.id, MissingParent.code)
        self._waiting = []

    async def _retry(self) -> None:
        while self._waiting:
            waiting, self._waiting = self._waiting, []
            before = self.merged
            await self._merge(waiting)
            if self.merged == before:
                return

    async def _merge(self, facts: list[Fact]) -> None:
        if not facts:
            return
        try:
            self.merged += await self._journal.merge(self._namespace, facts, origin=Origin.PEER)
            return
        except MissingParent:
            if len(facts) == 1:
                self._waiting.append(facts[0])
                return
        except FactRejected as exc:
            if len(facts) == 1:
                self._drop("rejected", facts[0].id, exc.code)
                return
        middle = len(facts) // 2
        await self._merge(facts[:middle])
        await self._merge(facts[middle:])

    def _drop(self, reason: str, fact: FactId | None, error: str | None = None) -> None:
        self.dropped += 1
        self._trace.event(
            "sync.dropped",
            reason=reason,
            peer=str(self._peer),
            namespace=str(self._namespace),
            fact=None if fact is None else str(fact),
            error=error,
        )
