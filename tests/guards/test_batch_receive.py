"""Receiving a batch: `accept_many` and `receive_many` check many envelopes at once (one
signature batch, one storage write) and decide exactly what checking them one by one decides.

Each envelope of a batch is accepted or refused as `accept` would have, in the order given:
valid, malformed, forged, replayed and reordered envelopes mixed in one batch; the replay
windows it changed are written in one storage batch before anything is handed up, and a storage
failure hands nothing up and changes no window.
"""

from __future__ import annotations

import functools
from pathlib import Path

import anyio
import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aura_core.crypto.ed25519 import SigningKey
from aura_core.effects import Envelope, StorageOp
from aura_core.encoding import encode
from aura_core.errors import EncodingError, InvalidArgument, ReceiptRejected, StorageError
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, ContextId
from aura_effects.loopback import LoopbackNetwork, LoopbackTransport, Mailbox
from aura_guards.transport import (
    WINDOW_KEY_PREFIX,
    Checked,
    GuardedMessage,
    ReceivedMessage,
)
from aura_journal.receipt import Receipt, ReceiptBody, message_digest, sign_receipt
from aura_sim.handlers import Disk, MemoryStorage
from tests.guards.harness import ALICE, BOB, CONTEXT, OTHER_CONTEXT, SEEDS, Node, make_node

ALICE_KEY = SigningKey(bytes([SEEDS[ALICE]]) * 32)
"""Alice's receipt key (the harness derives a node's key from its seed)."""
CAROL = AuthorityId(b"\xca" * 16)
CAROL_KEY = SigningKey(b"\x0c" * 32)
CONTEXTS = (CONTEXT, OTHER_CONTEXT)


def receipt(
    context: ContextId, nonce: int, prev: Hash32, text: bytes, *, epoch: int = 0
) -> Receipt:
    body = ReceiptBody(context, ALICE, BOB, epoch, 1, nonce, prev, message_digest("m", text))
    return sign_receipt(body, ALICE_KEY)


def envelope(signed: Receipt, text: bytes, *, context: ContextId | None = None) -> Envelope:
    """Alice's envelope to Bob carrying `text` with `signed` (in the receipt's context unless
    `context` routes it elsewhere)."""
    route = signed.body.context if context is None else context
    return Envelope(ALICE, BOB, route, encode(GuardedMessage("m", text, signed)))


async def post(alice: LoopbackTransport, sent: Envelope) -> None:
    """`sent` (Alice's) through Alice's raw transport."""
    await alice.send(sent.destination, sent.context, sent.payload)


@functools.cache
def chain(context: ContextId, length: int, tag: bytes = b"") -> list[tuple[Receipt, bytes]]:
    """A well-formed chain of Alice's receipts to Bob in `context`, with the text each binds."""
    links: list[tuple[Receipt, bytes]] = []
    prev = Hash32.zero()
    for nonce in range(1, length + 1):
        text = b"%s %s %d" % (tag, context.raw[:1].hex().encode(), nonce)
        links.append((receipt(context, nonce, prev, text), text))
        prev = links[-1][0].digest
    return links


def bad_signature(signed: Receipt) -> Receipt:
    """`signed` with its signature replaced by one over the same bytes by another key."""
    other = sign_receipt(signed.body, CAROL_KEY)
    return attrs.evolve(signed, signature=other.signature)


async def bob_alone(tmp_path: Path, storage: MemoryStorage | None = None) -> Node:
    """Bob, knowing Alice's receipt key (Alice herself sends nothing here)."""
    bob = await make_node(
        "testing", BOB, LoopbackNetwork(), tmp_path, seed=SEEDS[BOB], storage=storage, record=False
    )
    bob.effects.peers.add(ALICE, ALICE_KEY.verifying_key)
    return bob


async def windows(node: Node) -> dict[str, bytes | None]:
    storage = node.effects.storage
    keys = await storage.list_keys(WINDOW_KEY_PREFIX)
    return {key: await storage.get(key) for key in keys}


