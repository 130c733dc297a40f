"""Rendezvous: sealed descriptors in the context journal, and the locator that reads them.

Members publish descriptors (`publish_descriptor`), sync carries them, and each member's
`RendezvousLocator` opens them with the context's rendezvous key. Outsiders cannot read them
(wrong or no secret) nor write them (the journal's writer rule); a descriptor outside its window
or revoked is not used; one that does not open or names another authority than its signer is
ignored and traced.
"""

from __future__ import annotations

import anyio
import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aura_sim
from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import decode, encode
from aura_core.errors import InvalidArgument, UnauthorizedWriter
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, ContextId, DeviceId, FactId
from aura_core.time import OrderTime
from aura_effects.locator import PeerAddress
from aura_journal.context import CONTEXT_REDUCER
from aura_journal.fact import Fact, FactBody, sign_fact
from aura_journal.rendezvous import (
    NONCE_LEN,
    Descriptor,
    SealedDescriptor,
    parse_hint,
)
from aura_protocol.rendezvous import (
    OpenedDescriptor,
    RendezvousLocator,
    associated_data,
    in_force,
    publish_descriptor,
    rendezvous_key,
    revoke_descriptor,
)
from aura_protocol.sync import SyncConfig
from tests.sync.helpers import SyncDevice, digest, make_devices, online

MANUAL = SyncConfig(interval_s=3600.0)
STATIC = {name: digest(f"static {name}") for name in ("a", "b", "c", "a2")}
HOUR_MS = 3_600_000


async def now_ms(device: SyncDevice) -> int:
    return (await device.effects.time.now()).ts_ms


async def publish(
    device: SyncDevice,
    static: bytes,
    hints: tuple[str, ...] = ("tcp://127.0.0.1:7000",),
    *,
    start_ms: int = 0,
    length_ms: int = HOUR_MS,
    authority: AuthorityId | None = None,
) -> Fact:
    now = await now_ms(device)
    return await publish_descriptor(
        device.effects,
        device.context,
        device.key,
        authority=authority or device.authority,
        device=DeviceId(device.authority.raw[::-1]),
        static_key=static,
        hints=hints,
        not_before_ms=now + start_ms,
        not_after_ms=now + start_ms + length_ms,
    )


async def sync_all(devices: list[SyncDevice]) -> None:
    async with online(devices, MANUAL) as services:
        for service in services:
            for other in devices:
                if other.authority != service.local:
                    await service.sync_now(other.authority)


def test_a_published_descriptor_reaches_the_members_and_opens() -> None:
    async def main() -> None:
        a, b, c = await make_devices(3)
        await publish(a, STATIC["a"], ("tcp://10.0.0.1:7000", "tcp://a.example:7001"))
        await publish(b, STATIC["b"], ("tcp://[2001:db8::1]:7100",))
        await sync_all([a, b, c])
        locator = RendezvousLocator(c.effects)
        assert await locator.locate(a.authority, c.context) == PeerAddress(
            "10.0.0.1", 7000, STATIC["a"]
        )
        assert await locator.locate(b.authority, c.context) == PeerAddress(
            "2001:db8::1", 7100, STATIC["b"]
        )
        assert await locator.locate(c.authority, c.context) is None  # c published nothing
        assert await locator.identify(STATIC["b"], c.context) == b.authority
        assert await locator.identify(STATIC["c"], c.context) is None
        # What the journal (and so every peer and the wire) holds is sealed.
        journal = await c.effects.journal.journal(c.namespace)
        for fact in journal.of_type("rendezvous.descriptor"):
            assert b"10.0.0.1" not in fact.encoded and STATIC["a"] not in fact.encoded
            assert a.authority.raw not in decode(fact.body.payload, SealedDescriptor).sealed

    aura_sim.run(main, seed=31)


def test_an_outsider_can_neither_read_nor_write_descriptors() -> None:
    async def main() -> None:
        a, b = await make_devices(2)
        await publish(a, STATIC["a"])
        await sync_all([a, b])
        # A device holding a different secret for the context: the key is wrong.
        b.effects.contexts.remove(b.context)
        b.effects.contexts.add(b.context, digest("not the context's secret"))
        wrong = RendezvousLocator(b.effects)
        assert await wrong.locate(a.authority, b.context) is None
        [unreadable] = b.effects.trace.events("rendezvous.unreadable")
        assert unreadable.get("context") == str(b.context)
        # No secret at all: nothing to read, nothing traced.
        b.effects.contexts.remove(b.context)
        assert await RendezvousLocator(b.effects).locate(a.authority, b.context) is None
        # A stranger's descriptor (sealed correctly, but signed by a non-member) is refused by
        # the journal: nothing changes.
        stranger = SigningKey(digest("stranger"))
        journal = await a.effects.journal.journal(a.namespace)
        before = (journal.fact_ids(), await a.storage.list_keys(""))
        fact = await sealed_fact(a, stranger, STATIC["c"], authority=AuthorityId(b"\x3a" * 16))
        with pytest.raises(UnauthorizedWriter):
            await a.effects.journal.merge(a.namespace, [fact])
        assert (journal.fact_ids(), await a.storage.list_keys("")) == before

    aura_sim.run(main, seed=32)


