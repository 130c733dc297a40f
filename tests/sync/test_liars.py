"""Peers that lie within the sync protocol: every lie is bounded or dropped, and traced; nothing
invalid reaches a journal; the device keeps syncing with honest peers.

Device 0 is the victim (an honest `SyncService`), device 1 an honest member, device 2 a member
that lies: it plays `AuraSync` with programs written here instead of the library's, through
its own guard chain (its messages are authenticated; what they say is not to be trusted).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import anyio
import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

import aura_sim
from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import decode, encode, record_tag
from aura_core.ids import AuthorityId, SessionId
from aura_core.reconcile import Reconciler
from aura_journal.fact import Fact, FactBody, JournalNamespace, sign_fact
from aura_protocol import Accepted, Dispatcher, Endpoint, Session
from aura_protocol.sync import SyncConfig, SyncScope, choreography, sync_items
from aura_protocol.sync.items import order_key
from aura_protocol.sync.wire import (
    SyncFacts,
    SyncFetch,
    SyncRanges,
    SyncReconcile,
    SyncRefusal,
)
from aura_protocol.wire import SessionMessage
from aura_sim.examples.naive_push import Note
from tests.sync.helpers import (
    SyncDevice,
    digest,
    genesis_of,
    identities,
    make_devices,
    note_ids,
    online,
    write_notes,
)

CONFIG = SyncConfig(interval_s=3600.0, session_limit_s=5.0, max_rounds=6)
MALLORY = SigningKey(digest("mallory"))
"""Not a member of anything."""


def frame(encodings: Sequence[bytes]) -> bytes:
    """A fact stream as `FactFeed` writes it, from any bytes at all."""
    return b"".join(len(e).to_bytes(4, "big") + e for e in encodings)


async def note(device: SyncDevice, text: str, key: SigningKey, namespace: JournalNamespace) -> Fact:
    """A note in `namespace` signed by `key` (not written to any journal)."""
    type_id, version = record_tag(Note)
    body = FactBody(
        namespace,
        type_id,
        version,
        encode(Note(device.authority, 0, text)),
        await device.effects.order.order_time(),
        await device.effects.time.now(),
    )
    return sign_fact(body, key)


def tampered(fact: Fact) -> Fact:
    """The same fact with one bit of its signature flipped (so another id)."""
    attestation = fact.attestation
    signature = bytearray(attestation.signature)  # type: ignore[union-attr]
    signature[0] ^= 1
    return Fact(fact.body, attrs.evolve(attestation, signature=bytes(signature)))  # type: ignore[arg-type]


Program = Callable[[Endpoint], Awaitable[object]]


def serve_lies(dispatcher: Dispatcher, liar: SyncDevice, program: Program) -> None:
    """The liar answers every sync session with `program`."""

    def accept(message: SessionMessage, source: AuthorityId) -> Accepted | None:
        request = decode(message.payload, SyncReconcile)
        roster = {"Initiator": (source,), "Responder": (liar.authority,)}
        session = Session(choreography(), message.session, request.context, roster)
        return Accepted(session, "Responder", 0, program, limit=5.0)

    dispatcher.serve("AuraSync", accept)


def lying_responder(
    items: list[tuple[int, bytes]],
    *,
    ranges: Callable[[Reconciler, bytes, int], bytes] | None = None,
    facts: Callable[[SyncFetch], SyncFacts] = lambda fetch: SyncFacts(b"", False),
) -> Program:
    """A responder reconciling over `items` (or answering with `ranges(reconciler, message,
    round)`) and answering each fetch with `facts(fetch)`."""

    async def run(endpoint: Endpoint) -> None:
        reconciler = Reconciler(items)
        message = await endpoint.receive()
        round_ = 0
        while message.label != "Done":
            if message.label == "Reconcile":
                request = decode(message.payload, SyncReconcile).message
                answer = (
                    reconciler.reconcile(request)
                    if ranges is None
                    else ranges(reconciler, request, round_)
                )
                round_ += 1
                await endpoint.select("ranges")
                await endpoint.send("Ranges", encode(SyncRanges(answer)))
            else:
                fetch = decode(message.payload, SyncFetch)
                await endpoint.select("facts")
                await endpoint.send("Facts", encode(facts(fetch)))
            message = await endpoint.branch()

    return run


async def journal_state(device: SyncDevice) -> tuple[object, ...]:
    journal = await device.effects.journal.journal(device.namespace)
    keys = await device.storage.list_keys("journal/")
    return (journal.fact_ids(), tuple(keys))


def dropped(device: SyncDevice) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in device.effects.trace.events("sync.dropped"):
        reason = str(event.get("reason"))
        counts[reason] = counts.get(reason, 0) + 1
    return counts


def test_forged_facts_from_a_responder_are_dropped_and_the_good_ones_kept() -> None:
    async def main() -> None:
        victim, honest, liar = await make_devices(3)
        good = await write_notes(liar, 5, "genuine")  # what a member may write
        ns = liar.namespace
        stranger = await note(liar, "by a non-member", MALLORY, ns)
        forged_signature = tampered(await note(liar, "tampered", liar.key, ns))
        other = genesis_of(identities(2, "elsewhere"), "another context")
        foreign = await note(
            liar, "another namespace", liar.key, JournalNamespace.of(other.context)
        )
        unasked = await note(liar, "nobody asked", liar.key, ns)
        offered = [*good, stranger, forged_signature]  # the liar claims to hold all of these
        items = [(order_key(f), f.id.hash.digest) for f in offered]
        by_id = {f.id: f for f in offered}

        def answer(fetch: SyncFetch) -> SyncFacts:
            asked = [by_id[fid].encoded for fid in fetch.want if fid in by_id]
            # Everything asked for, one twice, plus a foreign fact, an unasked one and junk.
            junk = [asked[0], foreign.encoded, unasked.encoded, b"\xff\x00junk"]
            return SyncFacts(frame([*asked, *junk]), False)

        before = await journal_state(victim)
        async with online([victim, honest, liar], CONFIG, peers=False) as (sync, _, liar_sync):
            liar_dispatcher = liar_sync._dispatcher
            liar_dispatcher.unserve("AuraSync")
            serve_lies(liar_dispatcher, liar, lying_responder(items, facts=answer))
            scope = SyncScope.of_context(victim.context)
            report = await sync.sync(liar.authority, scope)
            assert report.outcome == "complete"
            assert (report.need, report.merged) == (7, 5)
            held = await note_ids(victim)
            assert held == {f.id for f in good}
            assert not {stranger.id, forged_signature.id, foreign.id, unasked.id} & held
            assert dropped(victim) == {
                "rejected": 2,
                "repeated": 1,
                "foreign_namespace": 1,
                "unrequested": 1,
                "undecodable": 1,
            }
            errors = {
                e.get("error")
                for e in victim.effects.trace.events("sync.dropped")
                if e.get("reason") == "rejected"
            }
            assert errors == {"unauthorized_writer", "invalid_attestation"}
            # Only the genuine facts reached the journal and its storage.
            ids, keys = await journal_state(victim)
            assert ids == before[0] | {f.id for f in good}
            assert len(keys) == len(before[1]) + 5
            # The victim keeps syncing with honest peers.
            await write_notes(honest, 3, "honest")
            [fine] = await sync.sync_now(honest.authority)
            assert fine.complete and fine.merged == 3 and fine.dropped == 0

    aura_sim.run(main, seed=11)


def test_malformed_ranges_end_the_session_and_change_nothing() -> None:
    async def main() -> None:
        victim, honest, liar = await make_devices(3)
        await write_notes(liar, 4)
        garbage = [b"", b"\x61", b"\x62\x00", b"\x61\x00\x01\xff\xff\xff", b"\x00" * 100]

        def lie(reconciler: Reconciler, message: bytes, round_: int) -> bytes:
            return garbage[round_ % len(garbage)]

        async with online([victim, honest, liar], CONFIG, peers=False) as (sync, _, liar_sync):
            liar_sync._dispatcher.unserve("AuraSync")
            items = sync_items(await liar.effects.journal.journal(liar.namespace))
            serve_lies(liar_sync._dispatcher, liar, lying_responder(items, ranges=lie))
            scope = SyncScope.of_context(victim.context)
            for _ in garbage:
                before = await journal_state(victim)
                report = await sync.sync(liar.authority, scope)
                assert report.outcome == "malformed" and report.merged == 0
                assert await journal_state(victim) == before
            events = victim.effects.trace.events("sync.malformed")
            assert {e.get("error") for e in events} <= {"reconcile_malformed", "schema"}
            assert len(events) == len(garbage)
            await write_notes(honest, 2)
            [fine] = await sync.sync_now(honest.authority)
            assert fine.complete and fine.merged == 2

    aura_sim.run(main, seed=12)


def test_a_responder_that_never_finishes_and_repeats_ids_is_bounded() -> None:
    async def main() -> None:
        victim, honest, liar = await make_devices(3)
        await write_notes(victim, 50)
        # What the liar claims to hold: many items (its answers split them into fingerprinted
        # ranges, which keep a reconciliation going) and a few late ones (listed by id).
        items = [(i, digest(f"bulk {i}")) for i in range(5000)]
        items += [(2**40 + i, digest(f"late {i}")) for i in range(5)]
        first: list[bytes] = []

        def stall(reconciler: Reconciler, message: bytes, round_: int) -> bytes:
            # The honest answer to the first message, forever: its fingerprints ask for more
            # rounds, and its id lists report the same ids again each time.
            if not first:
                first.append(reconciler.reconcile(message))
            return first[0]

        async with online([victim, honest, liar], CONFIG, peers=False) as (sync, _, liar_sync):
            liar_sync._dispatcher.unserve("AuraSync")
            serve_lies(liar_sync._dispatcher, liar, lying_responder(items, ranges=stall))
            before = await journal_state(victim)
            report = await sync.sync(liar.authority, SyncScope.of_context(victim.context))
            assert report.outcome == "partial"
            assert report.rounds == CONFIG.max_rounds
            [bounded] = victim.effects.trace.events("sync.bounded")
            assert bounded.get("bound") == "rounds"
            # The repeated answers report each claimed id once (the reconciler keeps what it
            # reported), so each is asked for once; the liar supplied none.
            expected = victim.effects.trace.events("sync.not_supplied")
            assert report.need > 0 and expected == []  # a bounded session does not complain
            assert (report.merged, report.dropped) == (0, 0)
            assert await journal_state(victim) == before
            await write_notes(honest, 1)
            [fine] = await sync.sync_now(honest.authority)
            assert fine.complete and fine.merged == 1

    aura_sim.run(main, seed=13)


# ----------------------------------------------------------------- lying initiators


_SESSIONS = iter(range(10**6))


async def open_session(
    liar: SyncDevice, dispatcher: Dispatcher, victim: SyncDevice, program: Program
) -> object:
    session = Session(
        choreography(),
        SessionId.from_entropy(digest(f"lie {next(_SESSIONS)}")),
        victim.context,
        {"Initiator": (liar.authority,), "Responder": (victim.authority,)},
    )
    return await dispatcher.run(session, "Initiator", program, limit=5.0)


def test_pushed_forgeries_are_dropped_by_the_responder() -> None:
    async def main() -> None:
        victim, _, liar = await make_devices(3)
        genuine = await write_notes(liar, 3, "genuine")
        ns = liar.namespace
        stranger = await note(liar, "by a non-member", MALLORY, ns)
        other = genesis_of(identities(2, "elsewhere"), "another context")
        foreign = await note(liar, "elsewhere", liar.key, JournalNamespace.of(other.context))
        stream = frame(
            [
                stranger.encoded,
                foreign.encoded,
                b"junk",
                *(f.encoded for f in genuine),
                genuine[0].encoded,
            ]
        )

        async def push(endpoint: Endpoint) -> None:
            items = sync_items(await liar.effects.journal.journal(ns))
            await endpoint.select("reconcile")
            await endpoint.send(
                "Reconcile", encode(SyncReconcile(ns, liar.context, Reconciler(items).initiate()))
            )
            await endpoint.branch()
            await endpoint.select("fetch")
            await endpoint.send("Fetch", encode(SyncFetch((), stream)))
            reply = await endpoint.branch()
            assert decode(reply.payload, SyncFacts) == SyncFacts(b"", False)
            await endpoint.select("done")
            await endpoint.send("Done")

        before = await journal_state(victim)
        async with online([victim, liar], CONFIG, peers=False) as (sync, liar_sync):
            outcome = await open_session(liar, liar_sync._dispatcher, victim, push)
            assert type(outcome).__name__ == "Completed"
            await anyio.sleep(0.5)  # the responder's run ends after the Done arrives
            [(_, served)] = sync.served.items()
            assert served.outcome == "complete" and served.merged == 3
        assert dropped(victim) == {
            "rejected": 1,
            "foreign_namespace": 1,
            "undecodable": 1,
            "repeated": 1,
        }
        ids, _ = await journal_state(victim)
        assert ids == before[0] | {f.id for f in genuine}

    aura_sim.run(main, seed=14)


def test_malformed_requests_are_refused() -> None:
    async def main() -> None:
        victim, _, liar = await make_devices(3)
        ns = liar.namespace
        replies: list[str] = []

        def lie_with(first: bytes) -> Program:
            async def run(endpoint: Endpoint) -> None:
                await endpoint.select("reconcile")
                await endpoint.send("Reconcile", first)
                reply = await endpoint.branch()
                replies.append(reply.label)

            return run

        bad = [
            encode(SyncReconcile(ns, liar.context, b"\x61\x00\x05")),  # cut inside a range
            encode(SyncReconcile(ns, liar.context, b"")),  # no version byte
            encode(SyncReconcile(ns, victim.context, b"\x61\x00\x01" + bytes(5))),
        ]
        before = await journal_state(victim)
        async with online([victim, liar], CONFIG, peers=False) as (_, liar_sync):
            for body in bad:
                await open_session(liar, liar_sync._dispatcher, victim, lie_with(body))
        assert replies == ["Refuse"] * len(bad)
        refusals = victim.effects.trace.events("sync.refusing")
        assert [e.get("reason") for e in refusals] == ["malformed"] * len(bad)
        assert await journal_state(victim) == before

    aura_sim.run(main, seed=15)


def test_a_peer_over_its_open_sessions_is_told_busy_at_once() -> None:
    """A peer holding `serve_per_peer` sessions open (here: ones it never continues) is refused
    another with `Refuse(busy)` straight away, not left to wait out its session limit; when its
    open sessions end, it is served again."""

    async def main() -> None:
        victim, _, liar = await make_devices(3)
        ns = liar.namespace
        opening = encode(SyncReconcile(ns, liar.context, Reconciler([]).initiate()))

        async def hang(endpoint: Endpoint) -> None:
            await endpoint.select("reconcile")
            await endpoint.send("Reconcile", opening)
            await endpoint.branch()
            await anyio.sleep_forever()  # never goes on: the responder waits for it

        answers: list[tuple[str, str, float]] = []

        async def ask(endpoint: Endpoint) -> None:
            started = anyio.current_time()
            await endpoint.select("reconcile")
            await endpoint.send("Reconcile", opening)
            reply = await endpoint.branch()
            reason = (
                decode(reply.payload, SyncRefusal).reason.value if reply.label == "Refuse" else ""
            )
            answers.append((reply.label, reason, anyio.current_time() - started))

        before = await journal_state(victim)
        async with online([victim, liar], CONFIG, peers=False) as (_, liar_sync):
            async with anyio.create_task_group() as group:
                for _ in range(CONFIG.serve_per_peer):
                    group.start_soon(open_session, liar, liar_sync._dispatcher, victim, hang)
                await anyio.sleep(0.5)
                await open_session(liar, liar_sync._dispatcher, victim, ask)
                [(label, reason, waited)] = answers
                assert (label, reason) == ("Refuse", "busy")
                assert waited < 1.0 < CONFIG.session_limit_s
                assert [e.get("reason") for e in victim.effects.trace.events("sync.refusing")] == [
                    "busy"
                ]
            # The hanging sessions ended at their limit: the peer is served again.
            await open_session(liar, liar_sync._dispatcher, victim, ask)
            assert answers[-1][:2] == ("Ranges", "")
        assert await journal_state(victim) == before

    aura_sim.run(main, seed=16)


@settings(max_examples=25, deadline=None)
@given(
    opening=st.binary(max_size=80),
    follow=st.lists(
        st.tuples(st.sampled_from(["Reconcile", "Fetch"]), st.binary(max_size=120)), max_size=4
    ),
    seed=st.integers(0, 2**16),
)
def test_random_messages_never_break_the_responder(
    opening: bytes, follow: list[tuple[str, bytes]], seed: int
) -> None:
    """Fuzz: a member sends random payloads in a session (a valid first message whose ranges
    are random bytes, then random messages); the responder answers or refuses, merges nothing,
    and still syncs with an honest initiator afterwards."""

    async def main() -> None:
        victim, honest, liar = await make_devices(3, seed=seed)
        ns = liar.namespace
        first = encode(SyncReconcile(ns, liar.context, opening))

        async def fuzz(endpoint: Endpoint) -> None:
            await endpoint.select("reconcile")
            await endpoint.send("Reconcile", first)
            reply = await endpoint.branch()
            for label, payload in follow:
                if reply.label == "Refuse":
                    return
                await endpoint.select(label.lower())
                await endpoint.send(label, payload)
                reply = await endpoint.branch()
            if reply.label != "Refuse":
                await endpoint.select("done")
                await endpoint.send("Done")

        before = await journal_state(victim)
        async with online([victim, honest, liar], CONFIG, peers=False) as (sync, sync_h, sync_l):
            outcome = await open_session(liar, sync_l._dispatcher, victim, fuzz)
            assert type(outcome).__name__ == "Completed"
            await anyio.sleep(0.5)
            [(_, served)] = sync.served.items()
            assert served.outcome in ("complete", "malformed", "refused:malformed")
            assert await journal_state(victim) == before
            await write_notes(honest, 1)
            [fine] = await sync_h.sync_now(victim.authority)
            assert fine.complete and fine.have == 1

    aura_sim.run(main, seed=seed)
