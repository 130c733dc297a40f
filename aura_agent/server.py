"""The agent's local API server: a Unix socket only the agent's own user (or root) may use.

Binding (`bind_socket`): the path must fit `AF_UNIX` (107 bytes and the NUL), else
`SocketPathTooLong` before anything is touched; an existing socket is probed first: if an
agent answers, `AgentRunning` (a second agent never steals a live socket), if nothing does,
the stale file is removed; anything else at the path is refused. The socket is bound under
umask 0177, so it is mode 0600 from birth (no chmod window), and removed on exit if it is
still ours.

Each connection: its peer credentials (`SO_PEERCRED`, the uid that called `connect`) are read
at accept; a uid other than the agent's or root's is closed at once and traced
(`api.refused`). Then the `Hello` within `hello_timeout_s`, then requests, each handled in
its own task (at most `max_in_flight` per connection) and answered in any order by id.
Everything the agent sends a client goes through a bounded queue drained by one writer task:
a client whose queue fills (it does not read) is dropped (`api.dropped`), so no client can
hold up the agent, another client or a signal. Malformed frames get a `Failure` and the
connection goes on; an oversized length closes it (its frame cannot be skipped unread).
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

import anyio
import attrs
from anyio.abc import TaskGroup, TaskStatus
from anyio.streams.buffered import BufferedByteReceiveStream

from aura_agent.frames import (
    API_MAGIC,
    API_VERSION,
    CLIENT_FRAMES,
    MAX_REPLY_FRAME,
    MAX_REQUEST_FRAME,
    Cancel,
    Event,
    Hello,
    Reply,
    Request,
    Welcome,
    failure_of,
    frame,
    parse_frame,
    read_frame,
)
from aura_agent.requests import SUBSCRIBE, RequestType, Subscribed, SubscribeRequest
from aura_agent.signals import SignalSpec, SignalTable
from aura_agent.unixstream import UnixStream, accept, connect
from aura_core.effects import PhysicalTimeEffects, ReactiveEffects, TraceEffects
from aura_core.encoding import decode, encode
from aura_core.errors import (
    AgentBusy,
    AgentFault,
    AgentRunning,
    ApiVersionMismatch,
    AuraError,
    EncodingError,
    InvalidArgument,
    MalformedRequest,
    NotConfigured,
    RequestTooLarge,
    SocketPathTooLong,
    UnknownRequest,
)
from aura_core.ids import DeviceId

__all__ = [
    "MAX_SOCKET_PATH",
    "ApiLimits",
    "Handler",
    "Handlers",
    "check_socket_path",
    "peer_credentials",
    "bind_socket",
    "ApiServer",
]

MAX_SOCKET_PATH: Final = 107
"""The longest `AF_UNIX` path in bytes (`sun_path` is 108 bytes with the terminating NUL)."""
_CREDENTIALS: Final = struct.Struct("3i")

Q = TypeVar("Q")
R = TypeVar("R")


@attrs.frozen
class ApiLimits:
    """How much one client may hold of the agent."""

    max_clients: int = 64
    """Connections open at once; more are closed at accept (`api.busy`)."""
    queue: int = 256
    """Frames waiting to be written to one client; a client that lets it fill is dropped."""
    max_in_flight: int = 32
    """Requests of one connection being handled at once (subscriptions not counted)."""
    max_subscriptions: int = 16
    """Subscriptions open on one connection."""
    hello_timeout_s: float = 5.0
    """A connection must send its hello within this long."""


@attrs.frozen
class Handler(Generic[Q, R]):
    kind: RequestType[Q, R]
    run: Callable[[Q], Awaitable[R]]


class Handlers:
    """The agent's request handlers by name: the seam the account workflows register into."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler[Any, Any]] = {}

    def add(self, kind: RequestType[Q, R], run: Callable[[Q], Awaitable[R]]) -> None:
        """Answer requests named `kind.name` with `run` (its result must be a
        `kind.response`)."""
        if kind.name in self._handlers or kind.name == SUBSCRIBE.name:
            raise InvalidArgument(f"{kind.name} is already served")
        self._handlers[kind.name] = Handler(kind, run)

    def get(self, name: str) -> Handler[Any, Any]:
        handler = self._handlers.get(name)
        if handler is None:
            raise UnknownRequest(
                f"no request named {name!r}; this agent serves {[*self.names(), SUBSCRIBE.name]}"
            )
        return handler

    def names(self) -> list[str]:
        return sorted(self._handlers)


def check_socket_path(path: Path) -> bytes:
    """The path's bytes, or `SocketPathTooLong` if `AF_UNIX` cannot hold it."""
    encoded = os.fsencode(path)
    if len(encoded) > MAX_SOCKET_PATH:
        raise SocketPathTooLong(
            f"the socket path {path} is {len(encoded)} bytes; a Unix socket path holds at most "
            f"{MAX_SOCKET_PATH}: choose a shorter one (--socket PATH)"
        )
    return encoded


