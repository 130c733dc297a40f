"""A task group's failure as its caller should see it: the one cause, not a group of one.

Every service (dispatcher, consensus node, sync service, a device online) runs a task group, and
anyio wraps whatever ends a group in an `ExceptionGroup`, even a single exception raised in the
caller's own `async with` body. Nested four deep, `except ConsensusFailed` stops working and the
traceback buries the cause. Each service's exit passes the group through `raise_single`, which
raises the one exception itself when there is exactly one (nested groups flattened) and the group
unchanged when there are several.
"""

from __future__ import annotations

from typing import NoReturn

__all__ = ["leaves", "raise_single"]


def leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """Every exception in `group`, nested groups flattened, in order."""
    found: list[BaseException] = []
    for item in group.exceptions:
        if isinstance(item, BaseExceptionGroup):
            found.extend(leaves(item))
        else:
            found.append(item)
    return found


def raise_single(group: BaseExceptionGroup[BaseException]) -> NoReturn:
    """Raise the one exception `group` holds, with its own cause, context and traceback; or
    `group` itself if it holds more than one."""
    found = leaves(group)
    if len(found) != 1:
        raise group
    (single,) = found
    cause, context, suppress = single.__cause__, single.__context__, single.__suppress_context__
    try:
        raise single
    finally:
        # `raise` inside the handler of `group` would chain the group as the context: keep
        # the exception's own chain, as it was when it was first raised.
        single.__cause__, single.__context__ = cause, context
        single.__suppress_context__ = suppress
