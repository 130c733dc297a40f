"""A coordinator's word that a change committed (`Admitted`, `Switch`) travels in another
session than the key ceremony's messages: the `accounts` simulator scenario found a joiner told
`Admitted` before its part of the DKG had left it the pending key, refusing an enrollment that
had committed with its key. A device now keeps its pending key before it reports its result, so
the coordinator, which commits only on every result, can no longer get ahead of the key."""

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


async def test_a_joiner_slow_to_keep_its_key_is_admitted_only_after_it(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        a, b = [
            await stack.enter_async_context(Agent.open(tmp_path / n, settings=FAST))
            for n in ("a", "b")
        ]
        service = b.accounts
        keep = service.pending
        late: list[PendingKey] = []

        async def pending_later(key: PendingKey) -> None:
            """B is slow to keep its key: its result (and so the commit) waits for it."""
            await anyio.sleep(LATE_S)
            late.append(key)
            await keep(key)

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
