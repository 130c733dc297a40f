"""The sync wire: records, the fact stream, and the decoders under random and mutated input.

The decoders a sync message meets are the record codec (each payload type) and `FactStream`
(the fact stream inside `Fetch` and `Facts`), then the reconciler's strict message check: for
any bytes at all each either decodes or raises its typed error, and never anything else.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import canonical_encode, decode, encode, record_tag, strict_decode
from aura_core.errors import (
    EncodingError,
    InvalidArgument,
    MalformedReconcileMessage,
    MalformedSyncMessage,
)
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, ContextId, FactId
from aura_core.reconcile import Reconciler
from aura_core.time import OrderTime, PhysicalTime
from aura_journal.fact import Fact, FactBody, JournalNamespace, sign_fact
from aura_protocol.sync.items import order_key
from aura_protocol.sync.wire import (
    MAX_FACT_BYTES,
    MAX_MESSAGE,
    MAX_WANT,
    FactFeed,
    FactStream,
    RefusalReason,
    SyncFacts,
    SyncFetch,
    SyncRanges,
    SyncReconcile,
    SyncRefusal,
)
from aura_sim.examples.naive_push import Note
from tests.core.cbor_mutations import donor_index, mutations

CONTEXT = ContextId(b"\xc1" * 16)
NS = JournalNamespace.of(CONTEXT)
KEY = SigningKey(b"\x42" * 32)
RECORDS = (SyncReconcile, SyncRanges, SyncFetch, SyncFacts, SyncRefusal)


def note(seq: int, text: str = "") -> Fact:
    type_id, version = record_tag(Note)
    body = FactBody(
        NS,
        type_id,
        version,
        encode(Note(AuthorityId(b"\x01" * 16), seq, text)),
        OrderTime(seq.to_bytes(8, "big") + bytes(24)),
        PhysicalTime(0),
    )
    return sign_fact(body, KEY)


def ids(n: int) -> tuple[FactId, ...]:
    return tuple(sorted(FactId(Hash32(bytes([i]) * 32)) for i in range(n)))


SAMPLES = [
    SyncReconcile(NS, CONTEXT, Reconciler([(1, b"\x02" * 32)]).initiate()),
    SyncRanges(b"\x61"),
    SyncFetch(ids(3), b"\x00\x00\x00\x01x"),
    SyncFacts(b"abc", True),
    SyncRefusal(RefusalReason.LIMIT),
]


def test_records_round_trip_and_refuse_what_breaks_their_bounds() -> None:
    for sample in SAMPLES:
        assert decode(encode(sample), type(sample)) == sample
    with pytest.raises(InvalidArgument):
        SyncRanges(b"\x00" * (MAX_MESSAGE + 1))
    with pytest.raises(InvalidArgument):
        SyncFetch(ids(2)[::-1], b"")  # ids out of order
    with pytest.raises(InvalidArgument):
        SyncFetch((ids(1)[0], ids(1)[0]), b"")  # an id twice
    many = tuple(sorted(FactId(Hash32(i.to_bytes(32, "big"))) for i in range(MAX_WANT + 1)))
    with pytest.raises(InvalidArgument):
        SyncFetch(many, b"")


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 300), min_size=0, max_size=12),
    budgets=st.lists(st.integers(1, 700), min_size=1, max_size=20),
)
def test_the_stream_carries_any_facts_through_any_cut(sizes: list[int], budgets: list[int]) -> None:
    facts = [note(seq, "x" * size) for seq, size in enumerate(sizes)]
    feed, stream = FactFeed(), FactStream()
    assert feed.add(reversed(facts)) == len(facts)
    assert feed.add(facts[:2]) == 0  # queued once per session
    received: list[bytes] = []
    turn = 0
    while feed:
        budget = budgets[turn % len(budgets)]
        piece = feed.take(budget)
        assert 0 < len(piece) <= budget
        received += stream.feed(piece)
        turn += 1
    assert not stream.partial
    # In their total order (order token, then id), whatever order they were queued in.
    assert received == [f.encoded for f in sorted(facts, key=Fact.sort_key)]


def test_the_stream_refuses_impossible_lengths_before_buffering() -> None:
    for length in (0, MAX_FACT_BYTES + 1, 2**32 - 1):
        stream = FactStream()
        with pytest.raises(MalformedSyncMessage):
            stream.feed(length.to_bytes(4, "big") + b"\x00" * 10)
        assert not stream.partial
    stream = FactStream()
    assert stream.feed(b"\x00\x00") == [] and stream.partial  # a length cut in two
    assert stream.feed(b"\x00\x02ab\x00") == [b"ab"] and stream.partial


def test_order_keys_are_the_order_clock_counter() -> None:
    assert [order_key(note(seq)) for seq in (0, 1, 2**40)] == [0, 1, 2**40]
    top = note(0)
    body = FactBody(
        NS, top.body.type_id, 1, top.body.payload, OrderTime(b"\xff" * 32), PhysicalTime(0)
    )
    assert order_key(sign_fact(body, KEY)) == 2**64 - 2  # the reconciler's largest timestamp


# ----------------------------------------------------------------------------- fuzzing

PAYLOAD_ERRORS = (EncodingError,)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200), kind=st.sampled_from(RECORDS))
def test_random_bytes_decode_or_raise_encoding_errors(data: bytes, kind: type) -> None:
    try:
        value = decode(data, kind)
    except PAYLOAD_ERRORS:
        return
    assert encode(value) == data  # what decodes is canonical


TREES = [strict_decode(encode(sample)) for sample in SAMPLES]
DONORS = donor_index(TREES)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_messages_decode_or_raise_encoding_errors(data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(SAMPLES) - 1))
    kind, encoded = type(SAMPLES[index]), encode(SAMPLES[index])
    how = data.draw(st.sampled_from(["structure", "flip", "cut", "insert"]))
    if how == "structure":  # one edit of the decoded value, re-encoded canonically
        near = data.draw(st.sampled_from(list(mutations(TREES[index], DONORS))))
        mutated = canonical_encode(near)
    else:
        at = data.draw(st.integers(0, len(encoded) - 1))
        byte = data.draw(st.integers(0, 255))
        mutated = {
            "flip": encoded[:at] + bytes([encoded[at] ^ (byte or 1)]) + encoded[at + 1 :],
            "cut": encoded[:at],
            "insert": encoded[:at] + bytes([byte]) + encoded[at:],
        }[how]
    try:
        value = decode(mutated, kind)
    except PAYLOAD_ERRORS:
        return
    assert encode(value) == mutated


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.binary(max_size=64), max_size=8))
def test_random_streams_yield_their_frames_or_raise_malformed(pieces: list[bytes]) -> None:
    stream, found = FactStream(), []
    for piece in pieces:
        try:
            found += stream.feed(piece)
        except MalformedSyncMessage:
            return
    # What came out is exactly the framed prefix of what went in; the rest is one partial fact.
    framed = b"".join(len(f).to_bytes(4, "big") + f for f in found)
    whole = b"".join(pieces)
    assert whole.startswith(framed)
    assert stream.partial == (len(whole) > len(framed))


@settings(max_examples=300, deadline=None)
@given(message=st.binary(max_size=120))
def test_random_ranges_are_answered_or_refused_as_malformed(message: bytes) -> None:
    items = [(i, bytes([i]) * 32) for i in range(40)]
    responder = Reconciler(items)
    try:
        answer = responder.reconcile(message)
    except MalformedReconcileMessage:
        return
    assert isinstance(answer, bytes)
    initiator = Reconciler(items)
    initiator.initiate()
    try:
        initiator.reconcile_with_ids(message)
    except MalformedReconcileMessage:
        return
