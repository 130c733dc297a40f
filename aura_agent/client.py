"""`AgentClient`: how front ends (the CLI, the TUI, scripts) talk to a running agent.

    async with AgentClient.connect(path) as client:
        status = await client.status()
        async for event in client.subscribe("agent.account"):
            ...

One connection, used by any number of tasks at once: each request gets an id and its answer
is routed back by it, so a slow request never holds up a quick one. A failure the agent
reports is raised as the error class of its code (`WrongPassphrase`, `NotConfigured`, ...)
where this process has one, else as `RemoteError`. No agent at the path, or an agent that
goes away, is `AgentUnavailable`.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import anyio
import attrs
from anyio.streams.buffered import BufferedByteReceiveStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from aura_agent.frames import (
    AGENT_FRAMES,
    API_MAGIC,
    API_VERSION,
    MAX_REPLY_FRAME,
    Cancel,
    Event,
    Failure,
    Hello,
    Reply,
    Request,
    Welcome,
    error_of,
    frame,
    parse_frame,
    read_frame,
)
from aura_agent.keystore import Identity
from aura_agent.requests import (
    CANCEL_INVITE,
    CHANGE_THRESHOLD,
    CREATE_ACCOUNT,
    IDENTITY,
    INVITE,
    JOIN_ACCOUNT,
    NETWORK,
    PEERS,
    REFRESH,
    REMOVE_DEVICE,
    STATUS,
    SUBSCRIBE,
    SYNC_NOW,
    AgentStatus,
    CancelInviteRequest,
    CreateAccountRequest,
    IdentityRequest,
    InviteCode,
    InviteRequest,
    JoinAccountRequest,
    NetworkRequest,
    NetworkStatus,
    Peers,
    PeersRequest,
    RefreshRequest,
    RemoveDeviceRequest,
    RequestType,
    StatusRequest,
    SubscribeRequest,
    SyncNowRequest,
    SyncResults,
    ThresholdRequest,
)
from aura_agent.server import check_socket_path
from aura_agent.signals import CORE_SIGNALS, AccountState, SignalSpec
from aura_agent.unixstream import UnixStream, connect
from aura_core.encoding import decode, encode
from aura_core.errors import AgentUnavailable, AuraError, EncodingError, MalformedRequest
from aura_core.ids import AuthorityId, CeremonyId, DeviceId

__all__ = ["SignalEvent", "Subscription", "AgentClient"]

Q = TypeVar("Q")
R = TypeVar("R")

EVENT_QUEUE = 64
"""Events a subscription holds for a reader that is behind; when full the client stops
reading the connection (and the agent, its own queue full, drops this client)."""


@attrs.frozen
class SignalEvent:
    """A new value of `signal`: `value` is its record (`body` if the signal is not one this
    client knows the record of); `seq` counts the subscription's events from 1."""

    signal: str
    seq: int
    value: Any


@attrs.define
class _Pending:
    done: anyio.Event = attrs.field(factory=anyio.Event)
    answer: Reply | Failure | None = None


class Subscription:
    """The events of one subscription: iterate it (`async for`); leave it with `aclose`, by
    leaving `async with`, or by leaving the client."""

    def __init__(self, client: AgentClient, signals: tuple[str, ...]) -> None:
        self._client = client
        self.signals = signals
        self._id: int | None = None
        self._events: MemoryObjectReceiveStream[SignalEvent] | None = None

    async def open(self) -> Subscription:
        if self._id is None:
            self._id, self._events = await self._client._open_subscription(self.signals)
        return self

    async def __aenter__(self) -> Subscription:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> SignalEvent:
        await self.open()
        assert self._events is not None
        try:
            return await self._events.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        """End the subscription (the agent stops sending its events)."""
        if self._id is not None and self._events is not None:
            self._events.close()
            await self._client._cancel(self._id)