async def sealed_fact(
    device: SyncDevice,
    signer: SigningKey,
    static: bytes,
    *,
    authority: AuthorityId,
    sealed: bytes | None = None,
) -> Fact:
    """A descriptor fact sealed with `device`'s context key and bound to `signer`."""
    now = await now_ms(device)
    descriptor = Descriptor(
        authority,
        DeviceId(b"\x44" * 16),
        device.context,
        static,
        ("tcp://127.0.0.1:9",),
        now,
        now + HOUR_MS,
        b"\x01" * NONCE_LEN,
    )
    key = await rendezvous_key(device.effects, device.context, 0)
    assert key is not None
    ad = associated_data(device.context, 0, signer.verifying_key)
    if sealed is None:
        sealed = await device.effects.crypto.aead_encrypt(key, encode(descriptor), ad)
    payload = SealedDescriptor(0, sealed)
    body = FactBody(
        device.namespace,
        "rendezvous.descriptor",
        1,
        encode(payload),
        await device.effects.order.order_time(),
        await device.effects.time.now(),
    )
    return sign_fact(body, signer)


def test_expired_future_and_revoked_descriptors_are_not_used() -> None:
    async def main() -> None:
        a, b = await make_devices(2)
        current = await publish(a, STATIC["a"], length_ms=10_000)
        await publish(a, STATIC["a2"], ("tcp://10.0.0.2:2",), start_ms=20_000)
        await sync_all([a, b])
        locator = RendezvousLocator(b.effects)
        assert (await locator.locate(a.authority, b.context)) == PeerAddress(
            "127.0.0.1", 7000, STATIC["a"]
        )
        await anyio.sleep(15)  # the first has expired, the second is not valid yet
        assert await locator.locate(a.authority, b.context) is None
        assert await locator.identify(STATIC["a"], b.context) is None
        await anyio.sleep(10)
        found = await locator.locate(a.authority, b.context)
        assert found == PeerAddress("10.0.0.2", 2, STATIC["a2"])
        # Two in force: the newer window wins; revoking it falls back to the older one.
        older = await publish(a, STATIC["a"], ("tcp://10.0.0.3:3",), start_ms=-10_000)
        await sync_all([a, b])
        assert (await locator.locate(a.authority, b.context)) == found
        newest = (await locator.descriptors(b.context))[a.authority].fact
        await revoke_descriptor(a.effects, a.context, newest, a.key)
        await sync_all([a, b])
        assert (await locator.locate(a.authority, b.context)) == PeerAddress(
            "10.0.0.3", 3, STATIC["a"]
        )
        await revoke_descriptor(a.effects, a.context, older.id, a.key)
        await sync_all([a, b])
        assert await locator.locate(a.authority, b.context) is None
        assert current.id not in (await locator.descriptors(b.context))

    aura_sim.run(main, seed=33)


def test_a_member_cannot_revoke_another_members_descriptor() -> None:
    async def main() -> None:
        a, b = await make_devices(2)
        published = await publish(a, STATIC["a"])
        await sync_all([a, b])
        journal = await b.effects.journal.journal(b.namespace)
        before = (journal.fact_ids(), await b.storage.list_keys(""))
        with pytest.raises(UnauthorizedWriter):
            await revoke_descriptor(b.effects, b.context, published.id, b.key)
        assert (journal.fact_ids(), await b.storage.list_keys("")) == before
        assert await RendezvousLocator(b.effects).locate(a.authority, b.context) is not None

    aura_sim.run(main, seed=34)


