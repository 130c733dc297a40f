"""FROST(Ed25519, SHA-512) threshold signatures (RFC 9591) over the native core.

A group of `max_signers` participants, numbered 1..65535, holds shares of one Ed25519 key; any
`min_signers` of them sign together, and the result is a plain 64-byte Ed25519 signature under
the group key. Keys come from a trusted dealer (`generate_with_dealer`, `split`) or from a
distributed key generation (`dkg_part1..3`); shares can be refreshed (dealer or DKG style) and
a lost share repaired by `min_signers` helpers.

Every function is pure: randomness is an explicit 32-byte `seed` the caller draws from
`RandomEffects`, so the same inputs give byte-identical outputs. A seed must never be reused
for `commit` with the same key package: equal nonces over two messages reveal the share.

Values are handles on Rust memory. Secret ones (`SecretShare`, `KeyPackage`, `SigningNonces`,
the DKG secrets and round-2 packages, `Delta`, `Sigma`) are zeroized when dropped, never show
their secret in `repr`, compare in constant time and leave Rust only through `to_bytes()`.
Every encoding starts with a byte naming its type; `from_bytes()` accepts only the canonical
encoding of its own type and raises `MalformedCryptoData` otherwise (also for another type's
bytes, which are never taken for its own). Secret DKG state is checked against its own
commitment on decoding. Failures are `CryptoError` subclasses; `InvalidShare.culprits` names
cheating participants, and a participant listed twice in any per-participant argument is an
`InvalidArgument` (never "the last entry wins").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Final, NoReturn, Self, TypeVar

from aura_core import _native
from aura_core.crypto._native_errors import translate
from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.errors import InvalidArgument, InvalidSignature, MalformedCryptoData

__all__ = [
    "SEED_LEN",
    "NONCE_RANDOMNESS_LEN",
    "SIGNATURE_LEN",
    "MAX_IDENTIFIER",
    # values
    "SecretShare",
    "RefreshingShare",
    "KeyPackage",
    "PublicKeyPackage",
    "SigningNonces",
    "SigningCommitments",
    "SigningPackage",
    "SignatureShare",
    "DkgRound1Secret",
    "DkgRound1Package",
    "DkgRound2Secret",
    "DkgRound2Package",
    "Delta",
    "Sigma",
    # keys
    "generate_with_dealer",
    "split",
    "split_with_coefficients",
    "key_package",
    "dkg_part1",
    "dkg_part2",
    "dkg_part3",
    # signing
    "commit",
    "commit_with_randomness",
    "signing_package",
    "sign",
    "binding_factors",
    "aggregate",
    "verify",
    # refresh and repair
    "compute_refreshing_shares",
    "refresh_share",
    "refresh_dkg_part1",
    "refresh_dkg_part2",
    "refresh_dkg_shares",
    "repair_share_part1",
    "repair_share_part2",
    "repair_share_part3",
]

SEED_LEN: Final = 32
NONCE_RANDOMNESS_LEN: Final = 32
SIGNATURE_LEN: Final = 64
MAX_IDENTIFIER: Final = 65535

T = TypeVar("T")


def _call(function: Callable[..., T], *args: object) -> T:
    try:
        return function(*args)
    except _native.NativeError as exc:
        raise translate(exc) from None


class _Handle:
    """A FROST value held in Rust memory. Built only by this module's functions or
    `from_bytes`; immutable."""

    __slots__ = ("_native",)
    _native: Any  # the `_native.Frost*` handle; subclasses narrow the type
    _secret: ClassVar[bool] = True

    def __init__(self) -> None:
        raise TypeError(
            f"{type(self).__name__} values come from the frost functions or from_bytes()"
        )

    @classmethod
    def _wrap(cls, native: object) -> Self:
        handle = object.__new__(cls)
        object.__setattr__(handle, "_native", native)
        return handle

    @staticmethod
    def _decode(parse: Callable[[bytes], T], data: bytes) -> T:
        if type(data) is not bytes:
            raise MalformedCryptoData(f"expected bytes, got {type(data).__name__}")
        return _call(parse, data)

    def to_bytes(self) -> bytes:
        """The canonical encoding (for secret values: for encrypted storage or a confidential
        channel only)."""
        data: bytes = _call(self._native.to_bytes)
        return data

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __copy__(self) -> Self:
        return self  # immutable; for nonces, a copy must not be a second use

    def __deepcopy__(self, memo: object) -> Self:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} is not picklable; use to_bytes()/from_bytes()")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Handle)
        return bool(self._native.equals(other._native))

    def __hash__(self) -> int:
        if self._secret:
            raise TypeError(f"{type(self).__name__} holds a secret and is not hashable")
        return hash((type(self).__name__, self.to_bytes()))


class SecretShare(_Handle):
    """A share dealt by a trusted dealer, with the dealer's verifiable-secret-sharing
    commitment; `key_package` checks it. Secret."""

    __slots__ = ()
    _native: _native.FrostSecretShare

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls._wrap(cls._decode(_native.FrostSecretShare.from_bytes, data))

    @property
    def identifier(self) -> int:
        return self._native.identifier

    @property
    def commitment(self) -> tuple[bytes, ...]:
        """The dealer's commitments to the polynomial coefficients (public)."""
        return tuple(self._native.commitment)

    def __repr__(self) -> str:
        return f"SecretShare(identifier={self.identifier}, <secret>)"


