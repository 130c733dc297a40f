"""Noise channels through the Python API: handshake, transport, determinism, every refusal.

The native core's own tests (`native/src/noise/tests.rs`) add the cacophony known-answer
vector and interoperation with snow's own primitives, rekey included.
"""

from __future__ import annotations

import copy
import pickle
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.errors import (
    DecryptionFailed,
    HandshakeFailed,
    InvalidArgument,
    MalformedKey,
    NoiseStateError,
)
from aura_core.noise import (
    FIRST_MESSAGE_OVERHEAD,
    HASH_LEN,
    MAX_FIRST_PAYLOAD,
    MAX_MESSAGE_LEN,
    MAX_PLAINTEXT_LEN,
    MAX_SECOND_PAYLOAD,
    SECOND_MESSAGE_OVERHEAD,
    TAG_LEN,
    NoiseChannel,
    NoiseInitiator,
    NoiseResponder,
    StaticKeypair,
)
from aura_sim.testing.strategies import entropy

PROLOGUE = b"aura/1"
PSK = bytes(range(32))
ALICE = StaticKeypair.from_seed(b"\x01" * 32)
BOB = StaticKeypair.from_seed(b"\x02" * 32)
CAROL = StaticKeypair.from_seed(b"\x03" * 32)

# Low-order X25519 points (and non-canonical encodings of them): every DH with one is zero.
LOW_ORDER = [
    bytes(32),
    b"\x01" + bytes(31),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes.fromhex("ec" + "ff" * 30 + "7f"),
    bytes.fromhex("ed" + "ff" * 30 + "7f"),
    bytes.fromhex("ee" + "ff" * 30 + "7f"),
]


def seed(n: int) -> bytes:
    return bytes([n]) * 32


def initiator(psk: bytes = PSK, remote: bytes | None = None, n: int = 10) -> NoiseInitiator:
    return NoiseInitiator(ALICE, BOB.public if remote is None else remote, psk, PROLOGUE, seed(n))


def responder(n: int = 20) -> NoiseResponder:
    return NoiseResponder(BOB, PROLOGUE, seed(n))


def handshake(
    first_payload: bytes = b"hello",
    second_payload: bytes = b"welcome",
    seeds: tuple[int, int] = (10, 20),
) -> tuple[NoiseChannel, NoiseChannel, bytes, bytes]:
    """(initiator channel, responder channel, message 1, message 2)."""
    i, r = initiator(n=seeds[0]), responder(seeds[1])
    first = i.write_first(first_payload)
    remote, payload = r.read_first(first)
    assert (remote, payload) == (ALICE.public, first_payload)
    second, r_channel = r.write_second(PSK, second_payload)
    payload, i_channel = i.read_second(second)
    assert payload == second_payload
    return i_channel, r_channel, first, second


def test_handshake_and_transport_both_ways() -> None:
    a, b, first, second = handshake()
    assert len(first) == FIRST_MESSAGE_OVERHEAD + 5
    assert len(second) == SECOND_MESSAGE_OVERHEAD + 7
    assert a.handshake_hash == b.handshake_hash
    assert len(a.handshake_hash) == HASH_LEN
    assert (a.remote_static, b.remote_static) == (BOB.public, ALICE.public)
    for n in range(10):
        message = bytes([n]) * (n * 100)
        sent = a.encrypt(message)
        assert len(sent) == len(message) + TAG_LEN
        assert message not in sent or not message
        assert b.decrypt(sent) == message
        assert a.decrypt(b.encrypt(message)) == message
    assert a.is_open and b.is_open


def test_same_seeds_give_the_same_bytes() -> None:
    a1, _, first1, second1 = handshake()
    a2, _, first2, second2 = handshake()
    assert (first1, second1) == (first2, second2)
    assert a1.handshake_hash == a2.handshake_hash
    assert a1.encrypt(b"x") == a2.encrypt(b"x")
    a3, _, first3, second3 = handshake(seeds=(11, 20))
    assert first3 != first1 and second3 != second1
    assert a3.handshake_hash != a1.handshake_hash