def shown(outcome: Checked) -> object:
    """An outcome as a comparable value: the message, or the refusal's type and text."""
    if isinstance(outcome, ReceivedMessage):
        return outcome
    return (type(outcome).__name__, outcome.message)


# ----------------------------------------------------------------------------- fixed cases


@pytest.mark.anyio
async def test_a_mixed_batch_accepts_exactly_what_checks_out_in_order(tmp_path: Path) -> None:
    bob = await bob_alone(tmp_path)
    links = chain(CONTEXT, 6)
    (r1, t1), (r2, t2), (r3, t3), (r4, t4), (r5, t5), (_, t6) = links
    carols = sign_receipt(attrs.evolve(r5.body, source=CAROL), CAROL_KEY)
    batch = [
        envelope(r3, t3),  # ahead of its predecessors: inside the window
        envelope(r1, t1),
        Envelope(ALICE, BOB, CONTEXT, b"\xff not cbor"),  # malformed
        envelope(r3, t3),  # a replay within the batch
        envelope(bad_signature(r4), t4),  # forged
        envelope(r4, t4 + b"!"),  # the receipt does not bind this text
        envelope(r5, t5, context=OTHER_CONTEXT),  # routed through another context
        Envelope(CAROL, BOB, CONTEXT, encode(GuardedMessage("m", t5, carols))),  # unknown peer
        envelope(receipt(CONTEXT, 6, r5.digest, t6, epoch=1), t6),  # another epoch
        envelope(receipt(CONTEXT, 2, r1.digest, b"rival"), b"rival"),  # a fork of nonce 2
        envelope(r2, t2),  # the genuine 2 after the refused rival: still accepted
        Envelope(ALICE, CAROL, CONTEXT, envelope(r4, t4).payload),  # addressed to Carol
    ]
    outcomes = await bob.guarded.accept_many(batch)
    accepted = [o.body for o in outcomes if isinstance(o, ReceivedMessage)]
    assert accepted == [t3, t1, t2]
    refusals = [o for o in outcomes if not isinstance(o, ReceivedMessage)]
    assert isinstance(refusals[0], EncodingError) and refusals[0] is outcomes[2]
    assert all(isinstance(r, ReceiptRejected) for r in refusals[1:])
    assert [r.message for r in refusals[1:]] == [
        "replayed receipt (nonce 3 already accepted)",
        "receipt signature does not verify",
        "receipt does not bind this message",
        "receipt does not match the envelope's route",
        f"unknown peer {CAROL}",
        "receipt of epoch 1, context is at 0",
        "receipt chain fork: nonce 3 does not follow 2",
        "envelope addressed to someone else",
    ]
    # Then the rest of the chain, one by one, as if nothing happened in between.
    assert (await bob.guarded.accept(envelope(r5, t5))).body == t5
    assert (await bob.guarded.accept(envelope(r4, t4))).body == t4
    with pytest.raises(ReceiptRejected, match="replayed"):
        await bob.guarded.accept(envelope(r1, t1))


@pytest.mark.anyio
async def test_receive_many_hands_up_the_accepted_and_traces_the_rest(tmp_path: Path) -> None:
    network = LoopbackNetwork()
    bob = await make_node("testing", BOB, network, tmp_path, seed=SEEDS[BOB], record=False)
    bob.effects.peers.add(ALICE, ALICE_KEY.verifying_key)
    alice = network.attach(ALICE)
    links = chain(CONTEXT, 3)
    for signed, text in [links[1], links[0], links[1], links[2]]:
        await post(alice, envelope(signed, text))
    await post(alice, envelope(bad_signature(links[2][0]), links[2][1]))
    with anyio.fail_after(5):
        received = await bob.guarded.receive_many()
    assert [m.body for m in received] == [links[1][1], links[0][1], links[2][1]]
    assert bob.guarded.rejected == 2
    details = [e.get("detail") for e in bob.effects.trace.events("guard.rejected")]  # type: ignore[attr-defined]
    assert details == [
        "replayed receipt (nonce 2 already accepted)",
        "receipt signature does not verify",
    ]