class RefreshingShare(_Handle):
    """A dealer's share of zero for one participant (dealer-style refresh). Secret. Its own
    type, and its own encoding tag, so that it is never mistaken for a dealt `SecretShare`
    (FROST gives both the same structure)."""

    __slots__ = ()
    _native: _native.FrostRefreshingShare

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls._wrap(cls._decode(_native.FrostRefreshingShare.from_bytes, data))

    @property
    def identifier(self) -> int:
        return self._native.identifier

    def __repr__(self) -> str:
        return f"RefreshingShare(identifier={self.identifier}, <secret>)"


class KeyPackage(_Handle):
    """A participant's long-lived signing key: its share, verifying share, the group key and
    the threshold. Secret."""

    __slots__ = ()
    _native: _native.FrostKeyPackage

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls._wrap(cls._decode(_native.FrostKeyPackage.from_bytes, data))

    @property
    def identifier(self) -> int:
        return self._native.identifier

    @property
    def min_signers(self) -> int:
        return self._native.min_signers

    @property
    def verifying_share(self) -> bytes:
        """The public key of this participant's share (32 bytes)."""
        return self._native.verifying_share

    @property
    def group_public_key(self) -> VerifyingKey:
        return VerifyingKey(self._native.group_public_key)

    def __repr__(self) -> str:
        return (
            f"KeyPackage(identifier={self.identifier}, min_signers={self.min_signers}, "
            f"group_public_key={self._native.group_public_key.hex()}, <secret>)"
        )


class PublicKeyPackage(_Handle):
    """The group's public data: the group key, every participant's verifying share and the
    threshold. Needed to aggregate (and to find cheaters)."""

    __slots__ = ()
    _native: _native.FrostPublicKeyPackage
    _secret = False

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls._wrap(cls._decode(_native.FrostPublicKeyPackage.from_bytes, data))

    @property
    def group_public_key(self) -> VerifyingKey:
        return VerifyingKey(self._native.group_public_key)

    @property
    def min_signers(self) -> int:
        return self._native.min_signers

    @property
    def max_signers(self) -> int:
        return len(self._native.verifying_shares)

    @property
    def verifying_shares(self) -> dict[int, bytes]:
        return dict(self._native.verifying_shares)

    @property
    def identifiers(self) -> tuple[int, ...]:
        return tuple(identifier for identifier, _ in self._native.verifying_shares)

    def __repr__(self) -> str:
        return (
            f"PublicKeyPackage({self.min_signers}-of-{self.max_signers}, "
            f"group_public_key={self._native.group_public_key.hex()})"
        )


