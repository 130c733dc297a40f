"""`CeremonyService`: a device's side of the networked key ceremonies and threshold signing.

A device runs one service on its dispatcher. As coordinator it runs `keys` (a DKG or a
refresh) or `sign`; as participant it answers the sessions other devices open, if its
`CeremonyPolicy` approves them. Round-2 packages of a DKG or refresh are secret per recipient:
each goes in an `AuraKeyShare` session of its own from its sender straight to its recipient,
so it travels only inside the Noise channel between those two devices; the service keeps a
mailbox per ceremony for the packages that arrive.

What a key ceremony gives every member is a `PendingKey`, handed to its policy (`pending`)
before the member reports it, so that a device can keep it at rest before anyone relies on
it: inert. Nobody signs with it until the ceremony commits (`released` hands a key out only
when the journal's `CeremonyRegistry` says its ceremony committed with that key commitment);
an aborted or superseded ceremony (`abandoned`) leaves it unused, and its holders delete it.
Randomness (the DKG and nonce seeds) comes from the device's `RandomEffects`; nothing secret
is traced.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol

import anyio
import attrs

from aura_consensus.ceremony import Aborted, CeremonyRegistry, Committed, Superseded
from aura_core.crypto import frost
from aura_core.encoding import decode, encode
from aura_core.errors import AuraError, CeremonyFailed, EncodingError, InvalidArgument
from aura_core.hashing import Hash32, tagged_hash
from aura_core.ids import AuthorityId, CeremonyId, SessionId
from aura_effects.bundle import Effects
from aura_protocol.ceremonies.protocols import (
    KEYS,
    SHARE,
    SIGN,
    key_ceremony,
    key_share,
    threshold_sign,
)
from aura_protocol.ceremonies.wire import (
    DKG,
    REFRESH,
    CeremonyMember,
    KeyCeremonyStart,
    KeyResult,
    KeyShare,
    KeyVerdict,
    Round1,
    Round1All,
    Round1Entry,
    SignCommitment,
    SignDone,
    SignPackage,
    SignRequest,
    SignShare,
)
from aura_protocol.choreography import Session
from aura_protocol.dispatch import Accepted, Dispatcher
from aura_protocol.endpoint import Endpoint, TimerFired
from aura_protocol.outcome import Completed, Outcome
from aura_protocol.wire import SessionMessage

__all__ = [
    "CeremonyTimes",
    "PendingKey",
    "abandoned",
    "released",
    "KeyApproval",
    "CeremonyPolicy",
    "CeremonyService",
    "TrustingHolder",
    "key_commitment",
]

_COMMITMENT_TAG = "AURA_CEREMONY_KEY_COMMITMENT_V1"
_SESSION_TAG = "AURA_CEREMONY_SESSION_V1"
_SHARE_SESSION_TAG = "AURA_CEREMONY_SHARE_SESSION_V1"


@attrs.frozen
class CeremonyTimes:
    """The coordinator's timers and a participant's bound on its whole run (seconds)."""

    round1_s: float = 5.0
    round2_s: float = 10.0
    limit_s: float = 30.0

    @property
    def milliseconds(self) -> tuple[int, int]:
        return (max(1, round(self.round1_s * 1000)), max(1, round(self.round2_s * 1000)))


def key_commitment(public: frost.PublicKeyPackage) -> Hash32:
    """What a `CeremonyPendingEpoch` fact commits to: the new public key package."""
    return tagged_hash(_COMMITMENT_TAG, public.to_bytes())


@attrs.frozen(repr=False)
class PendingKey:
    """This device's new key material from a key ceremony: inert until the ceremony commits."""

    ceremony: CeremonyId
    account: AuthorityId
    kind: str
    key_package: frost.KeyPackage
    public_key_package: frost.PublicKeyPackage

    @property
    def key_commitment(self) -> Hash32:
        return key_commitment(self.public_key_package)

    def __repr__(self) -> str:
        return f"PendingKey({self.ceremony}, {self.kind}, <secret>)"


