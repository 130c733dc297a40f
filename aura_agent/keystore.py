"""The device's keys at rest: one file, mode 0600, sealed under a passphrase when one is given.

What the file holds (`DeviceSecrets`): the device's ids (its `DeviceId` and the authority it
answers as on the network), its Ed25519 signing-key seed, its X25519 static-key seed (Noise),
its FROST key packages by (account, epoch), the pending key packages of key ceremonies not
final yet (by ceremony: inert until the journal shows the ceremony committed with that key,
deleted once it shows it aborted), the enrollments it is in the middle of (their invitations,
which hold a bootstrap secret: a joiner's until it learns the outcome, an inviter's until the
joiner acknowledged its admission), and the shared secrets of the contexts it is a member of.
Nothing else in the data directory is secret.

The file is one canonical CBOR record, `KeyFile(format, content)`, where `content` is either

* `SealedKeys(kdf, nonce, ciphertext)`: the encoded secrets under XChaCha20-Poly1305
  (`nacl.secret.Aead`), keyed by Argon2id (`nacl.pwhash.argon2id.kdf`) of the passphrase with
  the stored salt and limits; the associated data binds the format and every KDF parameter,
  so changing any of them fails authentication like a changed ciphertext; or
* `PlainKeys(secrets, check)`: the secrets unsealed, with a BLAKE3 check of their encoding so
  a changed byte is noticed. Protected only by the file's mode and the directory's: the
  choice for a device with no one to type a passphrase (a server started by systemd), and
  the default. `docs/agent.md` says what each protects against.

Writes are atomic (a temporary file in the same directory, written, fsynced, `os.replace`d
over the old one, the directory fsynced): after a crash the file is the old one or the new
one. A file that does not open (truncated, changed, unknown format, wrong passphrase) is a
typed error and is never written over.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Protocol

import anyio.to_thread
import attrs
import nacl.exceptions
import nacl.pwhash.argon2id
import nacl.secret

from aura_agent.datadir import check_private
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SigningKey
from aura_core.effects import RandomEffects
from aura_core.encoding import decode, encode, record
from aura_core.errors import (
    AuraError,
    EncodingError,
    InvalidArgument,
    KeyFileCorrupt,
    PassphraseRequired,
    StorageError,
    WrongPassphrase,
)
from aura_core.hashing import tagged_hash
from aura_core.ids import AuthorityId, CeremonyId, ContextId, DeviceId, device_address
from aura_core.noise import StaticKeypair
from aura_protocol.ceremonies import PendingKey

__all__ = [
    "KEY_FILE_FORMAT",
    "MAX_KEY_FILE",
    "KdfLimits",
    "MODERATE",
    "TESTING",
    "MAX_LIMITS",
    "Identity",
    "AccountShare",
    "PendingShare",
    "HeldSecret",
    "HeldEnrollment",
    "DeviceSecrets",
    "Argon2idParams",
    "SealedKeys",
    "PlainKeys",
    "KeyFile",
    "KeyHolder",
    "KeyStore",
    "MemoryKeys",
    "remove_stale_temporaries",
]

KEY_FILE_FORMAT: Final = 1
"""The key file's format version (bound into the seal's associated data)."""
MAX_KEY_FILE: Final = 1 << 20
"""A key file over 1 MiB is not one the agent wrote; it is refused unread."""
SEED_LEN: Final = 32
_AAD: Final = b"aura.agent.keys"
_CHECK_TAG: Final = "aura.agent.keys.check"
_TEMP_PREFIX: Final = ".keys.tmp-"


@attrs.frozen
class KdfLimits:
    """Argon2id work factors: `opslimit` passes over `memlimit` bytes of memory."""

    opslimit: int
    memlimit: int


MODERATE: Final = KdfLimits(
    nacl.pwhash.argon2id.OPSLIMIT_MODERATE, nacl.pwhash.argon2id.MEMLIMIT_MODERATE
)
"""Production: 3 passes over 256 MiB (about 0.5 s on the development machine). Never
libsodium's default (SENSITIVE, 1 GiB), which a small device cannot always allocate."""
TESTING: Final = KdfLimits(nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN)
"""Tests only: libsodium's minimum (1 pass over 8 KiB), so parallel tests do not exhaust
memory. A file sealed with it is as weak as its passphrase."""
MAX_LIMITS: Final = KdfLimits(
    nacl.pwhash.argon2id.OPSLIMIT_SENSITIVE, nacl.pwhash.argon2id.MEMLIMIT_SENSITIVE
)
"""The most a key file may ask for (4 passes, 1 GiB): more is refused as corrupt, so a changed
file cannot make the agent allocate without bound."""


