"""The account workflows between two agents on loopback: create (1-of-1), invite, join
(networked DKG to 2-of-2), and every bad-input case of an enrollment code (typed error, no
state change)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import pytest

from aura_agent.accounts import AccountService
from aura_agent.agent import Agent
from aura_agent.client import AgentClient
from aura_agent.enrollment import CODE_PREFIX, read_code
from aura_consensus.ceremony import Aborted, CeremonyAborted, CeremonyRegistry, CeremonyStarted
from aura_consensus.facts import CEREMONY_REDUCER
from aura_consensus.tree import tree_prestate
from aura_core.encoding import decode, encode, record_tag
from aura_core.errors import (
    AccountError,
    AlreadyInAccount,
    CeremonyConflict,
    EnrollmentCodeExpired,
    EnrollmentCodeInvalid,
    EnrollmentCodeRedeemed,
    InvalidArgument,
    NotConfigured,
)
from aura_core.ids import DeviceId
from aura_journal.fact import JournalNamespace
from aura_journal.tree import TREE_REDUCER
from tests.agent.helpers import FAST

pytestmark = pytest.mark.anyio


def accounts(agent: Agent) -> AccountService:
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


async def snapshot(agent: Agent) -> tuple[object, ...]:
    """What a refused request must leave alone: the membership, the key file's secrets and
    the journals of the account and the devices' context."""
    membership = agent.membership
    journals: list[frozenset[object]] = []
    if membership is not None:
        for namespace in (
            JournalNamespace.of(membership.account),
            JournalNamespace.of(membership.context),
        ):
            journals.append((await agent.effects.journal.journal(namespace)).fact_ids())
    return (membership, encode(agent.keys.secrets), tuple(journals), agent.account)