def released(key: PendingKey | None, registry: CeremonyRegistry) -> PendingKey | None:
    """`key` if the journal's registry has its ceremony committed with its key commitment:
    the one way a pending key becomes usable. None while it is pending, and for a ceremony
    that did not commit or committed another key."""
    if key is None or key.ceremony not in registry.ceremonies():
        return None
    if not isinstance(registry.state(key.ceremony), Committed):
        return None
    return key if registry.key_usable(key.key_commitment) else None


def abandoned(ceremony: CeremonyId, registry: CeremonyRegistry) -> bool:
    """Whether the registry has `ceremony` aborted or superseded: its pending keys are never
    used, and every holder deletes them."""
    if ceremony not in registry.ceremonies():
        return False
    return isinstance(registry.state(ceremony), (Aborted, Superseded))


@attrs.frozen(repr=False)
class KeyApproval:
    """What a member brings to a key ceremony: for a refresh, its current key package and the
    group's public key package (a DKG needs neither)."""

    key_package: frost.KeyPackage | None = None
    public_key_package: frost.PublicKeyPackage | None = None


class CeremonyPolicy(Protocol):
    """Which ceremonies this device takes part in, and where its results go."""

    def approve_keys(self, start: KeyCeremonyStart, coordinator: AuthorityId) -> KeyApproval | None:
        """What this device brings to the key ceremony `coordinator` opened; None refuses."""

    def approve_signing(
        self, request: SignRequest, coordinator: AuthorityId
    ) -> frost.KeyPackage | None:
        """The share to sign `request` with; None refuses."""

    async def pending(self, key: PendingKey) -> None:
        """Keep this device's (inert) key of a key ceremony it computed, before it reports
        it: once it is reported the coordinator may commit the change that needs it, so a
        device that must survive a crash keeps it at rest by then."""


@attrs.define
class TrustingHolder:
    """A `CeremonyPolicy` for devices that take part in every ceremony their group's members
    open (one account's devices in one process: the demo, tests): it brings its current share
    to a refresh and to signing, and keeps each pending key it is told, by ceremony."""

    key: frost.KeyPackage | None = None
    public: frost.PublicKeyPackage | None = None
    told: dict[CeremonyId, PendingKey] = attrs.field(factory=dict)

    def approve_keys(self, start: KeyCeremonyStart, coordinator: AuthorityId) -> KeyApproval:
        return KeyApproval(self.key, self.public) if start.kind == REFRESH else KeyApproval()

    def approve_signing(
        self, request: SignRequest, coordinator: AuthorityId
    ) -> frost.KeyPackage | None:
        return self.key

    async def pending(self, key: PendingKey) -> None:
        self.told[key.ceremony] = key


@attrs.define
class _Mailbox:
    """The round-2 packages of one ceremony that reached this device, by sender."""

    senders: dict[int, AuthorityId]
    packages: dict[int, bytes] = attrs.field(factory=dict)
    changed: anyio.Event = attrs.field(factory=anyio.Event)

    def put(self, sender: int, package: bytes) -> None:
        self.packages.setdefault(sender, package)
        self.changed.set()

    async def all(self) -> dict[int, bytes]:
        while len(self.packages) < len(self.senders):
            await self.changed.wait()
            self.changed = anyio.Event()
        return dict(self.packages)


def _session_id(tag: str, ceremony: CeremonyId, *parts: bytes) -> SessionId:
    return SessionId.derived(tagged_hash(tag, ceremony.hash.digest, *parts))


