"""Anti-entropy sync between honest devices: sessions, the service, partitions and restarts.

Devices share one context (`tests/sync/helpers.py`) and write `sim.note` facts into its
journal; nothing carries a fact by hand. Runs are in the simulator's loop (virtual time), over
`aura_guards.loopback.connect` or the simulator's faulty network.
"""

from __future__ import annotations

import anyio

import aura_sim
from aura_core.encoding import encode, record_tag
from aura_core.ids import AuthorityId
from aura_effects.loopback import LoopbackNetwork
from aura_journal.budget import Capped
from aura_journal.fact import Fact, FactBody, JournalNamespace, sign_fact
from aura_journal.registry import Origin
from aura_protocol.sync import (
    AccountDevices,
    SyncConfig,
    SyncReport,
    SyncScope,
    shared_contexts,
)
from aura_sim.examples.naive_push import Note
from aura_sim.faults import QUIET
from aura_sim.network import SimNetwork, SimTransport
from aura_sim.seeds import SeedTree
from tests.sync.helpers import (
    SyncDevice,
    converge,
    identities,
    make_devices,
    note_ids,
    online,
    restart,
    write_notes,
)

QUICK = SyncConfig(interval_s=0.5, session_limit_s=2.0)
MANUAL = SyncConfig(interval_s=3600.0)
"""Periodic sync so rare that only explicit `sync_now` calls happen during a test."""


def test_two_devices_converge_after_writing_disjoint_facts() -> None:
    async def main() -> None:
        a, b = await make_devices(2)
        mine = {f.id for f in await write_notes(a, 40, "a")}
        theirs = {f.id for f in await write_notes(b, 25, "b")}
        async with online([a, b], MANUAL) as (sync_a, _):
            [report] = await sync_a.sync_now(b.authority)
            assert report.complete
            assert (report.have, report.need, report.merged, report.dropped) == (40, 25, 25, 0)
            assert await note_ids(a) == await note_ids(b) == frozenset(mine | theirs)
            # Nothing differs any more: one round trip of fingerprints, no fetch, a fraction of
            # the 66 ids themselves.
            [again] = await sync_a.sync_now(b.authority)
            assert again.complete and (again.rounds, again.fetches, again.need) == (1, 0, 0)
            assert again.sent_bytes + again.received_bytes < 66 * 32 // 4

    aura_sim.run(main, seed=1)


def test_syncs_of_one_peer_asked_at_once_take_turns_and_none_is_refused_busy() -> None:
    """More syncs of one peer than it serves at once (`serve_per_peer`) asked together, as a
    periodic sync, a reconnect and a user's `sync now` can be: they run one after another, so
    each is answered and none is `refused:busy` (a peer over its limit is: `test_liars`)."""

    async def main() -> None:
        a, b = await make_devices(2)
        theirs = {f.id for f in await write_notes(b, 30, "b")}
        asked = MANUAL.serve_per_peer + 1
        async with online([a, b], MANUAL) as (sync_a, _):
            reports: list[SyncReport] = []

            async def ask() -> None:
                reports.extend(await sync_a.sync_now(b.authority))

            async with anyio.create_task_group() as group:
                for _ in range(asked):
                    group.start_soon(ask)
            assert [r.outcome for r in reports] == ["complete"] * asked
            assert [r.merged for r in reports] == [30] + [0] * (asked - 1)
            assert not b.effects.trace.events("sync.busy")
            assert await note_ids(a) == frozenset(theirs)

    aura_sim.run(main, seed=9)


def test_three_devices_converge_by_periodic_sync() -> None:
    async def main() -> None:
        devices = await make_devices(3)
        written = set()
        for index, device in enumerate(devices):
            written |= {f.id for f in await write_notes(device, 10 + index, f"d{index}")}
        async with online(devices, QUICK) as services:
            held = await converge(devices, within_s=5.0)
            assert held == frozenset(written)
            assert all(
                s.peers == sorted(d.authority for d in devices if d.authority != s.local)
                for s in services
            )

    aura_sim.run(main, seed=2)


def test_sync_pays_flow_budget_and_stops_when_it_runs_out() -> None:
    async def main() -> None:
        a, b = await make_devices(2)
        await write_notes(b, 5)
        async with online([a, b], MANUAL) as (sync_a, _):
            [report] = await sync_a.sync_now(b.authority)
            assert report.complete
            spent = await a.guarded.spent(a.context, b.authority)
            # Reconcile (1), Fetch (2), Done (1): every message is a guarded send.
            assert spent == 4
            assert await b.guarded.spent(b.context, a.authority) == 3  # Ranges, Facts
            a.effects.flow.set_default(a.context, Capped(spent + 1))
            await write_notes(b, 5, "more")
            before = await note_ids(a)
            [denied] = await sync_a.sync_now(b.authority)
            assert denied.outcome == "Aborted"  # the guard chain denied the Fetch
            assert await note_ids(a) == before

    aura_sim.run(main, seed=3)


