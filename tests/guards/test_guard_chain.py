"""The guard chain, run against the testing bundle and the production (SQLite) bundle."""

from __future__ import annotations

from pathlib import Path

import anyio
import attrs
import pytest

from aura_core.encoding import decode, encode
from aura_core.errors import GuardDenied, ReceiptRejected, StorageError, TokenError
from aura_guards.chain import GuardAnnotations
from aura_guards.transport import CHARGE_KEY_PREFIX, GuardedMessage
from aura_journal.budget import Capped
from aura_journal.capability import CapabilityFrontier, CapabilityToken, ContextScope, issue_token
from aura_journal.coupling import CoupledSend
from aura_journal.leakage import LeakageLimits, ObserverClass
from tests.guards.harness import (
    ALICE,
    BOB,
    CONTEXT,
    OTHER_CONTEXT,
    SEND,
    Node,
    Recorder,
    pair,
)

pytestmark = pytest.mark.anyio
BUNDLES = ["testing", "sqlite"]


@pytest.fixture(params=BUNDLES)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def state(node: Node) -> tuple[object, ...]:
    """Everything a denied send must leave untouched."""
    keys = await node.effects.storage.list_keys("")
    values = [await node.effects.storage.get(k) for k in keys]
    journal = await node.journal()
    recorder = node.guarded._transport
    assert isinstance(recorder, Recorder)
    return (tuple(keys), tuple(values), journal.fact_ids(), len(recorder.sent))


async def test_send_charges_before_delivery_and_receipt_checks_out(
    kind: str, tmp_path: Path
) -> None:
    alice, bob, network = await pair(kind, tmp_path)
    receipt = await alice.guarded.send(CONTEXT, BOB, "chat.message", b"hello", SEND)
    assert await alice.spent(BOB) == 10
    recorder = alice.guarded._transport
    assert isinstance(recorder, Recorder)
    [(_, charge)] = recorder.sent
    assert charge is not None  # the flow's register named this receipt before it left
    assert (charge.epoch, charge.spent, charge.nonce) == (0, 10, 1)
    message = await bob.guarded.receive()
    assert (message.source, message.body, message.operation) == (ALICE, b"hello", "chat.message")
    assert message.receipt == receipt
    second = await alice.guarded.send(CONTEXT, BOB, "chat.message", b"again", SEND)
    assert second.body.nonce == receipt.body.nonce + 1
    assert second.body.prev == receipt.digest
    assert (await bob.guarded.receive()).receipt == second
    assert len(network.delivered) == 2


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("unguarded", "unguarded"),
        ("oversized", "oversized"),
        ("unknown_peer", "unknown_peer"),
        ("no_grant", "capability"),
        ("other_context", "capability"),
        ("expired", "capability"),
        ("public_without_budget", "unconfigured_flow"),
        ("free_without_budget", "unconfigured_flow"),
        ("budget", "budget"),
        ("leakage", "leakage"),
    ],
)
async def test_denials_charge_write_and_send_nothing(
    kind: str, tmp_path: Path, case: str, reason: str
) -> None:
    alice, _, network = await pair(kind, tmp_path)
    annotations: GuardAnnotations | None = SEND
    body, peer, context = b"hi", BOB, CONTEXT
    if case == "unguarded":
        annotations = None
    elif case == "oversized":
        body = bytes(64 * 1024 + 1)
    elif case == "unknown_peer":
        alice.effects.peers.remove(BOB)
    elif case == "no_grant":
        context = OTHER_CONTEXT
        alice.effects.flow.set_default(OTHER_CONTEXT, Capped(1000))
    elif case == "other_context":
        token = issue_token(
            alice.capability_root,
            ALICE,
            ["chat:send"],
            seed=b"\x07" * 32,
            scope=ContextScope(CONTEXT),
        )
        alice.effects.authorization.grant(OTHER_CONTEXT, CapabilityFrontier.of(token))
        alice.effects.flow.set_default(OTHER_CONTEXT, Capped(1000))
        context = OTHER_CONTEXT
    elif case == "expired":
        now = (await alice.effects.time.now()).ts_ms
        token = issue_token(
            alice.capability_root,
            ALICE,
            ["chat:send"],
            seed=b"\x08" * 32,
            scope=ContextScope(CONTEXT),
        )
        expiring = token.attenuate(expires_ms=now - 1, seed=b"\x09" * 32)
        alice.effects.authorization.grant(CONTEXT, CapabilityFrontier.of(expiring))
    elif case in ("public_without_budget", "free_without_budget"):
        # A flow no policy names is closed, even for a send that costs nothing.
        token = issue_token(
            alice.capability_root,
            ALICE,
            ["chat:send"],
            seed=b"\x0a" * 32,
            scope=ContextScope(OTHER_CONTEXT),
        )
        alice.effects.authorization.grant(OTHER_CONTEXT, CapabilityFrontier.of(token))
        context = OTHER_CONTEXT
        annotations = attrs.evolve(SEND, flow_cost=0)
        if case == "public_without_budget":
            annotations = GuardAnnotations(flow_cost=0, public="presence beacon")
    elif case == "budget":
        annotations = attrs.evolve(SEND, flow_cost=1001)
    elif case == "leakage":
        alice.effects.leakage.set_limits(CONTEXT, LeakageLimits(external=0))
        annotations = attrs.evolve(SEND, leak=(ObserverClass.EXTERNAL,))
    before = await state(alice)
    with pytest.raises(GuardDenied) as denied:
        await alice.guarded.send(context, peer, "chat.message", body, annotations)
    assert denied.value.reason == reason
    assert await state(alice) == before
    assert network.delivered == []
    denial = alice.effects.trace.events("guard.denied")[-1]  # type: ignore[attr-defined]
    assert (denial.get("reason"), denial.get("context"), denial.get("peer")) == (
        reason,
        str(context),
        str(peer),
    )