class SigningNonces(_Handle):
    """Round-1 nonces for one signature. Secret and single-use: `sign` consumes them, and a
    second use raises `NonceReuse` (so does `to_bytes()` afterwards)."""

    __slots__ = ()
    _native: _native.FrostSigningNonces

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Restore unused nonces, e.g. after a restart between the two rounds. Restoring the
        same bytes twice defeats the single-use guard: delete stored nonces when loading them."""
        return cls._wrap(cls._decode(_native.FrostSigningNonces.from_bytes, data))

    @property
    def commitments(self) -> SigningCommitments:
        return SigningCommitments._wrap(self._native.commitments)

    @property
    def used(self) -> bool:
        return self._native.used

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"SigningNonces(<secret>, used={self.used})"


class SigningCommitments(_Handle):
    """A participant's round-1 commitments (hiding and binding), sent to the coordinator."""

    __slots__ = ()
    _native: _native.FrostSigningCommitments
    _secret = False

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls._wrap(cls._decode(_native.FrostSigningCommitments.from_bytes, data))

    @property
    def hiding(self) -> bytes:
        return self._native.hiding

    @property
    def binding(self) -> bytes:
        return self._native.binding

    def __repr__(self) -> str:
        return f"SigningCommitments(hiding={self.hiding.hex()}, binding={self.binding.hex()})"


class SigningPackage(_Handle):
    """What the coordinator sends every signer in round 2: all commitments and the message."""

    __slots__ = ()
    _native: _native.FrostSigningPackage
    _secret = False

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls._wrap(cls._decode(_native.FrostSigningPackage.from_bytes, data))

    @property
    def message(self) -> bytes:
        return self._native.message

    @property
    def commitments(self) -> dict[int, SigningCommitments]:
        return {i: SigningCommitments._wrap(c) for i, c in self._native.commitments}

    @property
    def identifiers(self) -> tuple[int, ...]:
        return tuple(identifier for identifier, _ in self._native.commitments)

    def __repr__(self) -> str:
        return f"SigningPackage(signers={list(self.identifiers)}, message={len(self.message)} B)"


class SignatureShare(_Handle):
    """A participant's round-2 share of the signature (a 32-byte scalar)."""

    __slots__ = ()
    _native: _native.FrostSignatureShare
    _secret = False

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls._wrap(cls._decode(_native.FrostSignatureShare.from_bytes, data))

    def __repr__(self) -> str:
        return f"SignatureShare({self.to_bytes().hex()})"


class DkgRound1Secret(_Handle):
    """A DKG participant's round-1 state (its polynomial). Secret; also used by DKG-style
    refresh."""

    __slots__ = ()
    _native: _native.FrostDkgRound1Secret

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls._wrap(cls._decode(_native.FrostDkgRound1Secret.from_bytes, data))

    @property
    def identifier(self) -> int:
        return self._native.identifier

    @property
    def min_signers(self) -> int:
        return self._native.min_signers

    @property
    def max_signers(self) -> int:
        return self._native.max_signers

    def __repr__(self) -> str:
        return (
            f"DkgRound1Secret(identifier={self.identifier}, "
            f"{self.min_signers}-of-{self.max_signers}, <secret>)"
        )


class DkgRound1Package(_Handle):
    """A DKG participant's broadcast: commitments to its polynomial and a proof of knowledge."""

    __slots__ = ()
    _native: _native.FrostDkgRound1Package
    _secret = False

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls._wrap(cls._decode(_native.FrostDkgRound1Package.from_bytes, data))

    @property
    def commitment(self) -> tuple[bytes, ...]:
        return tuple(self._native.commitment)

    def __repr__(self) -> str:
        return f"DkgRound1Package(commitment[0]={self.commitment[0].hex()})"


class DkgRound2Secret(_Handle):
    """A DKG participant's round-2 state. Secret."""

    __slots__ = ()
    _native: _native.FrostDkgRound2Secret

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls._wrap(cls._decode(_native.FrostDkgRound2Secret.from_bytes, data))

    @property
    def identifier(self) -> int:
        return self._native.identifier

    @property
    def min_signers(self) -> int:
        return self._native.min_signers

    @property
    def max_signers(self) -> int:
        return self._native.max_signers

    def __repr__(self) -> str:
        return (
            f"DkgRound2Secret(identifier={self.identifier}, "
            f"{self.min_signers}-of-{self.max_signers}, <secret>)"
        )


class DkgRound2Package(_Handle):
    """A secret share for one recipient; send it over an authenticated, confidential channel."""

    __slots__ = ()
    _native: _native.FrostDkgRound2Package

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls._wrap(cls._decode(_native.FrostDkgRound2Package.from_bytes, data))

    def __repr__(self) -> str:
        return "DkgRound2Package(<secret>)"


class Delta(_Handle):
    """Repair part 1 output for one helper; send it confidentially. Secret."""

    __slots__ = ()
    _native: _native.FrostDelta

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls._wrap(cls._decode(_native.FrostDelta.from_bytes, data))

    def __repr__(self) -> str:
        return "Delta(<secret>)"