@pytest.mark.anyio
async def test_receive_hands_out_a_checked_batch_one_message_at_a_time(tmp_path: Path) -> None:
    network = LoopbackNetwork()
    bob = await make_node("testing", BOB, network, tmp_path, seed=SEEDS[BOB], record=False)
    bob.effects.peers.add(ALICE, ALICE_KEY.verifying_key)
    alice = network.attach(ALICE)
    links = chain(CONTEXT, 4)
    for signed, text in links:
        await post(alice, envelope(signed, text))
    with anyio.fail_after(5):
        first = await bob.guarded.receive()  # checks all four, hands out one
        assert await windows(bob) != {}
        rest = await bob.guarded.receive_many(2)
        last = await bob.guarded.receive_many()
    assert [m.body for m in [first, *rest, *last]] == [text for _, text in links]
    assert len(rest) == 2


@pytest.mark.anyio
async def test_a_storage_failure_hands_nothing_up_and_changes_no_window(tmp_path: Path) -> None:
    disk = Disk()
    storage = MemoryStorage(disk)
    bob = await bob_alone(tmp_path, storage)
    first = chain(CONTEXT, 2)
    await bob.guarded.accept_many([envelope(s, t) for s, t in first])
    batch = [envelope(s, t) for s, t in chain(CONTEXT, 5)[2:] + chain(OTHER_CONTEXT, 3)]
    writes: list[list[str]] = []

    def fail_second_write(index: int, op: StorageOp) -> None:
        if index == 0:
            writes.append([])
        writes[-1].append(op.key)
        if index == 1:
            raise StorageError("disk full")

    storage.fault = fail_second_write
    before = dict(disk.data)
    with pytest.raises(StorageError):
        await bob.guarded.accept_many(batch)
    assert disk.data == before
    assert len(writes) == 1 and len(writes[0]) == 2  # both flows' windows, in one batch
    storage.fault = None
    # Nothing was remembered: the same batch is accepted whole now, with one write.
    outcomes = await bob.guarded.accept_many(batch)
    assert all(isinstance(o, ReceivedMessage) for o in outcomes)
    assert len(await windows(bob)) == 2


@pytest.mark.anyio
async def test_a_batch_refused_whole_writes_nothing(tmp_path: Path) -> None:
    storage = MemoryStorage()
    bob = await bob_alone(tmp_path, storage)
    writes: list[StorageOp] = []
    storage.on_commit = writes.extend
    links = chain(CONTEXT, 2)
    outcomes = await bob.guarded.accept_many([envelope(bad_signature(s), t) for s, t in links])
    assert all(isinstance(o, ReceiptRejected) for o in outcomes)
    assert writes == [] and await windows(bob) == {}
    assert await bob.guarded.accept_many([]) == []


@pytest.mark.anyio
async def test_a_receipt_is_vouched_for_by_the_next_one_its_signer_signed(tmp_path: Path) -> None:
    """Alice spoils the signature of her receipt 2 but goes on: receipt 3, which she signs,
    names receipt 2's digest, so a batch holding both takes 2 (one signature check covers the
    chain); alone, 2 is refused."""
    links = chain(CONTEXT, 1)
    r1, t1 = links[0]
    t2, t3 = b"two", b"three"
    spoiled = attrs.evolve(receipt(CONTEXT, 2, r1.digest, t2), signature=bytes(64))
    r3 = receipt(CONTEXT, 3, spoiled.digest, t3)
    together = await bob_alone(tmp_path)
    outcomes = await together.guarded.accept_many(
        [envelope(r1, t1), envelope(spoiled, t2), envelope(r3, t3)]
    )
    assert [o.body for o in outcomes if isinstance(o, ReceivedMessage)] == [t1, t2, t3]
    alone = await bob_alone(tmp_path)
    assert (await alone.guarded.accept(envelope(r1, t1))).body == t1
    with pytest.raises(ReceiptRejected, match="signature does not verify"):
        await alone.guarded.accept(envelope(spoiled, t2))
    # A third party cannot do the same: naming a receipt takes a signature it cannot make.
    stranger = await bob_alone(tmp_path)
    forged_next = attrs.evolve(receipt(CONTEXT, 3, spoiled.digest, t3), signature=bytes(64))
    outcomes = await stranger.guarded.accept_many(
        [envelope(r1, t1), envelope(spoiled, t2), envelope(forged_next, t3)]
    )
    assert [o.body for o in outcomes if isinstance(o, ReceivedMessage)] == [t1]


