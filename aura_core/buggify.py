"""BUGGIFY fault points: library code marks places where a simulation may inject trouble.

    if buggify("journal.merge.storage_error"):
        raise StorageError("injected")

Outside a simulation nothing installs a hook and `buggify` is always False (one context-variable
read). The simulator installs a hook for the run that decides, from the run's seed, which sites
are enabled at all (once per site per run) and then fires an enabled site on some of its calls,
so rare error paths get exercised deterministically.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["buggify", "buggify_hook"]

_HOOK: contextvars.ContextVar[Callable[[str], bool] | None] = contextvars.ContextVar(
    "aura_buggify", default=None
)


def buggify(site: str) -> bool:
    """Whether to misbehave at `site` now (always False outside a simulation)."""
    hook = _HOOK.get()
    return hook is not None and hook(site)


@contextmanager
def buggify_hook(hook: Callable[[str], bool]) -> Iterator[None]:
    """Install `hook` for the enclosed code and every task it starts (the simulator's job)."""
    token = _HOOK.set(hook)
    try:
        yield
    finally:
        _HOOK.reset(token)
