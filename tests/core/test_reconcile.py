"""Set reconciliation through the Python API: exact differences, frame limits, hostile input.

The native core's own tests (`native/src/reconcile/tests.rs`) add the strict message check
case by case, including the truncation the bare crate would accept.
"""

from __future__ import annotations

import copy
import hashlib
import pickle

import pytest
from hypothesis import given, settings
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


class Session:
    """Run a whole reconciliation, keeping every message for inspection."""

    def __init__(self, ours: list[Item], theirs: list[Item], limit: int) -> None:
        self.initiator = Reconciler(ours, limit)
        self.responder = Reconciler(theirs, limit)
        self.sent: list[bytes] = []
        self.answers: list[bytes] = []
        self.have: list[bytes] = []
        self.need: list[bytes] = []
        message: bytes | None = self.initiator.initiate()
        while message is not None:
            self.sent.append(message)
            answer = self.responder.reconcile(message)
            self.answers.append(answer)
            message, have, need = self.initiator.reconcile_with_ids(answer)
            self.have += have
            self.need += need
            assert len(self.sent) < 500


@settings(max_examples=40)
@given(
    shared=st.integers(0, 3000),
    only_ours=st.integers(0, 300),
    only_theirs=st.integers(0, 300),
    spread=st.sampled_from([1, 50, 10**6, MAX_TIMESTAMP]),
    limit=st.sampled_from([0, MIN_FRAME_SIZE_LIMIT, 5000, FRAME_SIZE_LIMIT]),
    tag=st.binary(max_size=4),
)
def test_reconciles_to_exactly_the_symmetric_difference(
    shared: int, only_ours: int, only_theirs: int, spread: int, limit: int, tag: bytes
) -> None:
    common = make_items(b"common" + tag, shared, spread)
    mine = make_items(b"mine" + tag, only_ours, spread)
    yours = make_items(b"yours" + tag, only_theirs, spread)
    session = Session(common + mine, yours + common, limit)
    # Each difference is reported exactly once, on the right side.
    assert sorted(session.have) == sorted(item_id for _, item_id in mine)
    assert sorted(session.need) == sorted(item_id for _, item_id in yours)
    if limit:
        assert max(map(len, session.sent + session.answers)) <= limit


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


HONEST = honest_messages()


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
