"""Messages inside Noise messages, a batch per native call: `NoiseChannel.seal` packs what a
writer has queued into as few frames as fit and returns their wire bytes; `NoiseOpener.open`
turns whatever the socket returned back into exactly those messages, in order.

The Python reference below (`reference_plaintexts`, `ReferenceReader`) is the format as it was
specified and first written in Python; Hypothesis checks the native calls against it (the
plaintexts of the sealed frames, the messages or the refusal of the opener) on random,
mutated and arbitrarily cut input. Every refusal is a typed error after which the opener is
dead and the channel closed."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.errors import (
    DecryptionFailed,
    InvalidArgument,
    MalformedFrame,
    NoiseStateError,
)
from aura_core.noise import (
    MAX_MESSAGE_LEN,
    MAX_PLAINTEXT_LEN,
    MIN_FRAME,
    TAG_LEN,
    NoiseChannel,
    NoiseInitiator,
    NoiseOpener,
    NoiseResponder,
    StaticKeypair,
)
from aura_effects.channel import LAST, MORE, PACK, READY

PIECE = 40
"""A small frame payload for the properties, so that packs fill and messages fragment often."""
FRAME = PIECE + 1 + TAG_LEN
"""The frame limit that gives `PIECE` bytes of message per frame."""
MAX = 150
ALICE, BOB = StaticKeypair.from_seed(b"\x01" * 32), StaticKeypair.from_seed(b"\x02" * 32)

messages = st.lists(
    st.one_of(st.binary(max_size=PIECE), st.binary(min_size=PIECE - 8, max_size=MAX)),
    max_size=16,
)


def channels() -> tuple[NoiseChannel, NoiseChannel]:
    """A writer and a reader channel; the same every call (fixed seeds), so a second call
    gives a twin reader that decrypts the same frames."""
    initiator = NoiseInitiator(ALICE, BOB.public, b"\x03" * 32, b"aura/1", b"\x04" * 32)
    responder = NoiseResponder(BOB, b"aura/1", b"\x05" * 32)
    responder.read_first(initiator.write_first())
    second, reader = responder.write_second(b"\x03" * 32)
    return initiator.read_second(second)[1], reader


# ------------------------------------------------------------------------ the reference


def reference_plaintexts(sent: list[bytes], piece: int) -> list[bytes]:
    """The frame plaintexts that carry `sent`: runs that fit together in one `PACK` (a lone
    message as `LAST`), a message too large for a pack fragmented into `MORE`s and a `LAST`."""
    plaintexts: list[bytes] = []
    group: list[bytes] = []
    size = 0

    def flush() -> None:
        if len(group) == 1:
            plaintexts.append(bytes([LAST]) + group[0])
        elif group:
            plaintexts.append(pack(*group))
        group.clear()

    for message in sent:
        packed = 4 + len(message)
        if size + packed <= piece:
            group.append(message)
            size += packed
            continue
        flush()
        if packed <= piece:
            group.append(message)
            size = packed
            continue
        size, start = 0, 0
        while len(message) - start > piece:
            plaintexts.append(bytes([MORE]) + message[start : start + piece])
            start += piece
        plaintexts.append(bytes([LAST]) + message[start:])
    flush()
    return plaintexts


class ReferenceReader:
    """The messages of frame plaintexts: raises `MalformedFrame` exactly where the opener
    must."""

    def __init__(self, max_message: int) -> None:
        self.max = max_message
        self.partial: list[bytes] | None = None

    def add(self, plain: bytes) -> list[bytes]:
        if not plain:
            raise MalformedFrame("an empty frame (no kind)")
        kind = plain[0]
        if kind == PACK:
            if self.partial is not None:
                raise MalformedFrame("a pack inside a fragmented message")
            return self.unpack(plain)
        if kind not in (MORE, LAST):
            raise MalformedFrame(f"unexpected frame kind {kind}")
        held = self.partial or []
        if sum(map(len, held)) + len(plain) - 1 > self.max:
            raise MalformedFrame(f"a message over {self.max} bytes")
        if kind == MORE:
            self.partial = [*held, plain[1:]]
            return []
        self.partial = None
        return [b"".join([*held, plain[1:]])]

    def unpack(self, plain: bytes) -> list[bytes]:
        out: list[bytes] = []
        at = 1
        while at < len(plain):
            if len(plain) - at < 4:
                raise MalformedFrame("a pack cut inside a length")
            length = int.from_bytes(plain[at : at + 4], "big")
            at += 4
            if length > self.max:
                raise MalformedFrame(f"a message over {self.max} bytes")
            if len(plain) - at < length:
                raise MalformedFrame("a pack cut inside a message")
            out.append(plain[at : at + length])
            at += length
        if len(out) < 2:
            raise MalformedFrame("a pack of fewer than two messages")
        return out


def pack(*items: bytes) -> bytes:
    return bytes([PACK]) + b"".join(len(m).to_bytes(4, "big") + m for m in items)


def frames_of(wire: bytes) -> list[bytes]:
    """The Noise messages of well-formed wire bytes."""
    frames, at = [], 0
    while at < len(wire):
        length = int.from_bytes(wire[at : at + 4], "big")
        frames.append(wire[at + 4 : at + 4 + length])
        at += 4 + length
    assert at == len(wire)
    return frames


def framed(writer: NoiseChannel, plaintexts: list[bytes]) -> bytes:
    """Wire bytes of frames carrying `plaintexts` as they are (well-formed or not)."""
    sealed = [writer.encrypt(p) for p in plaintexts]
    return b"".join(len(s).to_bytes(4, "big") + s for s in sealed)


def cut(wire: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({0, len(wire), *(p % (len(wire) + 1) for p in points)})
    return [wire[a:b] for a, b in itertools.pairwise(edges)]


def assert_dead(opener: NoiseOpener, reader: NoiseChannel) -> None:
    assert opener.buffered == 0
    assert not reader.is_open
    with pytest.raises(MalformedFrame, match="already broke"):
        opener.open(reader, b"")


# ------------------------------------------------------------------------ round trips


@settings(max_examples=300, deadline=None)
@given(messages, st.lists(st.integers(min_value=0), max_size=8))
def test_sealed_messages_come_back_whole_and_in_order_however_the_stream_is_cut(
    sent: list[bytes], points: list[int]
) -> None:
    writer, reader = channels()
    wire = writer.seal(sent, FRAME, MAX)
    # The frames' plaintexts are the reference's, each within the frame limit.
    twin = channels()[1]
    frames = frames_of(wire)
    assert all(len(f) <= FRAME for f in frames)
    assert [twin.decrypt(f) for f in frames] == reference_plaintexts(sent, PIECE)
    opener = NoiseOpener(FRAME, MAX)
    received: list[bytes] = []
    for chunk in cut(wire, points):
        received += opener.open(reader, chunk)
        assert opener.buffered < 4 + FRAME + MAX
    assert received == sent
    assert opener.at_boundary
    assert opener.buffered == 0


def test_small_messages_share_a_frame_and_large_ones_are_fragmented() -> None:
    def plaintexts(sent: list[bytes], frame: int = FRAME) -> list[bytes]:
        writer, reader = channels()
        return [reader.decrypt(f) for f in frames_of(writer.seal(sent, frame, MAX))]

    small = [bytes([i]) * 6 for i in range(4)]  # 4 x (4 + 6) bytes: exactly one piece
    assert plaintexts(small) == [pack(*small)]
    assert plaintexts(small[:1]) == [bytes([LAST]) + small[0]]
    assert plaintexts([b""]) == [bytes([LAST])]
    assert plaintexts([]) == []
    large = bytes(range(100))
    assert plaintexts([small[0], large, small[1], small[2]]) == [
        bytes([LAST]) + small[0],
        bytes([MORE]) + large[:40],
        bytes([MORE]) + large[40:80],
        bytes([LAST]) + large[80:],
        pack(*small[1:3]),
    ]
    # A message that fits a frame alone but not a pack is one LAST.
    assert plaintexts([bytes(PIECE)]) == [bytes([LAST]) + bytes(PIECE)]
    # At the protocol's sizes, 64 messages of 1 KiB take two Noise messages, not 64.
    writer, _ = channels()
    assert len(frames_of(writer.seal([bytes(1024)] * 64, MAX_MESSAGE_LEN, 128 * 1024))) == 2
    # The largest frame: a full plaintext.
    writer, _ = channels()
    big = writer.seal([bytes(MAX_PLAINTEXT_LEN - 1)], MAX_MESSAGE_LEN, 128 * 1024)
    assert [len(f) for f in frames_of(big)] == [MAX_MESSAGE_LEN]


def test_sealing_refuses_bad_arguments_before_encrypting_anything() -> None:
    writer, reader = channels()
    with pytest.raises(InvalidArgument):
        writer.seal([b"ok", bytes(MAX + 1)], FRAME, MAX)
    for frame in (MIN_FRAME - 1, MAX_MESSAGE_LEN + 1):
        with pytest.raises(InvalidArgument):
            writer.seal([b"ok"], frame, MAX)
    with pytest.raises(TypeError):
        writer.seal([b"ok", "text"], FRAME, MAX)  # type: ignore[list-item]
    # Nothing was encrypted: the next frame is still the reader's first.
    assert NoiseOpener(FRAME, MAX).open(reader, writer.seal([b"next"], FRAME, MAX)) == [b"next"]
    for limits in ((MIN_FRAME - 1, MAX), (MAX_MESSAGE_LEN + 1, MAX)):
        with pytest.raises(InvalidArgument):
            NoiseOpener(*limits)


def test_a_closed_channel_seals_nothing() -> None:
    _, reader = channels()
    with pytest.raises(DecryptionFailed):
        reader.decrypt(b"\x00" * 40)
    with pytest.raises(NoiseStateError):
        reader.seal([b"x"], FRAME, MAX)


# ------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    ("plaintexts", "reason"),
    [
        ([b""], "an empty frame"),
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
def test_malformed_plaintexts_are_refused_and_the_channel_dies(
    plaintexts: list[bytes], reason: str
) -> None:
    writer, reader = channels()
    opener = NoiseOpener(4096, MAX)
    with pytest.raises(MalformedFrame, match=reason):
        opener.open(reader, framed(writer, [bytes([LAST]) + b"fine", *plaintexts]))
    assert_dead(opener, reader)


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        (b"\x00\x00\x00\x00", "frame length 0 outside"),
        ((FRAME + 1).to_bytes(4, "big"), f"frame length {FRAME + 1} outside"),
        (b"\xff\xff\xff\xff" + bytes(100), "frame length 4294967295 outside"),
    ],
)
def test_a_bad_frame_length_is_refused_as_soon_as_its_header_is_read(
    wire: bytes, reason: str
) -> None:
    _, reader = channels()
    opener = NoiseOpener(FRAME, MAX)
    assert opener.open(reader, wire[:3]) == []
    assert not opener.at_boundary
    with pytest.raises(MalformedFrame, match=reason):
        opener.open(reader, wire[3:])
    assert_dead(opener, reader)


def test_a_frame_that_does_not_authenticate_closes_the_channel() -> None:
    writer, reader = channels()
    wire = bytearray(writer.seal([b"one", b"two"], FRAME, MAX))
    wire[-1] ^= 1  # the tag
    opener = NoiseOpener(FRAME, MAX)
    with pytest.raises(DecryptionFailed):
        opener.open(reader, bytes(wire))
    assert_dead(opener, reader)
    # Shorter than a tag, and a replayed frame (the reader's counter moved on).
    for replay in (False, True):
        writer, reader = channels()
        opener = NoiseOpener(FRAME, MAX)
        first = writer.seal([b"one"], FRAME, MAX)
        if replay:
            assert opener.open(reader, first) == [b"one"]
        with pytest.raises(DecryptionFailed):
            opener.open(reader, first if replay else b"\x00\x00\x00\x03abc")
        assert_dead(opener, reader)


def test_a_truncated_frame_is_visible_as_not_at_a_boundary() -> None:
    writer, reader = channels()
    wire = writer.seal([b"one", b"two"], FRAME, MAX)
    opener = NoiseOpener(FRAME, MAX)
    assert opener.open(reader, wire[:-1]) == []
    assert not opener.at_boundary
    assert opener.buffered == len(wire) - 1
    assert reader.is_open
    assert opener.open(reader, wire[-1:]) == [b"one", b"two"]
    assert opener.at_boundary


kinds = st.sampled_from([MORE, LAST, PACK, PACK, READY, 0, 9])
plaintext = st.one_of(
    st.binary(max_size=PIECE + 1),
    st.tuples(kinds, st.binary(max_size=PIECE)).map(lambda kb: bytes([kb[0]]) + kb[1]),
    st.lists(st.binary(max_size=12), min_size=2, max_size=4).map(lambda ms: pack(*ms)),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(plaintext, max_size=12), st.lists(st.integers(min_value=0), max_size=6))
def test_any_plaintexts_give_the_reference_messages_or_its_refusal(
    plaintexts: list[bytes], points: list[int]
) -> None:
    writer, reader = channels()
    expected: list[bytes] = []
    refusal = None
    model = ReferenceReader(MAX)
    try:
        for plain in plaintexts:
            expected += model.add(plain)
    except MalformedFrame as exc:
        refusal = exc.message
    opener = NoiseOpener(4096, MAX)  # the plaintexts here may exceed PIECE
    received: list[bytes] = []
    wire = framed(writer, plaintexts)
    try:
        for chunk in cut(wire, points):
            received += opener.open(reader, chunk)
            assert opener.buffered < 4 + 4096 + MAX
    except MalformedFrame as exc:
        assert refusal is not None
        assert exc.message == refusal
        assert received == expected[: len(received)]
        assert_dead(opener, reader)
        return
    assert refusal is None
    assert received == expected


@settings(max_examples=300, deadline=None)
@given(messages, st.data())
def test_mutated_wire_bytes_decode_or_are_refused_with_a_typed_error(
    sent: list[bytes], data: st.DataObject
) -> None:
    writer, reader = channels()
    wire = bytearray(writer.seal(sent, FRAME, MAX))
    if not wire:
        return
    at = data.draw(st.integers(0, len(wire) - 1))
    if data.draw(st.booleans()):
        wire[at] ^= data.draw(st.integers(1, 255))
    else:
        del wire[at:]
    opener = NoiseOpener(FRAME, MAX)
    try:
        received = opener.open(reader, bytes(wire))
    except (MalformedFrame, DecryptionFailed):
        assert_dead(opener, reader)
        return
    assert received == sent[: len(received)]
    assert all(len(m) <= MAX for m in received)