class Sigma(_Handle):
    """Repair part 2 output for the participant being repaired; send it confidentially."""

    __slots__ = ()
    _native: _native.FrostSigma

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls._wrap(cls._decode(_native.FrostSigma.from_bytes, data))

    def __repr__(self) -> str:
        return "Sigma(<secret>)"


# --- argument checks -----------------------------------------------------------------------

H = TypeVar("H", bound=_Handle)


def _bytes(value: object, name: str, length: int | None = None) -> bytes:
    if type(value) is not bytes:
        raise InvalidArgument(f"{name} must be bytes, got {type(value).__name__}")
    if length is not None and len(value) != length:
        raise InvalidArgument(f"{name} must be exactly {length} bytes, got {len(value)}")
    return value


def _seed(seed: object, name: str = "seed") -> bytes:
    return _bytes(seed, name, SEED_LEN)


def _identifier(value: object, name: str = "identifier") -> int:
    if type(value) is not int or not 1 <= value <= MAX_IDENTIFIER:
        raise InvalidArgument(f"{name} must be an int in 1..{MAX_IDENTIFIER}, got {value!r}")
    return value


def _count(value: object, name: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_IDENTIFIER:
        raise InvalidArgument(f"{name} must be an int in 0..{MAX_IDENTIFIER}, got {value!r}")
    return value


def _identifiers(values: Iterable[int], name: str = "identifiers") -> list[int]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidArgument(f"{name} must be an iterable of ints")
    return [_identifier(v, name) for v in values]


def _handle(value: object, kind: type[H], name: str) -> H:
    if type(value) is not kind:
        raise InvalidArgument(f"{name} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def _handles(values: Iterable[H], kind: type[H], name: str) -> list[Any]:
    if not isinstance(values, Iterable):
        raise InvalidArgument(f"{name} must be an iterable of {kind.__name__}")
    return [_handle(v, kind, name)._native for v in values]


def _by_id(mapping: Mapping[int, H], kind: type[H], name: str) -> list[tuple[int, Any]]:
    """Every entry the mapping yields, in its order. A `Mapping` can yield a key twice (its
    `items()` is its own code); the native core refuses such a list with `InvalidArgument`
    instead of letting one entry replace the other."""
    if not isinstance(mapping, Mapping):
        raise InvalidArgument(f"{name} must be a mapping from identifier to {kind.__name__}")
    return [
        (_identifier(i, f"{name} key"), _handle(v, kind, name)._native) for i, v in mapping.items()
    ]


def _dealt(
    result: tuple[list[tuple[int, _native.FrostSecretShare]], _native.FrostPublicKeyPackage],
) -> tuple[dict[int, SecretShare], PublicKeyPackage]:
    shares, public = result
    return {i: SecretShare._wrap(s) for i, s in shares}, PublicKeyPackage._wrap(public)


def _optional_identifiers(identifiers: Iterable[int] | None) -> list[int] | None:
    return None if identifiers is None else _identifiers(identifiers)


# --- keys ----------------------------------------------------------------------------------


def generate_with_dealer(
    min_signers: int, max_signers: int, seed: bytes, identifiers: Iterable[int] | None = None
) -> tuple[dict[int, SecretShare], PublicKeyPackage]:
    """A trusted dealer's fresh `min_signers`-of-`max_signers` key: one `SecretShare` per
    participant (1..max_signers unless `identifiers` names exactly `max_signers` of them) and
    the group's `PublicKeyPackage`. Each participant turns its share into a `KeyPackage` with
    `key_package`, which checks it."""
    return _dealt(
        _call(
            _native.frost_generate_with_dealer,
            _count(min_signers, "min_signers"),
            _count(max_signers, "max_signers"),
            _seed(seed),
            _optional_identifiers(identifiers),
        )
    )


def split(
    secret: bytes,
    min_signers: int,
    max_signers: int,
    seed: bytes,
    identifiers: Iterable[int] | None = None,
) -> tuple[dict[int, SecretShare], PublicKeyPackage]:
    """Like `generate_with_dealer`, for an existing group secret (a canonical, non-zero
    32-byte little-endian scalar; `MalformedKey` otherwise)."""
    return _dealt(
        _call(
            _native.frost_split,
            _bytes(secret, "secret"),
            _count(min_signers, "min_signers"),
            _count(max_signers, "max_signers"),
            _seed(seed),
            _optional_identifiers(identifiers),
        )
    )


def split_with_coefficients(
    secret: bytes,
    coefficients: Iterable[bytes],
    max_signers: int,
    identifiers: Iterable[int] | None = None,
) -> tuple[dict[int, SecretShare], PublicKeyPackage]:
    """Split `secret` with the given polynomial coefficients (the threshold is their number plus
    one), as RFC 9591 Appendix C does. For test vectors and interoperability only: real
    coefficients must be random and secret, which is what `split` does."""
    if not isinstance(coefficients, Iterable):
        raise InvalidArgument("coefficients must be an iterable of 32-byte scalars")
    return _dealt(
        _call(
            _native.frost_split_with_coefficients,
            _bytes(secret, "secret"),
            [_bytes(c, "coefficient", 32) for c in coefficients],
            _count(max_signers, "max_signers"),
            _optional_identifiers(identifiers),
        )
    )


def key_package(share: SecretShare) -> KeyPackage:
    """Check a dealt share against the dealer's commitment (`InvalidShare` if it does not
    match) and derive the participant's `KeyPackage`."""
    share = _handle(share, SecretShare, "share")
    return KeyPackage._wrap(_call(_native.frost_key_package, share._native))


def dkg_part1(
    identifier: int, min_signers: int, max_signers: int, seed: bytes
) -> tuple[DkgRound1Secret, DkgRound1Package]:
    """DKG round 1 for participant `identifier`: keep the secret, broadcast the package."""
    secret, package = _call(
        _native.frost_dkg_part1,
        _identifier(identifier),
        _count(min_signers, "min_signers"),
        _count(max_signers, "max_signers"),
        _seed(seed),
    )
    return DkgRound1Secret._wrap(secret), DkgRound1Package._wrap(package)


def _round2(
    result: tuple[_native.FrostDkgRound2Secret, list[tuple[int, _native.FrostDkgRound2Package]]],
) -> tuple[DkgRound2Secret, dict[int, DkgRound2Package]]:
    secret, packages = result
    return DkgRound2Secret._wrap(secret), {i: DkgRound2Package._wrap(p) for i, p in packages}


def dkg_part2(
    secret: DkgRound1Secret, round1_packages: Mapping[int, DkgRound1Package]
) -> tuple[DkgRound2Secret, dict[int, DkgRound2Package]]:
    """DKG round 2, given every other participant's round-1 package: checks their proofs of
    knowledge (`InvalidShare` naming the senders of bad ones) and returns one confidential
    package per other participant."""
    return _round2(
        _call(
            _native.frost_dkg_part2,
            _handle(secret, DkgRound1Secret, "secret")._native,
            _by_id(round1_packages, DkgRound1Package, "round1_packages"),
        )
    )


def dkg_part3(
    secret: DkgRound2Secret,
    round1_packages: Mapping[int, DkgRound1Package],
    round2_packages: Mapping[int, DkgRound2Package],
) -> tuple[KeyPackage, PublicKeyPackage]:
    """DKG finish: checks the received shares (`InvalidShare` naming the senders of bad ones)
    and returns this participant's `KeyPackage` and the group's `PublicKeyPackage`."""
    key, public = _call(
        _native.frost_dkg_part3,
        _handle(secret, DkgRound2Secret, "secret")._native,
        _by_id(round1_packages, DkgRound1Package, "round1_packages"),
        _by_id(round2_packages, DkgRound2Package, "round2_packages"),
    )
    return KeyPackage._wrap(key), PublicKeyPackage._wrap(public)


# --- signing -------------------------------------------------------------------------------


def commit(key_package: KeyPackage, seed: bytes) -> tuple[SigningNonces, SigningCommitments]:
    """Round 1: single-use nonces (keep them) and their commitments (send them). Never reuse a
    seed with the same key package."""
    nonces, commitments = _call(
        _native.frost_commit, _handle(key_package, KeyPackage, "key_package")._native, _seed(seed)
    )
    return SigningNonces._wrap(nonces), SigningCommitments._wrap(commitments)


def commit_with_randomness(
    key_package: KeyPackage, hiding_randomness: bytes, binding_randomness: bytes
) -> tuple[SigningNonces, SigningCommitments]:
    """Round 1 with the nonce randomness given (RFC 9591 `nonce_generate`: each nonce is
    H3(randomness ‖ share)); reproduces the RFC test vectors. Same reuse rule as `commit`."""
    nonces, commitments = _call(
        _native.frost_commit_with_randomness,
        _handle(key_package, KeyPackage, "key_package")._native,
        _bytes(hiding_randomness, "hiding_randomness", NONCE_RANDOMNESS_LEN),
        _bytes(binding_randomness, "binding_randomness", NONCE_RANDOMNESS_LEN),
    )
    return SigningNonces._wrap(nonces), SigningCommitments._wrap(commitments)


def signing_package(
    commitments: Mapping[int, SigningCommitments], message: bytes
) -> SigningPackage:
    """The coordinator's package for round 2: the signers' commitments and the message."""
    return SigningPackage._wrap(
        _call(
            _native.frost_signing_package,
            _by_id(commitments, SigningCommitments, "commitments"),
            _bytes(message, "message"),
        )
    )


def sign(
    signing_package: SigningPackage, nonces: SigningNonces, key_package: KeyPackage
) -> SignatureShare:
    """Round 2: this participant's signature share. Consumes `nonces` (`NonceReuse` on a second
    use); a failure (fewer commitments than the threshold: `InsufficientSigners`; a package
    without this participant's commitment: `InvalidArgument`) leaves them unused."""
    return SignatureShare._wrap(
        _call(
            _native.frost_sign,
            _handle(signing_package, SigningPackage, "signing_package")._native,
            _handle(nonces, SigningNonces, "nonces")._native,
            _handle(key_package, KeyPackage, "key_package")._native,
        )
    )


def binding_factors(
    signing_package: SigningPackage, public_key_package: PublicKeyPackage
) -> dict[int, bytes]:
    """Every signer's binding factor (RFC 9591 `compute_binding_factors`) as a 32-byte scalar."""
    return dict(
        _call(
            _native.frost_binding_factors,
            _handle(signing_package, SigningPackage, "signing_package")._native,
            _handle(public_key_package, PublicKeyPackage, "public_key_package")._native,
        )
    )


def aggregate(
    signing_package: SigningPackage,
    shares: Mapping[int, SignatureShare],
    public_key_package: PublicKeyPackage,
) -> bytes:
    """The 64-byte Ed25519 signature from every signer's share.

    Raises `InvalidShare` naming every signer whose share is wrong, `InsufficientSigners` if
    shares are missing or fewer than the threshold, `InvalidArgument` for shares from outside
    the signing package or the group, or for a signer listed twice.
    """
    return _call(
        _native.frost_aggregate,
        _handle(signing_package, SigningPackage, "signing_package")._native,
        _by_id(shares, SignatureShare, "shares"),
        _handle(public_key_package, PublicKeyPackage, "public_key_package")._native,
    )


def verify(group_public_key: VerifyingKey, message: bytes, signature: bytes) -> None:
    """Return if `signature` is a valid Ed25519 signature of `message` under the group key;
    raise `InvalidSignature` otherwise. The same strict rules as single-signer keys."""
    key = group_public_key
    if type(key) is not VerifyingKey:
        raise InvalidArgument("group_public_key must be an ed25519.VerifyingKey")
    if type(signature) is not bytes or len(signature) != SIGNATURE_LEN:
        raise InvalidSignature(f"a signature is exactly {SIGNATURE_LEN} bytes")
    _call(_native.frost_verify, key.raw, _bytes(message, "message"), signature)


# --- refresh -------------------------------------------------------------------------------


def compute_refreshing_shares(
    public_key_package: PublicKeyPackage, identifiers: Iterable[int], seed: bytes
) -> tuple[dict[int, RefreshingShare], PublicKeyPackage]:
    """Dealer-style refresh: a share of zero for each listed participant (at least the
    threshold, all in the group) and the group's new `PublicKeyPackage` (same group key)."""
    shares, public = _call(
        _native.frost_compute_refreshing_shares,
        _handle(public_key_package, PublicKeyPackage, "public_key_package")._native,
        _identifiers(identifiers),
        _seed(seed),
    )
    return {i: RefreshingShare._wrap(s) for i, s in shares}, PublicKeyPackage._wrap(public)


def refresh_share(zero_share: RefreshingShare, key_package: KeyPackage) -> KeyPackage:
    """Apply the dealer's share of zero: the new `KeyPackage` signs under the same group key,
    and its share no longer combines with shares from before the refresh."""
    return KeyPackage._wrap(
        _call(
            _native.frost_refresh_share,
            _handle(zero_share, RefreshingShare, "zero_share")._native,
            _handle(key_package, KeyPackage, "key_package")._native,
        )
    )


def refresh_dkg_part1(
    identifier: int, min_signers: int, max_signers: int, seed: bytes
) -> tuple[DkgRound1Secret, DkgRound1Package]:
    """DKG-style refresh, round 1 (a DKG of a zero secret among the refreshing participants)."""
    secret, package = _call(
        _native.frost_refresh_dkg_part1,
        _identifier(identifier),
        _count(min_signers, "min_signers"),
        _count(max_signers, "max_signers"),
        _seed(seed),
    )
    return DkgRound1Secret._wrap(secret), DkgRound1Package._wrap(package)


def refresh_dkg_part2(
    secret: DkgRound1Secret, round1_packages: Mapping[int, DkgRound1Package]
) -> tuple[DkgRound2Secret, dict[int, DkgRound2Package]]:
    """DKG-style refresh, round 2: one confidential share of zero per other participant."""
    return _round2(
        _call(
            _native.frost_refresh_dkg_part2,
            _handle(secret, DkgRound1Secret, "secret")._native,
            _by_id(round1_packages, DkgRound1Package, "round1_packages"),
        )
    )


def refresh_dkg_shares(
    secret: DkgRound2Secret,
    round1_packages: Mapping[int, DkgRound1Package],
    round2_packages: Mapping[int, DkgRound2Package],
    public_key_package: PublicKeyPackage,
    key_package: KeyPackage,
) -> tuple[KeyPackage, PublicKeyPackage]:
    """DKG-style refresh, finish: checks the received shares of zero (`InvalidShare` naming
    bad senders) and returns the refreshed `KeyPackage` and the new `PublicKeyPackage`."""
    key, public = _call(
        _native.frost_refresh_dkg_shares,
        _handle(secret, DkgRound2Secret, "secret")._native,
        _by_id(round1_packages, DkgRound1Package, "round1_packages"),
        _by_id(round2_packages, DkgRound2Package, "round2_packages"),
        _handle(public_key_package, PublicKeyPackage, "public_key_package")._native,
        _handle(key_package, KeyPackage, "key_package")._native,
    )
    return KeyPackage._wrap(key), PublicKeyPackage._wrap(public)


# --- repair --------------------------------------------------------------------------------


def repair_share_part1(
    helpers: Iterable[int], helper_key_package: KeyPackage, seed: bytes, participant: int
) -> dict[int, Delta]:
    """Repair, at each helper: one `Delta` per helper (itself included) towards restoring
    `participant`'s share. `helpers` are at least the threshold and exclude `participant`."""
    deltas = _call(
        _native.frost_repair_share_part1,
        _identifiers(helpers, "helpers"),
        _handle(helper_key_package, KeyPackage, "helper_key_package")._native,
        _seed(seed),
        _identifier(participant, "participant"),
    )
    return {i: Delta._wrap(d) for i, d in deltas}


def repair_share_part2(deltas: Iterable[Delta]) -> Sigma:
    """Repair, at each helper: its `Sigma` from the deltas every helper sent it. The same delta
    twice (it would be counted twice) is an `InvalidArgument`."""
    return Sigma._wrap(_call(_native.frost_repair_share_part2, _handles(deltas, Delta, "deltas")))


def repair_share_part3(
    sigmas: Iterable[Sigma], identifier: int, public_key_package: PublicKeyPackage
) -> KeyPackage:
    """Repair, at the participant: its restored `KeyPackage`, checked against its verifying
    share in `public_key_package` (`InvalidShare` if a sigma was wrong, `InvalidArgument` if the
    same sigma is given twice)."""
    return KeyPackage._wrap(
        _call(
            _native.frost_repair_share_part3,
            _handles(sigmas, Sigma, "sigmas"),
            _identifier(identifier),
            _handle(public_key_package, PublicKeyPackage, "public_key_package")._native,
        )
    )