def test_a_peer_outside_the_context_is_refused_and_learns_nothing() -> None:
    async def main() -> None:
        members = identities(2)  # devices 0 and 1 are the context's members; 2 is not
        a, b, stranger = await make_devices(3, members=members)
        await write_notes(a, 3)
        async with online([a, b, stranger], MANUAL, peers=False) as (sync_a, _, sync_s):
            # The default policy: the stranger shares nothing with anyone...
            assert await sync_s.sync_now(a.authority) == ()
            # ...and a session it opens anyway is refused before anything is reconciled.
            report = await sync_s.sync(a.authority, SyncScope.of_context(a.context))
            assert report.outcome == "refused:not_shared"
            assert report.need == 0 and report.merged == 0
            assert await note_ids(stranger) == frozenset()
            [served] = [r for (peer, _), r in sync_a.served.items() if peer == stranger.authority]
            assert served.outcome == "refused:not_shared"

    aura_sim.run(main, seed=4)


def test_the_default_policy_lists_shared_contexts_and_the_account() -> None:
    async def main() -> None:
        a, b, c = await make_devices(3)
        scopes = shared_contexts(a.effects, a.authority)
        assert await scopes(b.authority) == [SyncScope.of_context(a.context)]
        assert await scopes(a.authority) == []
        stranger = identities(1, "stranger")[0].authority
        assert await scopes(stranger) == []
        account = identities(1, "account")[0].authority
        with_account = shared_contexts(
            a.effects, a.authority, account=AccountDevices(account, a.context, {c.authority})
        )
        assert await with_account(c.authority) == sorted(
            [
                SyncScope.of_context(a.context),
                SyncScope(JournalNamespace.of(account), a.context),
            ],
            key=SyncScope.sort_key,
        )
        assert await with_account(b.authority) == [SyncScope.of_context(a.context)]

    aura_sim.run(main, seed=5)


# ----------------------------------------------------------------- partitions and restarts


class _Named:
    """Attaches devices to a simulated network as n0, n1, ... in the order they are made."""

    def __init__(self, seed: int) -> None:
        seeds = SeedTree(seed).child("network")
        self.network = SimNetwork(
            latency=seeds.stream("latency"), faults=seeds.stream("faults"), default=QUIET
        )
        self.names: dict[AuthorityId, str] = {}

    def attach(self, who: AuthorityId) -> SimTransport:
        self.names[who] = f"n{len(self.names)}"
        return self.network.attach(self.names[who], who)


def test_convergence_after_a_partition() -> None:
    async def main() -> None:
        net = _Named(6)
        devices = await make_devices(3, attach=net.attach)
        a, b, c = devices
        async with online(devices, QUICK):
            net.network.partition([["n0"], ["n1", "n2"]])
            await write_notes(a, 20, "a")
            await write_notes(b, 10, "b")
            await write_notes(c, 10, "c")
            await anyio.sleep(3.0)  # periodic sync runs: b and c converge, a is cut off
            assert await note_ids(b) == await note_ids(c)
            assert len(await note_ids(b)) == 20 and len(await note_ids(a)) == 20
            net.network.heal()
            held = await converge(devices, within_s=5.0)
            assert len(held) == 40

    aura_sim.run(main, seed=6)


def test_a_restarted_device_catches_up_from_its_storage_and_sync() -> None:
    async def main() -> None:
        net = _Named(7)
        a, b = await make_devices(2, attach=net.attach)
        before = {f.id for f in await write_notes(b, 7, "before the crash")}
        async with online([a, b], QUICK):
            assert await converge([a, b], within_s=3.0) == frozenset(before)
        # b crashes: its process and what was in flight to it are gone, its disk stays.
        net.network.crash("n1")
        during = {f.id for f in await write_notes(a, 12, "while b is down")}
        net.network.restart("n1")
        b = await restart(b, seed=8)
        assert await note_ids(b) == frozenset(before)  # from its own storage
        async with online([a, b], MANUAL) as (_, sync_b):
            sync_b.request(a.authority)  # what a device does once it is back
            held = await converge([a, b], within_s=3.0)
        assert held == frozenset(before | during)

    aura_sim.run(main, seed=7)


def test_every_message_fits_a_frame_even_for_facts_larger_than_one() -> None:
    async def main() -> None:
        network = LoopbackNetwork()
        a, b = await make_devices(2, attach=network.attach)
        big = [await write_big_note(a, i) for i in range(3)]  # each about 60 KB
        await write_notes(a, 40, "small")
        await write_notes(b, 40, "small")
        async with online([a, b], MANUAL) as (_, sync_b):
            [report] = await sync_b.sync_now(a.authority)
            assert report.complete and report.merged == 43 and report.fetches > 3
        assert {f.id for f in big} <= await note_ids(b)
        largest = max(len(envelope.payload) for envelope in network.delivered)
        # The sync budget per message (48000 bytes) plus the session, receipt and envelope
        # framing: well under a 64 KiB frame (65519 bytes of Noise plaintext).
        assert 48_000 < largest < 50_000

    aura_sim.run(main, seed=8)


async def write_big_note(device: SyncDevice, seq: int) -> Fact:
    type_id, version = record_tag(Note)
    body = FactBody(
        device.namespace,
        type_id,
        version,
        encode(Note(device.authority, 1000 + seq, "x" * 60_000)),
        await device.effects.order.order_time(),
        await device.effects.time.now(),
    )
    fact = sign_fact(body, device.key)
    await device.effects.journal.merge(device.namespace, [fact], origin=Origin.LOCAL)
    return fact
