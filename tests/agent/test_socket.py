"""The local API's socket: where it is bound and how, who may use it, and what a hostile or
broken client gets (a typed failure, never a disturbed agent)."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import struct
import sys
import tempfile
from pathlib import Path

import anyio
import pytest

from aura_agent.agent import Agent, AgentSettings
from aura_agent.client import AgentClient
from aura_agent.frames import (
    AGENT_FRAMES,
    API_MAGIC,
    API_VERSION,
    MAX_REQUEST_FRAME,
    Failure,
    Hello,
    Reply,
    Request,
    Welcome,
    frame,
    parse_frame,
)
from aura_agent.requests import AgentStatus, SubscribeRequest
from aura_agent.server import MAX_SOCKET_PATH, ApiLimits
from aura_core.encoding import decode, encode
from aura_core.errors import (
    AgentRunning,
    InvalidArgument,
    SocketPathTooLong,
    UnknownRequest,
)
from aura_effects.trace import Tracer
from tests.agent.helpers import FAST

pytestmark = pytest.mark.anyio


class Raw:
    """A client speaking the wire format by hand (blocking socket in a thread)."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(os.fsencode(path))

    async def send(self, data: bytes) -> None:
        await anyio.to_thread.run_sync(self.sock.sendall, data)

    def _read(self) -> object:
        head = self._exactly(4)
        if head is None:
            return None
        body = self._exactly(struct.unpack(">I", head)[0])
        return None if body is None else parse_frame(body, AGENT_FRAMES)

    def _exactly(self, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            try:
                chunk = self.sock.recv(n - len(data))
            except ConnectionResetError:  # closed with our bytes unread
                return None
            if not chunk:
                return None
            data += chunk
        return data

    async def read(self) -> object:
        """The next frame from the agent, or None once it closed the connection."""
        return await anyio.to_thread.run_sync(self._read)

    async def hello(self) -> None:
        await self.send(frame(Hello(API_MAGIC, API_VERSION)))
        assert isinstance(await self.read(), Welcome)

    def close(self) -> None:
        self.sock.close()


def events(agent: Agent, name: str) -> list[object]:
    trace = agent.effects.trace
    assert isinstance(trace, Tracer)
    return list(trace.events(name))


async def status_works(agent: Agent) -> None:
    async with AgentClient.connect(agent.socket_path) as client:
        assert (await client.status()).identity == agent.identity


async def test_the_socket_is_0600_from_birth(tmp_path: Path) -> None:
    elsewhere = tmp_path / "run" / "api.sock"
    elsewhere.parent.mkdir()
    async with Agent.open(tmp_path / "a", socket=elsewhere, settings=FAST) as agent:
        assert agent.socket_path == elsewhere
        info = os.lstat(elsewhere)
        assert stat.S_ISSOCK(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o600
        assert not (tmp_path / "a" / "agent.sock").exists()
        await status_works(agent)
    assert not elsewhere.exists()


async def test_a_socket_path_too_long_is_refused_before_anything(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * (MAX_SOCKET_PATH - len(str(tmp_path)) - 5))
    assert len(os.fsencode(deep / "agent.sock")) > MAX_SOCKET_PATH
    with pytest.raises(SocketPathTooLong, match="--socket"):
        async with Agent.open(deep, settings=FAST):
            pass
    assert not deep.exists()
    longest = tmp_path / ("s" * (MAX_SOCKET_PATH - len(str(tmp_path)) - 1))
    assert len(os.fsencode(longest)) == MAX_SOCKET_PATH
    async with Agent.open(tmp_path / "a", socket=longest, settings=FAST) as agent:
        await status_works(agent)
    with pytest.raises(SocketPathTooLong):
        async with AgentClient.connect(str(longest) + "x"):
            pass


async def test_a_stale_socket_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "api.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(os.fsencode(path))
    dead.close()  # the file stays; nothing listens
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    async with Agent.open(tmp_path / "a", socket=path, settings=FAST) as agent:
        await status_works(agent)


async def test_a_live_agent_keeps_its_socket(tmp_path: Path) -> None:
    path = tmp_path / "api.sock"
    async with Agent.open(tmp_path / "a", socket=path, settings=FAST) as first:
        inode = os.lstat(path).st_ino
        with pytest.raises(AgentRunning, match="answers on"):
            async with Agent.open(tmp_path / "b", socket=path, settings=FAST):
                pass
        assert os.lstat(path).st_ino == inode
        await status_works(first)


async def test_something_else_at_the_socket_path_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    with pytest.raises(InvalidArgument, match="not a socket"):
        async with Agent.open(tmp_path / "a", socket=path, settings=FAST):
            pass
    assert path.read_text() == "mine"


NOBODY = """
import os, socket, struct, sys
os.setgroups([]); os.setgid(65534); os.setuid(65534)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("no-permission"); sys.exit()
hello = bytes.fromhex(sys.argv[2])
try:
    s.sendall(hello)
    data = s.recv(4096)
except OSError as exc:
    print("reset", type(exc).__name__); sys.exit()
print("closed" if data == b"" else "answered")
"""


async def as_nobody(path: Path) -> str:
    hello = frame(Hello(API_MAGIC, API_VERSION)).hex()
    result = await anyio.run_process([sys.executable, "-c", NOBODY, str(path), hello])
    return result.stdout.decode().strip()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as nobody")
async def test_another_uid_is_refused(tmp_path: Path) -> None:
    # tmp_path's parents are private to root: the socket goes where nobody can reach it.
    run = Path(tempfile.mkdtemp(prefix="agentcore-run-", dir="/tmp"))
    path = run / "api.sock"
    try:
        await refuse_nobody(tmp_path, run, path)
    finally:
        shutil.rmtree(run, ignore_errors=True)


async def refuse_nobody(tmp_path: Path, run: Path, path: Path) -> None:
    async with Agent.open(tmp_path / "a", socket=path, settings=FAST) as agent:
        # The file modes stop it first: it cannot even connect.
        run.chmod(0o711)
        assert await as_nobody(path) == "no-permission"
        # With the socket opened up by mistake, the peer-credential check still refuses it:
        # the connection is closed at once, unanswered, and traced.
        path.chmod(0o666)
        outcome = await as_nobody(path)
        assert outcome in ("closed", "reset BrokenPipeError", "reset ConnectionResetError")
        refused = events(agent, "api.refused")
        assert [(e.get("uid")) for e in refused] == [65534]  # type: ignore[attr-defined]
        await status_works(agent)


async def test_garbage_gets_a_typed_failure_and_the_connection_goes_on(tmp_path: Path) -> None:
    async with Agent.open(tmp_path / "a", settings=FAST) as agent:
        raw = Raw(agent.socket_path)
        try:
            await raw.hello()
            for junk in (b"\x00" * 10, b"\xff\xfe", encode(Welcome(1, agent.identity.device))):
                await raw.send(struct.pack(">I", len(junk)) + junk)
                answer = await raw.read()
                assert isinstance(answer, Failure)
                assert (answer.id, answer.code) == (0, "malformed_request")
            # A request whose body is not its record, and an unknown request.
            await raw.send(frame(Request(7, "agent.status", b"\x01\x02")))
            answer = await raw.read()
            assert isinstance(answer, Failure) and (answer.id, answer.code) == (
                7,
                "malformed_request",
            )
            await raw.send(frame(Request(8, "agent.format_disk", b"")))
            answer = await raw.read()
            assert isinstance(answer, Failure) and (answer.id, answer.code) == (
                8,
                "unknown_request",
            )
            # Still served.
            await raw.send(frame(Request(9, "agent.status", encode(SubscribeRequest(("x",))))))
            answer = await raw.read()
            assert isinstance(answer, Failure) and answer.code == "malformed_request"
            from aura_agent.requests import StatusRequest

            await raw.send(frame(Request(10, "agent.status", encode(StatusRequest()))))
            answer = await raw.read()
            assert isinstance(answer, Reply) and answer.id == 10
            assert decode(answer.body, AgentStatus).identity == agent.identity
        finally:
            raw.close()


@pytest.mark.parametrize(
    ("first", "code"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "request_too_large"),
        (frame(Hello(b"someone-else", API_VERSION)), "api_version"),
        (frame(Hello(API_MAGIC, API_VERSION + 1)), "api_version"),
        (struct.pack(">I", 0), "request_too_large"),
    ],
)
async def test_a_bad_first_frame_is_answered_and_closed(
    tmp_path: Path, first: bytes, code: str
) -> None:
    async with Agent.open(tmp_path / "a", settings=FAST) as agent:
        raw = Raw(agent.socket_path)
        try:
            await raw.send(first)
            answer = await raw.read()
            assert isinstance(answer, Failure) and (answer.id, answer.code) == (0, code)
            assert await raw.read() is None  # closed
        finally:
            raw.close()
        await status_works(agent)


async def test_an_oversized_frame_closes_only_its_connection(tmp_path: Path) -> None:
    async with (
        Agent.open(tmp_path / "a", settings=FAST) as agent,
        AgentClient.connect(agent.socket_path) as bystander,
    ):
        raw = Raw(agent.socket_path)
        try:
            await raw.hello()
            await raw.send(struct.pack(">I", MAX_REQUEST_FRAME + 1) + b"x" * 1024)
            answer = await raw.read()
            assert isinstance(answer, Failure) and answer.code == "request_too_large"
            assert await raw.read() is None
        finally:
            raw.close()
        assert (await bystander.status()).identity == agent.identity


async def test_a_client_that_never_says_hello_is_closed(tmp_path: Path) -> None:
    quick = AgentSettings(tcp=FAST.tcp, kdf=FAST.kdf, api=ApiLimits(hello_timeout_s=0.2))
    async with Agent.open(tmp_path / "a", settings=quick) as agent:
        raw = Raw(agent.socket_path)
        try:
            assert await raw.read() is None
        finally:
            raw.close()


async def test_a_subscriber_that_does_not_read_is_dropped(tmp_path: Path) -> None:
    small = AgentSettings(tcp=FAST.tcp, kdf=FAST.kdf, api=ApiLimits(queue=4))
    async with Agent.open(tmp_path / "a", settings=small) as agent:
        raw = Raw(agent.socket_path)
        raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            await raw.hello()
            await raw.send(
                frame(
                    Request(
                        1, "agent.subscribe", encode(SubscribeRequest(("agent.notifications",)))
                    )
                )
            )
            assert isinstance(await raw.read(), Reply)
            async with AgentClient.connect(agent.socket_path) as bystander:
                with anyio.fail_after(30):
                    sent = 0
                    while not events(agent, "api.dropped"):
                        await agent.notify("info", "x" * 4000)
                        sent += 1
                        await anyio.sleep(0)
                        if sent % 50 == 0:  # meanwhile the agent serves everyone else
                            assert (await bystander.status()).clients == 2
                with anyio.fail_after(10):
                    while (await bystander.status()).clients != 1:
                        await anyio.sleep(0.01)
            dropped = events(agent, "api.dropped")
            assert [e.get("reason") for e in dropped] == ["slow_reader"]  # type: ignore[attr-defined]
        finally:
            raw.close()


async def test_unknown_requests_and_signals_are_typed_errors(tmp_path: Path) -> None:
    async with (
        Agent.open(tmp_path / "a", settings=FAST) as agent,
        AgentClient.connect(agent.socket_path) as client,
    ):
        with pytest.raises(UnknownRequest, match=r"agent\.nothing"):
            async with client.subscribe("agent.account", "agent.nothing"):
                pass
        with pytest.raises(InvalidArgument, match="distinct"):
            async with client.subscribe("agent.account", "agent.account"):
                pass
        assert (await client.status()).identity == agent.identity