def peer_credentials(stream: UnixStream) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process that connected `stream` (as of its `connect`)."""
    data = stream.raw.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
    pid, uid, gid = _CREDENTIALS.unpack(data)
    return pid, uid, gid


async def bind_socket(path: Path, *, backlog: int = 128) -> socket.socket:
    """A listening Unix socket at `path`, mode 0600 from birth (see the module docstring)."""
    encoded = check_socket_path(path)
    if not path.parent.is_dir():
        raise NotConfigured(f"the socket's directory {path.parent} does not exist")
    try:
        info = path.lstat()
    except FileNotFoundError:
        info = None
    if info is not None:
        if not stat.S_ISSOCK(info.st_mode):
            raise InvalidArgument(
                f"{path} exists and is not a socket: remove it or choose another --socket"
            )
        if await _answers(path):
            raise AgentRunning(f"another agent answers on {path}: stop it first")
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        previous = os.umask(0o177)
        try:
            sock.bind(encoded)
        finally:
            os.umask(previous)
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def _answers(path: Path) -> bool:
    """Whether something accepts connections on the socket at `path`."""
    try:
        with anyio.fail_after(2):
            stream = await connect(os.fsencode(path))
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except (OSError, TimeoutError):
        return True  # there, but not answering as a dead socket would: do not take it
    await stream.aclose()
    return True


class ApiServer:
    """Serves the local API at `path` while `run` runs (see the module docstring)."""

    def __init__(
        self,
        path: Path,
        *,
        device: DeviceId,
        handlers: Handlers,
        signals: SignalTable,
        reactive: ReactiveEffects,
        trace: TraceEffects,
        time: PhysicalTimeEffects,
        limits: ApiLimits | None = None,
    ) -> None:
        self.path = path
        self._device = device
        self.handlers = handlers
        self._signals = signals
        self._reactive = reactive
        self._trace = trace
        self._time = time
        self.limits = limits or ApiLimits()
        self._clients = 0
        self._identity: tuple[int, int] | None = None

    @property
    def clients(self) -> int:
        """Connections open now."""
        return self._clients

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Bind, report started, serve until cancelled; the socket is removed on the way out."""
        sock = await bind_socket(self.path)
        info = os.stat(self.path)
        self._identity = (info.st_dev, info.st_ino)
        try:
            async with anyio.create_task_group() as tasks:
                task_status.started()
                while True:
                    try:
                        stream = await accept(sock)
                    except OSError as exc:  # out of descriptors: wait, do not spin or die
                        self._trace.event("api.accept_failed", error=type(exc).__name__)
                        await self._time.sleep(0.1)
                        continue
                    tasks.start_soon(self._serve, stream)
        finally:
            self._remove()
            anyio.notify_closing(sock)
            sock.close()

    def _remove(self) -> None:
        """Remove the socket file if it is still the one this server bound."""
        with contextlib.suppress(OSError):
            info = os.lstat(self.path)
            if (info.st_dev, info.st_ino) == self._identity:
                os.unlink(self.path)

    async def _serve(self, stream: UnixStream) -> None:
        async with stream:
            try:
                pid, uid, _ = peer_credentials(stream)
            except OSError:
                return
            if uid not in (os.geteuid(), 0):
                self._trace.event("api.refused", uid=uid, pid=pid)
                return
            if self._clients >= self.limits.max_clients:
                self._trace.event("api.busy", uid=uid, pid=pid)
                return
            self._clients += 1
            try:
                await _Connection(self, stream, pid).run()
            except Exception as exc:  # one connection's failure never reaches the others
                self._trace.event("api.internal_error", pid=pid, error=type(exc).__name__)
            finally:
                self._clients -= 1


