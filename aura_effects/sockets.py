"""Accepting on a listening socket without a half-taken caller on cancellation."""

from __future__ import annotations

import socket

import anyio

__all__ = ["accept_connection"]


async def accept_connection(listener: socket.socket) -> socket.socket:
    """The next connection on the non-blocking `listener`: `accept()` once it is readable.
    Not asyncio's `sock_accept` (anyio's `SocketListener.accept` on asyncio): when its wait is
    cancelled in the loop iteration a caller arrives, asyncio's already queued callback accepts
    the caller into the cancelled future (`InvalidStateError` reported to the loop, the
    caller's socket dropped). A cancelled `wait_readable` takes nobody."""
    while True:
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            await anyio.wait_readable(listener)
            continue
        return connection