async def test_bad_codes_are_refused_and_change_nothing(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        a, b, c = [
            await stack.enter_async_context(Agent.open(tmp_path / n, settings=FAST))
            for n in ("a", "b", "c")
        ]
        await accounts(a).create()

        # Threshold above the device count, or unsafe: refused before anything is recorded.
        before = await snapshot(a)
        for threshold in (3, 1, 0):
            with pytest.raises(InvalidArgument, match="threshold from 2 to 2"):
                await accounts(a).invite(threshold)
        assert await snapshot(a) == before

        code = await accounts(a).invite(2)
        # Another enrollment while this one holds the prestate.
        before = await snapshot(a)
        with pytest.raises(CeremonyConflict, match="in progress"):
            await accounts(a).invite(2)
        assert await snapshot(a) == before

        # Tampered: any change to the signed part, or garbage.
        fresh = await snapshot(b)
        body = code[len(CODE_PREFIX) :]
        middle = len(body) // 2
        flipped = body[:middle] + ("A" if body[middle] != "A" else "B") + body[middle + 1 :]
        for bad in (CODE_PREFIX + flipped, code[:-12], "aura:v2:" + body, "hello", code + "!!"):
            with pytest.raises(EnrollmentCodeInvalid):
                await accounts(b).join(bad)
        assert await snapshot(b) == fresh

        # Used once: the second device is refused.
        with anyio.fail_after(20):
            await accounts(b).join(code)
        fresh_c = await snapshot(c)
        with anyio.fail_after(20), pytest.raises(EnrollmentCodeRedeemed, match="used already"):
            await accounts(c).join(code)
        assert await snapshot(c) == fresh_c

        # A device in an account already cannot join another.
        before_b = await snapshot(b)
        with pytest.raises(AlreadyInAccount, match="leave it"):
            await accounts(b).join(code)
        with pytest.raises(AlreadyInAccount):
            await accounts(b).create()
        assert await snapshot(b) == before_b


async def test_expired_aborted_and_wrong_account_codes(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        a, b = [
            await stack.enter_async_context(Agent.open(tmp_path / n, settings=FAST))
            for n in ("a", "b")
        ]
        await accounts(a).create()
        fresh = await snapshot(b)

        expired = await accounts(a).invite(2, expires_in_s=0.05)
        await anyio.sleep(0.1)
        with pytest.raises(EnrollmentCodeExpired, match="new one"):
            await accounts(b).join(expired)
        assert await snapshot(b) == fresh
        await accounts(a).cancel(read_code(expired).ceremony)

        # A code whose enrollment the inviter cancelled.
        cancelled = await accounts(a).invite(2)
        await accounts(a).cancel(read_code(cancelled).ceremony)
        before_a = await snapshot(a)
        with anyio.fail_after(20), pytest.raises(EnrollmentCodeInvalid, match="cancelled"):
            await accounts(b).join(cancelled)
        assert await snapshot(b) == fresh
        assert (await snapshot(a))[:3] == before_a[:3]

        # A code for an account the inviting device is no longer in.
        stale = await accounts(a).invite(2)
        await a.leave()
        with anyio.fail_after(20), pytest.raises(EnrollmentCodeInvalid, match="not in now"):
            await accounts(b).join(stale)
        assert await snapshot(b) == fresh


async def test_the_workflows_through_the_client(tmp_path: Path) -> None:
    """The same flows driven only through `AgentClient`: typed errors cross the socket, and
    `agent.ceremonies` shows the enrollment while it is under way."""
    async with AsyncExitStack() as stack:
        a, b = [
            await stack.enter_async_context(Agent.open(tmp_path / n, settings=FAST))
            for n in ("a", "b")
        ]
        ca = await stack.enter_async_context(AgentClient.connect(a.socket_path))
        cb = await stack.enter_async_context(AgentClient.connect(b.socket_path))
        updates = await stack.enter_async_context(ca.subscribe("agent.ceremonies"))
        account = await ca.create_account()
        with pytest.raises(AlreadyInAccount):
            await ca.create_account()
        with pytest.raises(EnrollmentCodeInvalid):
            await cb.join("aura:v1:nonsense")
        invite = await ca.invite(2, 60)
        assert read_code(invite.code).ceremony == invite.ceremony
        assert invite.code not in repr(invite)  # a secret: never in a repr
        phases = []
        with anyio.fail_after(10):
            async for event in updates:
                phases.extend(c.phase for c in event.value.ceremonies)
                if "invited" in phases:
                    break
        with anyio.fail_after(20):
            assert await cb.join(invite.code) == account
        with anyio.fail_after(10):
            while (await ca.status()).account.devices != 2:
                await anyio.sleep(0.05)
        status = (await cb.status()).account
        assert (status.phase, status.account, status.devices, status.threshold) == (
            "active",
            account,
            2,
            2,
        )


async def wait_for(agent: Agent, phase: str, devices: int, threshold: int) -> None:
    with anyio.fail_after(20):
        while (agent.account.phase, agent.account.devices, agent.account.threshold) != (
            phase,
            devices,
            threshold,
        ):
            await anyio.sleep(0.05)


async def settled(*agents: Agent) -> None:
    """Until every agent holds the same facts of the account and of the devices' context: the
    enrollments' last facts (ceremony outcomes, descriptors) reach the others by sync after
    each already shows the new membership."""

    async def held(agent: Agent) -> tuple[frozenset[object], ...]:
        membership = agent.membership
        assert membership is not None
        return tuple(
            [
                (await agent.effects.journal.journal(JournalNamespace.of(name))).fact_ids()
                for name in (membership.account, membership.context)
            ]
        )

    with anyio.fail_after(60):
        while len({await held(agent) for agent in agents}) > 1:
            await anyio.sleep(0.05)


async def test_three_devices_remove_refresh_and_threshold(tmp_path: Path) -> None:
    """A creates; B joins (2-of-2); C joins a FROST group (2-of-3: AddLeaf and ChangePolicy by
    consensus, the DKG among A, B and C); B removes A (a refresh among B and C, RemoveLeaf);
    A shows itself removed; B and C refresh; bad requests change nothing."""
    async with AsyncExitStack() as stack:
        a, b, c = [
            await stack.enter_async_context(Agent.open(tmp_path / n, settings=FAST))
            for n in ("a", "b", "c")
        ]
        account = await accounts(a).create()
        with anyio.fail_after(30):
            await accounts(b).join(await accounts(a).invite(2))
        await wait_for(a, "active", 2, 2)
        with pytest.raises(NotConfigured):
            await accounts(c).refresh()  # no account yet
        with anyio.fail_after(60):
            assert await accounts(c).join(await accounts(a).invite(2)) == account
        for agent in (a, b, c):
            await wait_for(agent, "active", 3, 2)
        await settled(a, b, c)

        # Bad requests: nothing recorded, nothing changes.
        before = await snapshot(b)
        with pytest.raises(AccountError, match="another of the account's devices"):
            await accounts(b).remove(b.identity.device)
        with pytest.raises(InvalidArgument, match="not a device"):
            await accounts(b).remove(DeviceId(b"\x01" * 16))
        with pytest.raises(InvalidArgument, match="at most 3"):
            await accounts(b).change_threshold(4)
        with pytest.raises(InvalidArgument, match="only tightens"):
            await accounts(b).change_threshold(2)
        assert await snapshot(b) == before

        with anyio.fail_after(60):
            await accounts(b).remove(a.identity.device)
        for agent in (b, c):
            await wait_for(agent, "active", 2, 2)
        with anyio.fail_after(20):
            while a.account.phase != "removed":
                await anyio.sleep(0.05)
        with pytest.raises(AccountError, match="leaves 1 device"):
            await accounts(b).remove(c.identity.device)
        epoch = b.account.epoch
        with anyio.fail_after(60):
            await accounts(c).refresh()
        for agent in (b, c):
            with anyio.fail_after(20):
                while agent.account.epoch != epoch + 1:
                    await anyio.sleep(0.05)
            assert (agent.account.devices, agent.account.threshold) == (2, 2)


async def test_a_change_a_holder_misses_is_recorded_aborted_and_changes_nothing(
    tmp_path: Path,
) -> None:
    """A refresh while the other share holder is stopped fails (`AccountError`) before anything
    commits: its ceremony is recorded aborted, the tree, the membership and the keys are as
    they were, and the next change on the same prestate is not refused as a conflict."""
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(Agent.open(tmp_path / "a", settings=FAST))
        async with Agent.open(tmp_path / "b", settings=FAST) as b:
            account = await accounts(a).create()
            with anyio.fail_after(30):
                await accounts(b).join(await accounts(a).invite(2))
            await wait_for(a, "active", 2, 2)
            with anyio.fail_after(30):
                while a.keys.secrets.enrollments:  # B's acknowledgement of its admission
                    await anyio.sleep(0.05)
        namespace = JournalNamespace.of(account)
        journal = await a.effects.journal.journal(namespace)
        tree, known = journal.view(TREE_REDUCER).current, journal.fact_ids()
        before = (a.membership, encode(a.keys.secrets), a.account)
        with anyio.fail_after(60), pytest.raises(AccountError, match="did not acknowledge"):
            await accounts(a).refresh()  # B is stopped
        journal = await a.effects.journal.journal(namespace)
        assert (a.membership, encode(a.keys.secrets), a.account) == before
        assert journal.view(TREE_REDUCER).current == tree
        added = [journal.get(f) for f in sorted(journal.fact_ids() - known)]
        assert sorted(f.body.type_id for f in added if f is not None) == [
            record_tag(CeremonyAborted)[0],
            record_tag(CeremonyStarted)[0],
        ]
        [started] = [
            decode(f.body.payload, CeremonyStarted)
            for f in added
            if f is not None and f.body.type_id == record_tag(CeremonyStarted)[0]
        ]
        registry: CeremonyRegistry = journal.view(CEREMONY_REDUCER)
        assert isinstance(registry.state(started.ceremony_id), Aborted)
        assert registry.live(tree_prestate(tree).hash) is None  # not left live: no conflict