Validator = Callable[[object, "attrs.Attribute[Any]", Any], None]


def _length(size: int) -> Validator:
    def check(_: object, attribute: attrs.Attribute[bytes], value: bytes) -> None:
        if type(value) is not bytes or len(value) != size:
            raise InvalidArgument(f"{attribute.name} is {size} bytes")

    return check


def _bounded(limit: int) -> Validator:
    def check(_: object, attribute: attrs.Attribute[bytes], value: bytes) -> None:
        if type(value) is not bytes or not 0 < len(value) <= limit:
            raise InvalidArgument(f"{attribute.name} is 1..{limit} bytes")

    return check


def _u32(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**32:
        raise InvalidArgument(f"{attribute.name} is a u32")


def _u64(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidArgument(f"{attribute.name} is a u64")


@record("agent.identity", version=1)
@attrs.frozen
class Identity:
    """Who a device is, publicly: its device id, the authority it answers as on the network,
    its Ed25519 verifying key (its leaf key and member key) and its X25519 static key."""

    device: DeviceId
    address: AuthorityId
    signing_key: bytes = attrs.field(validator=_length(32))
    static_key: bytes = attrs.field(validator=_length(32))


@record("agent.account_share", version=1)
@attrs.frozen
class AccountShare:
    """This device's FROST key package of `account` at tree epoch `epoch`."""

    account: AuthorityId
    epoch: int = attrs.field(validator=_u64)
    key_package: bytes = attrs.field(validator=_bounded(4096))


@record("agent.pending_share", version=1)
@attrs.frozen
class PendingShare:
    """This device's key package from key ceremony `ceremony` of `account`, kept before the
    device reports its result so that a change past its point of no return never loses it
    (a restart, SIGKILL included). Inert: it becomes a share only once the journal shows the
    ceremony committed with this key, and is deleted once it shows it aborted."""

    ceremony: CeremonyId
    account: AuthorityId
    kind: str
    key_package: bytes = attrs.field(validator=_bounded(4096))
    public_key_package: bytes = attrs.field(validator=_bounded(1 << 16))

    @classmethod
    def of(cls, key: PendingKey) -> PendingShare:
        return cls(
            key.ceremony,
            key.account,
            key.kind,
            key.key_package.to_bytes(),
            key.public_key_package.to_bytes(),
        )

    def key(self) -> PendingKey:
        return PendingKey(
            self.ceremony,
            self.account,
            self.kind,
            frost.KeyPackage.from_bytes(self.key_package),
            frost.PublicKeyPackage.from_bytes(self.public_key_package),
        )


@record("agent.context_secret", version=1)
@attrs.frozen
class HeldSecret:
    """The shared secret of a context this device is a member of."""

    context: ContextId
    secret: bytes = attrs.field(validator=_length(32))


@record("agent.held_enrollment", version=1)
@attrs.frozen
class HeldEnrollment:
    """An enrollment this device is in the middle of, as the joiner or the inviter (the
    invitation names the inviter): its encoded `Invitation`, kept here because its bootstrap
    secret admits whoever holds it."""

    ceremony: CeremonyId
    invitation: bytes = attrs.field(validator=_bounded(4096), repr=False)


@record("agent.secrets", version=1)
@attrs.frozen
class DeviceSecrets:
    """Everything secret a device holds. `shares` are kept sorted by (account, epoch) and
    `contexts` by context, one entry each (`KeyStore` checks it on load)."""

    device: DeviceId
    address: AuthorityId
    signing_seed: bytes = attrs.field(validator=_length(SEED_LEN), repr=False)
    static_seed: bytes = attrs.field(validator=_length(SEED_LEN), repr=False)
    shares: tuple[AccountShare, ...] = attrs.field(default=(), repr=False)
    contexts: tuple[HeldSecret, ...] = attrs.field(default=(), repr=False)
    pending: tuple[PendingShare, ...] = attrs.field(default=(), repr=False)
    enrollments: tuple[HeldEnrollment, ...] = attrs.field(default=(), repr=False)

    @classmethod
    async def fresh(cls, random: RandomEffects) -> DeviceSecrets:
        """A new device: its id and both key seeds drawn from `random`; its network address
        derived from its signing key (`device_address`: self-certifying)."""
        device = DeviceId.from_entropy(await random.random_bytes(32))
        signing_seed = await random.random_bytes(SEED_LEN)
        return cls(
            device=device,
            address=device_address(SigningKey(signing_seed).verifying_key),
            signing_seed=signing_seed,
            static_seed=await random.random_bytes(SEED_LEN),
        )

    @property
    def signing_key(self) -> SigningKey:
        return SigningKey(self.signing_seed)

    @property
    def static_keypair(self) -> StaticKeypair:
        return StaticKeypair.from_seed(self.static_seed)

    def identity(self) -> Identity:
        return Identity(
            self.device,
            self.address,
            self.signing_key.verifying_key.raw,
            self.static_keypair.public,
        )

    def share(self, account: AuthorityId, epoch: int) -> frost.KeyPackage | None:
        """This device's key package of `account` at `epoch`, if it holds one."""
        for held in self.shares:
            if held.account == account and held.epoch == epoch:
                return frost.KeyPackage.from_bytes(held.key_package)
        return None

    def with_share(
        self, account: AuthorityId, epoch: int, key_package: frost.KeyPackage
    ) -> DeviceSecrets:
        """These secrets with `account`'s key package at `epoch` (replacing one held)."""
        entry = AccountShare(account, epoch, key_package.to_bytes())
        kept = [s for s in self.shares if (s.account, s.epoch) != (account, epoch)]
        shares = sorted([*kept, entry], key=lambda s: (s.account, s.epoch))
        return attrs.evolve(self, shares=tuple(shares))

    def pending_key(self, ceremony: CeremonyId) -> PendingKey | None:
        """The pending key package of `ceremony`, if this device holds one."""
        held = next((p for p in self.pending if p.ceremony == ceremony), None)
        return None if held is None else held.key()

    def with_pending(self, key: PendingKey) -> DeviceSecrets:
        """These secrets with `key` kept aside for its ceremony (replacing one held)."""
        kept = [p for p in self.pending if p.ceremony != key.ceremony]
        pending = sorted([*kept, PendingShare.of(key)], key=lambda p: p.ceremony)
        return attrs.evolve(self, pending=tuple(pending))

    def without_pending(self, *ceremonies: CeremonyId) -> DeviceSecrets:
        """These secrets without the pending key packages of `ceremonies`."""
        gone = set(ceremonies)
        return attrs.evolve(self, pending=tuple(p for p in self.pending if p.ceremony not in gone))

    def enrollment(self, ceremony: CeremonyId) -> bytes | None:
        """The encoded invitation of enrollment `ceremony`, if this device holds it."""
        held = next((e for e in self.enrollments if e.ceremony == ceremony), None)
        return None if held is None else held.invitation

    def with_enrollment(self, ceremony: CeremonyId, invitation: bytes) -> DeviceSecrets:
        """These secrets with enrollment `ceremony`'s encoded invitation (replacing one held)."""
        kept = [e for e in self.enrollments if e.ceremony != ceremony]
        held = sorted([*kept, HeldEnrollment(ceremony, invitation)], key=lambda e: e.ceremony)
        return attrs.evolve(self, enrollments=tuple(held))

    def without_enrollment(self, *ceremonies: CeremonyId) -> DeviceSecrets:
        """These secrets without the invitations of enrollments `ceremonies`."""
        gone = set(ceremonies)
        kept = tuple(e for e in self.enrollments if e.ceremony not in gone)
        return attrs.evolve(self, enrollments=kept)

    def with_context(self, context: ContextId, secret: bytes) -> DeviceSecrets:
        """These secrets with `context`'s shared secret (a context has one: another secret for
        a context already held is `InvalidArgument`)."""
        entry = HeldSecret(context, secret)
        for held in self.contexts:
            if held.context == context:
                if held.secret != secret:
                    raise InvalidArgument(f"{context} already has another secret")
                return self
        contexts = sorted([*self.contexts, entry], key=lambda c: c.context)
        return attrs.evolve(self, contexts=tuple(contexts))

    def check(self) -> None:
        """`KeyFileCorrupt` unless the address is the signing key's (`device_address`), the
        shares, pending keys, enrollments and contexts are sorted, one entry each, and every
        key package parses."""
        if self.address != device_address(self.signing_key.verifying_key):
            raise KeyFileCorrupt("the key file's address is not its signing key's")
        shares = [(s.account, s.epoch) for s in self.shares]
        contexts = [c.context for c in self.contexts]
        pending = [p.ceremony for p in self.pending]
        enrollments = [e.ceremony for e in self.enrollments]
        if (
            shares != sorted(set(shares))
            or contexts != sorted(set(contexts))
            or pending != sorted(set(pending))
            or enrollments != sorted(set(enrollments))
        ):
            raise KeyFileCorrupt("the key file's entries are out of order or repeated")
        try:
            for held in self.shares:
                frost.KeyPackage.from_bytes(held.key_package)
            for waiting in self.pending:
                waiting.key()
        except AuraError:
            raise KeyFileCorrupt("the key file holds a key package that does not parse") from None


@record("agent.argon2id", version=1)
@attrs.frozen
class Argon2idParams:
    """The KDF of a sealed key file, stored beside the ciphertext."""

    opslimit: int = attrs.field(validator=_u32)
    memlimit: int = attrs.field(validator=_u64)
    salt: bytes = attrs.field(validator=_length(nacl.pwhash.argon2id.SALTBYTES))

    def associated_data(self) -> bytes:
        """The seal's associated data: the format and every KDF parameter."""
        return _AAD + KEY_FILE_FORMAT.to_bytes(4, "big") + encode(self)


@record("agent.sealed_keys", version=1)
@attrs.frozen
class SealedKeys:
    kdf: Argon2idParams
    nonce: bytes = attrs.field(validator=_length(nacl.secret.Aead.NONCE_SIZE))
    ciphertext: bytes


@record("agent.plain_keys", version=1)
@attrs.frozen
class PlainKeys:
    secrets: DeviceSecrets
    check: bytes = attrs.field(validator=_length(32))


@record("agent.key_file", version=1)
@attrs.frozen
class KeyFile:
    format: int = attrs.field(validator=_u32)
    content: SealedKeys | PlainKeys


def _check_value(secrets: DeviceSecrets) -> bytes:
    return tagged_hash(_CHECK_TAG, encode(secrets)).digest


def _passphrase(passphrase: str | bytes | None) -> bytes | None:
    if passphrase is None:
        return None
    raw = passphrase.encode() if isinstance(passphrase, str) else passphrase
    if type(raw) is not bytes or not raw:
        raise InvalidArgument("a passphrase is a non-empty str or bytes")
    return raw


def _derive(passphrase: bytes, params: Argon2idParams) -> bytes:
    return nacl.pwhash.argon2id.kdf(
        nacl.secret.Aead.KEY_SIZE,
        passphrase,
        params.salt,
        opslimit=params.opslimit,
        memlimit=params.memlimit,
    )


class KeyHolder(Protocol):
    """Where a running agent keeps its secrets: the key file (`KeyStore`), or memory
    (`MemoryKeys`, a simulated device whose keys outlive its crashes with the simulator)."""

    @property
    def secrets(self) -> DeviceSecrets: ...

    @property
    def sealed(self) -> bool:
        """Whether the secrets are sealed under a passphrase at rest."""
        ...

    async def update(self, edit: Callable[[DeviceSecrets], DeviceSecrets]) -> None:
        """Replace the secrets by `edit` of the current ones (new shares, context secrets,
        pending keys), one update at a time; the ids and seeds never change
        (`InvalidArgument`)."""
        ...


def _check_update(held: DeviceSecrets, secrets: DeviceSecrets) -> None:
    if (secrets.device, secrets.address, secrets.signing_seed, secrets.static_seed) != (
        held.device,
        held.address,
        held.signing_seed,
        held.static_seed,
    ):
        raise InvalidArgument("a device's ids and key seeds never change")
    secrets.check()


class MemoryKeys:
    """`KeyHolder` in memory, never at rest: a simulated device's keys, which the simulator
    keeps across the device's crashes as a key file's atomic writes would survive them."""

    def __init__(self, secrets: DeviceSecrets) -> None:
        secrets.check()
        self._secrets = secrets

    def __repr__(self) -> str:
        return "MemoryKeys()"

    @property
    def secrets(self) -> DeviceSecrets:
        return self._secrets

    @property
    def sealed(self) -> bool:
        return False

    async def update(self, edit: Callable[[DeviceSecrets], DeviceSecrets]) -> None:
        secrets = edit(self._secrets)  # no await between reading and writing: one at a time
        _check_update(self._secrets, secrets)
        self._secrets = secrets


class KeyStore:
    """The key file of one data directory, open: its secrets in memory and, when sealed, the
    key derived from the passphrase (kept so updates need no new Argon2id run)."""

    def __init__(
        self,
        path: Path,
        secrets: DeviceSecrets,
        random: RandomEffects,
        seal: tuple[Argon2idParams, bytes] | None,
    ) -> None:
        self.path = path
        self._secrets = secrets
        self._random = random
        self._seal = seal
        self._writing = anyio.Lock()

    def __repr__(self) -> str:
        return f"KeyStore({self.path}, {'sealed' if self.sealed else 'not sealed'})"

    @property
    def secrets(self) -> DeviceSecrets:
        return self._secrets

    @property
    def sealed(self) -> bool:
        return self._seal is not None

    @classmethod
    async def create(
        cls,
        path: Path,
        secrets: DeviceSecrets,
        random: RandomEffects,
        *,
        passphrase: str | bytes | None = None,
        limits: KdfLimits = MODERATE,
    ) -> KeyStore:
        """Write a new key file at `path` (none may exist) holding `secrets`, sealed under
        `passphrase` with Argon2id at `limits` if one is given."""
        secret = _passphrase(passphrase)
        seal = None
        if secret is not None:
            if not (
                nacl.pwhash.argon2id.OPSLIMIT_MIN <= limits.opslimit <= MAX_LIMITS.opslimit
                and nacl.pwhash.argon2id.MEMLIMIT_MIN <= limits.memlimit <= MAX_LIMITS.memlimit
            ):
                raise InvalidArgument("Argon2id limits between libsodium's minimum and SENSITIVE")
            salt = await random.random_bytes(nacl.pwhash.argon2id.SALTBYTES)
            params = Argon2idParams(limits.opslimit, limits.memlimit, salt)
            seal = (params, await anyio.to_thread.run_sync(_derive, secret, params))
        store = cls(path, secrets, random, seal)
        if path.exists() or path.is_symlink():
            raise InvalidArgument(f"{path} exists: the agent never writes over a key file")
        await store._write(secrets)
        return store

    @classmethod
    async def load(
        cls, path: Path, random: RandomEffects, *, passphrase: str | bytes | None = None
    ) -> KeyStore:
        """Open the key file at `path`: `UnsafePermissions` if it is not a private regular
        file of this uid, `KeyFileCorrupt` if it is not one the agent wrote,
        `PassphraseRequired` / `WrongPassphrase` if the passphrase does not fit it."""
        secret = _passphrase(passphrase)
        data = _read(path)
        try:
            keys = decode(data, KeyFile)
        except EncodingError as exc:
            raise KeyFileCorrupt(f"the key file {path} does not decode: {exc.message}") from None
        if keys.format != KEY_FILE_FORMAT:
            raise KeyFileCorrupt(f"the key file {path} has unknown format {keys.format}")
        content = keys.content
        if isinstance(content, PlainKeys):
            if secret is not None:
                raise WrongPassphrase(
                    f"the key file {path} is not sealed: open it without a passphrase"
                )
            if content.check != _check_value(content.secrets):
                raise KeyFileCorrupt(f"the key file {path} fails its check: it was changed")
            content.secrets.check()
            return cls(path, content.secrets, random, None)
        if secret is None:
            raise PassphraseRequired(f"the key file {path} is sealed: give its passphrase")
        params = content.kdf
        if not (
            nacl.pwhash.argon2id.OPSLIMIT_MIN <= params.opslimit <= MAX_LIMITS.opslimit
            and nacl.pwhash.argon2id.MEMLIMIT_MIN <= params.memlimit <= MAX_LIMITS.memlimit
        ):
            raise KeyFileCorrupt(f"the key file {path} asks for Argon2id limits out of range")
        key = await anyio.to_thread.run_sync(_derive, secret, params)
        try:
            plain = nacl.secret.Aead(key).decrypt(
                content.nonce + content.ciphertext, params.associated_data()
            )
        except nacl.exceptions.CryptoError:
            raise WrongPassphrase(
                f"the passphrase does not open the key file {path} (or the file was changed)"
            ) from None
        try:
            secrets = decode(plain, DeviceSecrets)
        except EncodingError:
            raise KeyFileCorrupt(f"the key file {path} holds secrets that do not decode") from None
        secrets.check()
        return cls(path, secrets, random, (params, key))

    async def update(self, edit: Callable[[DeviceSecrets], DeviceSecrets]) -> None:
        """Replace the file's secrets by `edit` of the current ones (atomically; sealed again
        under the same key with a fresh nonce). Updates run one at a time, each editing what
        the one before wrote, so concurrent ones (a new share, a pending key dropped) never
        lose each other. The device's ids and seeds never change."""
        async with self._writing:
            secrets = edit(self._secrets)
            _check_update(self._secrets, secrets)
            await self._write(secrets)
            self._secrets = secrets

    async def _write(self, secrets: DeviceSecrets) -> None:
        if self._seal is None:
            content: SealedKeys | PlainKeys = PlainKeys(secrets, _check_value(secrets))
        else:
            params, key = self._seal
            nonce = await self._random.random_bytes(nacl.secret.Aead.NONCE_SIZE)
            sealed = nacl.secret.Aead(key).encrypt(encode(secrets), params.associated_data(), nonce)
            content = SealedKeys(params, nonce, sealed.ciphertext)
        data = encode(KeyFile(KEY_FILE_FORMAT, content))
        suffix = (await self._random.random_bytes(8)).hex()
        await anyio.to_thread.run_sync(_replace, self.path, data, suffix)


def _read(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise KeyFileCorrupt(f"there is no key file at {path}") from None
    except OSError as exc:
        raise KeyFileCorrupt(f"cannot open the key file {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileCorrupt(f"the key file {path} is not a regular file")
        check_private(path, info, mode=0o600, what="the key file")
        if info.st_size > MAX_KEY_FILE:
            raise KeyFileCorrupt(f"the key file {path} is {info.st_size} bytes: not a key file")
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read(MAX_KEY_FILE + 1)
    finally:
        os.close(fd)


def _replace(path: Path, data: bytes, suffix: str) -> None:
    """Write `data` to a temporary file beside `path`, fsync it, rename it over `path`, fsync
    the directory."""
    temp = path.with_name(_TEMP_PREFIX + suffix)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(temp, flags, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
        directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise StorageError(f"cannot write the key file {path}: {exc.strerror}") from None


def remove_stale_temporaries(directory: Path) -> None:
    """Remove temporary key files a crash left behind (never the key file itself)."""
    for entry in directory.glob(_TEMP_PREFIX + "*"):
        with contextlib.suppress(OSError):
            entry.unlink()