@settings(max_examples=30)
@given(entropy, entropy)
def test_static_keys_are_a_function_of_their_seed(one: bytes, other: bytes) -> None:
    key = StaticKeypair.from_seed(one)
    assert key == StaticKeypair.from_seed(one)
    assert key.seed_bytes() == one
    assert (key.public == StaticKeypair.from_seed(other).public) == (one == other)
    assert one.hex() not in repr(key)


def wrong_psk_handshake() -> tuple[NoiseInitiator, bytes, NoiseChannel]:
    """An initiator with one PSK, and message 2 and the channel of a responder with another."""
    i, r = initiator(psk=b"\x01" * 32), responder()
    r.read_first(i.write_first(b""))
    second, r_channel = r.write_second(b"\x02" * 32, b"secret")
    return i, second, r_channel


def test_wrong_psk_fails_on_the_initiator_and_the_responder_cannot_complete() -> None:
    i, second, _ = wrong_psk_handshake()
    with pytest.raises(HandshakeFailed):
        i.read_second(second)
    with pytest.raises(NoiseStateError):  # the failed handshake is over
        i.read_second(second)
    # The initiator has no channel, and the responder's never decrypts what someone without
    # its PSK can send: message 2's own payload played back, or any other bytes.
    for attempt in (second[SECOND_MESSAGE_OVERHEAD - TAG_LEN :], bytes(TAG_LEN), bytes(64)):
        _, _, r_channel = wrong_psk_handshake()
        with pytest.raises(DecryptionFailed):
            r_channel.decrypt(attempt)
        assert not r_channel.is_open


def test_unknown_remote_static_fails_on_the_responder() -> None:
    i, r = initiator(remote=CAROL.public), responder()
    with pytest.raises(HandshakeFailed):
        r.read_first(i.write_first(b"who am I talking to"))
    with pytest.raises(NoiseStateError):
        r.write_second(PSK, b"")


def test_a_prologue_mismatch_fails() -> None:
    i = NoiseInitiator(ALICE, BOB.public, PSK, b"aura/1", seed(1))
    r = NoiseResponder(BOB, b"aura/2", seed(2))
    with pytest.raises(HandshakeFailed):
        r.read_first(i.write_first(b""))


@settings(max_examples=60)
@given(st.data())
def test_tampered_or_cut_handshake_messages_fail(data: st.DataObject) -> None:
    _, _, first, second = handshake()
    which = data.draw(st.sampled_from(["first", "second"]))
    message = bytearray(first if which == "first" else second)
    if data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(message) - 1))
        message[index] ^= data.draw(st.integers(1, 255))
    else:
        del message[data.draw(st.integers(0, len(message) - 1)) :]
    if which == "first":
        with pytest.raises(HandshakeFailed):
            responder().read_first(bytes(message))
    else:
        i = initiator()
        i.write_first(b"hello")
        with pytest.raises(HandshakeFailed):
            i.read_second(bytes(message))


def test_replayed_handshake_messages() -> None:
    i, r = initiator(), responder()
    first = i.write_first(b"hello")
    r.read_first(first)
    with pytest.raises(NoiseStateError):  # replayed to the same responder
        r.read_first(first)
    second, r_channel = r.write_second(PSK, b"")
    _, i_channel = i.read_second(second)
    with pytest.raises(NoiseStateError):  # replayed to the finished initiator
        i.read_second(second)
    # Replayed to a fresh responder, message 1 reads again (IK allows it; see the module docs),
    # but the channel that makes shares nothing with the real initiator's.
    again = responder(n=99)
    assert again.read_first(first) == (ALICE.public, b"hello")
    _, replayed_channel = again.write_second(PSK, b"")
    with pytest.raises(DecryptionFailed):
        replayed_channel.decrypt(i_channel.encrypt(b"for the real responder"))
    assert r_channel.is_open


