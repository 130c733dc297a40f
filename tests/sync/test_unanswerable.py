"""A responder that holds no capability in a session's context cannot send anything there, a
refusal included (every `AuraSync` message is a guarded send). This is the device that has not
moved into its account's new devices' context yet, or a joiner not admitted yet, asked by a
device that has: the request arrives before the `Switch` or the admission that brings the
grant. It used to run into its own guard chain (`guard.denied ... AuraSync.Refuse`) and leave
the initiator waiting out its whole session limit; it now waits, within its session, until it
may answer, and then answers as it would have.

Two devices of one context; B is a member per the context's genesis but holds no sync
capability there until the test grants it, as the agent does when a device moves.
"""

from __future__ import annotations

import anyio

import aura_sim
from aura_protocol.sync import SyncConfig, SyncScope, shared_contexts
from tests.sync.helpers import (
    SyncDevice,
    grant,
    make_devices,
    note_ids,
    online,
    write_notes,
)

LIMIT_S = 10.0
CONFIG = SyncConfig(interval_s=3600.0, session_limit_s=LIMIT_S)


async def two_devices() -> tuple[SyncDevice, SyncDevice]:
    """A holds the context as a member device does; B holds its genesis, secret and flow
    budget but no sync capability."""
    a, b = await make_devices(2, incapable=(1,))
    return a, b


def test_a_responder_granted_during_the_session_answers_it() -> None:
    async def main() -> None:
        a, b = await two_devices()
        written = {f.id for f in await write_notes(a, 3, "a")}
        written |= {f.id for f in await write_notes(b, 2, "b")}
        # B's own policy does not offer a context it cannot send in.
        assert await shared_contexts(b.effects, b.authority)(a.authority) == []
        async with online([a, b], CONFIG, peers=False) as (sync_a, _):

            async def granted_later() -> None:
                await a.effects.time.sleep(1.0)  # B moves into the context meanwhile
                grant(b.effects, b.identity, b.context)

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(granted_later)
                report = await sync_a.sync(b.authority, SyncScope.of_context(a.context))
            # Answered once B could (a session at its limit ends `TimedOut`, as it did).
            assert report.outcome == "complete", report
            assert await note_ids(a) == await note_ids(b) == frozenset(written)
        assert b.effects.trace.events("guard.denied") == []
        [waited] = b.effects.trace.events("sync.unanswerable")
        assert waited.get("peer") == str(a.authority)

    aura_sim.run(main, seed=5)


def test_a_responder_never_granted_sends_nothing_and_both_sides_end_at_the_limit() -> None:
    """The bound: a device that never gets the grant cannot answer, so neither side hears
    anything and each ends at its session limit (the initiator's policy is what keeps it from
    asking such a device: it asks only members of the context, in the account's current one)."""

    async def main() -> None:
        a, b = await two_devices()
        async with online([a, b], CONFIG, peers=False) as (sync_a, sync_b):
            report = await sync_a.sync(b.authority, SyncScope.of_context(a.context))
            assert (report.outcome, report.received_bytes) == ("TimedOut", 0)
            with anyio.fail_after(LIMIT_S):
                while not sync_b.served:
                    await anyio.sleep(0.1)
            assert [r.outcome for r in sync_b.served.values()] == ["TimedOut"]
        assert b.effects.trace.events("guard.denied") == []
        assert b.guarded.sent == 0

    aura_sim.run(main, seed=6)