class AgentClient:
    """A connection to an agent's local API (see the module docstring)."""

    def __init__(
        self, stream: UnixStream, buffered: BufferedByteReceiveStream, welcome: Welcome
    ) -> None:
        self._stream = stream
        self._buffered = buffered
        self.version = welcome.version
        self.device: DeviceId = welcome.device
        """The device whose agent answered."""
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._events: dict[int, MemoryObjectSendStream[SignalEvent]] = {}
        self._receivers: dict[int, MemoryObjectReceiveStream[SignalEvent]] = {}
        self._lock = anyio.Lock()
        self._closed: AuraError | None = None
        self.signals: dict[str, SignalSpec[Any]] = {spec.name: spec for spec in CORE_SIGNALS}
        """The record of each signal this client decodes (add the account workflows')."""

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, path: str | Path, *, timeout_s: float = 5.0
    ) -> AsyncIterator[AgentClient]:
        """Connect to the agent at socket `path` and exchange hellos (within `timeout_s`)."""
        target = Path(path)
        encoded = check_socket_path(target)
        try:
            with anyio.fail_after(timeout_s):
                stream = await connect(encoded)
        except (OSError, TimeoutError) as exc:
            raise AgentUnavailable(
                f"no agent answers at {target} ({type(exc).__name__}): start one with "
                f"`aura agent run`, or name its socket"
            ) from None
        async with stream:
            buffered = BufferedByteReceiveStream(stream)
            welcome = await _handshake(stream, buffered, timeout_s)
            client = cls(stream, buffered, welcome)
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(client._read)
                try:
                    yield client
                finally:
                    tasks.cancel_scope.cancel()
                    client._fail(AgentUnavailable("the client was closed"))
                    client._close()

    # ------------------------------------------------------------------------- requests

    async def call(self, kind: RequestType[Q, R], request: Q) -> R:
        """Send `request` and wait for its answer: the response record, or the agent's error
        raised here."""
        if type(request) is not kind.request:
            raise TypeError(f"{kind.name} takes a {kind.request.__name__}")
        reply = await self._exchange(kind.name, encode(request))
        try:
            return decode(reply.body, kind.response)
        except EncodingError as exc:
            raise MalformedRequest(f"the agent's answer to {kind.name}: {exc.message}") from None

    async def status(self) -> AgentStatus:
        return await self.call(STATUS, StatusRequest())

    async def identity(self) -> Identity:
        return await self.call(IDENTITY, IdentityRequest())

    async def network(self) -> NetworkStatus:
        return await self.call(NETWORK, NetworkRequest())

    async def peers(self) -> Peers:
        return await self.call(PEERS, PeersRequest())

    async def sync_now(self, peer: AuthorityId | None = None) -> SyncResults:
        """Sync with `peer` (None: every peer of the account) now; the sessions' outcomes."""
        return await self.call(SYNC_NOW, SyncNowRequest(peer))

    async def create_account(self) -> AuthorityId:
        """A new 1-of-1 account of the agent's device; its id."""
        return (await self.call(CREATE_ACCOUNT, CreateAccountRequest())).account

    async def invite(self, threshold: int = 2, expires_in_s: float = 600.0) -> InviteCode:
        """An enrollment code for one more device (a secret: give it only to that device);
        the account moves to `threshold`-of-(devices + 1) when it joins."""
        return await self.call(INVITE, InviteRequest(threshold, round(expires_in_s * 1000)))

    async def join(self, code: str) -> AuthorityId:
        """Join the account `code` invites to; its id (once the device holds its share)."""
        return (await self.call(JOIN_ACCOUNT, JoinAccountRequest(code))).account

    async def cancel_invite(self, ceremony: CeremonyId) -> None:
        """Abandon an enrollment this agent started: its code is refused from now on."""
        await self.call(CANCEL_INVITE, CancelInviteRequest(ceremony))

    async def remove_device(self, device: DeviceId) -> AccountState:
        """Remove `device` from the account (from another of its devices); the account after."""
        return (await self.call(REMOVE_DEVICE, RemoveDeviceRequest(device))).account

    async def change_threshold(self, threshold: int) -> AccountState:
        """Tighten the account's policy to `threshold`-of-its-devices; the account after."""
        return (await self.call(CHANGE_THRESHOLD, ThresholdRequest(threshold))).account

    async def refresh(self) -> AccountState:
        """New shares of the same group key for every device; the account after."""
        return (await self.call(REFRESH, RefreshRequest())).account

    def subscribe(self, *signals: str) -> Subscription:
        """The events of `signals` (names, e.g. `"agent.account"`): the current value of each,
        then every newer one. Opened on first iteration or on `async with`."""
        return Subscription(self, signals)

    # ------------------------------------------------------------------------- machinery

    async def _exchange(self, name: str, body: bytes) -> Reply:
        if self._closed is not None:
            raise self._closed
        request = next(self._ids)
        pending = self._pending[request] = _Pending()
        try:
            await self._send(Request(request, name, body))
            await pending.done.wait()
        finally:
            self._pending.pop(request, None)
        answer = pending.answer
        if isinstance(answer, Reply):
            return answer
        if isinstance(answer, Failure):
            raise error_of(answer)
        raise self._closed or AgentUnavailable("the agent closed the connection")

    async def _open_subscription(
        self, signals: tuple[str, ...]
    ) -> tuple[int, MemoryObjectReceiveStream[SignalEvent]]:
        if self._closed is not None:
            raise self._closed
        request = next(self._ids)
        send, receive = anyio.create_memory_object_stream[SignalEvent](EVENT_QUEUE)
        self._events[request] = send
        self._receivers[request] = receive
        pending = self._pending[request] = _Pending()
        try:
            await self._send(Request(request, SUBSCRIBE.name, encode(SubscribeRequest(signals))))
            await pending.done.wait()
        finally:
            self._pending.pop(request, None)
        answer = pending.answer
        if not isinstance(answer, Reply):
            self._events.pop(request, None)
            send.close()
            receive.close()
            if isinstance(answer, Failure):
                raise error_of(answer)
            raise self._closed or AgentUnavailable("the agent closed the connection")
        return request, receive

    async def _cancel(self, request: int) -> None:
        receive = self._receivers.pop(request, None)
        if receive is not None:
            receive.close()
        send = self._events.pop(request, None)
        if send is not None:
            send.close()
            if self._closed is None:
                await self._send(Cancel(request))

    async def _send(self, message: object) -> None:
        data = frame(message)
        async with self._lock:
            try:
                await self._stream.send(data)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                raise AgentUnavailable("the agent closed the connection") from None

    async def _read(self) -> None:
        try:
            while True:
                message = parse_frame(
                    await read_frame(self._buffered, MAX_REPLY_FRAME), AGENT_FRAMES
                )
                if isinstance(message, Event):
                    await self._event(message)
                elif isinstance(message, Reply | Failure):
                    pending = self._pending.get(message.id)
                    if pending is not None:
                        pending.answer = message
                        pending.done.set()
                    elif isinstance(message, Failure) and message.id == 0:
                        self._fail(error_of(message))
                        return
        except AuraError as exc:
            self._fail(exc)
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, OSError):
            self._fail(AgentUnavailable("the agent closed the connection"))

    async def _event(self, event: Event) -> None:
        send = self._events.get(event.id)
        if send is None:
            return
        spec = self.signals.get(event.signal)
        value: Any = event.body
        if spec is not None:
            try:
                value = decode(event.body, spec.record)
            except EncodingError:
                value = event.body
        try:
            await send.send(SignalEvent(event.signal, event.seq, value))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            self._events.pop(event.id, None)

    def _fail(self, error: AuraError) -> None:
        """The connection is over: every waiting request and subscription ends with `error`."""
        if self._closed is None:
            self._closed = error
        for pending in self._pending.values():
            pending.done.set()
        for send in self._events.values():
            send.close()
        self._events.clear()

    def _close(self) -> None:
        """Leaving the client: every subscription's stream is closed too."""
        for receive in self._receivers.values():
            receive.close()
        self._receivers.clear()


async def _handshake(
    stream: UnixStream, buffered: BufferedByteReceiveStream, timeout_s: float
) -> Welcome:
    try:
        with anyio.fail_after(timeout_s):
            await stream.send(frame(Hello(API_MAGIC, API_VERSION)))
            answer = parse_frame(await read_frame(buffered, MAX_REPLY_FRAME), AGENT_FRAMES)
    except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, OSError):
        raise AgentUnavailable("the agent closed the connection during the hello") from None
    except TimeoutError:
        raise AgentUnavailable("the agent did not answer the hello in time") from None
    if isinstance(answer, Failure):
        raise error_of(answer)
    if not isinstance(answer, Welcome):
        raise MalformedRequest("the agent's first frame is not a welcome")
    return answer
