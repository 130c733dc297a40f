"""Secure channels: `Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s`, sans-IO, over the native core.

The protocol is the Noise framework's IK pattern with a pre-shared key mixed in at the end of
message 2, as run by the `snow` crate. Nothing here touches a socket: each call takes bytes
and returns bytes, and the caller frames and carries them.

    initiator                                      responder
    NoiseInitiator(local, remote_static, psk,      NoiseResponder(local, prologue, seed)
                   prologue, seed)
    write_first(payload) ---- 96 B + payload ----> read_first(msg) -> (initiator_static, payload)
                                                   (look the caller up, choose the PSK)
    read_second(msg) <------- 48 B + payload ----- write_second(psk, payload)
    -> (payload, NoiseChannel)                     -> (msg, NoiseChannel)

* **Who is who.** The initiator knows the responder's static public key in advance; the
  responder learns the initiator's from message 1 and must check it (an allow-list of the
  devices it talks to) before answering. Both must hold the same 32-byte PSK: a wrong PSK
  fails on the initiator reading message 2 (`HandshakeFailed`), and the responder finds out
  because nothing the other side sends ever decrypts. Bind identities above this layer by
  signing `NoiseChannel.handshake_hash` with the device key.
* **Message 1 can be replayed.** Anyone who saw it can send it again and the responder reads
  the same payload (Noise §7.7); only the real initiator can read the answer. Put nothing in
  payload 1 that may not be acted on twice (carry a per-initiator increasing timestamp and
  refuse old ones, as WireGuard does); payload 1 also lacks forward secrecy.
* **Randomness.** Every random input is a 32-byte `seed` from `RandomEffects`: the static key
  is derived from one, and each handshake side draws its ephemeral key from another (use a
  fresh seed per handshake; the same seeds give the same bytes, handshake hash included).
* **Low-order keys are refused.** A responder static key of low order is a `MalformedKey` when
  the initiator is built; an ephemeral or static key of low order inside a message is a
  `HandshakeFailed` (every X25519 result is checked not to be all zero).
* **Single use, fail closed.** Each handshake object runs once, in order. A call out of order
  or a second time is a `NoiseStateError` and changes nothing; a bad argument (key length,
  payload too large) is a `MalformedKey` / `InvalidArgument` and changes nothing; a message
  that does not authenticate ends the handshake (`HandshakeFailed`). A channel whose `decrypt`
  fails is closed for good (`DecryptionFailed`, then `NoiseStateError` on any use).
* **Secrets** (private keys, cipher keys, RNG state) stay in Rust and are wiped when dropped.
  The PSK and seeds pass through Python as `bytes`, which cannot be wiped; snow 0.10 keeps its
  own copy of the PSK and the chaining key unwiped for the life of the handshake object.

* **Batches.** A transport sends many small messages: `NoiseChannel.seal` turns a list of
  them into the wire bytes of the frames that carry them (packed, fragmented, encrypted and
  length-prefixed, in one call) and `NoiseOpener` turns the bytes a socket returned back into
  messages, holding the incomplete frame and message in native memory; any refusal closes the
  channel. The format is the transport's (`aura_effects.channel`).

Objects here hold live cryptographic state: they cannot be copied or pickled (a copy of a
channel would reuse nonces), and each belongs to one task at a time (a concurrent call is a
`NoiseStateError`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, NoReturn, Self, TypeVar

from aura_core import _native
from aura_core._native import NoiseChannel as _NativeChannel
from aura_core.crypto._native_errors import translate
from aura_core.errors import InvalidArgument, MalformedKey

__all__ = [
    "PATTERN",
    "KEY_LEN",
    "PSK_LEN",
    "SEED_LEN",
    "HASH_LEN",
    "TAG_LEN",
    "MAX_MESSAGE_LEN",
    "MAX_PLAINTEXT_LEN",
    "FIRST_MESSAGE_OVERHEAD",
    "SECOND_MESSAGE_OVERHEAD",
    "MAX_FIRST_PAYLOAD",
    "MAX_SECOND_PAYLOAD",
    "StaticKeypair",
    "NoiseInitiator",
    "NoiseResponder",
    "NoiseChannel",
    "NoiseOpener",
    "MIN_FRAME",
]

PATTERN: Final = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
KEY_LEN: Final = 32
"""Bytes of an X25519 public key."""
PSK_LEN: Final = 32
SEED_LEN: Final = 32
HASH_LEN: Final = 32
"""Bytes of the handshake hash (BLAKE2s)."""
TAG_LEN: Final = 16
"""Bytes every encrypted payload grows by (the Poly1305 tag)."""
MAX_MESSAGE_LEN: Final = 65535
"""The largest Noise message, handshake or transport (the spec's limit)."""
MAX_PLAINTEXT_LEN: Final = MAX_MESSAGE_LEN - TAG_LEN
"""The largest plaintext `NoiseChannel.encrypt` takes (65519)."""
FIRST_MESSAGE_OVERHEAD: Final = 96
"""Message 1 is the payload plus 96 bytes (ephemeral key, encrypted static key, two tags)."""
SECOND_MESSAGE_OVERHEAD: Final = 48
"""Message 2 is the payload plus 48 bytes (ephemeral key, one tag)."""
MIN_FRAME: Final = TAG_LEN + 2
"""The smallest frame limit `NoiseChannel.seal` and `NoiseOpener` take (a tag, a kind byte and
one byte of a message)."""
MAX_FIRST_PAYLOAD: Final = MAX_MESSAGE_LEN - FIRST_MESSAGE_OVERHEAD
MAX_SECOND_PAYLOAD: Final = MAX_MESSAGE_LEN - SECOND_MESSAGE_OVERHEAD

T = TypeVar("T")


def _call(function: Callable[..., T], *args: object) -> T:
    try:
        return function(*args)
    except _native.NativeError as exc:
        raise translate(exc) from None


def _data(name: str, value: object) -> bytes:
    if type(value) is not bytes:
        raise TypeError(f"{name} must be bytes, got {type(value).__name__}")
    return value


def _key(name: str, value: object, length: int = KEY_LEN) -> bytes:
    if type(value) is not bytes or len(value) != length:
        raise MalformedKey(f"{name} must be {length} bytes")
    return value


def _seed(value: object) -> bytes:
    if type(value) is not bytes or len(value) != SEED_LEN:
        raise InvalidArgument(f"a seed is exactly {SEED_LEN} bytes")
    return value


class _Live:
    """Live native state: never copied, pickled or compared by value."""

    __slots__ = ()

    def __copy__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} holds live state and cannot be copied")

    def __deepcopy__(self, memo: object) -> NoReturn:
        raise TypeError(f"{type(self).__name__} holds live state and cannot be copied")

    def __reduce__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} holds live state and cannot be pickled")


