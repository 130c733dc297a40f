"""A coordinator's word that a change committed may overtake the key ceremony's last message
to a device (they travel in different sessions): found by the `accounts` simulator scenario,
where a joiner got `Admitted` before its own part of the DKG had left it the pending key, and
refused an enrollment that had committed with its key."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import pytest

from aura_agent.agent import Agent
from aura_protocol.ceremonies.service import PendingKey
from tests.agent.helpers import FAST

pytestmark = pytest.mark.anyio

LATE_S = 0.5


async def test_a_join_admitted_before_its_key_arrives_waits_for_the_key(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        a, b = [
            await stack.enter_async_context(Agent.open(tmp_path / n, settings=FAST))
            for n in ("a", "b")
        ]
        tasks = await stack.enter_async_context(anyio.create_task_group())
        service = b.accounts
        keep = service.pending
        late: list[PendingKey] = []

        def pending_later(key: PendingKey) -> None:
            """The key ceremony's end reaches B after the inviter's `Admitted`."""

            async def later() -> None:
                await anyio.sleep(LATE_S)
                late.append(key)
                keep(key)

            tasks.start_soon(later)

        service.pending = pending_later  # type: ignore[method-assign]
        account = await a.accounts.create()
        with anyio.fail_after(30):
            assert await b.accounts.join(await a.accounts.invite(2)) == account
        assert len(late) == 1
        for agent in (a, b):
            with anyio.fail_after(10):
                while (agent.account.phase, agent.account.devices) != ("active", 2):
                    await anyio.sleep(0.05)
            assert agent.account.threshold == 2