@pytest.mark.anyio
async def test_a_mailbox_hands_over_what_it_holds_up_to_the_limit() -> None:
    mailbox = Mailbox("bob")
    links = chain(CONTEXT, 5)
    for signed, text in links:
        mailbox.put(envelope(signed, text))
    with pytest.raises(InvalidArgument):
        await mailbox.get_many(0)
    assert len(mailbox.queue) == 5  # a refused call takes nothing
    assert len(await mailbox.get_many(3)) == 3
    assert len(await mailbox.get_many(10)) == 2
    async with anyio.create_task_group() as group:
        taken: list[list[Envelope]] = []

        async def take() -> None:
            taken.append(await mailbox.get_many(10))

        group.start_soon(take)
        await anyio.wait_all_tasks_blocked()
        mailbox.put(envelope(*links[0]))
    assert [len(batch) for batch in taken] == [1]


# ----------------------------------------------------------------------------- the property

arrivals = st.lists(
    st.tuples(
        st.sampled_from(
            ["valid", "valid", "valid", "replay", "fork", "forged", "malformed", "unbound", "epoch"]
        ),
        st.sampled_from(CONTEXTS),
        st.integers(0, 11),
    ),
    max_size=48,
)


def offered(kind: str, context: ContextId, index: int) -> Envelope:
    links = chain(context, 12)
    signed, text = links[index]
    if kind in ("valid", "replay"):
        return envelope(signed, text)
    if kind == "fork":
        rival = receipt(context, signed.body.nonce, signed.body.prev, text + b" rival")
        return envelope(rival, text + b" rival")
    if kind == "forged":
        return envelope(bad_signature(signed), text)
    if kind == "unbound":
        return envelope(signed, text + b"?")
    if kind == "epoch":
        return envelope(receipt(context, signed.body.nonce, signed.body.prev, text, epoch=1), text)
    return Envelope(ALICE, BOB, context, encode(GuardedMessage("m", text, signed))[:-3])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(arrivals, st.data())
def test_a_batch_decides_what_one_by_one_decides(
    tmp_path: Path, arriving: list[tuple[str, ContextId, int]], data: st.DataObject
) -> None:
    envelopes = [offered(*spec) for spec in arriving]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(envelopes)), max_size=4)))
    batches = [envelopes[a:b] for a, b in zip([0, *cuts], [*cuts, len(envelopes)], strict=True)]
    anyio.run(compare, tmp_path, envelopes, batches)


async def compare(tmp_path: Path, envelopes: list[Envelope], batches: list[list[Envelope]]) -> None:
    one_by_one, batched = await bob_alone(tmp_path), await bob_alone(tmp_path)
    singles: list[object] = []
    for each in envelopes:
        try:
            singles.append(shown(await one_by_one.guarded.accept(each)))
        except (ReceiptRejected, EncodingError) as exc:
            singles.append(shown(exc))
    together: list[object] = []
    for batch in batches:
        together += [shown(o) for o in await batched.guarded.accept_many(batch)]
    assert together == singles
    assert await windows(batched) == await windows(one_by_one)