@pytest.mark.parametrize("point", LOW_ORDER)
def test_low_order_keys_are_refused(point: bytes) -> None:
    with pytest.raises(MalformedKey):
        initiator(remote=point)
    # Inside message 1 (the initiator's ephemeral key) and message 2 (the responder's).
    first = bytearray(initiator().write_first(b""))
    first[:32] = point
    with pytest.raises(HandshakeFailed, match="low-order"):
        responder().read_first(bytes(first))
    r = responder()
    r.read_first(initiator().write_first(b""))
    second = bytearray(r.write_second(PSK, b"")[0])
    second[:32] = point
    i = initiator()
    i.write_first(b"")
    with pytest.raises(HandshakeFailed, match="low-order"):
        i.read_second(bytes(second))


@pytest.mark.parametrize("length", [0, 1, 31, 33, 56, 57, 64])
def test_bad_lengths_are_typed_errors_and_change_nothing(length: int) -> None:
    bad = b"\x05" * length
    with pytest.raises(MalformedKey):
        NoiseInitiator(ALICE, bad, PSK, PROLOGUE, seed(1))
    with pytest.raises(MalformedKey):
        NoiseInitiator(ALICE, BOB.public, bad, PROLOGUE, seed(1))
    with pytest.raises(InvalidArgument):
        NoiseInitiator(ALICE, BOB.public, PSK, PROLOGUE, bad)
    with pytest.raises(InvalidArgument):
        NoiseResponder(BOB, PROLOGUE, bad)
    with pytest.raises(InvalidArgument):
        StaticKeypair.from_seed(bad)
    r = responder()
    r.read_first(initiator().write_first(b""))
    with pytest.raises(MalformedKey):
        r.write_second(bad, b"")
    r.write_second(PSK, b"")  # unchanged: the right PSK still answers


def test_wrong_types_are_refused() -> None:
    with pytest.raises(MalformedKey):
        NoiseInitiator(ALICE, bytearray(BOB.public), PSK, PROLOGUE, seed(1))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        NoiseInitiator(BOB.public, BOB.public, PSK, PROLOGUE, seed(1))  # type: ignore[arg-type]
    i = initiator()
    with pytest.raises(TypeError):
        i.write_first("hello")  # type: ignore[arg-type]
    i.write_first(b"hello")
    with pytest.raises(TypeError):
        StaticKeypair()
    with pytest.raises(TypeError):
        NoiseChannel()


def test_calls_out_of_order_are_refused_and_change_nothing() -> None:
    i, r = initiator(), responder()
    with pytest.raises(NoiseStateError):
        i.read_second(bytes(SECOND_MESSAGE_OVERHEAD))
    with pytest.raises(NoiseStateError):
        r.write_second(PSK, b"")
    first = i.write_first(b"a")
    with pytest.raises(NoiseStateError):
        i.write_first(b"a")
    r.read_first(first)
    second, b = r.write_second(PSK, b"b")
    with pytest.raises(NoiseStateError):
        r.write_second(PSK, b"b")
    _, a = i.read_second(second)
    assert b.decrypt(a.encrypt(b"still fine")) == b"still fine"


def test_oversize_payloads_are_refused_and_change_nothing() -> None:
    i, r = initiator(), responder()
    with pytest.raises(InvalidArgument):
        i.write_first(bytes(MAX_FIRST_PAYLOAD + 1))
    first = i.write_first(bytes(MAX_FIRST_PAYLOAD))
    assert len(first) == MAX_MESSAGE_LEN
    r.read_first(first)
    with pytest.raises(InvalidArgument):
        r.write_second(PSK, bytes(MAX_SECOND_PAYLOAD + 1))
    second, b = r.write_second(PSK, bytes(MAX_SECOND_PAYLOAD))
    assert len(second) == MAX_MESSAGE_LEN
    _, a = i.read_second(second)
    with pytest.raises(InvalidArgument):
        a.encrypt(bytes(MAX_PLAINTEXT_LEN + 1))
    # The refused message used no nonce: the next one is the peer's next.
    assert b.decrypt(a.encrypt(b"\x01" * MAX_PLAINTEXT_LEN)) == b"\x01" * MAX_PLAINTEXT_LEN


