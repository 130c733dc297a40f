"""`TcpTransport`: the production raw transport, Noise channels over TCP (anyio streams).

One listener; outbound channels opened on demand, one per (peer, context), and reused for every
message to that peer in that context. Wire format and handshake: `aura_effects.framing` and
`aura_effects.channel`. The rules this transport keeps:

* **Who may connect.** The caller names a context and its authority inside message 1 (encrypted
  to this device's static key). This device answers only if it holds that context's secret,
  the locator says the caller's static key is that authority in that context, the caller's
  epoch is not older than this device's, and the caller's stamp is greater than every stamp
  it used before in that context (a replayed message 1 is refused). The PSK is derived from
  the context's secret at the caller's epoch; the channel counts only once the caller's first
  transport frame decrypts, so a replayed or forged message 1 never displaces a live channel.
* **Epochs.** A channel belongs to the epoch its PSK was derived at. When the context's epoch
  moves past it, the channel is closed (checked before every write and after every read) and
  the next message dials again under the new epoch's PSK: a Noise rekey would keep a removed
  member's key material. A caller ahead of this device is accepted (it can only have learned
  the new epoch from the context's journal), one behind it is refused; so the side that moved
  first can always reach the others, and sync carries the epoch to them.
* **Membership.** This device sends in a context only while it holds the context's secret:
  checked when a (peer, context) gets its first message (else `NoRoute`), and again before
  every dial and every write, not on each `send`, which then does no I/O at all. Once the
  secret is gone, what waits for that context is dropped (`net.outbound.left`, with the count)
  and the next `send` there raises `NoRoute`.
* **Bounded memory.** Each (peer, context) has a send queue of `send_queue` messages (a full
  queue is `SendQueueFull`, nothing is grown); received messages wait in an inbox of `inbox`
  messages, and when it is full connections stop reading so TCP pushes back; a connection
  reassembles at most one message of `max_message` bytes; at most `max_inbound` inbound
  connections exist at once (more are closed on accept).
* **Failures stay local.** Anything that goes wrong on one connection (bad bytes, a failed
  handshake, a timeout, a reset) closes that connection with a trace event; the listener and
  every other connection go on. A failed dial is retried with capped exponential backoff and
  jitter drawn from `RandomEffects` (cut short when the peer connects to this device: it is up
  again), while messages wait in the queue; messages already handed to a socket that then
  breaks are lost (delivery is at most once: receipts and sync repair it above).
* **Time.** Every timeout, idle check and backoff sleeps through `PhysicalTimeEffects`.

Only `GuardedTransport` may hold a `TcpTransport` (an import-linter contract); the layers above
get one already wrapped from `aura_guards.tcp`.
"""

from __future__ import annotations

import socket
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from types import TracebackType
from typing import Final, Self

import anyio
import attrs
from anyio.abc import ByteStream, SocketAttribute, SocketListener, SocketStream, TaskGroup

from aura_core.effects import Envelope, PhysicalTimeEffects, RandomEffects, TraceEffects
from aura_core.encoding import decode
from aura_core.errors import (
    AuraError,
    DecryptionFailed,
    EncodingError,
    HandshakeFailed,
    HandshakeRefused,
    HandshakeTimeout,
    InvalidArgument,
    MalformedFrame,
    NoRoute,
    SendQueueFull,
    TransportError,
    VersionMismatch,
)
from aura_core.failures import raise_single
from aura_core.ids import AuthorityId, ContextId
from aura_core.kdf import derive_context_key
from aura_core.noise import SEED_LEN, NoiseChannel, StaticKeypair
from aura_effects.channel import FrameReader, Hello, SecureConnection, answer, initiate, read_hello
from aura_effects.locator import ANY_CALLER, PeerLocator
from aura_effects.sockets import accept_connection
from aura_effects.tcpconfig import Connected, TcpConfig
from aura_journal.effects import ContextKeyEffects

__all__ = ["PSK_APP", "EpochSource", "TcpTransport"]

