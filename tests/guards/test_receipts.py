"""Receipt chains per flow, and the receiver's sliding replay window.

Reordering is not loss: a receipt inside the window that was not seen before is accepted exactly
once, in any order; a replay, a receipt older than the window, and a fork (two receipts for one
nonce, or a `prev` that does not name the receipt before) are refused, whichever of two
neighbours arrives first. The window survives a restart.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.crypto.ed25519 import SigningKey, VerifyingKey
from aura_core.effects import Envelope, StorageOp
from aura_core.encoding import decode, encode
from aura_core.errors import InvalidSignature, ReceiptRejected, StorageError
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, device_address
from aura_effects.loopback import LoopbackNetwork
from aura_guards.transport import WINDOW_KEY_PREFIX, GuardedMessage
from aura_journal import receipt as receipt_module
from aura_journal.receipt import (
    REPLAY_WINDOW,
    Receipt,
    ReceiptBody,
    ReplayWindow,
    authenticate_receipts,
    message_digest,
    sign_receipt,
)
from aura_sim.handlers import Disk, MemoryStorage
from tests.guards.harness import ALICE, BOB, CONTEXT, SEND, Node, make_node, pair

KEY = SigningKey(b"\x11" * 32)
CAROL = AuthorityId(b"\xca" * 16)


def chain(length: int, *, epoch: int = 0, tag: bytes = b"") -> list[Receipt]:
    """A well-formed chain from ALICE to BOB: nonces 1..length, each naming the one before."""
    receipts: list[Receipt] = []
    prev = Hash32.zero()
    for nonce in range(1, length + 1):
        body = ReceiptBody(
            CONTEXT, ALICE, BOB, epoch, 1, nonce, prev, message_digest("m", tag + bytes([nonce]))
        )
        receipts.append(sign_receipt(body, KEY))
        prev = receipts[-1].digest
    return receipts


def feed(window: ReplayWindow, receipts: list[Receipt]) -> tuple[ReplayWindow, list[Receipt]]:
    """Offer each receipt in turn; returns the final window and the receipts it accepted."""
    accepted = []
    for receipt in receipts:
        try:
            window = window.accept(receipt.body, receipt.digest)
        except ReceiptRejected:
            continue
        accepted.append(receipt)
    return window, accepted


def consistent(accepted: list[Receipt]) -> bool:
    """No two accepted receipts share a nonce, and accepted neighbours are linked."""
    by_nonce = {r.body.nonce: r for r in accepted}
    if len(by_nonce) != len(accepted):
        return False
    for nonce, receipt in by_nonce.items():
        if nonce == 1 and receipt.body.prev != Hash32.zero():
            return False
        before = by_nonce.get(nonce - 1)
        if before is not None and receipt.body.prev != before.digest:
            return False
    return True


# ----------------------------------------------------------------------------- the window, pure


@settings(max_examples=200, deadline=None)
@given(st.integers(1, REPLAY_WINDOW), st.data())
def test_any_order_with_duplicates_accepts_each_receipt_exactly_once(
    length: int, data: st.DataObject
) -> None:
    receipts = chain(length)
    repeats = data.draw(st.lists(st.sampled_from(receipts), max_size=length))
    arrivals = data.draw(st.permutations(receipts + repeats))
    window, accepted = feed(ReplayWindow(), arrivals)
    assert sorted(r.body.nonce for r in accepted) == list(range(1, length + 1))
    assert window.top == length
    assert window.ends == {length: receipts[-1].digest} and window.starts == {}
    assert decode(encode(window), ReplayWindow) == window


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 24), st.data())
def test_no_order_lets_a_fork_in(length: int, data: st.DataObject) -> None:
    genuine = chain(length)
    # A rival history: same nonces, different messages, so different digests from some point.
    fork_at = data.draw(st.integers(1, length))
    rival = chain(length, tag=b"rival")
    forged = genuine[: fork_at - 1] + _relinked(rival[fork_at - 1 :], genuine, fork_at)
    # One stray receipt naming a predecessor that never existed.
    stray_nonce = data.draw(st.integers(1, length))
    stray = _signed(attrs.evolve(genuine[stray_nonce - 1].body, prev=Hash32(b"\x77" * 32)))
    offered = genuine + forged[fork_at - 1 :] + [stray]
    arrivals = data.draw(st.permutations(offered))
    _, accepted = feed(ReplayWindow(), arrivals)
    assert consistent(accepted)
    assert {r.body.nonce for r in accepted} <= set(range(1, length + 1))


def _signed(body: ReceiptBody) -> Receipt:
    return sign_receipt(body, KEY)


def _relinked(tail: list[Receipt], genuine: list[Receipt], start: int) -> list[Receipt]:
    """Re-sign `tail` (nonces start..) as a chain forking from `genuine` at nonce `start`."""
    prev = Hash32.zero() if start == 1 else genuine[start - 2].digest
    out = []
    for receipt in tail:
        out.append(_signed(attrs.evolve(receipt.body, prev=prev)))
        prev = out[-1].digest
    return out


def test_refusals_say_why_and_change_nothing() -> None:
    receipts = chain(REPLAY_WINDOW + 3)
    window, _ = feed(ReplayWindow(), [receipts[0], receipts[2]])
    cases = {
        "replayed": receipts[0],
        "fork": _signed(attrs.evolve(receipts[1].body, prev=Hash32(b"\x01" * 32))),
    }
    for reason, receipt in cases.items():
        with pytest.raises(ReceiptRejected, match=reason):
            window.accept(receipt.body, receipt.digest)
    # nonce 3 named receipt 2's digest; a different receipt 2 would fork the chain there
    rival_two = _signed(attrs.evolve(receipts[1].body, payload=Hash32(b"\x02" * 32)))
    with pytest.raises(ReceiptRejected, match="fork: nonce 3 does not follow 2"):
        window.accept(rival_two.body, rival_two.digest)
    bad_first = _signed(attrs.evolve(receipts[0].body, prev=Hash32(b"\x03" * 32)))
    with pytest.raises(ReceiptRejected, match="nonce 1 must not name"):
        ReplayWindow().accept(bad_first.body, bad_first.digest)
    zero = attrs.evolve(receipts[0].body, nonce=0)
    with pytest.raises(ReceiptRejected, match="nonce 0"):
        ReplayWindow().accept(zero, receipts[0].digest)
    other_epoch = attrs.evolve(receipts[0].body, epoch=1)
    with pytest.raises(ReceiptRejected, match="epoch"):
        ReplayWindow().accept(other_epoch, receipts[0].digest)
    far, _ = feed(ReplayWindow(), [receipts[-1]])  # nonce 67: the window starts at 4
    with pytest.raises(ReceiptRejected, match="too old"):
        far.accept(receipts[2].body, receipts[2].digest)
    far.accept(receipts[3].body, receipts[3].digest)  # the oldest nonce still inside
    assert window == feed(ReplayWindow(), [receipts[0], receipts[2]])[0]  # untouched


def test_the_window_stays_small_whatever_the_traffic() -> None:
    receipts = chain(3 * REPLAY_WINDOW)
    odd_first = receipts[::2] + receipts[1::2]  # every other receipt, then the gaps
    window, accepted = feed(ReplayWindow(), odd_first)
    assert len(window.ends) <= REPLAY_WINDOW + 1 and len(window.starts) <= REPLAY_WINDOW + 1
    assert len(encode(window)) < 2 * REPLAY_WINDOW * 40 + 64
    odd = set(range(1, 3 * REPLAY_WINDOW, 2))
    # after the odd nonces the window starts at 191 - 63 = 128: older even ones are too old
    assert {r.body.nonce for r in accepted} == odd | set(range(128, 3 * REPLAY_WINDOW + 1, 2))
    in_order, _ = feed(ReplayWindow(), receipts)
    assert in_order.ends == {in_order.top: receipts[-1].digest} and not in_order.starts
    assert len(encode(in_order)) < 128  # in order, only the head's digest is kept


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(["valid", "forged", "wrong key", "other signer"]), max_size=40))
def test_only_receipts_their_signer_vouched_for_are_authentic(kinds: list[str]) -> None:
    """A chain with third-party forgeries and wrong keys mixed in: authentic is exactly what
    verifying each alone says (a forgery's digest is not the one its successor names)."""
    receipts = chain(max(len(kinds), 1))
    other = SigningKey(b"\x22" * 32)
    offered: list[tuple[Receipt, VerifyingKey]] = []
    for genuine, kind in zip(receipts, kinds, strict=False):
        receipt = genuine
        if kind == "forged":
            receipt = attrs.evolve(genuine, signature=other.sign(b"x"))
        elif kind == "other signer":  # signed by the key it names, but not the expected one
            receipt = sign_receipt(genuine.body, other)
        key = other.verifying_key if kind == "wrong key" else KEY.verifying_key
        offered.append((receipt, key))
    one_by_one = []
    for receipt, key in offered:
        try:
            receipt.verify(key)
        except InvalidSignature:
            one_by_one.append(False)
        else:
            one_by_one.append(True)
    assert authenticate_receipts(offered) == one_by_one
    assert one_by_one == [kind == "valid" for kind in kinds]


def spoiled_chain(spoiled: list[bool]) -> list[Receipt]:
    """A chain whose signer spoiled the signatures it was told to and went on naming them."""
    receipts: list[Receipt] = []
    prev = Hash32.zero()
    for nonce, spoil in enumerate(spoiled, start=1):
        body = ReceiptBody(
            CONTEXT, ALICE, BOB, 0, 1, nonce, prev, message_digest("m", b"%d" % nonce)
        )
        receipt = sign_receipt(body, KEY)
        if spoil:
            receipt = attrs.evolve(receipt, signature=bytes(64))
        receipts.append(receipt)
        prev = receipt.digest
    return receipts


@settings(max_examples=40, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=24), st.data())
def test_a_signed_receipt_vouches_for_what_it_names(
    spoiled: list[bool], data: st.DataObject
) -> None:
    """Any subset of a chain, in any order: a receipt is authentic iff its own signature
    verifies or the receipt after it is present and authentic (it names this one's digest)."""
    receipts = spoiled_chain(spoiled)
    present = data.draw(st.sets(st.integers(0, len(receipts) - 1)))
    order = data.draw(st.permutations(sorted(present)))
    expected: dict[int, bool] = {}
    for n in range(len(receipts) - 1, -1, -1):
        after = n + 1 in present and expected[n + 1]
        expected[n] = not spoiled[n] or after
    got = authenticate_receipts([(receipts[n], KEY.verifying_key) for n in order])
    assert got == [expected[n] for n in order]