async def test_a_public_message_needs_no_grant_but_pays_like_any_other(
    kind: str, tmp_path: Path
) -> None:
    alice, bob, _ = await pair(kind, tmp_path)
    alice.effects.flow.set_default(OTHER_CONTEXT, Capped(10))  # budget, but no grant there
    beacon = GuardAnnotations(
        flow_cost=7, journal_label="beacon", leak=(ObserverClass.GROUP,), public="presence beacon"
    )
    receipt = await alice.guarded.send(OTHER_CONTEXT, BOB, "beacon", b"here", beacon)
    assert receipt.body.cost == 7
    assert await alice.spent(BOB, OTHER_CONTEXT) == 7
    journal = await alice.journal(OTHER_CONTEXT)
    assert len(journal.of_type("flow.coupled_send")) == 1
    assert len(journal.of_type("leakage.recorded")) == 1
    with pytest.raises(GuardDenied) as denied:  # 7 + 7 > 10: the budget still binds
        await alice.guarded.send(OTHER_CONTEXT, BOB, "beacon", b"here", beacon)
    assert denied.value.reason == "budget"
    with pytest.raises(GuardDenied) as denied:  # the capability guard still guards the rest
        await alice.guarded.send(OTHER_CONTEXT, BOB, "chat", b"hi", attrs.evolve(SEND, flow_cost=1))
    assert denied.value.reason == "capability"
    assert (await bob.guarded.receive()).operation == "beacon"


async def test_budget_exhausts_exactly_and_epoch_rotation_resets_it(
    kind: str, tmp_path: Path
) -> None:
    alice, _, _ = await pair(kind, tmp_path)
    alice.effects.flow.set_limit(CONTEXT, BOB, Capped(25))
    for _ in range(2):
        await alice.guarded.send(CONTEXT, BOB, "m", b"x", SEND)
    with pytest.raises(GuardDenied):
        await alice.guarded.send(CONTEXT, BOB, "m", b"x", SEND)
    await alice.guarded.send(CONTEXT, BOB, "m", b"x", attrs.evolve(SEND, flow_cost=5))
    assert await alice.spent(BOB) == 25
    await alice.rotate_epoch(1)
    assert await alice.spent(BOB) == 0
    receipt = await alice.guarded.send(CONTEXT, BOB, "m", b"x", SEND)
    assert (receipt.body.epoch, receipt.body.nonce) == (1, 1)  # a new chain per epoch


async def test_leakage_is_recorded_and_limited(kind: str, tmp_path: Path) -> None:
    alice, _, _ = await pair(kind, tmp_path)
    alice.effects.leakage.set_limits(CONTEXT, LeakageLimits(neighbor=2))
    reveal = attrs.evolve(SEND, leak=(ObserverClass.NEIGHBOR,))
    await alice.guarded.send(CONTEXT, BOB, "m", b"x", reveal)
    await alice.guarded.send(CONTEXT, BOB, "m", b"x", reveal)
    with pytest.raises(GuardDenied, match="leakage"):
        await alice.guarded.send(CONTEXT, BOB, "m", b"x", reveal)
    await alice.guarded.send(CONTEXT, BOB, "m", b"x", SEND)  # no leak annotation: still fine