@settings(max_examples=40)
@given(st.lists(st.integers(0, MAX_PLAINTEXT_LEN), min_size=1, max_size=6))
def test_round_trips_over_payload_sizes(sizes: list[int]) -> None:
    a, b, _, _ = handshake()
    for size in sizes:
        message = bytes(i % 251 for i in range(size))
        sent = a.encrypt(message)
        assert len(sent) == size + TAG_LEN <= MAX_MESSAGE_LEN
        assert b.decrypt(sent) == message
        assert a.decrypt(b.encrypt(message)) == message


@settings(max_examples=20)
@given(st.integers(0, MAX_FIRST_PAYLOAD), st.integers(0, MAX_SECOND_PAYLOAD))
def test_handshake_payloads_of_any_size(first_size: int, second_size: int) -> None:
    a, b, first, second = handshake(b"\x07" * first_size, b"\x08" * second_size)
    assert len(first) == FIRST_MESSAGE_OVERHEAD + first_size
    assert len(second) == SECOND_MESSAGE_OVERHEAD + second_size
    assert b.decrypt(a.encrypt(b"after")) == b"after"


def test_transport_messages_must_come_in_order_and_once() -> None:
    a, b, _, _ = handshake()
    one, two = a.encrypt(b"one"), a.encrypt(b"two")
    with pytest.raises(DecryptionFailed):  # reordered
        b.decrypt(two)
    assert not b.is_open
    with pytest.raises(NoiseStateError):  # closed for good, even for the right message
        b.decrypt(one)
    with pytest.raises(NoiseStateError):
        b.encrypt(b"x")
    with pytest.raises(NoiseStateError):
        b.rekey_incoming()
    assert a.is_open  # the sender is unaffected
    assert "closed" in repr(b)

    a, b, _, _ = handshake()
    one = a.encrypt(b"one")
    b.decrypt(one)
    with pytest.raises(DecryptionFailed):  # replayed
        b.decrypt(one)


@settings(max_examples=60)
@given(st.data())
def test_changed_transport_messages_fail(data: st.DataObject) -> None:
    a, b, _, _ = handshake()
    message = bytearray(a.encrypt(data.draw(st.binary(max_size=200))))
    change = data.draw(st.sampled_from(["flip", "cut", "extend", "reflect"]))
    if change == "flip":
        message[data.draw(st.integers(0, len(message) - 1))] ^= data.draw(st.integers(1, 255))
    elif change == "cut":
        del message[data.draw(st.integers(0, len(message) - 1)) :]
    elif change == "extend":
        message += data.draw(st.binary(min_size=1, max_size=20))
    else:  # sent back to its own sender
        with pytest.raises(DecryptionFailed):
            a.decrypt(bytes(message))
        return
    with pytest.raises(DecryptionFailed):
        b.decrypt(bytes(message))


def test_rekey_per_direction() -> None:
    a, b, _, _ = handshake()
    a.rekey_outgoing()
    b.rekey_incoming()
    assert b.decrypt(a.encrypt(b"new key")) == b"new key"
    assert a.decrypt(b.encrypt(b"old key this way")) == b"old key this way"
    b.rekey_outgoing()
    a.rekey_incoming()
    assert a.decrypt(b.encrypt(b"new key too")) == b"new key too"

    a, b, _, _ = handshake()
    a.rekey_outgoing()  # the receiver did not follow
    with pytest.raises(DecryptionFailed):
        b.decrypt(a.encrypt(b"lost"))


def test_live_state_cannot_be_copied_or_pickled() -> None:
    a, _, _, _ = handshake()
    for value in (a, initiator(), responder(), ALICE):
        with pytest.raises(TypeError):
            copy.copy(value)
        with pytest.raises(TypeError):
            copy.deepcopy(value)
        with pytest.raises(TypeError):
            pickle.dumps(value)
    with pytest.raises(AttributeError):
        a.handshake_hash = b""  # type: ignore[misc]


def test_a_channel_may_move_between_threads() -> None:
    a, b, _, _ = handshake()
    results: list[bytes] = []
    worker = threading.Thread(target=lambda: results.append(a.encrypt(b"from a thread")))
    worker.start()
    worker.join()
    assert b.decrypt(results[0]) == b"from a thread"
