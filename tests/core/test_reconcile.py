"""Set reconciliation through the Python API: exact differences, frame limits, hostile input.

The native core's own tests (`native/src/reconcile/tests.rs`) add the strict message check
case by case, including the truncation the bare crate would accept.
"""

from __future__ import annotations

import copy
import hashlib
import pickle

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aura_core.errors import InvalidArgument, MalformedReconcileMessage, ReconcileStateError
from aura_core.reconcile import (
    FRAME_SIZE_LIMIT,
    MAX_TIMESTAMP,
    MIN_FRAME_SIZE_LIMIT,
    Reconciler,
)

Item = tuple[int, bytes]


def make_items(tag: bytes, count: int, spread: int) -> list[Item]:
    """`count` distinct items; ids are hashes, timestamps spread over `spread` values."""
    items = []
    for i in range(count):
        digest = hashlib.sha256(tag + i.to_bytes(4, "big")).digest()
        items.append((int.from_bytes(digest[:8], "big") % spread, digest))
    return items


def round_ceiling(items: int, limit: int) -> int:
    """A generous ceiling on the rounds of an honest exchange (the same as the native tests'):
    the depth of the 16-way range tree plus the frames every item's id would fill, plus
    slack. A loop that stopped making progress would blow through it."""
    depth = -(-items.bit_length() // 4)
    frames = 32 * items // (limit - 200) if limit else 0
    return 4 + depth + frames


class Session:
    """Run a whole reconciliation, keeping every message and each round's ids.

    Every message is checked strictly by the side that receives it (a refusal raises
    `MalformedReconcileMessage` and fails the test), so a completed session means each
    message of every round passed the check."""

    def __init__(self, ours: list[Item], theirs: list[Item], limit: int) -> None:
        self.initiator = Reconciler(ours, limit)
        self.responder = Reconciler(theirs, limit)
        self.sent: list[bytes] = []
        self.answers: list[bytes] = []
        self.rounds: list[tuple[list[bytes], list[bytes]]] = []
        ceiling = round_ceiling(len(self.initiator) + len(self.responder), limit)
        message: bytes | None = self.initiator.initiate()
        while message is not None:
            self.sent.append(message)
            answer = self.responder.reconcile(message)
            self.answers.append(answer)
            message, have, need = self.initiator.reconcile_with_ids(answer)
            self.rounds.append((have, need))
            assert len(self.rounds) <= ceiling

    @property
    def have(self) -> list[bytes]:
        return [item_id for have, _ in self.rounds for item_id in have]

    @property
    def need(self) -> list[bytes]:
        return [item_id for _, need in self.rounds for item_id in need]


def check_exact(ours: list[Item], theirs: list[Item], limit: int) -> Session:
    """Reconcile and check: each difference reported once (in one round, on the right side),
    nothing else, every frame under the limit, the rounds bounded (in `Session`)."""
    session = Session(ours, theirs, limit)
    mine = {item_id for _, item_id in ours} - {item_id for _, item_id in theirs}
    yours = {item_id for _, item_id in theirs} - {item_id for _, item_id in ours}
    assert sorted(session.have) == sorted(mine)
    assert sorted(session.need) == sorted(yours)
    if limit:
        assert max(map(len, session.sent + session.answers)) <= limit
    return session


@settings(max_examples=60)
@given(
    shared=st.integers(0, 3000),
    only_ours=st.integers(0, 300),
    only_theirs=st.integers(0, 300),
    spread=st.sampled_from([1, 50, 10**6, MAX_TIMESTAMP]),
    limit=st.sampled_from([0, MIN_FRAME_SIZE_LIMIT, 5000, FRAME_SIZE_LIMIT]),
    tag=st.binary(max_size=4),
)
# Found by this test: the answer ending "infinity id-list, empty remainder" that the message
# check refused, and differences the native crate reports in two rounds.
@example(shared=0, only_ours=0, only_theirs=150, spread=1, limit=5000, tag=b"")
@example(shared=100, only_ours=0, only_theirs=300, spread=1, limit=5000, tag=b"")
def test_reconciles_to_exactly_the_symmetric_difference(
    shared: int, only_ours: int, only_theirs: int, spread: int, limit: int, tag: bytes
) -> None:
    common = make_items(b"common" + tag, shared, spread)
    mine = make_items(b"mine" + tag, only_ours, spread)
    yours = make_items(b"yours" + tag, only_theirs, spread)
    check_exact(common + mine, yours + common, limit)


@settings(max_examples=150)
@given(
    shared=st.integers(0, 1200),
    only_ours=st.integers(0, 320),
    only_theirs=st.integers(0, 320),
    spread=st.sampled_from([1, 2, 7]),
    limit=st.sampled_from([MIN_FRAME_SIZE_LIMIT, 4500, 5000]),
    tag=st.binary(max_size=4),
)
def test_small_frames_and_shared_timestamps(
    shared: int, only_ours: int, only_theirs: int, spread: int, limit: int, tag: bytes
) -> None:
    # The corner where both regressions lived: frames cut every round, and bounds that differ
    # only in their id prefixes. 150 ids fill a 5000-byte frame exactly (the crate keeps 200
    # bytes spare), 122 a 4096-byte one.
    common = make_items(b"common" + tag, shared, spread)
    mine = make_items(b"mine" + tag, only_ours, spread)
    yours = make_items(b"yours" + tag, only_theirs, spread)
    check_exact(common + mine, yours + common, limit)


def test_many_differences_take_rounds_but_every_frame_fits() -> None:
    ours = make_items(b"a", 6000, 10**9)
    theirs = make_items(b"b", 6000, 10**9)
    session = Session(ours, theirs, MIN_FRAME_SIZE_LIMIT)
    assert len(session.answers) > 5
    assert max(map(len, session.sent + session.answers)) <= MIN_FRAME_SIZE_LIMIT
    assert len(session.have) == len(session.need) == 6000


def test_identical_sets_finish_in_one_round() -> None:
    items = make_items(b"same", 2000, 10**6)
    session = Session(items, list(reversed(items)), FRAME_SIZE_LIMIT)
    assert (len(session.answers), session.have, session.need) == (1, [], [])


def test_duplicates_collapse() -> None:
    items = make_items(b"d", 10, 5)
    reconciler = Reconciler(items + items)
    assert len(reconciler) == 10
    assert repr(reconciler) == "Reconciler(10 items)"


@pytest.mark.parametrize(
    ("items", "limit"),
    [
        ([(-1, bytes(32))], 0),
        ([(MAX_TIMESTAMP + 1, bytes(32))], 0),
        ([(2**64, bytes(32))], 0),
        ([(1, bytes(31))], 0),
        ([(1, bytearray(32))], 0),
        ([(1, bytes(32), 3)], 0),
        ([[1, bytes(32)]], 0),
        ([("1", bytes(32))], 0),
        ([], 1),
        ([], MIN_FRAME_SIZE_LIMIT - 1),
        ([], -1),
        ([], 2**64),
        ([], "60000"),
    ],
)
def test_bad_arguments_are_invalid(items: list[Item], limit: int) -> None:
    with pytest.raises(InvalidArgument):
        Reconciler(items, limit)


def test_limits_at_the_edges_are_accepted() -> None:
    Reconciler([(MAX_TIMESTAMP, bytes(32)), (0, bytes(32))], MIN_FRAME_SIZE_LIMIT)
    Reconciler([], 2**64 - 1)


def test_roles_are_fixed_by_the_first_call() -> None:
    items = make_items(b"r", 50, 10)
    a, b = Reconciler(items), Reconciler(items)
    with pytest.raises(ReconcileStateError):
        a.reconcile_with_ids(b"\x61")
    first = a.initiate()
    with pytest.raises(ReconcileStateError):
        a.initiate()
    with pytest.raises(ReconcileStateError):
        a.reconcile(first)
    answer = b.reconcile(first)
    with pytest.raises(ReconcileStateError):
        b.initiate()
    with pytest.raises(ReconcileStateError):
        b.reconcile_with_ids(answer)
    # Nothing changed by the refusals: the session completes.
    assert a.reconcile_with_ids(answer) == (None, [], [])
    with pytest.raises(ReconcileStateError):
        a.reconcile_with_ids(answer)
    assert b.reconcile(first) == answer  # a responder answers again


def honest_messages() -> list[bytes]:
    common = make_items(b"h", 400, 40)
    session = Session(
        common + make_items(b"h1", 30, 40), common + make_items(b"h2", 30, 40), MIN_FRAME_SIZE_LIMIT
    )
    return session.sent + session.answers


# The empty remainder a full frame can end with: after the id list at infinity, the infinity
# bound again with the fingerprint of the empty range (see native/src/reconcile/wire.rs).
EMPTY_REMAINDER = b"\x00\x00\x01" + bytes.fromhex("7f9c9e31ac8256ca2f258583df262dbc")
EMPTY_ID_LIST_AT_INFINITY = b"\x61\x00\x00\x02\x00"  # also an empty initiator's first message


def test_a_full_frame_may_end_with_the_empty_remainder() -> None:
    # 150 ids fill a 5000-byte frame to the byte the crate checks against, after the id list.
    theirs = make_items(b"full", 150, 1)
    initiator = Reconciler([], 5000)
    assert initiator.initiate() == EMPTY_ID_LIST_AT_INFINITY
    answer = Reconciler(theirs, 5000).reconcile(EMPTY_ID_LIST_AT_INFINITY)
    assert answer[:6] == b"\x61\x00\x00\x02\x81\x16"  # infinity, id list of 150
    assert answer[6 + 150 * 32 :] == EMPTY_REMAINDER
    next_message, have, need = initiator.reconcile_with_ids(answer)
    assert (next_message, have, sorted(need)) == (None, [], sorted(i for _, i in theirs))


HONEST = [
    *honest_messages(),
    Reconciler(make_items(b"full", 150, 1), 5000).reconcile(EMPTY_ID_LIST_AT_INFINITY),
]


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"\x00",
        b"\x71\x00",
        b"\x61\x85",  # cut inside a varint: the bare crate would read a "skip" range
        b"\x61\x06\x00\x00\x01\x00\x00",  # the second range does not go forward
        b"\x61\x00\x00\x00\x01\x00\x00",  # a range after the infinity bound
        b"\x61\x00\x00\x02\x90\x80\x80\x80\x00",  # 2^32 ids announced, none sent
        b"\x61\x00\x00\x03",  # unknown mode
        b"\x61\x00\x00\x01" + bytes(15),  # fingerprint cut short
        # after the infinity bound, only the empty remainder, once, after an id list
        EMPTY_ID_LIST_AT_INFINITY + EMPTY_REMAINDER[:-1] + b"\x00",
        EMPTY_ID_LIST_AT_INFINITY + EMPTY_REMAINDER * 2,
        EMPTY_ID_LIST_AT_INFINITY + EMPTY_REMAINDER + b"\x00",
        b"\x61\x00\x00\x00" + EMPTY_REMAINDER,
    ],
)
def test_malformed_messages_are_refused_and_change_nothing(message: bytes) -> None:
    ours, theirs = make_items(b"x", 100, 10), make_items(b"y", 100, 10)
    a, b = Reconciler(ours), Reconciler(theirs)
    with pytest.raises(MalformedReconcileMessage):
        b.reconcile(message)
    first = a.initiate()
    with pytest.raises(MalformedReconcileMessage):
        a.reconcile_with_ids(message)
    # Both still reconcile correctly.
    have: list[bytes] = []
    need: list[bytes] = []
    next_message: bytes | None = first
    while next_message is not None:
        next_message, h, n = a.reconcile_with_ids(b.reconcile(next_message))
        have += h
        need += n
    assert sorted(have) == sorted(i for _, i in ours)
    assert sorted(need) == sorted(i for _, i in theirs)