class StaticKeypair(_Live):
    """A device's static X25519 key pair for Noise.

    The private key is derived from a 32-byte seed (a labelled ChaCha20 stream of it, so a
    seed reused by mistake for another kind of key still gives an unrelated key) and never
    leaves native memory; store the seed (`seed_bytes`) encrypted, like the signing key's.
    """

    __slots__ = ("_native", "_public")
    _native: _native.NoiseStaticKeypair
    _public: bytes

    def __init__(self) -> None:
        raise TypeError("build a StaticKeypair with StaticKeypair.from_seed(seed)")

    @classmethod
    def from_seed(cls, seed: bytes) -> Self:
        native = _call(_native.NoiseStaticKeypair.from_seed, _seed(seed))
        keypair = object.__new__(cls)
        object.__setattr__(keypair, "_native", native)
        object.__setattr__(keypair, "_public", native.public)
        return keypair

    @property
    def public(self) -> bytes:
        """The 32-byte X25519 public key."""
        return self._public

    def seed_bytes(self) -> bytes:
        """The secret seed, for encrypted storage only."""
        return self._native.seed()

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("StaticKeypair is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StaticKeypair) and self._public == other._public

    def __hash__(self) -> int:
        return hash(self._public)

    def __repr__(self) -> str:
        return f"StaticKeypair(<secret>, public={self._public.hex()})"


class NoiseChannel(_Live):
    """An established channel: one key and one message counter per direction.

    `decrypt` must see the peer's messages in the order `encrypt` produced them, each once (the
    counter is the nonce and is not sent, so this fits an ordered stream such as TCP). A
    message that fails to decrypt closes the channel for good: close the connection.

    **Rekeying** (Noise §4.2: the new key is derived from the old one, and the counter goes on)
    is per direction, so no round trip and no pause of the other direction is needed. The
    sender marks its last message under the old key (a flag in the caller's frame header or a
    control message), then calls `rekey_outgoing()`; the receiver calls `rekey_incoming()`
    right after decrypting that marked message. Since a direction's messages are decrypted in
    order, both ends switch at the same message. A rekey does not bring in new key material;
    to exclude a party who knew the old PSK, run a new handshake.
    """

    __slots__ = ("_native",)
    _native: _native.NoiseChannel

    def __init__(self) -> None:
        raise TypeError("a NoiseChannel comes from a completed handshake")

    @classmethod
    def _wrap(cls, native: _NativeChannel) -> Self:
        channel = object.__new__(cls)
        object.__setattr__(channel, "_native", native)
        return channel

    def encrypt(self, plaintext: bytes) -> bytes:
        """The next message to the peer: `plaintext` (at most `MAX_PLAINTEXT_LEN` bytes,
        else `InvalidArgument` and nothing changes) plus `TAG_LEN` bytes."""
        return _call(self._native.encrypt, _data("plaintext", plaintext))

    def decrypt(self, message: bytes) -> bytes:
        """The plaintext of the peer's next message. Any other bytes raise `DecryptionFailed`
        and close the channel."""
        return _call(self._native.decrypt, _data("message", message))

    def seal(self, messages: list[bytes], max_frame: int, max_message: int) -> bytes:
        """The wire bytes of the frames that carry `messages` in order, ready for one socket
        write: each frame a u32 big-endian length and one Noise message of at most
        `max_frame` bytes, whose plaintext is a kind byte and data. Runs of messages that fit
        together share a `PACK` (a lone one is a `LAST`); a message too large for a pack is
        fragmented into `MORE`s and a `LAST` (the format `NoiseOpener` reads). A frame limit
        outside `MIN_FRAME..MAX_MESSAGE_LEN` or a message over `max_message` is an
        `InvalidArgument`, raised before anything is encrypted."""
        return _call(self._native.seal, messages, max_frame, max_message)

    def rekey_outgoing(self) -> None:
        """Move the sending direction to the next key (see the class docs for the protocol)."""
        _call(self._native.rekey_outgoing)

    def rekey_incoming(self) -> None:
        """Move the receiving direction to the next key, after the peer's marked message."""
        _call(self._native.rekey_incoming)

    @property
    def handshake_hash(self) -> bytes:
        """32 bytes both ends share and no other handshake has: sign it to bind identities."""
        return self._native.handshake_hash

    @property
    def remote_static(self) -> bytes:
        """The peer's static public key, as authenticated by the handshake."""
        return self._native.remote_static

    @property
    def is_open(self) -> bool:
        """False once a message failed to decrypt (or a counter ran out)."""
        return self._native.is_open

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("NoiseChannel has no settable attributes")

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"NoiseChannel({state}, remote_static={self.remote_static.hex()})"


class NoiseOpener(_Live):
    """The reading side of one channel's stream after its handshake (sans-IO): `open` is fed
    whatever the socket returned and gives back the messages it completes, decrypting with
    the channel; `seal`'s format, one call per read rather than several per message.

    It holds at most one incomplete frame (under `4 + max_frame` bytes) and one incomplete
    message (at most `max_message`). A frame length of zero or over `max_frame`, an unknown
    kind, a pack cut short or of fewer than two messages, a pack inside a fragmented message
    and a message over `max_message` raise `MalformedFrame`; a frame that does not
    authenticate raises `DecryptionFailed`. After either the opener is dead and the channel
    closed (`is_open` is false): close the connection.
    """

    __slots__ = ("_native",)
    _native: _native.NoiseOpener

    def __init__(self, max_frame: int, max_message: int) -> None:
        native = _call(_native.NoiseOpener, max_frame, max_message)
        object.__setattr__(self, "_native", native)

    def open(self, channel: NoiseChannel, data: bytes) -> list[bytes]:
        """The messages `data`, the next bytes of the stream, completes (possibly none)."""
        return _call(self._native.open, channel._native, data)

    @property
    def buffered(self) -> int:
        """Bytes held of an incomplete frame and an incomplete message."""
        return self._native.buffered

    @property
    def at_boundary(self) -> bool:
        """Whether the bytes so far end exactly after a frame (a clean place to stop)."""
        return self._native.at_boundary

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("NoiseOpener has no settable attributes")

    def __repr__(self) -> str:
        return f"NoiseOpener(buffered={self.buffered})"


class NoiseInitiator(_Live):
    """The initiator's side of one handshake: `write_first`, then `read_second`, once each.

    `remote_static` is the responder's static public key (from its descriptor), `psk` the
    32-byte key the two share, `prologue` bytes both sides must agree on exactly (the protocol
    version, e.g. `b"aura/1"`; a mismatch fails the handshake), and `seed` feeds this
    handshake's ephemeral key.
    """

    __slots__ = ("_native",)
    _native: _native.NoiseInitiator

    def __init__(
        self,
        local: StaticKeypair,
        remote_static: bytes,
        psk: bytes,
        prologue: bytes,
        seed: bytes,
    ) -> None:
        if not isinstance(local, StaticKeypair):
            raise TypeError("local must be a StaticKeypair")
        native = _call(
            _native.NoiseInitiator,
            local._native,
            _key("the remote static key", remote_static),
            _key("a PSK", psk, PSK_LEN),
            _data("prologue", prologue),
            _seed(seed),
        )
        object.__setattr__(self, "_native", native)

    def write_first(self, payload: bytes = b"") -> bytes:
        """Message 1 (`FIRST_MESSAGE_OVERHEAD` + len(payload) bytes). The payload is encrypted
        to the responder but replayable: see the module docs."""
        return _call(self._native.write_first, _data("payload", payload))

    def read_second(self, message: bytes) -> tuple[bytes, NoiseChannel]:
        """The responder's payload and the channel. `HandshakeFailed` if message 2 does not
        authenticate (another PSK, not the expected responder, changed bytes)."""
        payload, channel = _call(self._native.read_second, _data("message", message))
        return payload, NoiseChannel._wrap(channel)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("NoiseInitiator has no settable attributes")

    def __repr__(self) -> str:
        return "NoiseInitiator(<handshake>)"


class NoiseResponder(_Live):
    """The responder's side of one handshake: `read_first`, then `write_second`, once each.

    Between the two the caller decides whether to answer at all: it looks up the initiator's
    static key (refusing unknown ones) and picks the PSK of their shared context from what
    payload 1 says.
    """

    __slots__ = ("_native",)
    _native: _native.NoiseResponder

    def __init__(self, local: StaticKeypair, prologue: bytes, seed: bytes) -> None:
        if not isinstance(local, StaticKeypair):
            raise TypeError("local must be a StaticKeypair")
        native = _call(
            _native.NoiseResponder, local._native, _data("prologue", prologue), _seed(seed)
        )
        object.__setattr__(self, "_native", native)

    def read_first(self, message: bytes) -> tuple[bytes, bytes]:
        """The initiator's static public key and payload 1. `HandshakeFailed` if message 1 is
        not for this responder's static key, uses another prologue, or was changed."""
        remote, payload = _call(self._native.read_first, _data("message", message))
        return remote, payload

    def write_second(self, psk: bytes, payload: bytes = b"") -> tuple[bytes, NoiseChannel]:
        """Message 2 under `psk` and the channel. Whether the initiator holds the same PSK
        shows only when its first transport message decrypts."""
        message, channel = _call(
            self._native.write_second, _key("a PSK", psk, PSK_LEN), _data("payload", payload)
        )
        return message, NoiseChannel._wrap(channel)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("NoiseResponder has no settable attributes")

    def __repr__(self) -> str:
        return "NoiseResponder(<handshake>)"