PSK_APP: Final = "aura.noise.psk"
"""The KDF label of a context's Noise PSK (`derive_context_key(secret, app=PSK_APP, ...)`)."""
_STAMP_SHIFT: Final = 20
"""A stamp is the clock in ms shifted left by this, or the last stamp + 1 if that is larger:
about a million handshakes per millisecond before it runs ahead of the clock."""
_U64_MAX: Final = 2**64 - 1

EpochSource = Callable[[ContextId], Awaitable[int]]
"""The current epoch of a context on this device (its journal's `CONTEXT_REDUCER` view)."""


class _SendQueue(deque[bytes]):
    """The messages for one (peer, context) not yet written; `send` keeps it within its bound.
    A deque itself, so that the per-message `len` and `append` run in C."""

    __slots__ = ("ready",)

    def __init__(self) -> None:
        super().__init__()
        self.ready: anyio.Event | None = None
        """Set (and cleared) by the next `send` while the writer waits for a message."""

    async def wait(self) -> None:
        """Return once a message waits (at once if one does)."""
        while not self:
            if self.ready is None:
                self.ready = anyio.Event()
            await self.ready.wait()

    def take(self, max_bytes: int) -> list[bytes]:
        """The oldest message and those after it while the batch stays within `max_bytes`."""
        batch = [self.popleft()]
        size = len(batch[0])
        while self and size + len(self[0]) <= max_bytes:
            size += len(self[0])
            batch.append(self.popleft())
        return batch


class _Inbox:
    """Received envelopes waiting for `receive`: bounded; while it is full the connections'
    readers wait (and stop reading their sockets, so TCP pushes back on the senders). Neither
    side yields to the event loop while it need not wait: a message costs no task switch."""

    def __init__(self, bound: int) -> None:
        self._items: deque[Envelope] = deque()
        self._bound = bound
        self._readable: anyio.Event | None = None
        self._writable: anyio.Event | None = None
        self._closed = False

    async def put(self, envelopes: list[Envelope]) -> None:
        items = self._items
        at = 0
        while at < len(envelopes):
            room = self._bound - len(items)
            if room <= 0:
                if self._writable is None:
                    self._writable = anyio.Event()
                await self._writable.wait()
                continue
            items.extend(envelopes[at : at + room])
            at += room
        if self._readable is not None:
            self._readable.set()
            self._readable = None

    async def get(self) -> Envelope:
        return (await self.get_many(1))[0]

    async def get_many(self, limit: int) -> list[Envelope]:
        """The oldest `limit` envelopes or fewer; waits only while there are none."""
        if limit < 1:
            raise InvalidArgument("a receive takes at least one envelope")
        items = self._items
        while not items:
            if self._closed:
                raise TransportError("the transport is closed")
            if self._readable is None:
                self._readable = anyio.Event()
            await self._readable.wait()
        batch = [items.popleft() for _ in range(min(limit, len(items)))]
        if self._writable is not None:
            self._writable.set()
            self._writable = None
        return batch

    def close(self) -> None:
        """Drop what waits; every `get`, now and later, raises `TransportError`."""
        self._closed = True
        self._items.clear()
        if self._readable is not None:
            self._readable.set()
            self._readable = None


@attrs.define(eq=False)
class _Link:
    """Outbound state of one (peer, context): its queue and its runner's counters."""

    peer: AuthorityId
    context: ContextId
    queue: _SendQueue
    written: int = 0
    lost: int = 0
    reachable: anyio.Event = attrs.field(factory=anyio.Event)
    """Set when the peer connects to this device: a back-off in progress ends at once."""


@attrs.define(eq=False)
class _Ending:
    """Why a connection's tasks stopped: the first reason given wins and cancels the rest."""

    scope: anyio.CancelScope
    reason: str = ""
    detail: str = ""
    failed: bool = False

    def close(self, reason: str, detail: str = "", *, failed: bool = False) -> None:
        if not self.reason:
            self.reason, self.detail, self.failed = reason, detail, failed
        self.scope.cancel()


