"""`GuardedTransport`: the only way the layers above send, and the checks on what arrives.

A send takes the context's journal lock, snapshots what the guards need, evaluates the chain
(pure), then interprets the commands: the receipt is signed, the flow's charge register is
rewritten, a coupled journal label and any leakage records become facts, and the register and
the facts are written in one storage batch (the facts are committed to the journal with it), all
before the envelope is handed to the raw transport. A denial changes nothing and sends nothing;
a failed batch sends nothing. The flow's register is also the head of its receipt chain (one
chain per (context, source, destination, epoch)).

Receiving checks each envelope's receipt (addressed to us, in the envelope's context, binding
its payload, authentic: signed by the peer's known key, itself or through a later receipt naming
it; of the context's current epoch) and then runs the
chain's replay window (accepted once, even out of order; replays, receipts older than the window
and forks refused), persists the new window, and only then hands the message up. Anything
refused is dropped, with the detail in the trace. It works on batches (`receive_many`,
`accept_many`): whatever the raw transport already holds is checked together, each chain of
receipts in it authenticated by the signature of its last receipt (which names the others
through `prev`) and its windows written in one storage batch, with the same outcome for each
envelope as checking them one by one (but for a receipt its own signer named without signing
it properly, which a batch takes).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Final, TypeAlias, TypeVar

import anyio
import attrs

from aura_core.buggify import buggify
from aura_core.crypto.ed25519 import SigningKey, VerifyingKey
from aura_core.effects import Envelope, Put, StorageOp, TransportEffects
from aura_core.encoding import decode, encode, record, record_tag
from aura_core.errors import (
    EncodingError,
    GuardDenied,
    ReceiptRejected,
    StorageError,
    TransportError,
)
from aura_core.ids import AuthorityId, ContextId, device_address
from aura_core.time import OrderTime, PhysicalTime
from aura_effects.bundle import Effects
from aura_guards.chain import (
    STANDARD_CHAIN,
    AppendJournal,
    Authorized,
    ChargeBudget,
    Denied,
    Guard,
    GuardAnnotations,
    GuardSnapshot,
    RecordLeakage,
    SendRequest,
    evaluate,
)
from aura_journal.budget import FLOW_REDUCER, UNLIMITED, FlowCharge
from aura_journal.capability import ContextScope
from aura_journal.context import CONTEXT_REDUCER
from aura_journal.coupling import CoupledSend
from aura_journal.fact import Fact, FactBody, JournalNamespace, Unattested
from aura_journal.journal import Journal
from aura_journal.leakage import LEAKAGE_REDUCER, LeakageRecorded
from aura_journal.receipt import (
    Receipt,
    ReceiptHead,
    ReplayWindow,
    authenticate_receipts,
    message_digest,
    sign_receipt,
)
from aura_journal.registry import Origin

__all__ = [
    "CHARGE_KEY_PREFIX",
    "WINDOW_KEY_PREFIX",
    "RECEIVE_BATCH",
    "Checked",
    "GuardedMessage",
    "ReceivedMessage",
    "GuardedTransport",
]

CHARGE_KEY_PREFIX = "guard/flow-charge/"
"""Storage keys of the flow charge registers: `CHARGE_KEY_PREFIX + "<context>/<peer>"`."""
WINDOW_KEY_PREFIX = "guard/receipt-window/"
"""Storage keys of the receivers' replay windows: `WINDOW_KEY_PREFIX + "<context>/<source>"`
(one per incoming flow, holding the window of the context's current epoch)."""
RECEIVE_BATCH: Final = 256
"""The most envelopes one `receive_many` takes from the raw transport and checks together."""


@record("guard.message")
@attrs.frozen
class GuardedMessage:
    """What an envelope's payload holds: the operation, the message body and its receipt."""

    operation: str
    body: bytes
    receipt: Receipt


@attrs.frozen
class ReceivedMessage:
    """A message whose receipt checked out."""

    source: AuthorityId
    context: ContextId
    operation: str
    body: bytes
    receipt: Receipt


Checked: TypeAlias = ReceivedMessage | ReceiptRejected | EncodingError
"""What checking one envelope gives: the message, or the error that refuses it."""

_UNATTESTED = Unattested()

_Register = TypeVar("_Register", FlowCharge, ReplayWindow)


def _local_fact(
    namespace: JournalNamespace, payload: object, order: OrderTime, now: PhysicalTime
) -> Fact:
    """A local-only (unsigned) fact of this device's own accounting."""
    type_id, version = record_tag(type(payload))
    body = FactBody(namespace, type_id, version, encode(payload), order, now)
    return Fact(body, _UNATTESTED)


class GuardedTransport:
    """Sends through the guard chain; receives with receipt checks."""

    def __init__(
        self,
        effects: Effects,
        transport: TransportEffects,
        *,
        local: AuthorityId,
        signing_key: SigningKey,
        chain: tuple[Guard, ...] = STANDARD_CHAIN,
    ) -> None:
        self._fx = effects
        self._transport = transport
        self._local = local
        self._key = signing_key
        self._chain = chain
        self._charges: dict[tuple[ContextId, AuthorityId], FlowCharge | None] = {}
        self._windows: dict[tuple[ContextId, AuthorityId], ReplayWindow | None] = {}
        self._receive_lock = anyio.Lock()
        self._ready: deque[ReceivedMessage] = deque()
        """Messages a `receive` checked with the rest of their batch, not handed out yet."""
        self.sent = 0
        self.denied = 0
        self.rejected = 0

    @property
    def local(self) -> AuthorityId:
        return self._local

    # ------------------------------------------------------------------------- sending

    async def send(
        self,
        context: ContextId,
        peer: AuthorityId,
        operation: str,
        body: bytes,
        annotations: GuardAnnotations | None,
    ) -> Receipt:
        """Send `body` to `peer` in `context` if every guard allows it; returns the receipt.

        Raises `GuardDenied` (nothing charged, written or sent) or `StorageError` (nothing
        committed or sent). A `TransportError` after the commit leaves the charge standing.
        """
        request = SendRequest(context, peer, operation, body, annotations)
        namespace = JournalNamespace.of(context)
        async with self._fx.journal.transaction(namespace) as tx:
            snapshot = await self._snapshot(tx.journal, request)
            outcome = evaluate(snapshot, request, self._chain)
            if isinstance(outcome, Denied):
                self.denied += 1
                self._fx.trace.event(
                    "guard.denied",
                    reason=outcome.reason,
                    detail=outcome.detail,
                    operation=operation,
                    context=str(context),
                    peer=str(peer),
                )
                raise GuardDenied(outcome.reason)
            receipt, charge, facts = await self._interpret(
                outcome, request, namespace, snapshot.now_ms
            )
            ops: list[StorageOp] = [Put(_charge_key(context, peer), encode(charge))]
            if facts:
                staged = tx.stage(
                    [f for f, _ in facts], payloads={f.id: p for f, p in facts}, origin=Origin.LOCAL
                )
                staged.require_valid()
                await self._fx.storage.batch([*ops, *tx.storage_ops(staged)])
                tx.commit(staged)
            else:
                await self._fx.storage.batch(ops)
            self._charges[(context, peer)] = charge
        payload = encode(GuardedMessage(operation, body, receipt))
        if buggify("guard.send.transport_error"):  # the charge stands; the message is lost
            raise TransportError("injected transport failure (buggify)")
        await self._transport.send(peer, context, payload)
        self.sent += 1
        return receipt

    async def _snapshot(self, journal: Journal, request: SendRequest) -> GuardSnapshot:
        fx = self._fx
        now = await fx.time.now()
        annotations = request.annotations
        capability = annotations.capability if annotations is not None else None
        allowed = capability is not None and await fx.authorization.allows(
            capability, ContextScope(request.context)
        )
        ledger = journal.view(FLOW_REDUCER)
        epoch = journal.view(CONTEXT_REDUCER).epoch
        limit = await fx.flow.limit(request.context, request.peer)
        charged = await self._charged(request.context, request.peer)
        budget = ledger.budget(self._local, request.peer, limit, epoch, charged)
        head = ReceiptHead()  # a new chain: none yet in this epoch
        if charged is not None and charged.epoch == budget.epoch:
            head = ReceiptHead(charged.nonce, charged.receipt)
        return GuardSnapshot(
            now_ms=now.ts_ms,
            local=self._local,
            known_peer=await fx.peers.peer_key(request.peer) is not None,
            capability_allowed=allowed,
            budget=budget,
            leakage=journal.view(LEAKAGE_REDUCER),
            leakage_limits=await fx.leakage.limits(request.context),
            receipt_head=head,
        )

    async def spent(self, context: ContextId, peer: AuthorityId) -> int:
        """What the local authority has spent sending to `peer` in `context`'s current epoch."""
        async with self._fx.journal.transaction(JournalNamespace.of(context)) as tx:
            charged = await self._charged(context, peer)
            ledger = tx.journal.view(FLOW_REDUCER)
            epoch = tx.journal.view(CONTEXT_REDUCER).epoch
            return ledger.budget(self._local, peer, UNLIMITED, epoch, charged).spent

    async def _charged(self, context: ContextId, peer: AuthorityId) -> FlowCharge | None:
        """The flow's charge register (cached; read from storage the first time)."""
        key = (context, peer)
        if key in self._charges:
            return self._charges[key]
        charged = await self._load(_charge_key(context, peer), FlowCharge)
        self._charges[key] = charged
        return charged

    async def _load(self, key: str, kind: type[_Register]) -> _Register | None:
        stored = await self._fx.storage.get(key)
        if stored is None:
            return None
        try:
            return decode(stored, kind)
        except EncodingError as exc:
            raise StorageError(f"stored {key} is corrupt: {exc.message}") from None

    async def _interpret(
        self, outcome: Authorized, request: SendRequest, namespace: JournalNamespace, now_ms: int
    ) -> tuple[Receipt, FlowCharge, list[tuple[Fact, object]]]:
        """Interpret the commands that are written before the send: the signed receipt, the
        flow's new charge register, and the facts (coupled label, leakage records)."""
        receipt: Receipt | None = None
        spent = 0
        label: str | None = None
        leaks: list[RecordLeakage] = []
        for command in outcome.commands:
            if isinstance(command, ChargeBudget):
                receipt, spent = sign_receipt(command.receipt, self._key), command.spent_after
            elif isinstance(command, AppendJournal):
                label = command.label
            elif isinstance(command, RecordLeakage):
                leaks.append(command)
        assert receipt is not None, "an authorized send always carries a charge"
        body = receipt.body
        charge = FlowCharge(body.epoch, spent, body.nonce, receipt.digest)
        facts: list[tuple[Fact, object]] = []
        if label is None and not leaks:
            return receipt, charge, facts
        order = self._fx.order
        now = PhysicalTime(now_ms)
        if label is not None:
            coupled = CoupledSend(
                request.peer, body.epoch, body.nonce, receipt.digest, request.operation, label
            )
            facts.append((_local_fact(namespace, coupled, await order.order_time(), now), coupled))
        for leak in leaks:
            event = LeakageRecorded(leak.observer, leak.amount, now_ms, request.operation)
            fact = _local_fact(namespace, event, await order.order_time(), now)
            facts.append((fact, event))
        return receipt, charge, facts

    # ------------------------------------------------------------------------- receiving

    async def receive(self) -> ReceivedMessage:
        """The next incoming message whose receipt checks out (others are dropped and traced).
        Checks a batch at a time, as `receive_many` does, and hands its messages out in order."""
        if not self._ready:
            self._ready.extend(await self.receive_many())
        return self._ready.popleft()

    async def receive_many(self, limit: int = RECEIVE_BATCH) -> list[ReceivedMessage]:
        """The incoming messages whose receipts check out, oldest first, at most `limit`:
        waits until the raw transport has something, then checks everything it already holds
        together (`accept_many`), and waits again if none of it was accepted. Refused
        envelopes are dropped and traced (`guard.rejected`). Raises `StorageError` if the
        replay windows cannot be written; then none of the batch is handed up."""
        ready = self._ready
        if ready:
            return [ready.popleft() for _ in range(min(limit, len(ready)))]
        while True:
            envelopes = await self._transport.receive_many(limit)
            accepted: list[ReceivedMessage] = []
            for envelope, outcome in zip(envelopes, await self.accept_many(envelopes), strict=True):
                if isinstance(outcome, ReceivedMessage):
                    accepted.append(outcome)
                else:
                    self.rejected += 1
                    self._fx.trace.event(
                        "guard.rejected", source=str(envelope.source), detail=outcome.message
                    )
            if accepted:
                return accepted

    async def accept(self, envelope: Envelope) -> ReceivedMessage:
        """Check one envelope; raises `ReceiptRejected` or `EncodingError` if it must be dropped."""
        [outcome] = await self.accept_many([envelope])
        if isinstance(outcome, ReceivedMessage):
            return outcome
        raise outcome

    async def accept_many(self, envelopes: Sequence[Envelope]) -> list[Checked]:
        """Check `envelopes` as if each were `accept`ed in turn, and return, for each, the
        message or the error that refuses it. Each one's receipt must be addressed to this
        authority on the envelope's route, bind its operation and body, be authentic
        (`authenticate_receipts`: signed by the known key of its source, or, for a source
        missing from the peer directory, by the key its address derives from,
        `device_address`; or named as `prev` by an authentic receipt of the same signer in the
        batch, so a chain's receipts are authenticated by one signature) and be of its
        context's current epoch; then its chain's replay window must take it, in the order
        given. The windows the batch changed are written in one storage batch before anything
        is returned; if that raises `StorageError`, no window changes and nothing counts as
        received. The one difference from checking each alone: a receipt whose own signature
        fails but that its signer named in a later receipt of the batch is taken."""
        outcomes: list[Checked | None] = [None] * len(envelopes)
        keys: dict[AuthorityId, VerifyingKey | None] = {}
        signed: list[tuple[int, GuardedMessage, VerifyingKey]] = []
        for index, envelope in enumerate(envelopes):
            try:
                message = self._parse(envelope)
            except (EncodingError, ReceiptRejected) as exc:
                outcomes[index] = exc
                continue
            source = message.receipt.body.source
            if source not in keys:
                keys[source] = await self._fx.peers.peer_key(source)
            key = _source_key(keys[source], message.receipt)
            if key is None:
                outcomes[index] = ReceiptRejected(f"unknown peer {source}")
                continue
            signed.append((index, message, key))
        verified = authenticate_receipts([(message.receipt, key) for _, message, key in signed])
        epochs: dict[ContextId, int] = {}
        current: list[tuple[int, GuardedMessage, int]] = []
        for (index, message, _), valid in zip(signed, verified, strict=True):
            if not valid:
                outcomes[index] = ReceiptRejected("receipt signature does not verify")
                continue
            body = message.receipt.body
            if body.context not in epochs:
                journal = await self._fx.journal.journal(JournalNamespace.of(body.context))
                epochs[body.context] = journal.view(CONTEXT_REDUCER).epoch
            epoch = epochs[body.context]
            if body.epoch != epoch:
                outcomes[index] = ReceiptRejected(
                    f"receipt of epoch {body.epoch}, context is at {epoch}"
                )
                continue
            current.append((index, message, epoch))
        async with self._receive_lock:
            changed: dict[tuple[ContextId, AuthorityId], ReplayWindow] = {}
            for index, message, epoch in current:
                receipt = message.receipt
                body = receipt.body
                flow = (body.context, body.source)
                window = changed[flow] if flow in changed else await self._window(flow)
                if window is None or window.epoch < epoch:
                    window = ReplayWindow(epoch)  # a new epoch starts new chains
                try:
                    changed[flow] = window.accept(body, receipt.digest)
                except ReceiptRejected as exc:
                    outcomes[index] = exc
                    continue
                outcomes[index] = ReceivedMessage(
                    body.source, body.context, message.operation, message.body, receipt
                )
            if changed:
                await self._fx.storage.batch(
                    [Put(_window_key(*flow), encode(window)) for flow, window in changed.items()]
                )
                self._windows.update(changed)
        return [outcome for outcome in outcomes if outcome is not None]

    def _parse(self, envelope: Envelope) -> GuardedMessage:
        """The envelope's message, if its receipt is for this route and binds its content."""
        if envelope.destination != self._local:
            raise ReceiptRejected("envelope addressed to someone else")
        message = decode(envelope.payload, GuardedMessage)
        body = message.receipt.body
        if (body.context, body.source, body.destination) != (
            envelope.context,
            envelope.source,
            self._local,
        ):
            raise ReceiptRejected("receipt does not match the envelope's route")
        if body.payload != message_digest(message.operation, message.body):
            raise ReceiptRejected("receipt does not bind this message")
        return message

    async def _window(self, flow: tuple[ContextId, AuthorityId]) -> ReplayWindow | None:
        """The flow's replay window (cached; read from storage the first time)."""
        if flow in self._windows:
            return self._windows[flow]
        window = await self._load(_window_key(*flow), ReplayWindow)
        self._windows[flow] = window
        return window


def _source_key(known: VerifyingKey | None, receipt: Receipt) -> VerifyingKey | None:
    """The key a receipt's source signs with: the directory's (`known`), else the receipt's
    signer if the source's address is the one that key derives (a device nobody has
    introduced yet, e.g. one redeeming an enrollment code), else None."""
    if known is not None:
        return known
    return receipt.signer if receipt.body.source == device_address(receipt.signer) else None


def _charge_key(context: ContextId, peer: AuthorityId) -> str:
    return f"{CHARGE_KEY_PREFIX}{context}/{peer}"


def _window_key(context: ContextId, source: AuthorityId) -> str:
    return f"{WINDOW_KEY_PREFIX}{context}/{source}"
