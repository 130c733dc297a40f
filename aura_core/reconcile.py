"""Anti-entropy set reconciliation: range-based (negentropy protocol V1), over the native core.

Two peers each hold a set of items `(timestamp, id)`, with `timestamp` an int in
0..`MAX_TIMESTAMP` (an order key: creation time or a hybrid logical clock, so that new items
cluster at the end and cost little to find) and `id` 32 bytes. They find the ids one has and
the other lacks in a few round trips, sending fingerprints of ranges rather than ids, so the
cost grows with the differences, not with the sets:

    initiator                                    responder
    a = Reconciler(our_items)                    b = Reconciler(their_items)
    message = a.initiate()         ---------->   answer = b.reconcile(message)
    next, have, need = a.reconcile_with_ids(answer)   <----------
    ... while next is not None: send next, feed the answer back ...

`have` are ids the initiator holds and the responder lacks, `need` the reverse. Each call to
`reconcile_with_ids` returns the differences *first* found in that round: over a session every
difference is reported exactly once, so a caller can act on each round's ids as they come
(start fetching `need` before the end) without deduplicating. (Under a frame limit the native
crate finds some differences twice: a cut frame's remainder re-opens ranges already settled;
the reconciler remembers what it reported, one id per difference.) A responder keeps no state
between messages and answers any number of them; a reconciler serves one session.

**Frames.** `frame_size_limit` caps every message a reconciler writes (0: no cap, at least
`MIN_FRAME_SIZE_LIMIT` otherwise); more rounds then carry what did not fit. The default,
`FRAME_SIZE_LIMIT` = 60000, leaves 5519 bytes of a Noise transport message (65519) for the
caller's own framing. Use 0 only between trusted local parties: uncapped, one answer can be
32 bytes per item of the whole set.

**Untrusted peers.** Every incoming message is checked strictly before the native crate reads
it: another protocol version (the initiator side; a responder answers a future version with
its own), a message cut short, ranges out of order or after the end (but for the empty
remainder a full frame can end with), an id list longer than its bytes: each raises
`MalformedReconcileMessage` and changes nothing. Work and memory per step are
O(n + len(message)); nothing is reserved from a count the peer sent. What checking cannot
catch is a peer that lies within the protocol: it can report ids it does not have (each at
most once, like every id) or never finish. So bound the number of rounds and the session's
time, and treat `need` as claims (validate whatever is fetched).

Building a reconciler sorts its items and every step runs without the GIL, so a large
reconciliation does not stall the event loop's other threads (run it with
`anyio.to_thread.run_sync`). One thread at a time per reconciler (a concurrent call is a
`ReconcileStateError`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, NoReturn

from aura_core import _native
from aura_core.crypto._native_errors import translate
from aura_core.errors import InvalidArgument

__all__ = [
    "ID_LEN",
    "MAX_TIMESTAMP",
    "MIN_FRAME_SIZE_LIMIT",
    "FRAME_SIZE_LIMIT",
    "Reconciler",
]

ID_LEN: Final = 32
MAX_TIMESTAMP: Final = 2**64 - 2
"""The largest item timestamp: 2^64 - 1 is the protocol's "infinity" bound, and an item
there would fall outside every range."""
MIN_FRAME_SIZE_LIMIT: Final = 4096
FRAME_SIZE_LIMIT: Final = 60_000
"""The default cap on one message: fits a Noise transport message with room for framing."""


def _message(value: object) -> bytes:
    if type(value) is not bytes:
        raise TypeError(f"a reconciliation message is bytes, got {type(value).__name__}")
    return value


class Reconciler:
    """One side of one reconciliation over a set of `(timestamp, id)` items.

    Items repeated exactly count once; `InvalidArgument` for a timestamp outside
    0..`MAX_TIMESTAMP`, an id that is not 32 bytes, or a frame size limit that is neither 0 nor
    `MIN_FRAME_SIZE_LIMIT`..2^64 - 1. The role is set by the first call: `initiate()` makes an
    initiator (which then calls `reconcile_with_ids`), `reconcile()` a responder.
    """

    __slots__ = ("_native",)
    _native: _native.Reconciler

    def __init__(
        self, items: Iterable[tuple[int, bytes]], frame_size_limit: int = FRAME_SIZE_LIMIT
    ) -> None:
        if type(frame_size_limit) is not int or not (
            frame_size_limit == 0 or MIN_FRAME_SIZE_LIMIT <= frame_size_limit < 2**64
        ):
            raise InvalidArgument(
                f"frame_size_limit is 0 (none) or an int from {MIN_FRAME_SIZE_LIMIT} up, "
                f"got {frame_size_limit!r}"
            )
        try:
            native = _native.Reconciler(items, frame_size_limit)
        except _native.NativeError as exc:
            raise translate(exc) from None
        object.__setattr__(self, "_native", native)

    def __len__(self) -> int:
        """The number of distinct items."""
        return len(self._native)

    def initiate(self) -> bytes:
        """The first message; makes this reconciler the initiator (once)."""
        try:
            return self._native.initiate()
        except _native.NativeError as exc:
            raise translate(exc) from None

    def reconcile(self, message: bytes) -> bytes:
        """The responder's answer to one of the initiator's messages."""
        try:
            return self._native.reconcile(_message(message))
        except _native.NativeError as exc:
            raise translate(exc) from None

    def reconcile_with_ids(self, message: bytes) -> tuple[bytes | None, list[bytes], list[bytes]]:
        """The initiator's round after the responder's answer: the next message to send
        (`None`: reconciliation is complete), the ids first found this round that we have and
        the responder lacks, and those the responder has and we lack (none reported before)."""
        try:
            return self._native.reconcile_with_ids(_message(message))
        except _native.NativeError as exc:
            raise translate(exc) from None

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Reconciler has no settable attributes")

    def __copy__(self) -> NoReturn:
        raise TypeError("a Reconciler holds live session state and cannot be copied")

    def __deepcopy__(self, memo: object) -> NoReturn:
        raise TypeError("a Reconciler holds live session state and cannot be copied")

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Reconciler holds live session state and cannot be pickled")

    def __repr__(self) -> str:
        return f"Reconciler({len(self)} items)"