def _reason(exc: BaseException) -> str:
    """A coarse reason for the trace."""
    if isinstance(exc, HandshakeRefused):
        return exc.reason
    if isinstance(exc, VersionMismatch):
        return "version"
    if isinstance(exc, MalformedFrame | EncodingError):
        return "malformed"
    if isinstance(exc, HandshakeFailed):
        return "handshake"
    if isinstance(exc, DecryptionFailed):
        return "decrypt"
    if isinstance(exc, HandshakeTimeout):
        return "timeout"
    if isinstance(exc, NoRoute):
        return "no_route"
    if isinstance(exc, anyio.EndOfStream | anyio.IncompleteRead):
        return "eof"
    if isinstance(exc, OSError | anyio.BrokenResourceError | anyio.ClosedResourceError):
        return "network"
    if isinstance(exc, AuraError):
        return exc.code
    return "error"


def _detail(exc: BaseException) -> str:
    if isinstance(exc, AuraError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


async def _within(
    time: PhysicalTimeEffects, seconds: float, work: Callable[[], Awaitable[SecureConnection]]
) -> SecureConnection:
    """`work()`, a handshake, cancelled after `seconds` slept on `time` (so a simulator controls
    the timeout): raises `HandshakeTimeout` then, and whatever `work` raised otherwise. A
    connection made just as the caller is cancelled is closed, not dropped open."""
    result: list[SecureConnection] = []
    failure: list[Exception] = []
    try:
        async with anyio.create_task_group() as group:

            async def run() -> None:
                try:
                    result.append(await work())
                except Exception as exc:
                    failure.append(exc)
                group.cancel_scope.cancel()

            async def expire() -> None:
                await time.sleep(seconds)
                group.cancel_scope.cancel()

            group.start_soon(run)
            group.start_soon(expire)
    except BaseException:
        for connection in result:
            await connection.aclose()  # shielded
        raise
    if failure:
        raise failure[0]
    if not result:
        raise HandshakeTimeout(f"no handshake within {seconds} s")
    return result[0]


async def _accept_caller(listener: socket.socket) -> SocketStream:
    """The next caller on the non-blocking `listener`, as a stream (`accept_connection`)."""
    while True:
        connection = await accept_connection(listener)
        try:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return await SocketStream.from_socket(connection)
        except ValueError:  # anyio's check that it is connected: the caller has already left
            connection.close()
        except BaseException:
            connection.close()
            raise


class TcpTransport:
    """`TransportEffects` over TCP with one Noise channel per (peer, context).

    An async context manager, entered once: entering it binds the listener (read the port back
    from `port`) and starts the task group that owns every connection; leaving it closes them
    all and drops whatever was queued or not yet received.
    `send` queues and returns (a message waits for its channel, which is dialled on demand);
    `receive` returns the next envelope from any channel, its source, destination and context
    those the channel was established for.
    """

    def __init__(
        self,
        *,
        keypair: StaticKeypair,
        local: AuthorityId,
        locator: PeerLocator,
        keyring: ContextKeyEffects,
        epoch: EpochSource,
        random: RandomEffects,
        time: PhysicalTimeEffects,
        trace: TraceEffects,
        config: TcpConfig | None = None,
    ) -> None:
        self._keypair = keypair
        self._local = local
        self._locator = locator
        self._keyring = keyring
        self._epoch = epoch
        self._random = random
        self._time = time
        self._trace = trace
        self._config = config or TcpConfig()
        self._max_message = self._config.max_message
        self._send_bound = self._config.send_queue
        self._inbox = _Inbox(self._config.inbox)
        self._group: TaskGroup | None = None
        self._listener: anyio.abc.Listener[anyio.abc.SocketStream] | None = None
        self._port = 0
        # By the raw bytes of (peer, context): looked up for every message sent, and bytes hash
        # in C where the id classes' hashes run Python.
        self._links: dict[tuple[bytes, bytes], _Link] = {}
        self._accepted: dict[tuple[AuthorityId, ContextId], _Ending] = {}
        self._inbound = 0
        self._stamps: dict[tuple[bytes, ContextId], int] = {}
        self._last_stamp = 0
        self._callbacks: list[Callable[[Connected], None]] = []

    # ----------------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Self:
        if self._group is not None or self._port:
            raise TransportError("a transport runs once (make a new one to restart)")
        group = anyio.create_task_group()
        await group.__aenter__()
        try:
            listener = await anyio.create_tcp_listener(
                local_host=self._config.host, local_port=self._config.port
            )
        except BaseException:
            group.cancel_scope.cancel()
            await group.__aexit__(None, None, None)
            raise
        self._group = group
        self._listener = listener
        self._port = listener.extra(SocketAttribute.local_port)
        for each in listener.listeners:
            assert isinstance(each, SocketListener)  # what create_tcp_listener makes
            group.start_soon(self._accept, each)
        self._trace.event("net.listening", host=self._config.host, port=self._port)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        group = self._group
        if group is None:
            return
        self._group = None
        self._links = {}  # a send now makes a link, and finds the transport not running
        group.cancel_scope.cancel()
        try:
            await group.__aexit__(exc_type, exc, tb)
        except BaseExceptionGroup as failures:
            raise_single(failures)
        finally:
            with anyio.CancelScope(shield=True):
                if self._listener is not None:
                    await self._listener.aclose()
                self._inbox.close()
            self._trace.event("net.stopped", port=self._port)

    @property
    def local(self) -> AuthorityId:
        return self._local

    @property
    def static_key(self) -> bytes:
        """This device's X25519 static public key (what peers dial it with)."""
        return self._keypair.public

    @property
    def host(self) -> str:
        return self._config.host

    @property
    def port(self) -> int:
        """The port the listener is bound to (0 before the transport is entered)."""
        return self._port

    def on_connected(self, callback: Callable[[Connected], None]) -> None:
        """Call `callback` whenever a channel is established, either way (e.g. to sync)."""
        self._callbacks.append(callback)

    def queued(self, peer: AuthorityId, context: ContextId) -> int:
        """Messages waiting in the (peer, context) send queue."""
        link = self._links.get((peer.raw, context.raw))
        return 0 if link is None else len(link.queue)

    # ----------------------------------------------------------------------- sending

    async def send(self, destination: AuthorityId, context: ContextId, payload: bytes) -> None:
        """Queue `payload` for the channel to `destination` in `context`. Raises
        `SendQueueFull` (the peer's queue is full), `NoRoute` (to itself, or in a context this
        device is not a member of), `InvalidArgument` (over `max_message`) or
        `TransportError`."""
        # Runs for every message, so the common case (a link that exists) does no more than it
        # must: membership and the rest are checked when the link is made, and membership again
        # before every write (`_write`).
        if len(payload) > self._max_message:
            raise InvalidArgument(f"a message is at most {self._max_message} bytes")
        link = self._links.get((destination.raw, context.raw))
        if link is None:
            link = await self._open_link(destination, context)
        queue = link.queue
        if len(queue) >= self._send_bound:
            self._trace.event(
                "net.send.queue_full",
                peer=str(link.peer),
                context=str(link.context),
                queued=len(queue),
            )
            raise SendQueueFull(f"{self._send_bound} messages already wait for this peer")
        queue.append(payload)
        ready = queue.ready
        if ready is not None:
            queue.ready = None
            ready.set()

    async def _open_link(self, peer: AuthorityId, context: ContextId) -> _Link:
        """The outbound state of (`peer`, `context`), and its runner, on its first message."""
        group = self._group
        if group is None:
            raise TransportError("the transport is not running")
        if peer == self._local:
            raise NoRoute("a device does not dial itself")
        if await self._keyring.secret(context) is None:
            raise NoRoute(f"this device is not a member of {context}")
        if self._group is not group:  # it stopped during the await
            raise TransportError("the transport is not running")
        key = (peer.raw, context.raw)
        link = self._links.get(key)  # another send may have made it during the await
        if link is None:
            link = self._links[key] = _Link(peer, context, _SendQueue())
            group.start_soon(self._run_link, link)
        return link

    async def _run_link(self, link: _Link) -> None:
        """Dial when a message waits, pump the queue until the channel ends, back off after
        failures; for as long as the transport runs."""
        failures = 0
        while True:
            await link.queue.wait()
            if await self._keyring.secret(link.context) is None:
                self._retire(link)
                return
            try:
                connection = await _within(
                    self._time, self._config.handshake_timeout, lambda: self._dial(link)
                )
            except Exception as exc:
                failures += 1
                await self._back_off(link, failures, "net.outbound.failed", exc)
                continue
            self._trace.event(
                "net.outbound.connected",
                peer=str(link.peer),
                context=str(link.context),
                epoch=connection.epoch,
            )
            self._notify(Connected(link.peer, link.context, inbound=False))
            written = link.written
            try:
                ending = await self._pump_outbound(link, connection)
            finally:
                await connection.aclose()
            self._trace.event(
                "net.outbound.closed",
                peer=str(link.peer),
                context=str(link.context),
                reason=ending.reason,
                detail=ending.detail,
                lost=link.lost,
            )
            if ending.reason == "left":
                self._retire(link)
                return
            if ending.failed and link.written == written:
                failures += 1
                await self._back_off(link, failures, "net.outbound.backoff", None)
            else:
                failures = 0

    def _retire(self, link: _Link) -> None:
        """Forget `link` once this device no longer holds its context's secret: what waits is
        dropped (it may not be sent there now), and the next `send` there raises `NoRoute`."""
        self._links.pop((link.peer.raw, link.context.raw), None)
        link.lost += len(link.queue)
        link.queue.clear()
        self._trace.event(
            "net.outbound.left", peer=str(link.peer), context=str(link.context), lost=link.lost
        )

    async def _back_off(
        self, link: _Link, failures: int, event: str, exc: BaseException | None
    ) -> None:
        """Sleep min(cap, base * 2^(failures-1)), the upper half of it jittered uniformly, or
        until the peer connects to this device (it is up again: its messages should not wait
        out the rest of a back-off that can reach `backoff_cap`)."""
        link.reachable = reachable = anyio.Event()
        config = self._config
        ceiling = min(config.backoff_cap, config.backoff_base * 2 ** min(failures - 1, 62))
        half_ms = int(ceiling * 500)
        delay_ms = half_ms + await self._random.random_range(0, half_ms + 1)
        self._trace.event(
            event,
            peer=str(link.peer),
            context=str(link.context),
            attempt=failures,
            delay_ms=delay_ms,
            reason=None if exc is None else _reason(exc),
            detail=None if exc is None else _detail(exc),
        )
        async with anyio.create_task_group() as group:
            group.start_soon(_cancel_when, reachable, group.cancel_scope)
            await self._time.sleep(delay_ms / 1000)
            group.cancel_scope.cancel()

    async def _dial(self, link: _Link) -> SecureConnection:
        address = await self._locator.locate(link.peer, link.context)
        if address is None:
            raise NoRoute(f"no address for {link.peer} in {link.context}")
        secret = await self._keyring.secret(link.context)
        if secret is None:
            raise NoRoute(f"this device is not a member of {link.context}")
        epoch = await self._epoch(link.context)
        psk = derive_context_key(secret, app=PSK_APP, context=link.context, epoch=epoch)
        hello = Hello(link.context, self._local, epoch, await self._next_stamp())
        seed = await self._random.random_bytes(SEED_LEN)
        stream = await anyio.connect_tcp(address.host, address.port)
        try:
            reader = FrameReader(stream, self._config.max_frame)
            channel = await initiate(
                stream,
                reader,
                local=self._keypair,
                remote_static=address.static_key,
                psk=psk,
                hello=hello,
                seed=seed,
            )
        except BaseException:
            with anyio.CancelScope(shield=True):
                await stream.aclose()
            raise
        return self._connection(
            stream,
            reader=reader,
            channel=channel,
            peer=link.peer,
            context=link.context,
            epoch=epoch,
            inbound=False,
        )

    async def _next_stamp(self) -> int:
        now = await self._time.now()
        stamp = min(max(now.ts_ms << _STAMP_SHIFT, self._last_stamp + 1), _U64_MAX)
        self._last_stamp = stamp
        return stamp

    async def _pump_outbound(self, link: _Link, connection: SecureConnection) -> _Ending:
        async with anyio.create_task_group() as group:
            ending = _Ending(group.cancel_scope)
            group.start_soon(self._part, ending, lambda: self._write(link, connection))
            group.start_soon(self._part, ending, connection.expect_nothing)
            group.start_soon(
                self._part, ending, lambda: self._idle(connection, self._config.idle_timeout)
            )
        return ending

    async def _write(self, link: _Link, connection: SecureConnection) -> str:
        while True:
            await link.queue.wait()
            if await self._keyring.secret(link.context) is None:
                return "left"
            if await self._epoch(link.context) > connection.epoch:
                return "epoch"
            batch = link.queue.take(self._config.write_batch)
            try:
                await connection.send(batch)
            except BaseException:
                link.lost += len(batch)
                raise
            link.written += len(batch)

    # ----------------------------------------------------------------------- receiving

    async def receive(self) -> Envelope:
        """The next message from any channel; `TransportError` once the transport closed."""
        return await self._inbox.get()

    async def receive_many(self, limit: int) -> list[Envelope]:
        """The messages already received (at most `limit`, waiting for the first), oldest
        first; `TransportError` once the transport closed."""
        return await self._inbox.get_many(limit)

    async def _accept(self, listener: SocketListener) -> None:
        raw = listener.extra(SocketAttribute.raw_socket)
        while True:
            try:
                stream = await _accept_caller(raw)
            except (OSError, anyio.BrokenResourceError) as exc:  # e.g. out of descriptors
                self._trace.event("net.accept.failed", detail=_detail(exc))
                await self._time.sleep(self._config.backoff_base)
                continue
            if self._inbound >= self._config.max_inbound:
                self._trace.event(
                    "net.inbound.refused", reason="cap", detail=f"{self._inbound} connections"
                )
                with anyio.CancelScope(shield=True):
                    await stream.aclose()
                continue
            self._inbound += 1
            assert self._group is not None
            self._group.start_soon(self._serve_inbound, stream)

    async def _serve_inbound(self, stream: anyio.abc.SocketStream) -> None:
        try:
            try:
                connection = await _within(
                    self._time, self._config.handshake_timeout, lambda: self._respond(stream)
                )
            except Exception as exc:
                self._trace.event("net.inbound.refused", reason=_reason(exc), detail=_detail(exc))
                return
            await self._hold_inbound(connection)
        finally:
            self._inbound -= 1
            with anyio.CancelScope(shield=True):
                await stream.aclose()

    async def _respond(self, stream: ByteStream) -> SecureConnection:
        """The responder's handshake and every check on the caller (see the module docs)."""
        reader = FrameReader(stream, self._config.max_frame)
        seed = await self._random.random_bytes(SEED_LEN)
        responder, caller, payload = await read_hello(
            stream, reader, local=self._keypair, seed=seed
        )
        try:
            hello = decode(payload, Hello)
        except EncodingError as exc:
            raise HandshakeRefused("malformed", exc.message) from None
        context = hello.context
        secret = await self._keyring.secret(context)
        if secret is None:
            raise HandshakeRefused("not_member", f"not a member of {context}")
        who = await self._locator.identify(caller, context)
        if who == ANY_CALLER:  # a bootstrap context: the PSK is the credential
            who = hello.authority
        if who is None:
            raise HandshakeRefused("unknown_key", f"static key {caller.hex()} in {context}")
        if who != hello.authority:
            raise HandshakeRefused(
                "identity", f"the key is {who}'s, the caller said {hello.authority}"
            )
        current = await self._epoch(context)
        if hello.epoch < current:
            raise HandshakeRefused(
                "stale_epoch", f"epoch {hello.epoch}, this device is at {current}"
            )
        stamps = (caller, context)
        if hello.stamp <= self._stamps.get(stamps, -1):
            raise HandshakeRefused("replay", f"stamp {hello.stamp} from {who} is not new")
        self._stamps[stamps] = hello.stamp
        psk = derive_context_key(secret, app=PSK_APP, context=context, epoch=hello.epoch)
        try:
            channel = await answer(stream, reader, responder, psk)
        except (DecryptionFailed, anyio.EndOfStream):
            raise HandshakeRefused("unconfirmed", f"{who} never proved its PSK") from None
        return self._connection(
            stream,
            reader=reader,
            channel=channel,
            peer=who,
            context=context,
            epoch=hello.epoch,
            inbound=True,
        )

    async def _hold_inbound(self, connection: SecureConnection) -> None:
        """Read an established inbound channel until it ends; a newer one from the same
        (peer, context) replaces it."""
        key = (connection.peer, connection.context)
        fields = {"peer": str(connection.peer), "context": str(connection.context)}
        async with anyio.create_task_group() as group:
            ending = _Ending(group.cancel_scope)
            replaced = self._accepted.get(key)
            self._accepted[key] = ending
            if replaced is not None:
                replaced.close("replaced")
            self._trace.event("net.inbound.connected", epoch=connection.epoch, **fields)
            link = self._links.get((connection.peer.raw, connection.context.raw))
            if link is not None:
                link.reachable.set()
            self._notify(Connected(connection.peer, connection.context, inbound=True))
            group.start_soon(self._part, ending, lambda: self._read(connection))
            group.start_soon(
                self._part, ending, lambda: self._idle(connection, 2 * self._config.idle_timeout)
            )
        if self._accepted.get(key) is ending:
            del self._accepted[key]
        self._trace.event(
            "net.inbound.closed", reason=ending.reason, detail=ending.detail, **fields
        )

    async def _read(self, connection: SecureConnection) -> str:
        while True:
            messages = await connection.receive()
            if not messages:
                continue
            if await self._epoch(connection.context) > connection.epoch:
                return "epoch"
            envelope = partial(Envelope, connection.peer, self._local, connection.context)
            await self._inbox.put(list(map(envelope, messages)))

    # ----------------------------------------------------------------------- shared

    def _connection(
        self,
        stream: ByteStream,
        *,
        reader: FrameReader,
        channel: NoiseChannel,
        peer: AuthorityId,
        context: ContextId,
        epoch: int,
        inbound: bool,
    ) -> SecureConnection:
        return SecureConnection(
            stream,
            reader,
            channel,
            peer,
            context,
            epoch,
            inbound,
            self._config.max_frame,
            self._config.max_message,
        )

    async def _part(self, ending: _Ending, work: Callable[[], Awaitable[str]]) -> None:
        """One task of a connection: its normal end or its failure ends the connection."""
        try:
            reason = await work()
        except anyio.EndOfStream:
            ending.close("eof")
        except Exception as exc:
            ending.close(_reason(exc), _detail(exc), failed=True)
        else:
            ending.close(reason)

    async def _idle(self, connection: SecureConnection, limit: float) -> str:
        """Return once `connection` carried nothing for a whole `limit` (closing it)."""
        seen = -1
        while connection.activity != seen:
            seen = connection.activity
            await self._time.sleep(limit)
        return "idle"

    def _notify(self, event: Connected) -> None:
        for callback in self._callbacks:
            try:
                callback(event)
            except Exception as exc:
                self._trace.event("net.callback.failed", detail=_detail(exc))


async def _cancel_when(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()