def test_tampered_and_forged_descriptors_are_dropped_with_a_trace() -> None:
    async def main() -> None:
        a, b, c = await make_devices(3)
        genuine = await publish(a, STATIC["a"])
        # b (a member) signs a descriptor that claims to be a's: it opens, but names another
        # authority than its signer.
        claimed = await sealed_fact(b, b.key, STATIC["b"], authority=a.authority)
        # b copies a's sealed bytes into a fact of its own: they were bound to a's key.
        copied_bytes = decode(genuine.body.payload, SealedDescriptor).sealed
        copied = await sealed_fact(
            b, b.key, STATIC["b"], authority=b.authority, sealed=copied_bytes
        )
        # b signs ciphertext with one flipped bit.
        honest = await sealed_fact(b, b.key, STATIC["b"], authority=b.authority)
        sealed = bytearray(decode(honest.body.payload, SealedDescriptor).sealed)
        sealed[-1] ^= 1
        flipped = await sealed_fact(
            b, b.key, STATIC["b"], authority=b.authority, sealed=bytes(sealed)
        )
        for fact in (claimed, copied, flipped):  # the journal cannot tell: they are signed
            await b.effects.journal.merge(b.namespace, [fact])
        await sync_all([a, b, c])
        locator = RendezvousLocator(c.effects)
        opened = await locator.descriptors(c.context)
        assert opened[a.authority].fact == genuine.id  # a is still reachable, as itself
        assert b.authority not in opened
        assert {str(e.get("fact")) for e in c.effects.trace.events("rendezvous.forged")} == {
            str(claimed.id)
        }
        unreadable = {str(e.get("fact")) for e in c.effects.trace.events("rendezvous.unreadable")}
        assert unreadable == {str(copied.id), str(flipped.id)}
        await locator.descriptors(c.context)  # traced once, not on every lookup
        assert len(c.effects.trace.events("rendezvous.unreadable")) == 2

    aura_sim.run(main, seed=35)


def test_descriptors_refuse_bad_contents() -> None:
    context, device, authority = (
        ContextId(b"\x01" * 16),
        DeviceId(b"\x02" * 16),
        AuthorityId(b"\x03" * 16),
    )
    good = Descriptor(
        authority, device, context, b"\x04" * 32, ("tcp://h:1",), 0, 1, b"\x05" * NONCE_LEN
    )
    for change in (
        {"static_key": b"\x04" * 31},
        {"hints": ()},
        {"hints": ("tcp://h:1", "tcp://h:1")},
        {"hints": ("udp://h:1",)},
        {"hints": tuple(f"tcp://h:{i}" for i in range(1, 10))},
        {"not_before_ms": 2},
        {"nonce": b""},
    ):
        with pytest.raises(InvalidArgument):
            attrs.evolve(good, **change)
    for hint in (
        "tcp://H:1",
        "tcp://h:0",
        "tcp://h:65536",
        "tcp://h:01",
        "tcp://[::1]",
        "tcp://-a:1",
    ):
        with pytest.raises(InvalidArgument):
            parse_hint(hint)
    assert parse_hint("tcp://[2001:db8::7]:5") == ("2001:db8::7", 5)
    assert parse_hint("tcp://a-b.example:65535") == ("a-b.example", 65535)


def test_publishing_needs_the_context_secret() -> None:
    async def main() -> None:
        [a] = await make_devices(1)
        a.effects.contexts.remove(a.context)
        journal = await a.effects.journal.journal(a.namespace)
        before = journal.fact_ids()
        with pytest.raises(InvalidArgument):
            await publish(a, STATIC["a"])
        assert journal.fact_ids() == before
        assert journal.view(CONTEXT_REDUCER).epoch == 0

    aura_sim.run(main, seed=36)


# ----------------------------------------------------------------------- in force (pure)

MEMBERS = [AuthorityId(bytes([i]) * 16) for i in range(1, 4)]


@st.composite
def opened(draw: st.DrawFn) -> OpenedDescriptor:
    member = draw(st.sampled_from(MEMBERS))
    start = draw(st.integers(0, 100))
    descriptor = Descriptor(
        member,
        DeviceId(b"\x09" * 16),
        ContextId(b"\x08" * 16),
        b"\x07" * 32,
        ("tcp://h:1",),
        start,
        start + draw(st.integers(0, 100)),
        b"\x06" * NONCE_LEN,
    )
    fact = FactId(Hash32(draw(st.binary(min_size=32, max_size=32))))
    order = OrderTime(draw(st.binary(min_size=32, max_size=32)))
    return OpenedDescriptor(fact, member, descriptor, order)


@settings(max_examples=200, deadline=None)
@given(
    entries=st.lists(opened(), max_size=8, unique_by=lambda e: e.fact),
    revoked_mask=st.lists(st.booleans(), min_size=8, max_size=8),
    now=st.integers(0, 250),
)
def test_in_force_picks_the_newest_valid_unrevoked_per_member(
    entries: list[OpenedDescriptor], revoked_mask: list[bool], now: int
) -> None:
    revoked = frozenset(e.fact for e, r in zip(entries, revoked_mask, strict=False) if r)
    chosen = in_force(entries, revoked, now)
    assert chosen == in_force(list(reversed(entries)), revoked, now)  # order-free
    for member in MEMBERS:
        usable = [
            e
            for e in entries
            if e.member == member and e.fact not in revoked and e.descriptor.in_force(now)
        ]
        if not usable:
            assert member not in chosen
            continue
        best = max(
            usable,
            key=lambda e: (e.descriptor.not_before_ms, e.order.token, e.fact.hash.digest),
        )
        assert chosen[member] == best
