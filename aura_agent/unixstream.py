"""A byte stream over a connected Unix socket, for the local API's server and client.

anyio's own Unix socket stream (4.16, asyncio backend) waits for readability with a future
that a readiness callback completes; when the waiting task is cancelled in the same loop
iteration as the peer closes (a client leaving just before the agent stops), the callback
finds the future cancelled and asyncio logs `InvalidStateError`. This stream waits with
`anyio.wait_readable` / `wait_writable` instead, which tolerate that, and keeps the raw socket
at hand for `SO_PEERCRED`.
"""

from __future__ import annotations

import contextlib
import socket

import anyio
import anyio.lowlevel
from anyio.abc import ByteStream

from aura_effects.sockets import accept_connection

__all__ = ["UnixStream", "accept", "connect"]


class UnixStream(ByteStream):
    """A connected, non-blocking `AF_UNIX` stream socket."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.raw = sock

    async def receive(self, max_bytes: int = 65536) -> bytes:
        await anyio.lowlevel.checkpoint_if_cancelled()
        while True:
            try:
                data = self.raw.recv(max_bytes)
            except BlockingIOError:
                await anyio.wait_readable(self.raw)
                continue
            except OSError as exc:
                if self.raw.fileno() < 0:
                    raise anyio.ClosedResourceError from None
                raise anyio.BrokenResourceError(str(exc)) from exc
            if not data:
                raise anyio.EndOfStream
            return data

    async def send(self, item: bytes) -> None:
        await anyio.lowlevel.checkpoint_if_cancelled()
        view = memoryview(item)
        while view:
            try:
                sent = self.raw.send(view)
            except BlockingIOError:
                await anyio.wait_writable(self.raw)
                continue
            except OSError as exc:
                if self.raw.fileno() < 0:
                    raise anyio.ClosedResourceError from None
                raise anyio.BrokenResourceError(str(exc)) from exc
            view = view[sent:]

    async def send_eof(self) -> None:
        with contextlib.suppress(OSError):
            self.raw.shutdown(socket.SHUT_WR)

    async def aclose(self) -> None:
        if self.raw.fileno() >= 0:
            anyio.notify_closing(self.raw)
            self.raw.close()
        await anyio.lowlevel.checkpoint()


async def accept(listener: socket.socket) -> UnixStream:
    """The next connection on a listening, non-blocking Unix socket."""
    return UnixStream(await accept_connection(listener))


async def connect(path: bytes) -> UnixStream:
    """A connection to the Unix socket at `path` (`OSError` if nothing accepts there)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.connect(path)
    except BaseException:
        sock.close()
        raise
    await anyio.lowlevel.checkpoint()
    return UnixStream(sock)