async def test_a_journal_label_commits_a_coupled_fact_before_the_send(
    kind: str, tmp_path: Path
) -> None:
    alice, _, _ = await pair(kind, tmp_path)
    await alice.guarded.send(CONTEXT, BOB, "chat.message", b"plain", SEND)
    receipt = await alice.guarded.send(
        CONTEXT, BOB, "chat.invite", b"x", attrs.evolve(SEND, journal_label="invite")
    )
    journal = await alice.journal()
    [fact] = journal.of_type("flow.coupled_send")
    coupled = journal.payload(fact.id)
    assert isinstance(coupled, CoupledSend)
    assert coupled == CoupledSend(BOB, 0, 2, receipt.digest, "chat.invite", "invite")
    recorder = alice.guarded._transport
    assert isinstance(recorder, Recorder)
    assert [len(keys) for keys in recorder.journal_keys] == [0, 1]  # durable before it left


async def test_unlabelled_sends_do_not_grow_storage(kind: str, tmp_path: Path) -> None:
    alice, _, _ = await pair(kind, tmp_path)
    await alice.guarded.send(CONTEXT, BOB, "m", b"x", SEND)
    keys = await alice.effects.storage.list_keys("")
    for _ in range(20):
        await alice.guarded.send(CONTEXT, BOB, "m", b"x", SEND)
    assert await alice.effects.storage.list_keys("") == keys
    assert len(await alice.journal()) == 0
    assert await alice.spent(BOB) == 21 * SEND.flow_cost


async def test_a_corrupt_charge_register_fails_closed(kind: str, tmp_path: Path) -> None:
    alice, _, network = await pair(kind, tmp_path)
    await alice.effects.storage.put(f"{CHARGE_KEY_PREFIX}{CONTEXT}/{BOB}", b"\xff not cbor")
    for _ in range(2):  # nothing is cached from the failed read
        with pytest.raises(StorageError, match="corrupt"):
            await alice.guarded.send(CONTEXT, BOB, "m", b"x", SEND)
    assert network.delivered == []


async def test_receiver_rejects_replayed_mutated_misrouted_and_wrong_epoch(
    kind: str, tmp_path: Path
) -> None:
    alice, bob, network = await pair(kind, tmp_path)
    await alice.guarded.send(CONTEXT, BOB, "m", b"one", SEND)
    original = network.delivered[-1]
    assert (await bob.guarded.accept(original)).body == b"one"

    with pytest.raises(ReceiptRejected, match="replayed"):
        await bob.guarded.accept(original)

    message = decode(original.payload, GuardedMessage)
    mutations = {
        "payload": attrs.evolve(message, body=b"two"),
        "operation": attrs.evolve(message, operation="n"),  # relabelled on the way
        "cost": attrs.evolve(
            message,
            receipt=attrs.evolve(
                message.receipt, body=attrs.evolve(message.receipt.body, cost=1, nonce=99)
            ),
        ),
        "signature": attrs.evolve(
            message, receipt=attrs.evolve(message.receipt, signature=bytes(64))
        ),
    }
    for name, mutated in mutations.items():
        with pytest.raises(
            ReceiptRejected, match="bind" if name in ("payload", "operation") else None
        ):
            await bob.guarded.accept(attrs.evolve(original, payload=encode(mutated)))
    with pytest.raises(ReceiptRejected, match="route"):
        await bob.guarded.accept(attrs.evolve(original, context=OTHER_CONTEXT))

    await alice.guarded.send(CONTEXT, BOB, "m", b"three", SEND)
    fresh = network.delivered[-1]
    await bob.rotate_epoch(1)
    with pytest.raises(ReceiptRejected, match="epoch"):
        await bob.guarded.accept(fresh)
    bob.effects.peers.remove(ALICE)
    with pytest.raises(ReceiptRejected, match="unknown peer"):
        await bob.guarded.accept(fresh)


async def test_receive_skips_garbage_and_keeps_going(kind: str, tmp_path: Path) -> None:
    alice, bob, network = await pair(kind, tmp_path)
    await alice.guarded.send(CONTEXT, BOB, "m", b"first", SEND)
    replay = network.delivered[-1]
    assert (await bob.guarded.receive()).body == b"first"
    await alice.raw.send(BOB, CONTEXT, replay.payload)  # a replay straight onto the wire
    await alice.raw.send(BOB, CONTEXT, b"\xff junk")
    await alice.guarded.send(CONTEXT, BOB, "m", b"second", SEND)
    with anyio.fail_after(5):
        assert (await bob.guarded.receive()).body == b"second"
    assert bob.guarded.rejected == 2


async def test_forged_tokens_are_refused(kind: str, tmp_path: Path) -> None:
    alice, _, _ = await pair(kind, tmp_path)
    token = issue_token(
        alice.capability_root, ALICE, ["chat:send"], seed=b"\x03" * 32, scope=ContextScope(CONTEXT)
    )
    forged = bytearray(token.raw)
    forged[-10] ^= 1
    with pytest.raises(TokenError):
        CapabilityFrontier.of(CapabilityToken(bytes(forged), token.root_key))
