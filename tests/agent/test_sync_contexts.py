"""Which devices' context an agent syncs in, and that it can always answer a device of its
account, however far behind: each change founds a new devices' context, the account syncs
only in the current one, and a device still in an earlier one (it has not taken the change, or
was removed) is refused `not_shared` at once, also by a device restarted since, instead of
being left to its session limit by a refusal its own guard chain denies."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from aura_agent.agent import Agent
from aura_journal.fact import JournalNamespace
from aura_protocol.sync import SyncScope
from tests.agent.helpers import FAST

pytestmark = pytest.mark.anyio


async def test_a_superseded_context_is_not_synced_and_is_refused_at_once(tmp_path: Path) -> None:
    async with Agent.open(tmp_path / "a", settings=FAST) as a:
        async with Agent.open(tmp_path / "b", settings=FAST) as b:
            account = await a.accounts.create()
            with anyio.fail_after(30):
                await b.accounts.join(await a.accounts.invite(2))
            with anyio.fail_after(20):
                while (a.account.devices, b.account.devices) != (2, 2):
                    await anyio.sleep(0.05)
            assert a.membership is not None
            joined = a.membership.context  # A and B, from the enrollment
            with anyio.fail_after(60):
                await a.accounts.refresh()
            with anyio.fail_after(20):
                while b.membership is None or b.membership.context == joined:
                    await anyio.sleep(0.05)
            current = b.membership.context
        # B restarts: it holds the grants of the context it is in, and of the earlier one
        # whose genesis lists it (to answer there).
        async with Agent.open(tmp_path / "b", settings=FAST) as b:
            with anyio.fail_after(20):
                while b.account.phase != "active":
                    await anyio.sleep(0.05)
            # The account syncs in its current devices' context only.
            reports = await a.sync.sync_now(b.address)
            assert sorted((r.scope for r in reports), key=SyncScope.sort_key) == sorted(
                [
                    SyncScope.of_context(current),
                    SyncScope(JournalNamespace.of(account), current),
                ],
                key=SyncScope.sort_key,
            )
            assert all(r.complete for r in reports), reports
            # A device asking in the earlier context (as one that has not moved does) is told
            # at once: well before its session limit, with nothing reconciled.
            with anyio.fail_after(FAST.sync.session_limit_s / 2):
                report = await a.sync.sync(b.address, SyncScope.of_context(joined))
            assert report.outcome == "refused:not_shared", report
            assert report.need == report.merged == 0
