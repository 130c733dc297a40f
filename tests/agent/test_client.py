"""`AgentClient` against a running agent: typed requests and answers, errors raised as their
own class, subscriptions, many requests at once, and the seam other workflows plug into."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import pytest

from aura_agent.agent import Agent
from aura_agent.client import AgentClient
from aura_agent.requests import AgentStatus, RequestType, StatusRequest
from aura_agent.signals import ACCOUNT, CEREMONIES, AccountState, Ceremonies, CeremonyProgress
from aura_core.errors import (
    AgentFault,
    AgentUnavailable,
    ErrorKind,
    GuardDenied,
    InvalidArgument,
    NotConfigured,
    RemoteError,
    WrongPassphrase,
)
from aura_core.ids import AuthorityId
from tests.agent.helpers import FAST, deal

pytestmark = pytest.mark.anyio

ECHO = RequestType("test.echo", StatusRequest, AgentStatus)


async def test_requests_answer_with_their_records(tmp_path: Path) -> None:
    async with (
        Agent.open(tmp_path / "a", settings=FAST) as agent,
        AgentClient.connect(agent.socket_path) as client,
    ):
        status = await client.status()
        assert status.identity == agent.identity == await client.identity()
        assert status.data_dir == str(tmp_path / "a")
        assert status.socket == str(agent.socket_path)
        assert status.account == AccountState("none")
        assert status.clients == 1
        network = await client.network()
        assert (network.host, network.port) == ("127.0.0.1", agent.listener.port)
        assert network.static_key == agent.identity.static_key
        assert network.descriptor is None  # nothing published without an account
        assert (await client.peers()).peers == ()
        with pytest.raises(NotConfigured, match="no account"):
            await client.sync_now()


async def test_many_requests_at_once_on_one_connection(tmp_path: Path) -> None:
    async with (
        Agent.open(tmp_path / "a", settings=FAST) as agent,
        AgentClient.connect(agent.socket_path) as client,
    ):
        answers: list[AgentStatus] = []

        async def ask() -> None:
            answers.append(await client.status())

        async with anyio.create_task_group() as tasks:
            for _ in range(100):
                tasks.start_soon(ask)
        assert len(answers) == 100
        assert {a.identity for a in answers} == {agent.identity}


async def test_handlers_added_by_name_are_served(tmp_path: Path) -> None:
    async with Agent.open(tmp_path / "a", settings=FAST) as agent:
        calls: list[StatusRequest] = []

        async def echo(request: StatusRequest) -> AgentStatus:
            calls.append(request)
            return await agent.handlers.get("agent.status").run(request)  # type: ignore[no-any-return]

        agent.handlers.add(ECHO, echo)
        with pytest.raises(InvalidArgument, match="already served"):
            agent.handlers.add(ECHO, echo)
        async with AgentClient.connect(agent.socket_path) as client:
            assert (await client.call(ECHO, StatusRequest())).identity == agent.identity
            assert calls == [StatusRequest()]
            with pytest.raises(TypeError):
                await client.call(ECHO, object())  # type: ignore[arg-type]


async def test_errors_come_back_as_their_own_class(tmp_path: Path) -> None:
    failing = RequestType("test.fail", StatusRequest, AgentStatus)
    exploding = RequestType("test.explode", StatusRequest, AgentStatus)
    denied = RequestType("test.denied", StatusRequest, AgentStatus)
    async with Agent.open(tmp_path / "a", settings=FAST) as agent:

        async def fail(_: StatusRequest) -> AgentStatus:
            raise WrongPassphrase("not that one")

        async def explode(_: StatusRequest) -> AgentStatus:
            raise RuntimeError("a bug")

        async def deny(_: StatusRequest) -> AgentStatus:
            raise GuardDenied("budget")

        agent.handlers.add(failing, fail)
        agent.handlers.add(exploding, explode)
        agent.handlers.add(denied, deny)
        async with AgentClient.connect(agent.socket_path) as client:
            with pytest.raises(WrongPassphrase, match="not that one"):
                await client.call(failing, StatusRequest())
            with pytest.raises(AgentFault) as fault:
                await client.call(exploding, StatusRequest())
            assert fault.value.kind is ErrorKind.SYSTEM
            assert "a bug" not in fault.value.message  # details stay in the agent's trace
            with pytest.raises(RemoteError) as caught:  # "denied" names two classes here
                await client.call(denied, StatusRequest())
            assert caught.value.remote_code == "denied"
            assert (await client.status()).identity == agent.identity  # still serving


async def test_subscriptions_see_the_current_value_then_changes(tmp_path: Path) -> None:
    async with (
        Agent.open(tmp_path / "a", settings=FAST) as agent,
        AgentClient.connect(agent.socket_path) as client,
    ):
        async with client.subscribe("agent.ceremonies", "agent.account") as events:
            seen = {}
            async for event in events:
                seen[event.signal] = event.value
                if len(seen) == 2:
                    break
            assert seen == {"agent.ceremonies": Ceremonies(), "agent.account": AccountState("none")}
            progress = Ceremonies((CeremonyProgress("c1", "dkg", "round 1", 1),))
            await agent.emit(CEREMONIES, progress)
            event = await events.__anext__()
            assert (event.signal, event.value, event.seq) == ("agent.ceremonies", progress, 3)
        with pytest.raises(InvalidArgument):
            await agent.emit(ACCOUNT, Ceremonies())  # type: ignore[arg-type]
        # Plain `async for` opens the subscription on first use.
        async for event in client.subscribe("agent.account"):
            assert event.value == AccountState("none")
            break


async def test_no_agent_or_a_stopped_one_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(AgentUnavailable, match="aura agent run"):
        async with AgentClient.connect(tmp_path / "nothing.sock"):
            pass
    async with AsyncExitStack() as stack:
        agent = await stack.enter_async_context(Agent.open(tmp_path / "a", settings=FAST))
        client = await stack.enter_async_context(AgentClient.connect(agent.socket_path))
        subscription = await client.subscribe("agent.account").open()
        await subscription.__anext__()
        await stack.aclose()  # the agent stops under its client
    with pytest.raises(AgentUnavailable):
        await client.status()


async def test_an_account_through_the_client(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        agents = [
            await stack.enter_async_context(Agent.open(tmp_path / n, settings=FAST))
            for n in ("a", "b")
        ]
        client = await stack.enter_async_context(AgentClient.connect(agents[0].socket_path))
        updates = await stack.enter_async_context(client.subscribe("agent.devices", "agent.sync"))
        membership = await deal(agents, 2)
        status = await client.status()
        assert (status.account.phase, status.account.account) == ("active", membership.account)
        assert (status.account.devices, status.account.threshold) == (2, 2)
        other = agents[1]
        peers = (await client.peers()).peers
        assert [p.authority for p in peers] == [other.address]
        assert peers[0].address == f"tcp://127.0.0.1:{other.listener.port}"
        results = await client.sync_now()
        assert {(s.peer, s.outcome) for s in results.sessions} == {(other.address, "complete")}
        assert {s.namespace for s in results.sessions} == {
            str(membership.account),
            str(membership.context),
        }
        assert (await client.network()).descriptor == f"tcp://127.0.0.1:{agents[0].listener.port}"
        with pytest.raises(InvalidArgument, match="not a device"):
            await client.sync_now(AuthorityId(b"\x09" * 16))
        devices = sync = None
        with anyio.fail_after(10):
            async for event in updates:
                if event.signal == "agent.devices" and event.value.devices:
                    devices = event.value
                if event.signal == "agent.sync" and event.value.peers:
                    sync = event.value
                if devices is not None and sync is not None:
                    break
        assert devices is not None and sync is not None
        assert [(d.this_device, d.holds_share) for d in devices.devices] == [
            (True, True),
            (False, True),
        ]
        assert [d.address for d in devices.devices] == [agents[0].address, other.address]
        assert sync.peers[0].peer == other.address
