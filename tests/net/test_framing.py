"""The frame decoder: exact on every way of cutting a valid stream, and on any bytes at all it
either yields frames within the limit or refuses with a typed error, never buffering more than
one frame. Hypothesis runs it on random and mutated streams (bounded: it is in the default run)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.errors import InvalidArgument, MalformedFrame, VersionMismatch
from aura_effects.framing import (
    HEADER_LEN,
    MAX_FRAME,
    FrameDecoder,
    encode_frame,
    prologue,
)

LIMIT = 300
"""A small limit for the properties, so that bodies at and over it are common."""

bodies = st.lists(st.binary(min_size=1, max_size=LIMIT), max_size=12)


def cuts(data: bytes) -> st.SearchStrategy[list[bytes]]:
    """`data` cut into consecutive chunks at random points (empty chunks included)."""
    points = st.lists(st.integers(0, len(data)), max_size=20).map(sorted)
    return points.map(
        lambda ps: [data[a:b] for a, b in zip([0, *ps], [*ps, len(data)], strict=True)]
    )


def feed_all(decoder: FrameDecoder, chunks: list[bytes]) -> list[bytes]:
    frames: list[bytes] = []
    for chunk in chunks:
        frames += decoder.feed(chunk)
        assert decoder.buffered < HEADER_LEN + LIMIT
    return frames


@settings(max_examples=300, deadline=None)
@given(data=st.data(), messages=bodies)
def test_every_cut_of_a_valid_stream_decodes_to_its_frames(
    data: st.DataObject, messages: list[bytes]
) -> None:
    stream = prologue() + b"".join(encode_frame(m, LIMIT) for m in messages)
    decoder = FrameDecoder(limit=LIMIT)
    assert feed_all(decoder, data.draw(cuts(stream))) == messages
    assert decoder.at_boundary and decoder.buffered == 0
    decoder.eof()  # a clean end


def mutated(stream: bytes) -> st.SearchStrategy[bytes]:
    """`stream` with a byte changed, bytes cut out, or junk spliced in."""
    if not stream:
        return st.binary(max_size=64)
    at = st.integers(0, len(stream) - 1)
    return st.one_of(
        st.tuples(at, st.integers(0, 255)).map(
            lambda p: stream[: p[0]] + bytes([p[1]]) + stream[p[0] + 1 :]
        ),
        st.tuples(at, at).map(lambda p: stream[: min(p)] + stream[max(p) :]),
        st.tuples(at, st.binary(min_size=1, max_size=16)).map(
            lambda p: stream[: p[0]] + p[1] + stream[p[0] :]
        ),
    )


@st.composite
def hostile(draw: st.DrawFn) -> bytes:
    messages = draw(bodies)
    valid = prologue() + b"".join(encode_frame(m, LIMIT) for m in messages)
    return draw(st.one_of(st.binary(max_size=2000), mutated(valid), mutated(valid[:40])))


@settings(max_examples=1500, deadline=None)
@given(data=st.data(), stream=hostile(), end=st.booleans())
def test_any_bytes_give_frames_within_the_limit_or_a_typed_refusal(
    data: st.DataObject, stream: bytes, end: bool
) -> None:
    decoder = FrameDecoder(limit=LIMIT)
    try:
        frames = feed_all(decoder, data.draw(cuts(stream)))
        if end:
            decoder.eof()
    except (MalformedFrame, VersionMismatch):
        assert decoder.buffered == 0  # a failed decoder holds nothing
        with pytest.raises(MalformedFrame):
            decoder.feed(b"more")  # and stays failed
        return
    assert all(1 <= len(f) <= LIMIT for f in frames)
    if frames:
        assert stream.startswith(prologue())  # nothing is framed before the version checks


def test_a_length_over_the_limit_is_refused_from_the_header_alone() -> None:
    for claimed in (LIMIT + 1, MAX_FRAME + 1, 2**32 - 1, 0):
        decoder = FrameDecoder(limit=LIMIT)
        with pytest.raises(MalformedFrame, match=f"frame length {claimed} outside 1..{LIMIT}"):
            decoder.feed(prologue() + claimed.to_bytes(HEADER_LEN, "big"))
        assert decoder.buffered == 0


def test_a_frame_at_the_limit_is_accepted() -> None:
    decoder = FrameDecoder(limit=LIMIT)
    assert decoder.feed(prologue() + encode_frame(b"x" * LIMIT, LIMIT)) == [b"x" * LIMIT]


def test_the_peer_version_is_checked_before_anything_else() -> None:
    with pytest.raises(VersionMismatch, match="peer speaks aura/2, this device aura/1"):
        FrameDecoder().feed(b"\x06aura/2" + encode_frame(b"hi"))
    with pytest.raises(VersionMismatch, match="peer speaks 0x00ff, this device aura/1"):
        FrameDecoder().feed(b"\x02\x00\xff")
    with pytest.raises(VersionMismatch, match=r"not an aura peer \(first byte 0x47\)"):
        FrameDecoder().feed(b"GET / HTTP/1.1\r\n")
    decoder = FrameDecoder()
    assert decoder.feed(b"\x06aur") == []  # a version cut short waits for the rest
    with pytest.raises(VersionMismatch, match="inside the version prologue"):
        decoder.eof()


def test_a_stream_cut_inside_a_frame_is_truncated() -> None:
    for cut in (1, HEADER_LEN, HEADER_LEN + 5):
        decoder = FrameDecoder()
        assert decoder.feed(prologue() + encode_frame(b"0123456789")[:cut]) == []
        with pytest.raises(MalformedFrame, match="truncated"):
            decoder.eof()
    FrameDecoder().eof()  # a peer that closes at once has broken nothing


def test_encode_frame_refuses_what_no_decoder_accepts() -> None:
    for body in (b"", b"x" * (LIMIT + 1)):
        with pytest.raises(InvalidArgument):
            encode_frame(body, LIMIT)
    with pytest.raises(InvalidArgument):
        FrameDecoder(limit=MAX_FRAME + 1)
    with pytest.raises(InvalidArgument):
        prologue(b"x" * 17)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), messages=bodies, taken=st.integers(0, 12))
def test_the_rest_after_any_frame_is_the_stream_from_there_on(
    data: st.DataObject, messages: list[bytes], taken: int
) -> None:
    """After the handshake a reader hands the stream over: `rest()` gives back exactly the
    bytes after the frames it returned, however the stream was cut, and then holds nothing."""
    frames = [encode_frame(m, LIMIT) for m in messages]
    taken = min(taken, len(frames))
    head = prologue() + b"".join(frames[:taken])
    tail = b"".join(frames[taken:])
    cut = data.draw(st.integers(0, len(tail)))
    decoder = FrameDecoder(limit=LIMIT)
    got = feed_all(decoder, [*data.draw(cuts(head)), tail[:cut]])
    # Frames completed past `taken` are handed back by the caller (FrameReader.rest re-frames
    # them); the decoder's own rest is what follows the last one it returned.
    done = b"".join(encode_frame(m, LIMIT) for m in got[taken:])
    assert got[:taken] == messages[:taken]
    assert done + decoder.rest() == tail[:cut]
    assert decoder.buffered == 0 and decoder.at_boundary


def test_no_rest_before_the_prologue_is_read() -> None:
    decoder = FrameDecoder()
    decoder.feed(prologue()[:2])
    with pytest.raises(InvalidArgument):
        decoder.rest()
