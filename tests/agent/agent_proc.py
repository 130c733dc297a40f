"""Two agents of one account in a child process, for the SIGKILL test
(`python -m tests.agent.agent_proc DIR`).

It opens agents on DIR/a and DIR/b (new directories), deals them a 2-of-2 account, commits a
change by consensus (a third leaf), then prints one JSON line describing what must survive
(identities, journal fact ids, key file secrets, membership) and waits to be killed.
"""

from __future__ import annotations

import json
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import anyio

from aura_agent.agent import Agent
from aura_core.crypto.ed25519 import SigningKey
from aura_core.ids import DeviceId
from aura_core.tree import LeafNode, LeafRole
from aura_journal.tree import AddLeaf
from tests.agent.helpers import FAST, deal, snapshot


async def main(directory: str) -> None:
    async with AsyncExitStack() as stack:
        agents = [
            await stack.enter_async_context(Agent.open(Path(directory) / name, settings=FAST))
            for name in ("a", "b")
        ]
        await deal(agents, 2)
        leaf = LeafNode(
            2, DeviceId(b"\x07" * 16), LeafRole.DEVICE, SigningKey(b"\x07" * 32).verifying_key.raw
        )
        device = agents[0].device
        assert device is not None
        await device.change(AddLeaf(leaf))
        for agent in agents:  # both recorded the commit (the other by the announcement)
            with anyio.fail_after(10):
                while len((await agent.device.tree()).leaves) < 3:  # type: ignore[union-attr]
                    await anyio.sleep(0.02)
            await agent.refresh()
        sys.stdout.write(json.dumps([await snapshot(a) for a in agents]) + "\n")
        sys.stdout.flush()
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1])