class _Connection:
    """One client: its reader (this task), its handlers and subscriptions, its writer."""

    def __init__(self, server: ApiServer, stream: UnixStream, pid: int) -> None:
        self._server = server
        self._stream = stream
        self._pid = pid
        self._limits = server.limits
        self._send, self._receive = anyio.create_memory_object_stream[bytes](server.limits.queue)
        self._in_flight = 0
        self._subscriptions: dict[int, anyio.CancelScope] = {}
        self._all: anyio.CancelScope | None = None
        self._work: TaskGroup | None = None

    async def run(self) -> None:
        with self._send, self._receive, anyio.CancelScope() as everything:
            self._all = everything
            async with anyio.create_task_group() as outer:
                outer.start_soon(self._write)
                async with anyio.create_task_group() as work:
                    self._work = work
                    await self._read()
                    work.cancel_scope.cancel()
                # Flush what is queued (a last failure) for a moment, then close.
                self._send.close()
                outer.cancel_scope.deadline = anyio.current_time() + 1.0

    # ------------------------------------------------------------------------- sending

    def push(self, value: object) -> None:
        """Queue a frame for the client; a client whose queue is full is dropped."""
        data = frame(value)
        if len(data) - 4 > MAX_REPLY_FRAME:
            request = getattr(value, "id", 0)
            data = frame(failure_of(request, AgentFault("the answer is over the frame limit")))
        try:
            self._send.send_nowait(data)
        except anyio.WouldBlock:
            self._server._trace.event("api.dropped", pid=self._pid, reason="slow_reader")
            if self._all is not None:
                self._all.cancel()
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass

    async def _write(self) -> None:
        try:
            async for data in self._receive:
                await self._stream.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            if self._all is not None:
                self._all.cancel()

    # ------------------------------------------------------------------------- reading

    async def _read(self) -> None:
        buffered = BufferedByteReceiveStream(self._stream)
        try:
            with anyio.fail_after(self._limits.hello_timeout_s):
                first = await read_frame(buffered, MAX_REQUEST_FRAME)
            self._hello(first)
            while True:
                data = await read_frame(buffered, MAX_REQUEST_FRAME)
                try:
                    message = parse_frame(data, CLIENT_FRAMES)
                except MalformedRequest as exc:
                    self._server._trace.event("api.malformed", pid=self._pid)
                    self.push(failure_of(0, exc))
                    continue
                self._dispatch(message)
        except (RequestTooLarge, MalformedRequest, ApiVersionMismatch) as exc:
            self._server._trace.event("api.closed", pid=self._pid, reason=exc.code)
            self.push(failure_of(0, exc))
        except (
            anyio.EndOfStream,
            anyio.IncompleteRead,
            anyio.BrokenResourceError,
            anyio.ClosedResourceError,
            OSError,
            TimeoutError,
        ):
            pass

    def _hello(self, data: bytes) -> None:
        hello = parse_frame(data, CLIENT_FRAMES)
        if not isinstance(hello, Hello) or hello.magic != API_MAGIC:
            raise ApiVersionMismatch("the first frame is not the aura agent API's hello")
        if hello.version != API_VERSION:
            raise ApiVersionMismatch(
                f"this agent speaks API version {API_VERSION}, the client {hello.version}"
            )
        self.push(Welcome(API_VERSION, self._server._device))

    def _dispatch(self, message: object) -> None:
        assert self._work is not None
        if isinstance(message, Cancel):
            scope = self._subscriptions.pop(message.id, None)
            if scope is not None:
                scope.cancel()
            return
        if not isinstance(message, Request) or message.id == 0:
            self.push(failure_of(0, MalformedRequest("expected a request (id ≥ 1) or a cancel")))
            return
        if self._in_flight >= self._limits.max_in_flight:
            self.push(failure_of(message.id, AgentBusy("too many requests in flight")))
            return
        self._in_flight += 1
        self._work.start_soon(self._handle, message)

    # ------------------------------------------------------------------------- handling

    async def _handle(self, request: Request) -> None:
        counted = True
        try:
            if request.name == SUBSCRIBE.name:
                counted = False
                self._in_flight -= 1
                await self._subscribe(request)
                return
            handler = self._server.handlers.get(request.name)
            body = _decode(request, handler.kind.request)
            result = await handler.run(body)
            if type(result) is not handler.kind.response:
                raise TypeError(f"{request.name} answered a {type(result).__name__}")
            self.push(Reply(request.id, encode(result)))
        except AuraError as exc:
            self.push(failure_of(request.id, exc))
        except Exception as exc:
            self._server._trace.event(
                "api.internal_error", pid=self._pid, request=request.name, error=type(exc).__name__
            )
            fault = AgentFault("the agent failed on this request (its trace says why)")
            self.push(failure_of(request.id, fault))
        finally:
            if counted:
                self._in_flight -= 1

    async def _subscribe(self, request: Request) -> None:
        wanted = _decode(request, SubscribeRequest)
        specs = [self._server._signals.get(name) for name in wanted.signals]
        if request.id in self._subscriptions:
            raise MalformedRequest(f"request id {request.id} is already a subscription")
        if len(self._subscriptions) >= self._limits.max_subscriptions:
            raise AgentBusy("too many subscriptions on this connection")
        with anyio.CancelScope() as scope:
            self._subscriptions[request.id] = scope
            self.push(Reply(request.id, encode(Subscribed(wanted.signals))))
            counter = [0]
            async with anyio.create_task_group() as tasks:
                for spec in specs:
                    tasks.start_soon(self._follow, request.id, spec, counter)
        self._subscriptions.pop(request.id, None)

    async def _follow(self, request: int, spec: SignalSpec[Any], counter: list[int]) -> None:
        async for value in self._server._reactive.subscribe(spec.signal):
            counter[0] += 1
            self.push(Event(request, spec.name, counter[0], encode(value)))


def _decode(request: Request, kind: type[Q]) -> Q:
    try:
        return decode(request.body, kind)
    except EncodingError as exc:
        raise MalformedRequest(f"{request.name}: {exc.message}") from None