def test_another_protocol_version() -> None:
    # A responder answers a future version with its own; an initiator refuses it.
    assert Reconciler([]).reconcile(b"\x62\xff") == b"\x61"
    a = Reconciler([])
    a.initiate()
    with pytest.raises(MalformedReconcileMessage):
        a.reconcile_with_ids(b"\x62")


def check_hostile(message: bytes) -> None:
    """Feed `message` to both roles: a typed error or an answer, nothing else."""
    responder = Reconciler(make_items(b"z", 300, 30), MIN_FRAME_SIZE_LIMIT)
    initiator = Reconciler(make_items(b"z", 300, 30), MIN_FRAME_SIZE_LIMIT)
    initiator.initiate()
    try:
        answer = responder.reconcile(message)
        assert len(answer) <= MIN_FRAME_SIZE_LIMIT
    except MalformedReconcileMessage:
        pass
    try:
        next_message, have, need = initiator.reconcile_with_ids(message)
        assert next_message is None or len(next_message) <= MIN_FRAME_SIZE_LIMIT
        assert len(need) <= len(message) // 32
        assert len(have) <= 300
    except MalformedReconcileMessage:
        pass


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_random_bytes_never_crash(message: bytes) -> None:
    check_hostile(message)
    check_hostile(b"\x61" + message)


@settings(max_examples=300)
@given(st.sampled_from(HONEST), st.data())
def test_mutated_honest_messages_never_crash(message: bytes, data: st.DataObject) -> None:
    mutated = bytearray(message)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, max(len(mutated) - 1, 0)))
        operation = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if operation == "flip" and mutated:
            mutated[at] ^= data.draw(st.integers(1, 255))
        elif operation == "cut":
            del mutated[at:]
        elif operation == "insert":
            mutated[at:at] = data.draw(st.binary(min_size=1, max_size=40))
        elif mutated:
            del mutated[at]
    check_hostile(bytes(mutated))


def test_wrong_message_types_are_type_errors() -> None:
    with pytest.raises(TypeError):
        Reconciler([]).reconcile(bytearray(b"\x61"))  # type: ignore[arg-type]


def test_live_state_cannot_be_copied_or_pickled() -> None:
    reconciler = Reconciler([])
    for attempt in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError):
            attempt(reconciler)
