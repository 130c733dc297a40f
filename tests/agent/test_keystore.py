"""Keys at rest (`aura_agent.keystore`): one file, 0600, sealed under a passphrase or not;
anything that is not a file the agent wrote, or a passphrase that does not open it, is a
typed error and the file is left exactly as it was."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import attrs
import nacl.pwhash.argon2id
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aura_agent.keystore import (
    MAX_KEY_FILE,
    MODERATE,
    TESTING,
    DeviceSecrets,
    KeyFile,
    KeyStore,
    MemoryKeys,
    SealedKeys,
)
from aura_core.crypto import frost
from aura_core.encoding import decode, encode
from aura_core.errors import (
    InvalidArgument,
    KeyFileCorrupt,
    KeyFileError,
    PassphraseRequired,
    UnsafePermissions,
    WrongPassphrase,
)
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, CeremonyId, ContextId, device_address
from aura_effects.random import OsRandom
from aura_protocol.ceremonies import PendingKey
from aura_sim.handlers import SeededRandom
from aura_sim.seeds import SeedTree
from tests.agent.helpers import digest

pytestmark = pytest.mark.anyio

RANDOM = OsRandom()
ACCOUNT = AuthorityId(b"\xac" * 16)
CONTEXT = ContextId(b"\xc0" * 16)
SHARES, PUBLIC = frost.generate_with_dealer(2, 2, digest("keystore dealer"), [1, 2])
SHARE = frost.key_package(SHARES[1])
SCRATCH = Path("/tmp")


def seeded(seed: int) -> SeededRandom:
    return SeededRandom(SeedTree(seed).stream("keystore"))


async def secrets() -> DeviceSecrets:
    fresh = await DeviceSecrets.fresh(seeded(7))
    return fresh.with_share(ACCOUNT, 0, SHARE).with_context(CONTEXT, b"\x5e" * 32)


def test_production_limits_are_moderate_never_the_default() -> None:
    # libsodium's default is SENSITIVE (1 GiB): the agent always names its limits.
    assert (MODERATE.opslimit, MODERATE.memlimit) == (3, 256 * 1024 * 1024)
    assert (TESTING.opslimit, TESTING.memlimit) == (1, 8192)
    assert MODERATE.memlimit < nacl.pwhash.argon2id.MEMLIMIT_SENSITIVE


@pytest.mark.parametrize("passphrase", [None, "correct horse", b"\xffbytes"])
async def test_round_trip(tmp_path: Path, passphrase: str | bytes | None) -> None:
    path = tmp_path / "keys"
    held = await secrets()
    store = await KeyStore.create(path, held, RANDOM, passphrase=passphrase, limits=TESTING)
    assert store.sealed is (passphrase is not None)
    assert os.stat(path).st_mode & 0o777 == 0o600
    loaded = await KeyStore.load(path, RANDOM, passphrase=passphrase)
    assert loaded.secrets == held
    assert loaded.secrets.share(ACCOUNT, 0) is not None
    assert loaded.secrets.share(ACCOUNT, 1) is None
    content = decode(path.read_bytes(), KeyFile).content
    if passphrase is not None:  # nothing secret is in the clear
        assert isinstance(content, SealedKeys)
        assert held.signing_seed not in path.read_bytes()
        assert held.static_seed not in path.read_bytes()
        assert (content.kdf.opslimit, content.kdf.memlimit) == (1, 8192)


async def test_update_rewrites_atomically_and_reseals(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    held = await DeviceSecrets.fresh(RANDOM)
    store = await KeyStore.create(path, held, RANDOM, passphrase="pw", limits=TESTING)
    first = path.read_bytes()
    await store.update(lambda secrets: secrets.with_context(CONTEXT, b"\x01" * 32))
    assert path.read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys"]  # no temporary left
    again = await KeyStore.load(path, RANDOM, passphrase="pw")
    assert again.secrets.contexts[0].context == CONTEXT


async def test_the_ids_and_seeds_never_change(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    held = await DeviceSecrets.fresh(RANDOM)
    store = await KeyStore.create(path, held, RANDOM, limits=TESTING)
    before = path.read_bytes()
    other = await DeviceSecrets.fresh(RANDOM)
    with pytest.raises(InvalidArgument):
        await store.update(lambda _: other)
    with pytest.raises(InvalidArgument):  # a context has one secret
        await store.update(
            lambda secrets: secrets.with_context(CONTEXT, b"\x01" * 32).with_context(
                CONTEXT, b"\x02" * 32
            )
        )
    assert path.read_bytes() == before
    assert store.secrets == held


async def test_memory_keys_hold_updates_and_refuse_the_same_changes() -> None:
    held = await secrets()
    keys = MemoryKeys(held)
    assert not keys.sealed
    more = held.with_context(ContextId(b"\xc1" * 16), b"\x01" * 32)
    await keys.update(lambda _: more)
    assert keys.secrets == more
    stranger = await DeviceSecrets.fresh(seeded(8))
    with pytest.raises(InvalidArgument):
        await keys.update(lambda _: stranger)
    with pytest.raises(InvalidArgument):  # a context has one secret
        await keys.update(lambda held: held.with_context(CONTEXT, b"\x02" * 32))
    assert keys.secrets == more


async def test_an_existing_key_file_is_never_written_over(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    await KeyStore.create(path, await secrets(), RANDOM, limits=TESTING)
    before = path.read_bytes()
    with pytest.raises(InvalidArgument):
        await KeyStore.create(path, await DeviceSecrets.fresh(RANDOM), RANDOM, limits=TESTING)
    assert path.read_bytes() == before


async def test_wrong_missing_or_unwanted_passphrase(tmp_path: Path) -> None:
    sealed, plain = tmp_path / "sealed", tmp_path / "plain"
    await KeyStore.create(sealed, await secrets(), RANDOM, passphrase="right", limits=TESTING)
    await KeyStore.create(plain, await secrets(), RANDOM, limits=TESTING)
    files = {p: p.read_bytes() for p in (sealed, plain)}
    with pytest.raises(WrongPassphrase, match="does not open"):
        await KeyStore.load(sealed, RANDOM, passphrase="wrong")
    with pytest.raises(PassphraseRequired, match="give its passphrase"):
        await KeyStore.load(sealed, RANDOM)
    with pytest.raises(WrongPassphrase, match="not sealed"):
        await KeyStore.load(plain, RANDOM, passphrase="right")
    with pytest.raises(InvalidArgument):
        await KeyStore.load(sealed, RANDOM, passphrase="")
    assert {p: p.read_bytes() for p in files} == files


async def written(passphrase: str | None) -> bytes:
    path = SCRATCH / f"agentcore-keystore-{os.getpid()}-{passphrase}"
    path.unlink(missing_ok=True)
    await KeyStore.create(path, await secrets(), seeded(1), passphrase=passphrase, limits=TESTING)
    data = path.read_bytes()
    path.unlink()
    return data


async def refused(tmp_path: Path, data: bytes, passphrase: str | None) -> type[KeyFileError]:
    path = tmp_path / "keys"
    path.write_bytes(data)
    path.chmod(0o600)
    with pytest.raises(KeyFileError) as caught:
        await KeyStore.load(path, RANDOM, passphrase=passphrase)
    assert path.read_bytes() == data  # never written over
    return type(caught.value)


EDITS = settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])


@EDITS
@given(data=st.data())
async def test_any_changed_byte_is_refused(tmp_path: Path, data: st.DataObject) -> None:
    passphrase = data.draw(st.sampled_from([None, "pw"]))
    original = await written(passphrase)
    index = data.draw(st.integers(0, len(original) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != original[index]))
    changed = original[:index] + bytes([value]) + original[index + 1 :]
    kind = await refused(tmp_path, changed, passphrase)
    if passphrase is None:
        assert kind is KeyFileCorrupt
    else:  # a changed seal is indistinguishable from a wrong passphrase
        assert kind in (KeyFileCorrupt, WrongPassphrase)


@EDITS
@given(data=st.data())
async def test_a_truncated_file_is_corrupt(tmp_path: Path, data: st.DataObject) -> None:
    passphrase = data.draw(st.sampled_from([None, "pw"]))
    original = await written(passphrase)
    cut = data.draw(st.integers(0, len(original) - 1))
    assert await refused(tmp_path, original[:cut], passphrase) is KeyFileCorrupt


async def test_limits_beyond_sensitive_are_refused_unrun(tmp_path: Path) -> None:
    # A changed file must not make the agent allocate without bound: its limits are checked
    # before Argon2id runs.
    original = decode(await written("pw"), KeyFile)
    assert isinstance(original.content, SealedKeys)
    greedy = KeyFile(
        original.format,
        SealedKeys(
            type(original.content.kdf)(4, 1 << 40, original.content.kdf.salt),
            original.content.nonce,
            original.content.ciphertext,
        ),
    )
    assert await refused(tmp_path, encode(greedy), "pw") is KeyFileCorrupt


async def test_unknown_format_and_oversized_files(tmp_path: Path) -> None:
    original = decode(await written(None), KeyFile)
    future = KeyFile(2, original.content)
    assert await refused(tmp_path, encode(future), None) is KeyFileCorrupt
    assert await refused(tmp_path, b"\0" * (MAX_KEY_FILE + 1), None) is KeyFileCorrupt
    assert await refused(tmp_path, b"", None) is KeyFileCorrupt


async def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    await KeyStore.create(path, await secrets(), RANDOM, limits=TESTING)
    before = path.read_bytes()
    for mode in (0o640, 0o604, 0o700):
        path.chmod(mode)
        with pytest.raises(UnsafePermissions, match=f"chmod 600 {path}"):
            await KeyStore.load(path, RANDOM)
        assert path.read_bytes() == before
        assert os.stat(path).st_mode & 0o777 == mode  # the agent does not "fix" it


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the file to another uid")
async def test_a_key_file_of_another_uid_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    await KeyStore.create(path, await secrets(), RANDOM, limits=TESTING)
    os.chown(path, 65534, 65534)
    with pytest.raises(UnsafePermissions, match="belongs to uid 65534"):
        await KeyStore.load(path, RANDOM)


async def test_a_symlinked_key_file_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    await KeyStore.create(real, await secrets(), RANDOM, limits=TESTING)
    (tmp_path / "keys").symlink_to(real)
    with pytest.raises(KeyFileCorrupt, match="cannot open"):
        await KeyStore.load(tmp_path / "keys", RANDOM)


@pytest.mark.anyio
async def test_a_device_address_is_its_signing_keys() -> None:
    """A new device's address is self-certifying (`device_address` of its signing key); key
    file secrets naming another address do not check."""
    held = await DeviceSecrets.fresh(RANDOM)
    assert held.address == device_address(held.signing_key.verifying_key)
    held.check()
    with pytest.raises(KeyFileCorrupt, match="address"):
        attrs.evolve(held, address=AuthorityId(b"\x01" * 16)).check()


def pending(label: str) -> PendingKey:
    return PendingKey(CeremonyId(Hash32.of(label.encode())), ACCOUNT, "refresh", SHARE, PUBLIC)


async def test_pending_keys_survive_a_reload_and_concurrent_updates_keep_each_other(
    tmp_path: Path,
) -> None:
    """Pending keys are kept by ceremony and come back as they went in; updates that run at
    the same time (a pending key added, another dropped, a share added) all land, whatever
    order they finish in."""
    path = tmp_path / "keys"
    held = (await secrets()).with_pending(pending("dropped"))
    store = await KeyStore.create(path, held, RANDOM, limits=TESTING)
    kept = pending("kept")
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(store.update, lambda s: s.with_pending(kept))
        tasks.start_soon(store.update, lambda s: s.without_pending(pending("dropped").ceremony))
        tasks.start_soon(store.update, lambda s: s.with_share(ACCOUNT, 1, SHARE))
    again = (await KeyStore.load(path, RANDOM)).secrets
    assert again == store.secrets
    assert [p.ceremony for p in again.pending] == [kept.ceremony]
    back = again.pending_key(kept.ceremony)
    assert back is not None and back.key_commitment == kept.key_commitment
    assert again.pending_key(pending("dropped").ceremony) is None
    assert again.share(ACCOUNT, 1) is not None


async def test_out_of_order_pending_keys_are_corrupt(tmp_path: Path) -> None:
    held = (await secrets()).with_pending(pending("one")).with_pending(pending("two"))
    swapped = attrs.evolve(held, pending=held.pending[::-1])
    with pytest.raises(KeyFileCorrupt, match="out of order"):
        swapped.check()


@settings(max_examples=25, deadline=None)
@given(
    labels=st.lists(st.text(min_size=1, max_size=8), max_size=5),
    blob=st.binary(min_size=1, max_size=64),
)
def test_enrollments_are_kept_by_ceremony_one_each(labels: list[str], blob: bytes) -> None:
    """An enrollment's invitation is kept by ceremony (a second for the same ceremony replaces
    the first), in order, and goes only when asked; the result always passes `check`."""
    held = anyio.run(secrets)
    for label in labels:
        held = held.with_enrollment(CeremonyId(Hash32.of(label.encode())), blob + label.encode())
    ceremonies = sorted({CeremonyId(Hash32.of(label.encode())) for label in labels})
    assert [e.ceremony for e in held.enrollments] == ceremonies
    held.check()
    assert decode(encode(held), DeviceSecrets) == held
    for label in labels:
        assert held.enrollment(CeremonyId(Hash32.of(label.encode()))) == blob + label.encode()
    gone = held.without_enrollment(*ceremonies[:1])
    assert [e.ceremony for e in gone.enrollments] == ceremonies[1:]


async def test_out_of_order_enrollments_are_corrupt(tmp_path: Path) -> None:
    one, two = (CeremonyId(Hash32.of(x)) for x in (b"one", b"two"))
    held = (await secrets()).with_enrollment(one, b"a").with_enrollment(two, b"b")
    swapped = attrs.evolve(held, enrollments=held.enrollments[::-1])
    with pytest.raises(KeyFileCorrupt, match="out of order"):
        swapped.check()
