"""Durable key-value storage on SQLite: one file per device, WAL, synchronous=FULL.

Every call runs on one worker thread (SQLite connections are not shared across threads), so the
event loop never blocks. `batch` runs inside one transaction: after a crash either every write
of the batch is on disk or none is. The file is created with mode 0600.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread

from aura_core.effects import Delete, Put, StorageOp
from aura_core.errors import InvalidArgument, StorageError

__all__ = ["SqliteStorage"]

T = TypeVar("T")

_SCHEMA = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID"


def _prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix`."""
    for i in range(len(prefix) - 1, -1, -1):
        if ord(prefix[i]) < 0x10FFFF:
            return prefix[:i] + chr(ord(prefix[i]) + 1)
    return None


def _prefix_query(columns: str, prefix: str) -> tuple[str, tuple[str, ...]]:
    """A query for `columns` of the rows whose key starts with `prefix`, by key (a range on
    the primary key, not a scan of the table)."""
    end = _prefix_end(prefix)
    if end is None:
        return f"SELECT {columns} FROM kv WHERE key >= ? ORDER BY key", (prefix,)
    return f"SELECT {columns} FROM kv WHERE key >= ? AND key < ? ORDER BY key", (prefix, end)


class SqliteStorage:
    """`StorageEffects` on a SQLite file."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._connection: sqlite3.Connection | None = connection
        self._path = path
        self._limiter = anyio.CapacityLimiter(1)
        self._lock = threading.Lock()

    @classmethod
    async def open(cls, path: str | os.PathLike[str]) -> SqliteStorage:
        """Open (or create, mode 0600) the database at `path`."""
        target = Path(path)

        def connect() -> sqlite3.Connection:
            fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            connection = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute(_SCHEMA)
            return connection

        try:
            connection = await anyio.to_thread.run_sync(connect)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"cannot open storage {target.name}: {exc}") from None
        return cls(connection, target)

    @property
    def path(self) -> Path:
        return self._path

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def guarded() -> T:
            with self._lock:
                if self._connection is None:
                    raise StorageError("storage is closed")
                return work(self._connection)

        try:
            return await anyio.to_thread.run_sync(guarded, limiter=self._limiter)
        except sqlite3.Error as exc:
            raise StorageError(f"storage failed: {type(exc).__name__}: {exc}") from None

    async def get(self, key: str) -> bytes | None:
        def read(c: sqlite3.Connection) -> bytes | None:
            row = c.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
            return None if row is None else bytes(row[0])

        return await self._run(read)

    async def put(self, key: str, value: bytes) -> None:
        await self.batch([Put(key, value)])

    async def delete(self, key: str) -> bool:
        def remove(c: sqlite3.Connection) -> bool:
            return c.execute("DELETE FROM kv WHERE key = ?", (key,)).rowcount > 0

        return await self._run(remove)

    async def list_keys(self, prefix: str) -> list[str]:
        query, args = _prefix_query("key", prefix)

        def read(c: sqlite3.Connection) -> list[str]:
            return [key for (key,) in c.execute(query, args) if key.startswith(prefix)]

        return await self._run(read)

    async def scan(self, prefix: str) -> list[tuple[str, bytes]]:
        query, args = _prefix_query("key, value", prefix)

        def read(c: sqlite3.Connection) -> list[tuple[str, bytes]]:
            rows = c.execute(query, args)
            return [(key, bytes(value)) for key, value in rows if key.startswith(prefix)]

        return await self._run(read)

    async def batch(self, ops: Sequence[StorageOp]) -> None:
        for op in ops:
            if not isinstance(op, Put | Delete):
                raise InvalidArgument(f"not a storage operation: {op!r}")

        def transaction(c: sqlite3.Connection) -> None:
            c.execute("BEGIN IMMEDIATE")
            try:
                for index, op in enumerate(ops):
                    self._write(c, index, op)
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")

        await self._run(transaction)

    def _write(self, connection: sqlite3.Connection, index: int, op: StorageOp) -> None:
        """One write of a batch (a seam for fault-injection tests)."""
        if isinstance(op, Put):
            connection.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (op.key, op.value),
            )
        else:
            connection.execute("DELETE FROM kv WHERE key = ?", (op.key,))

    async def close(self) -> None:
        """Close the database; later calls raise `StorageError`."""

        def shut(c: sqlite3.Connection) -> None:
            c.close()

        if self._connection is not None:
            await self._run(shut)
            self._connection = None