def test_a_whole_chain_costs_one_signature_check(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[int] = []
    real = receipt_module.verify_many

    def counting(items: list[tuple[VerifyingKey, bytes, bytes]]) -> list[bool]:
        checked.append(len(items))
        return real(items)

    monkeypatch.setattr(receipt_module, "verify_many", counting)
    receipts = chain(40)
    shuffled = receipts[20:] + receipts[:20]
    assert authenticate_receipts([(r, KEY.verifying_key) for r in shuffled]) == [True] * 40
    assert checked == [1]  # the last receipt; it names the one before, and so on
    checked.clear()
    broken = receipts[:10] + receipts[11:]  # two chains now: each tip is checked
    assert authenticate_receipts([(r, KEY.verifying_key) for r in broken]) == [True] * 39
    assert checked == [2]
    checked.clear()
    tip_spoiled = spoiled_chain([False] * 5 + [True])
    assert authenticate_receipts([(r, KEY.verifying_key) for r in tip_spoiled]) == [True] * 5 + [
        False
    ]
    assert checked == [1, 5]  # the tip failed: the others are checked one by one


# ----------------------------------------------------------------------------- the transport


async def sent(alice: Node, network: LoopbackNetwork, count: int) -> list[Envelope]:
    start = len(network.delivered)
    for i in range(count):
        await alice.guarded.send(CONTEXT, BOB, "m", b"message %d" % i, SEND)
    return network.delivered[start:]


def forged(alice: Node, envelope: Envelope, **changes: object) -> Envelope:
    """The envelope re-signed by Alice with receipt fields changed (a fork of her own chain)."""
    message = decode(envelope.payload, GuardedMessage)
    body = attrs.evolve(message.receipt.body, **changes)  # type: ignore[arg-type]
    if "payload" not in changes:
        text = message.body + b" (rival)"
        body = attrs.evolve(body, payload=message_digest(message.operation, text))
        message = attrs.evolve(message, body=text)
    receipt = sign_receipt(body, alice.key)
    return attrs.evolve(envelope, payload=encode(attrs.evolve(message, receipt=receipt)))


async def window_bytes(node: Node) -> bytes | None:
    return await node.effects.storage.get(f"{WINDOW_KEY_PREFIX}{CONTEXT}/{ALICE}")


BUNDLES = ["testing", "sqlite"]


@pytest.mark.anyio
@pytest.mark.parametrize("kind", BUNDLES)
async def test_reordered_envelopes_are_accepted_exactly_once(kind: str, tmp_path: Path) -> None:
    alice, bob, network = await pair(kind, tmp_path)
    envelopes = await sent(alice, network, 6)
    order = [3, 0, 5, 1, 4, 2]
    for i in order:
        message = await bob.guarded.accept(envelopes[i])
        assert message.body == b"message %d" % i
    for envelope in envelopes:
        with pytest.raises(ReceiptRejected, match="replayed"):
            await bob.guarded.accept(envelope)


@pytest.mark.anyio
@pytest.mark.parametrize("kind", BUNDLES)
async def test_receipts_older_than_the_window_are_refused(kind: str, tmp_path: Path) -> None:
    alice, bob, network = await pair(kind, tmp_path)
    envelopes = await sent(alice, network, REPLAY_WINDOW + 2)
    await bob.guarded.accept(envelopes[-1])  # nonce 66: the window now starts at 3
    before = await window_bytes(bob)
    for late in envelopes[:2]:
        with pytest.raises(ReceiptRejected, match="too old"):
            await bob.guarded.accept(late)
    assert await window_bytes(bob) == before
    assert (await bob.guarded.accept(envelopes[2])).body == b"message 2"


@pytest.mark.anyio
@pytest.mark.parametrize("kind", BUNDLES)
@pytest.mark.parametrize("gap_fills_later", [False, True])
async def test_a_forked_chain_is_refused(kind: str, tmp_path: Path, gap_fills_later: bool) -> None:
    alice, bob, network = await pair(kind, tmp_path)
    one, two, three = await sent(alice, network, 3)
    await bob.guarded.accept(one)
    rival_two = forged(alice, two)  # the same nonce, another message
    bad_link = forged(alice, three, prev=Hash32(b"\x05" * 32))  # names no receipt Bob knows
    if gap_fills_later:
        # 3 arrives before 2: when a rival 2 fills the gap, it does not match what 3 named.
        await bob.guarded.accept(three)
        before = await window_bytes(bob)
        with pytest.raises(ReceiptRejected, match="fork: nonce 3 does not follow 2"):
            await bob.guarded.accept(rival_two)
        assert await window_bytes(bob) == before
        assert (await bob.guarded.accept(two)).body == b"message 1"
    else:
        await bob.guarded.accept(two)
        before = await window_bytes(bob)
        with pytest.raises(ReceiptRejected, match="replayed"):  # a second receipt for nonce 2
            await bob.guarded.accept(rival_two)
        with pytest.raises(ReceiptRejected, match="fork: nonce 3 does not follow 2"):
            await bob.guarded.accept(bad_link)
        assert await window_bytes(bob) == before
        assert (await bob.guarded.accept(three)).body == b"message 2"
    assert bob.guarded.rejected == 0  # accept() raises; receive() is what counts and traces


@pytest.mark.anyio
async def test_receive_traces_what_it_refuses(tmp_path: Path) -> None:
    alice, bob, network = await pair("testing", tmp_path)
    one, two = await sent(alice, network, 2)
    await alice.raw.send(BOB, CONTEXT, one.payload)  # a replay of nonce 1, behind both originals
    rival = forged(alice, two, prev=Hash32(b"\x06" * 32), nonce=3)
    await alice.raw.send(BOB, CONTEXT, rival.payload)
    received = [await bob.guarded.receive(), await bob.guarded.receive()]
    assert [m.body for m in received] == [b"message 0", b"message 1"]
    await alice.guarded.send(CONTEXT, BOB, "m", b"last", SEND)  # nonce 3, the genuine one
    with anyio.fail_after(5):
        assert (await bob.guarded.receive()).body == b"last"
    details = [e.get("detail") for e in bob.effects.trace.events("guard.rejected")]  # type: ignore[attr-defined]
    assert bob.guarded.rejected == 2
    assert "replayed" in str(details[0]) and "fork" in str(details[1])


@pytest.mark.anyio
async def test_the_window_is_durable_before_the_message_is_handed_up(tmp_path: Path) -> None:
    disk = Disk()
    network = LoopbackNetwork()
    alice = await make_node("testing", ALICE, network, tmp_path, seed=1)
    bob = await make_node("testing", BOB, network, tmp_path, seed=2, storage=MemoryStorage(disk))
    alice.effects.peers.add(BOB, bob.key.verifying_key)
    bob.effects.peers.add(ALICE, alice.key.verifying_key)
    one, two, three = await sent(alice, network, 3)
    await bob.guarded.accept(three)

    def power_cut(index: int, op: StorageOp) -> None:
        raise StorageError("power cut")

    storage = bob.effects.storage
    assert isinstance(storage, MemoryStorage)
    storage.fault = power_cut
    before = dict(disk.data)
    with pytest.raises(StorageError):
        await bob.guarded.accept(one)  # not handed up, not remembered
    assert disk.data == before
    storage.fault = None
    assert (await bob.guarded.accept(one)).body == b"message 0"

    # Restart: a new node over the same disk remembers 1 and 3, still takes 2, exactly once.
    reopened = await make_node(
        "testing", BOB, LoopbackNetwork(), tmp_path, seed=2, storage=MemoryStorage(disk)
    )
    reopened.effects.peers.add(ALICE, alice.key.verifying_key)
    for seen in (one, three):
        with pytest.raises(ReceiptRejected, match="replayed"):
            await reopened.guarded.accept(seen)
    assert (await reopened.guarded.accept(two)).body == b"message 1"
    with pytest.raises(ReceiptRejected, match="replayed"):
        await reopened.guarded.accept(two)


@pytest.mark.anyio
async def test_the_window_survives_reopening_sqlite(tmp_path: Path) -> None:
    network = LoopbackNetwork()
    alice = await make_node("testing", ALICE, network, tmp_path, seed=1)
    bob = await make_node("sqlite", BOB, network, tmp_path, seed=2)
    alice.effects.peers.add(BOB, bob.key.verifying_key)
    bob.effects.peers.add(ALICE, alice.key.verifying_key)
    one, two, three = await sent(alice, network, 3)
    await bob.guarded.accept(one)
    await bob.guarded.accept(three)
    await bob.effects.storage.close()  # type: ignore[attr-defined]
    reopened = await make_node("sqlite", BOB, LoopbackNetwork(), tmp_path, seed=2)
    reopened.effects.peers.add(ALICE, alice.key.verifying_key)
    with pytest.raises(ReceiptRejected, match="replayed"):
        await reopened.guarded.accept(three)
    assert (await reopened.guarded.accept(two)).body == b"message 1"


@pytest.mark.anyio
async def test_chains_are_per_destination_and_a_new_epoch_starts_new_ones(tmp_path: Path) -> None:
    alice, bob, network = await pair("testing", tmp_path)
    carol = await make_node("testing", CAROL, network, tmp_path, seed=3)
    alice.effects.peers.add(CAROL, carol.key.verifying_key)
    carol.effects.peers.add(ALICE, alice.key.verifying_key)
    to_bob = await alice.guarded.send(CONTEXT, BOB, "m", b"b1", SEND)
    to_carol = await alice.guarded.send(CONTEXT, CAROL, "m", b"c1", SEND)
    again = await alice.guarded.send(CONTEXT, BOB, "m", b"b2", SEND)
    assert [r.body.nonce for r in (to_bob, to_carol, again)] == [1, 1, 2]  # no gaps per peer
    assert (to_carol.body.prev, again.body.prev) == (Hash32.zero(), to_bob.digest)
    for envelope in network.delivered[:3]:
        target = bob if envelope.destination == BOB else carol
        await target.guarded.accept(envelope)

    await alice.rotate_epoch(1)
    await bob.rotate_epoch(1)
    fresh = await alice.guarded.send(CONTEXT, BOB, "m", b"epoch 1", SEND)
    assert (fresh.body.epoch, fresh.body.nonce, fresh.body.prev) == (1, 1, Hash32.zero())
    stale = network.delivered[0]
    with pytest.raises(ReceiptRejected, match="epoch"):
        await bob.guarded.accept(stale)  # the old epoch's envelopes are refused
    assert (await bob.guarded.accept(network.delivered[-1])).body == b"epoch 1"
    stored = await window_bytes(bob)
    assert stored is not None and decode(stored, ReplayWindow).epoch == 1  # one key per flow


@pytest.mark.anyio
async def test_a_corrupt_window_fails_closed(tmp_path: Path) -> None:
    alice, bob, network = await pair("testing", tmp_path)
    [envelope] = await sent(alice, network, 1)
    await bob.effects.storage.put(f"{WINDOW_KEY_PREFIX}{CONTEXT}/{ALICE}", b"\xff not cbor")
    for _ in range(2):  # nothing is cached from the failed read
        with pytest.raises(StorageError, match="corrupt"):
            await bob.guarded.accept(envelope)


@pytest.mark.anyio
async def test_a_self_certifying_source_needs_no_directory_entry(tmp_path: Path) -> None:
    """A source missing from the peer directory is accepted iff its address is the one its
    receipt's signer derives (`device_address`); any other unknown source is refused."""
    _, bob, network = await pair("testing", tmp_path)
    dave_key = SigningKey(bytes([4]) * 32)
    dave = await make_node(
        "testing", device_address(dave_key.verifying_key), network, tmp_path, seed=4
    )
    dave.effects.peers.add(BOB, bob.key.verifying_key)  # the sender knows Bob's key
    await dave.guarded.send(CONTEXT, BOB, "m", b"hello", SEND)
    received = await bob.guarded.accept(network.delivered[-1])
    assert (received.source, received.body) == (dave.authority, b"hello")
    assert await bob.effects.peers.peer_key(dave.authority) is None  # nothing was added

    # An address derived from another key than the one signing: refused, no window written.
    posing = await make_node(
        "testing",
        device_address(SigningKey(bytes([6]) * 32).verifying_key),
        network,
        tmp_path,
        seed=5,
    )
    posing.effects.peers.add(BOB, bob.key.verifying_key)
    await posing.guarded.send(CONTEXT, BOB, "m", b"pose", SEND)
    with pytest.raises(ReceiptRejected, match="unknown peer"):
        await bob.guarded.accept(network.delivered[-1])
    assert await bob.effects.storage.get(f"{WINDOW_KEY_PREFIX}{CONTEXT}/{posing.authority}") is None
    # An entropy address unknown to Bob: refused as before.
    carol = await make_node("testing", CAROL, network, tmp_path, seed=3)
    carol.effects.peers.add(BOB, bob.key.verifying_key)
    await carol.guarded.send(CONTEXT, BOB, "m", b"c", SEND)
    with pytest.raises(ReceiptRejected, match="unknown peer"):
        await bob.guarded.accept(network.delivered[-1])