class CeremonyService:
    """See the module docstring. Enter it (on a running dispatcher) to answer ceremonies."""

    def __init__(
        self,
        effects: Effects,
        dispatcher: Dispatcher,
        policy: CeremonyPolicy,
        times: CeremonyTimes | None = None,
    ) -> None:
        self._fx = effects
        self._dispatcher = dispatcher
        self._policy = policy
        self.times = times or CeremonyTimes()
        self._mailboxes: dict[CeremonyId, _Mailbox] = {}

    @property
    def local(self) -> AuthorityId:
        return self._dispatcher.local

    async def __aenter__(self) -> CeremonyService:
        self._dispatcher.serve(KEYS, self._accept_keys)
        self._dispatcher.serve(SHARE, self._accept_share)
        self._dispatcher.serve(SIGN, self._accept_signing)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for protocol in (KEYS, SHARE, SIGN):
            self._dispatcher.unserve(protocol)

    # ------------------------------------------------------------------------- key ceremonies

    async def keys(self, start: KeyCeremonyStart, approval: KeyApproval) -> PendingKey:
        """Coordinate the key ceremony `start` (this device one of its members); this device's
        pending key once every member agreed on the new public key package.
        `CeremonyFailed` if a member refused or disagreed, or a timer fired."""
        me = start.member(self.local)
        if me is None:
            raise InvalidArgument("the coordinator of a key ceremony is one of its members")
        others = tuple(m for m in start.members if m.address != self.local)
        round1, round2 = self.times.milliseconds
        session = Session(
            key_ceremony(len(others), round1, round2),
            _session_id(_SESSION_TAG, start.ceremony),
            start.context,
            {"Coordinator": (self.local,), "Participant": tuple(m.address for m in others)},
        )
        _check_approval(start, approval)
        mailbox = self._open_mailbox(start, me)

        async def coordinate(endpoint: Endpoint) -> PendingKey | str:
            await endpoint.send("Start", encode(start))
            secret, package = await self._round1(start, me, approval)
            try:
                answers = await endpoint.collect("Round1")
            except TimerFired:
                await endpoint.send("Abort")
                return "a participant did not answer in time (round 1)"
            entries = [Round1Entry(me.identifier, package)]
            for answer in answers:
                round1 = decode(answer.payload, Round1)
                if not round1.accepted:
                    await endpoint.select("stop")
                    await endpoint.send("Abort")
                    return f"{session.authority(answer.sender)} refused the ceremony"
                entries.append(Round1Entry(others[answer.sender.index].identifier, round1.package))
            every = Round1All(tuple(sorted(entries)))
            await endpoint.select("go")
            await endpoint.send("Round1All", encode(every))
            outcome = await self._round2(start, me, approval, secret, every, mailbox)
            try:
                results = await endpoint.collect("Result")
            except TimerFired:
                await endpoint.send("Abort")
                return "a participant did not finish in time (round 2)"
            if isinstance(outcome, str):
                await endpoint.select("failed")
                await endpoint.send("Abort")
                return outcome
            mine = outcome.key_commitment.digest
            await self._policy.pending(outcome)
            for result in results:
                theirs = decode(result.payload, KeyResult)
                if theirs.key_commitment != mine:
                    await endpoint.select("failed")
                    await endpoint.send("Abort")
                    who = session.authority(result.sender)
                    return f"{who} did not compute the same key ({theirs.detail or 'mismatch'})"
            await endpoint.select("agreed")
            await endpoint.send("Agreed", encode(KeyVerdict(mine)))
            return outcome

        try:
            result = _value(await self._dispatcher.run(session, "Coordinator", coordinate))
        finally:
            self._mailboxes.pop(start.ceremony, None)
        if isinstance(result, PendingKey):
            return result
        raise CeremonyFailed(f"key ceremony {start.ceremony}: {result}")

    def _open_mailbox(self, start: KeyCeremonyStart, me: CeremonyMember) -> _Mailbox:
        if start.ceremony in self._mailboxes:
            raise InvalidArgument(f"key ceremony {start.ceremony} is already running here")
        senders = {m.identifier: m.address for m in start.members if m != me}
        mailbox = _Mailbox(senders)
        self._mailboxes[start.ceremony] = mailbox
        return mailbox

    async def _round1(
        self, start: KeyCeremonyStart, me: CeremonyMember, approval: KeyApproval
    ) -> tuple[frost.DkgRound1Secret, bytes]:
        seed = await self._fx.random.random_bytes(32)
        n = len(start.members)
        if start.kind == DKG:
            secret, package = frost.dkg_part1(me.identifier, start.threshold, n, seed)
        else:
            secret, package = frost.refresh_dkg_part1(me.identifier, start.threshold, n, seed)
        return secret, package.to_bytes()

    async def _round2(  # noqa: PLR0917 (the rounds' state, passed along)
        self,
        start: KeyCeremonyStart,
        me: CeremonyMember,
        approval: KeyApproval,
        secret: frost.DkgRound1Secret,
        every: Round1All,
        mailbox: _Mailbox,
    ) -> PendingKey | str:
        """Round 2 (pairwise shares) and the finish: this member's pending key, or why not."""
        try:
            round1 = _round1_packages(start, every, me)
            part2 = frost.dkg_part2 if start.kind == DKG else frost.refresh_dkg_part2
            secret2, outgoing = part2(secret, round1)
            if set(outgoing) != set(mailbox.senders):
                return "round 2 packages are not for the members"
            async with anyio.create_task_group() as tasks:
                for identifier in sorted(outgoing):
                    share = KeyShare(
                        start.ceremony,
                        start.context,
                        me.identifier,
                        outgoing[identifier].to_bytes(),
                    )
                    tasks.start_soon(self._send_share, mailbox.senders[identifier], share)
            with anyio.fail_after(self.times.round2_s):
                received = await mailbox.all()
            incoming = {i: frost.DkgRound2Package.from_bytes(p) for i, p in received.items()}
            if start.kind == DKG:
                key, public = frost.dkg_part3(secret2, round1, incoming)
            else:
                assert approval.key_package is not None and approval.public_key_package is not None
                key, public = frost.refresh_dkg_shares(
                    secret2, round1, incoming, approval.public_key_package, approval.key_package
                )
        except TimeoutError:
            return "round 2 packages did not all arrive in time"
        except AuraError as exc:
            return f"round 2 failed ({exc.code})"
        return PendingKey(start.ceremony, start.account, start.kind, key, public)

    async def _send_share(self, receiver: AuthorityId, share: KeyShare) -> None:
        session = Session(
            key_share(),
            _session_id(_SHARE_SESSION_TAG, share.ceremony, self.local.raw, receiver.raw),
            share.context,
            {"Sender": (self.local,), "Receiver": (receiver,)},
        )

        async def send(endpoint: Endpoint) -> None:
            await endpoint.send("Share", encode(share))

        outcome = await self._dispatcher.run(session, "Sender", send, limit=self.times.round2_s)
        if not isinstance(outcome, Completed):
            self._fx.trace.event("ceremony.share_failed", peer=str(receiver))

    def _accept_keys(self, message: SessionMessage, source: AuthorityId) -> Accepted | None:
        if message.label != "Start" or message.receiver != "Participant":
            return None
        try:
            start = decode(message.payload, KeyCeremonyStart)
        except (EncodingError, InvalidArgument) as exc:
            self._fx.trace.event("ceremony.declined", peer=str(source), error=exc.code)
            return None
        me, coordinator = start.member(self.local), start.member(source)
        if me is None or coordinator is None or start.ceremony in self._mailboxes:
            self._fx.trace.event("ceremony.declined", peer=str(source), error="not_a_member")
            return None
        others = tuple(m for m in start.members if m.address != source)
        round1, round2 = self.times.milliseconds
        try:
            session = Session(
                key_ceremony(len(others), round1, round2),
                message.session,
                start.context,
                {"Coordinator": (source,), "Participant": tuple(m.address for m in others)},
            )
        except InvalidArgument:
            return None
        if message.session != _session_id(_SESSION_TAG, start.ceremony):
            return None
        approval = self._policy.approve_keys(start, source)
        if approval is not None:
            try:
                _check_approval(start, approval)
            except InvalidArgument:
                approval = None
        mailbox = self._open_mailbox(start, me) if approval is not None else None

        async def participate(endpoint: Endpoint) -> PendingKey | None:
            try:
                await endpoint.receive("Start")
                if approval is None or mailbox is None:
                    await endpoint.send("Round1", encode(Round1(False, b"")))
                    await endpoint.branch()
                    return None
                secret, package = await self._round1(start, me, approval)
                await endpoint.send("Round1", encode(Round1(True, package)))
                told = await endpoint.branch()
                if told.label != "Round1All":
                    return None
                every = decode(told.payload, Round1All)
                outcome = await self._round2(start, me, approval, secret, every, mailbox)
                if isinstance(outcome, str):
                    await endpoint.send("Result", encode(KeyResult(b"", outcome)))
                    await endpoint.branch()
                    return None
                mine = outcome.key_commitment.digest
                await self._policy.pending(outcome)
                await endpoint.send("Result", encode(KeyResult(mine)))
                verdict = await endpoint.branch()
                if (
                    verdict.label != "Agreed"
                    or decode(verdict.payload, KeyVerdict).key_commitment != mine
                ):
                    return None
                return outcome
            finally:
                self._mailboxes.pop(start.ceremony, None)

        return Accepted(session, "Participant", others.index(me), participate, self.times.limit_s)

    def _accept_share(self, message: SessionMessage, source: AuthorityId) -> Accepted | None:
        if message.label != "Share" or message.receiver != "Receiver":
            return None
        try:
            share = decode(message.payload, KeyShare)
        except EncodingError:
            return None
        mailbox = self._mailboxes.get(share.ceremony)
        if mailbox is None or mailbox.senders.get(share.sender) != source:
            self._fx.trace.event("ceremony.share_refused", peer=str(source))
            return None
        expected = _session_id(_SHARE_SESSION_TAG, share.ceremony, source.raw, self.local.raw)
        if message.session != expected:
            return None
        session = Session(
            key_share(),
            message.session,
            share.context,
            {"Sender": (source,), "Receiver": (self.local,)},
        )

        async def receive(endpoint: Endpoint) -> None:
            got = decode((await endpoint.receive("Share")).payload, KeyShare)
            if got == share:
                mailbox.put(share.sender, share.package)

        return Accepted(session, "Receiver", 0, receive, self.times.round2_s)

    # ------------------------------------------------------------------------- signing

    async def sign(
        self,
        request: SignRequest,
        key_package: frost.KeyPackage | None,
        public: frost.PublicKeyPackage,
    ) -> bytes:
        """Coordinate FROST signing of `request.message` by `request.signers` (this device
        signs too if it is one, with `key_package`); the aggregate signature, checked under the
        group key. `CeremonyFailed` if a signer refused or a timer fired."""
        me = next((m for m in request.signers if m.address == self.local), None)
        if (me is None) != (key_package is None):
            raise InvalidArgument("the coordinator signs iff it is one of the signers")
        others = tuple(m for m in request.signers if m.address != self.local)
        if len(request.signers) < public.min_signers or not others:
            raise InvalidArgument(f"signing needs {public.min_signers} signers, others among them")
        round1, round2 = self.times.milliseconds
        session = Session(
            threshold_sign(len(others), round1, round2),
            _session_id(_SESSION_TAG, request.ceremony, b"sign"),
            request.context,
            {"Coordinator": (self.local,), "Signer": tuple(m.address for m in others)},
        )

        async def coordinate(endpoint: Endpoint) -> bytes | str:
            await endpoint.send("Request", encode(request))
            own = None
            if me is not None and key_package is not None:
                own = frost.commit(key_package, await self._fx.random.random_bytes(32))
            try:
                answers = await endpoint.collect("Commitment")
            except TimerFired:
                await endpoint.send("Abort")
                return "a signer did not answer in time"
            commitments: dict[int, frost.SigningCommitments] = {}
            if me is not None and own is not None:
                commitments[me.identifier] = own[1]
            for answer in answers:
                reply = decode(answer.payload, SignCommitment)
                if not reply.accepted:
                    await endpoint.select("stop")
                    await endpoint.send("Abort")
                    return f"{session.authority(answer.sender)} refused to sign"
                identifier = others[answer.sender.index].identifier
                commitments[identifier] = frost.SigningCommitments.from_bytes(reply.commitment)
            package = frost.signing_package(commitments, request.message)
            await endpoint.select("go")
            await endpoint.send("Package", encode(SignPackage(package.to_bytes())))
            shares: dict[int, frost.SignatureShare] = {}
            if me is not None and own is not None and key_package is not None:
                shares[me.identifier] = frost.sign(package, own[0], key_package)
            try:
                replies = await endpoint.collect("Share")
            except TimerFired:
                await endpoint.send("Abort")
                return "a signer did not send its share in time"
            try:
                for piece in replies:
                    identifier = others[piece.sender.index].identifier
                    shares[identifier] = frost.SignatureShare.from_bytes(
                        decode(piece.payload, SignShare).share
                    )
                signature = frost.aggregate(package, shares, public)
            except AuraError as exc:
                await endpoint.select("failed")
                await endpoint.send("Abort")
                return f"the shares do not combine ({exc.code})"
            await endpoint.select("done")
            await endpoint.send("Signed", encode(SignDone(signature)))
            return signature

        result = _value(await self._dispatcher.run(session, "Coordinator", coordinate))
        if isinstance(result, bytes):
            return result
        raise CeremonyFailed(f"signing {request.ceremony}: {result}")

    def _accept_signing(self, message: SessionMessage, source: AuthorityId) -> Accepted | None:
        if message.label != "Request" or message.receiver != "Signer":
            return None
        try:
            request = decode(message.payload, SignRequest)
        except (EncodingError, InvalidArgument):
            return None
        others = tuple(m for m in request.signers if m.address != source)
        me = next((m for m in others if m.address == self.local), None)
        if me is None or message.session != _session_id(_SESSION_TAG, request.ceremony, b"sign"):
            return None
        round1, round2 = self.times.milliseconds
        try:
            session = Session(
                threshold_sign(len(others), round1, round2),
                message.session,
                request.context,
                {"Coordinator": (source,), "Signer": tuple(m.address for m in others)},
            )
        except InvalidArgument:
            return None
        key = self._policy.approve_signing(request, source)
        if key is not None and key.identifier != me.identifier:
            key = None

        async def participate(endpoint: Endpoint) -> bytes | None:
            await endpoint.receive("Request")
            if key is None:
                await endpoint.send("Commitment", encode(SignCommitment(False, b"")))
                await endpoint.branch()
                return None
            nonces, commitment = frost.commit(key, await self._fx.random.random_bytes(32))
            await endpoint.send("Commitment", encode(SignCommitment(True, commitment.to_bytes())))
            told = await endpoint.branch()
            if told.label != "Package":
                return None
            package = frost.SigningPackage.from_bytes(decode(told.payload, SignPackage).package)
            if package.message != request.message or me.identifier not in package.identifiers:
                raise CeremonyFailed("the signing package is not for the request")
            share = frost.sign(package, nonces, key)
            await endpoint.send("Share", encode(SignShare(share.to_bytes())))
            done = await endpoint.branch()
            return decode(done.payload, SignDone).signature if done.label == "Signed" else None

        return Accepted(session, "Signer", others.index(me), participate, self.times.limit_s)


def _check_approval(start: KeyCeremonyStart, approval: KeyApproval) -> None:
    if start.kind == DKG:
        return
    key, public = approval.key_package, approval.public_key_package
    if key is None or public is None:
        raise InvalidArgument("a refresh needs this member's key package and the public one")
    if key.min_signers != start.threshold or public.min_signers != start.threshold:
        raise InvalidArgument("a refresh keeps the group's threshold")


def _round1_packages(
    start: KeyCeremonyStart, every: Round1All, me: CeremonyMember
) -> dict[int, frost.DkgRound1Package]:
    ids = [e.identifier for e in every.entries]
    if ids != [m.identifier for m in start.members]:
        raise CeremonyFailed("round 1 packages are not the members'")
    return {
        e.identifier: frost.DkgRound1Package.from_bytes(e.package)
        for e in every.entries
        if e.identifier != me.identifier
    }


def _value(outcome: Outcome) -> object:
    if isinstance(outcome, Completed):
        return outcome.value
    return f"the session ended {type(outcome).__name__}: {getattr(outcome, 'reason', '')}"
