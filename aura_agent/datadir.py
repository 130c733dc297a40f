"""An agent's data directory: where it is, who may read it, and that one agent holds it.

The directory (default `platformdirs.user_data_dir("aura")`) is created with mode 0700 and
must stay so: an agent refuses to start (`UnsafePermissions`, naming the command that fixes
it) when the directory is wider than 0700, when it or the key file belongs to another uid,
and when the key file is wider than 0600. It never loosens or tightens modes itself: a
directory someone else could read may already have leaked, which the user must know.

One agent at a time: `DataDir.open` takes an exclusive `flock` on `lock` inside it (released
by the kernel when the process dies, even by SIGKILL), and a second agent on the same
directory fails with `AgentRunning` before touching anything.

Layout (see `docs/agent.md`):

    DIR/            0700
      lock          0600  the agent's pid; flock held while it runs
      keys          0600  the key file (`aura_agent.keystore`)
      device.sqlite 0600  journals, guard registers, the agent's records (+ -wal, -shm)
      agent.sock    0600  the local API (unless `--socket` puts it elsewhere)
"""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path
from typing import Final

from aura_core.errors import AgentRunning, StorageError, UnsafePermissions

__all__ = [
    "APP_NAME",
    "KEY_FILE",
    "STORAGE_FILE",
    "SOCKET_FILE",
    "LOCK_FILE",
    "default_data_dir",
    "check_private",
    "DataDir",
]

APP_NAME: Final = "aura"
KEY_FILE: Final = "keys"
STORAGE_FILE: Final = "device.sqlite"
SOCKET_FILE: Final = "agent.sock"
LOCK_FILE: Final = "lock"


def default_data_dir() -> Path:
    """The platform's per-user data directory for the agent (`~/.local/share/aura` on Linux);
    `platformdirs` is imported here only, so a command that names its directory never loads
    it."""
    import platformdirs  # noqa: PLC0415

    return Path(platformdirs.user_data_dir(APP_NAME))


def check_private(path: Path, info: os.stat_result, *, mode: int, what: str) -> None:
    """`UnsafePermissions` unless `path` (whose `stat` is `info`) belongs to this process's
    uid and grants nothing beyond `mode` (0700 for directories, 0600 for files)."""
    uid = os.geteuid()
    if info.st_uid != uid:
        raise UnsafePermissions(
            f"{what} {path} belongs to uid {info.st_uid}, not to this agent's uid {uid}: "
            f"run the agent as its owner, or give it a directory of its own"
        )
    actual = stat.S_IMODE(info.st_mode)
    if actual & ~mode:
        raise UnsafePermissions(
            f"{what} {path} has mode {actual:04o}, wider than {mode:04o}: other users may "
            f"have read it; check it, then run `chmod {mode:o} {path}`"
        )


class DataDir:
    """An open data directory: checked, and locked for this agent until `close`."""

    def __init__(self, path: Path, lock_fd: int) -> None:
        self.path = path
        self._lock_fd: int | None = lock_fd

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> DataDir:
        """Create (mode 0700) or check the directory at `path` (default: the platform's), then
        lock it. `UnsafePermissions` if it is not private to this uid, `AgentRunning` if
        another agent holds it."""
        target = cls.resolve(path)
        try:
            target.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = target.stat()
        except OSError as exc:
            raise StorageError(f"cannot create the data directory {target}: {exc}") from None
        if not stat.S_ISDIR(info.st_mode):
            raise UnsafePermissions(f"{target} is not a directory")
        check_private(target, info, mode=0o700, what="the data directory")
        return cls(target, _lock(target / LOCK_FILE))

    @staticmethod
    def resolve(path: str | os.PathLike[str] | None) -> Path:
        """The absolute path of the directory `path` names (None: the platform's default)."""
        target = Path(path) if path is not None else default_data_dir()
        return target.expanduser().absolute()

    @property
    def keys(self) -> Path:
        return self.path / KEY_FILE

    @property
    def storage(self) -> Path:
        return self.path / STORAGE_FILE

    def close(self) -> None:
        """Release the lock (the kernel also releases it when the process ends)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _lock(path: Path) -> int:
    """An exclusive flock on `path` (created 0600), holding this process's pid."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise StorageError(f"cannot open the lock file {path}: {exc}") from None
    try:
        check_private(path, os.fstat(fd), mode=0o600, what="the lock file")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise AgentRunning(
                f"another agent (pid {holder}) is running on {path.parent}: stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except BaseException:
        os.close(fd)
        raise
    return fd
