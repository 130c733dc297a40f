"""Messages inside Noise messages: a writer packs what it has queued into as few frames as fit
(`seal_plaintexts`), a reader (`Reassembler`) gives back exactly the messages, in order, and on
any plaintexts at all either yields messages within the limit or refuses with `MalformedFrame`,
never holding more than one message. Hypothesis runs it on random and mutated plaintexts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.errors import InvalidArgument, MalformedFrame
from aura_core.noise import MAX_PLAINTEXT_LEN
from aura_effects.channel import LAST, MORE, PACK, READY, Reassembler, seal_plaintexts

PIECE = 40
"""A small frame payload for the properties, so that packs fill and messages fragment often."""
MAX = 150

messages = st.lists(
    st.one_of(st.binary(max_size=PIECE), st.binary(min_size=PIECE - 8, max_size=MAX)),
    max_size=16,
)


def reassemble(plaintexts: list[bytes], max_message: int = MAX) -> list[bytes]:
    reader = Reassembler(max_message)
    out: list[bytes] = []
    for plain in plaintexts:
        out += reader.add(plain)
        assert reader.buffered <= max_message
    assert reader.buffered == 0
    return out


@settings(max_examples=300, deadline=None)
@given(messages)
def test_sealed_messages_come_back_whole_and_in_order(sent: list[bytes]) -> None:
    plaintexts = seal_plaintexts(sent, PIECE, MAX)
    assert all(len(p) <= PIECE + 1 for p in plaintexts)
    assert reassemble(plaintexts) == sent
    # Never more frames than one per message plus its fragments.
    unpacked = sum(max(1, -(-len(m) // PIECE)) for m in sent)
    assert len(plaintexts) <= unpacked


def test_small_messages_share_a_frame_and_large_ones_are_fragmented() -> None:
    small = [bytes([i]) * 6 for i in range(4)]  # 4 x (4 + 6) bytes: exactly one piece
    assert seal_plaintexts(small, PIECE, MAX) == [
        bytes([PACK]) + b"".join(len(m).to_bytes(4, "big") + m for m in small)
    ]
    assert seal_plaintexts(small[:1], PIECE, MAX) == [bytes([LAST]) + small[0]]
    assert seal_plaintexts([b""], PIECE, MAX) == [bytes([LAST])]
    large = bytes(range(100))
    assert seal_plaintexts([small[0], large, small[1], small[2]], PIECE, MAX) == [
        bytes([LAST]) + small[0],
        bytes([MORE]) + large[:40],
        bytes([MORE]) + large[40:80],
        bytes([LAST]) + large[80:],
        bytes([PACK]) + b"".join(len(m).to_bytes(4, "big") + m for m in small[1:3]),
    ]
    # A message that fits a frame alone but not a pack is one LAST.
    assert seal_plaintexts([bytes(PIECE)], PIECE, MAX) == [bytes([LAST]) + bytes(PIECE)]
    # At the protocol's sizes, 64 messages of 1 KiB take two Noise messages, not 64.
    piece = MAX_PLAINTEXT_LEN - 1
    assert len(seal_plaintexts([bytes(1024)] * 64, piece, 128 * 1024)) == 2


def test_sealing_refuses_an_oversized_message_before_producing_anything() -> None:
    with pytest.raises(InvalidArgument):
        seal_plaintexts([b"ok", bytes(MAX + 1)], PIECE, MAX)


def pack(*items: bytes) -> bytes:
    return bytes([PACK]) + b"".join(len(m).to_bytes(4, "big") + m for m in items)


@pytest.mark.parametrize(
    ("plaintexts", "reason"),
    [
        ([b""], "unexpected frame kind None"),
        ([bytes([READY])], "unexpected frame kind 1"),
        ([bytes([0x05]) + b"x"], "unexpected frame kind 5"),
        ([pack(b"one")], "a pack of fewer than two messages"),
        ([bytes([PACK])], "a pack of fewer than two messages"),
        ([pack(b"a", b"b")[:-1]], "a pack cut inside a message"),
        ([pack(b"a", b"b") + b"\x00\x00"], "a pack cut inside a length"),
        ([pack(b"a", bytes(MAX + 1))], f"a message over {MAX} bytes"),
        ([bytes([MORE]) + b"half", pack(b"a", b"b")], "a pack inside a fragmented message"),
        ([bytes([MORE]) + bytes(MAX), bytes([LAST]) + b"!"], f"a message over {MAX} bytes"),
    ],
)
def test_malformed_plaintexts_are_refused_and_the_reader_stays_dead(
    plaintexts: list[bytes], reason: str
) -> None:
    reader = Reassembler(MAX)
    with pytest.raises(MalformedFrame, match=reason):
        for plain in plaintexts:
            reader.add(plain)
    assert reader.buffered == 0
    with pytest.raises(MalformedFrame, match="already broke"):
        reader.add(bytes([LAST]) + b"fine")


kinds = st.sampled_from([MORE, LAST, PACK, PACK, READY, 0, 9])
plaintext = st.one_of(
    st.binary(max_size=PIECE + 1),
    st.tuples(kinds, st.binary(max_size=PIECE)).map(lambda kb: bytes([kb[0]]) + kb[1]),
    st.lists(st.binary(max_size=12), min_size=2, max_size=4).map(lambda ms: pack(*ms)),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(plaintext, max_size=12))
def test_any_plaintexts_give_messages_within_the_limit_or_a_typed_refusal(
    plaintexts: list[bytes],
) -> None:
    reader = Reassembler(MAX)
    try:
        for plain in plaintexts:
            for message in reader.add(plain):
                assert len(message) <= MAX
            assert reader.buffered <= MAX
    except MalformedFrame:
        assert reader.buffered == 0


@settings(max_examples=300, deadline=None)
@given(messages, st.data())
def test_mutated_sealed_plaintexts_decode_or_are_refused(
    sent: list[bytes], data: st.DataObject
) -> None:
    plaintexts = seal_plaintexts(sent, PIECE, MAX)
    if not plaintexts:
        return
    index = data.draw(st.integers(0, len(plaintexts) - 1))
    plain = bytearray(plaintexts[index])
    at = data.draw(st.integers(0, len(plain) - 1))
    if data.draw(st.booleans()):
        plain[at] ^= data.draw(st.integers(1, 255))
    else:
        del plain[at:]
    plaintexts[index] = bytes(plain)
    reader = Reassembler(MAX)
    try:
        for each in plaintexts:
            assert all(len(m) <= MAX for m in reader.add(each))
    except MalformedFrame:
        return
