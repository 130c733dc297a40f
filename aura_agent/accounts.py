"""`AccountService`: the account workflows of an agent: create an account, invite a device,
join one by its code.

Each step is a choreography through the guard chain and each outcome a fact:

* **create**: a 1-of-1 Ed25519 authority (`TreeGenesis.found((leaf,), 1, device key)`, signed
  by the device key), tree at epoch 0, and the devices' context with this device alone (its
  secret in the key file). A 1-of-1 tree changes by *single-signer commits*
  (`aura_consensus.commit.single_signer_commit`): FROST needs two signers.
* **invite**: an enrollment ceremony starts on the tree's prestate (`CeremonyStarted` in the
  account journal; one live ceremony per prestate, else `CeremonyConflict`), and the code
  (`aura_agent.enrollment`) names it. The bootstrap context its secret derives is opened to any
  caller holding that secret.
* **join** (the joiner) / **admit** (the inviter), `AuraEnrollment` in the bootstrap context: the
  joiner asks (`Join`: its identity and listener); the inviter runs a networked DKG with the
  joiner for the chosen threshold (`aura_protocol.ceremonies`; its keys pending and inert,
  `CeremonyPendingEpoch`), commits `AddLeaf(joiner)` and `ChangePolicy(threshold, new key)`,
  records its `CeremonyResponse` (device context) and `CeremonyCommitted` (account journal),
  makes a new devices' context with both devices and admits the joiner with the account
  journal, the context and its secret (`Admitted`); both then hold their share of the new
  epoch and restart their account services in the new context. A code is good once
  (`EnrollmentCodeRedeemed` after), until it expires (`EnrollmentCodeExpired`; the ceremony
  is recorded aborted), and only for the ceremony it names (`EnrollmentCodeInvalid`: altered,
  another account, an aborted ceremony).

With a FROST group, a change is coordinated by the device it is asked of: the other share
holders are told (`AuraChangePrepare`), tree changes go through the networked consensus, the
ceremony's commit is signed by a networked FROST signing of the old group, and the devices
staying move to the new devices' context (`AuraChangeSwitch`). `remove` (a refresh among the
remaining holders, `RemoveLeaf`), `change_threshold` (a DKG, `ChangePolicy`) and `refresh` (a
refresh, `RotateEpoch`) follow the same steps (`docs/agent.md`).

A change's point of no return is its first tree change: before it every member keeps its new
key (pending, in its key file) and the old group signs the ceremony's commit, and a failure
aborts (`CeremonyAborted`; every holder deletes the key when it sees it); from it on the
coordinator keeps the change (`ChangePlan`, in its storage) and finishes it, never undoes it.
The recovery (`_reconcile`: at start, on each sync report (a connection starts a sync), every
`RETRY_S`)
finishes or aborts this device's interrupted ceremonies, deletes pending keys of aborted ones
and sends each `Switch` again until it is acknowledged (`SwitchTimes`: to a device that stays,
with a capped exponential back-off, due at once when the device shows up in a sync session; to
a removed device, only for `removed_for_s` after the commit, then it is abandoned: it is
usually lost or dead). An enrollment's joiner is outstanding too, but asks itself: it keeps its
join (invitation and pending key in the key file) until it learns the outcome, asking again
every `ASK_S`; the inviter answers `Admitted` until the joiner acknowledges it, or until the
joiner's descriptor, which only a device holding the new context's secret can publish, reaches
the inviter's journal of that context (an admission taken whose `Ack` was lost). The
invitation stays in the inviter's key file until then, so a restarted inviter opens the
bootstrap context again.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Final

import anyio
import anyio.abc
import attrs

from aura_agent.changes import (
    ChangePlan,
    Contact,
    Prepare,
    Prepared,
    Roster,
    Switch,
    prepare_choreography,
    switch_choreography,
)
from aura_agent.enrollment import (
    CAPABILITIES as ENROLL_CAPABILITIES,
)
from aura_agent.enrollment import (
    Admission,
    Invitation,
    JoinRequest,
    Refusal,
    bootstrap_context,
    bootstrap_secret,
    choreography,
    read_code,
    write_code,
)
from aura_agent.membership import Membership, Seed, witness_addresses
from aura_agent.network import found_context, member_genesis
from aura_agent.requests import (
    CANCEL_INVITE,
    CHANGE_THRESHOLD,
    CREATE_ACCOUNT,
    INVITE,
    JOIN_ACCOUNT,
    REMOVE_DEVICE,
    AccountChanged,
    AccountCreated,
    AccountJoined,
    CancelInviteRequest,
    CreateAccountRequest,
    InviteCancelled,
    InviteCode,
    InviteRequest,
    JoinAccountRequest,
    RefreshRequest,
    RemoveDeviceRequest,
    ThresholdRequest,
)
from aura_agent.requests import REFRESH as REFRESH_REQUEST
from aura_agent.signals import CEREMONIES, SYNC, Ceremonies, CeremonyProgress, PeerSync
from aura_consensus.ceremony import (
    Aborted,
    AbortReason,
    CeremonyCommitted,
    CeremonyPendingEpoch,
    CeremonyRegistry,
    CeremonyResponse,
    CeremonyStarted,
    Committed,
    Superseded,
)
from aura_consensus.commit import CommitFact, single_signer_commit
from aura_consensus.facts import CEREMONY_REDUCER
from aura_consensus.hashing import operation_hash
from aura_consensus.tree import TreeCommit, frost_identifier, tree_prestate
from aura_consensus.witnesses import fault_bound
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.encoding import decode, encode, record, record_tag
from aura_core.errors import (
    AccountError,
    AlreadyInAccount,
    AlreadyJoined,
    AuraError,
    CeremonyConflict,
    ChangeUnfinished,
    EncodingError,
    EnrollmentCodeExpired,
    EnrollmentCodeInvalid,
    EnrollmentCodeRedeemed,
    InvalidArgument,
    JoinInProgress,
    NotConfigured,
    UnsafeThreshold,
)
from aura_core.hashing import tagged_hash
from aura_core.ids import (
    AuthorityId,
    CeremonyId,
    ContextId,
    DeviceId,
    SessionId,
    device_address,
)
from aura_core.tree import LeafNode, LeafRole
from aura_effects.bundle import Effects
from aura_effects.locator import PeerAddress
from aura_journal.budget import UNLIMITED
from aura_journal.capability import CapabilityFrontier, ContextScope, issue_token
from aura_journal.context import ContextMember
from aura_journal.fact import Fact, FactBody, JournalNamespace, Unattested, sign_fact
from aura_journal.registry import Origin
from aura_journal.tree import (
    TREE_REDUCER,
    AddLeaf,
    ChangePolicy,
    RemoveLeaf,
    RotateEpoch,
    TreeGenesis,
    TreeOp,
    TreeOpKind,
    TreeState,
)
from aura_protocol.ceremonies import CAPABILITIES as CEREMONY_CAPABILITIES
from aura_protocol.ceremonies import (
    DKG,
    REFRESH,
    CeremonyMember,
    CeremonyService,
    CeremonyTimes,
    KeyApproval,
    KeyCeremonyStart,
    PendingKey,
    SignRequest,
    abandoned,
    released,
)
from aura_protocol.choreography import Choreography, Session
from aura_protocol.dispatch import Accepted
from aura_protocol.endpoint import Endpoint
from aura_protocol.outcome import Completed
from aura_protocol.rendezvous import RendezvousLocator
from aura_protocol.wire import SessionMessage

if TYPE_CHECKING:
    from aura_agent.agent import Agent

__all__ = ["DEFAULT_EXPIRY_S", "EnrollmentOp", "AccountService"]

DEFAULT_EXPIRY_S: Final = 600.0
"""How long an enrollment code stays good by default (ten minutes)."""
JOIN_LIMIT_S: Final = 60.0
"""The longest a join waits for the inviter's answer."""
_SESSION_TAG = "AURA_ENROLLMENT_SESSION_V1"
CRASH_ENV: Final = "AURA_AGENT_CRASH_AT"
"""Fault injection for the multi-process harness: a phase (`AccountService._checkpoint`) at
which the agent kills itself with SIGKILL; read once as the agent starts."""
RETRY_S: Final = 1.0
"""How often the recovery looks again without being woken (a sync report wakes it)."""
ASK_S: Final = 5.0
"""How often a joiner that does not know its join's outcome yet asks its inviter again."""
PULL_S: Final = 2.0
"""How often a device prepared for a change that is not final syncs with its coordinator (to
learn the outcome without waiting for the periodic sync)."""
_PLANS: Final = "agent/change/"
_PREPARED: Final = "agent/prepared/"
_ADMITTED: Final = "agent/admitted/"
"""A joiner's acknowledgement of its admission, beside its enrollment's plan."""


@record("agent.enrollment_op", version=1)
@attrs.frozen
class EnrollmentOp:
    """The operation an enrollment ceremony commits: a device joins `account`, which moves to
    `threshold`; `secret_hash` binds it to one code's bootstrap secret."""

    account: AuthorityId
    threshold: int
    expires_ms: int
    secret_hash: bytes


@record("agent.key_change_op", version=1)
@attrs.frozen
class KeyChangeOp:
    """The operation a key change other than an enrollment commits: `kind` (remove, threshold,
    refresh) of `account` to `threshold` among `members` (addresses)."""

    account: AuthorityId
    kind: str
    threshold: int
    members: tuple[AuthorityId, ...]


@attrs.define
class _Invite:
    invitation: Invitation
    started: CeremonyStarted
    operation: bytes


@attrs.frozen
class _Change:
    """A key change as its coordinator runs it."""

    started: CeremonyStarted
    operation: bytes
    kind: str
    threshold: int
    members: tuple[tuple[AuthorityId, LeafNode], ...]
    """The key ceremony's members: every device that holds a share afterwards."""
    context: ContextId
    """Where the key ceremony runs: the devices' context, or an enrollment's bootstrap one."""
    bootstrap: bytes = b""
    joiners: tuple[Contact, ...] = ()


@attrs.frozen
class _Done:
    """A committed change: what the devices staying need to move to the new epoch."""

    account: AuthorityId
    epoch: int
    account_facts: tuple[bytes, ...]
    context_fact: bytes
    context_secret: bytes = attrs.field(repr=False)
    public_key_package: bytes
    context: ContextId
    seeds: tuple[Seed, ...]


@attrs.frozen(repr=False)
class _Expected:
    """A change another device prepared this one for."""

    prepare: Prepare
    coordinator: AuthorityId
    account: AuthorityId
    share: frost.KeyPackage | None
    public: frost.PublicKeyPackage | None


def _unsigned_commit(
    started: CeremonyStarted,
    operation: bytes,
    threshold: int,
    participants: Sequence[AuthorityId],
    group_key: VerifyingKey,
) -> CommitFact:
    """A ceremony's commit before its signature: its transcript is what the group signs."""
    return CommitFact.build(
        prestate_hash=started.prestate_hash,
        operation_bytes=operation,
        nonce=started.nonce,
        threshold=threshold,
        participants=participants,
        fast_path=True,
        group_public_key=group_key,
        threshold_signature=bytes(frost.SIGNATURE_LEN),
    )


class AccountService:
    """See the module docstring. The agent enters one for its life (`Agent.accounts`)."""

    def __init__(self, agent: Agent, times: CeremonyTimes | None = None) -> None:
        self._agent = agent
        self._fx = agent.effects
        self._times = times or CeremonyTimes()
        self._invites: dict[CeremonyId, _Invite] = {}
        """Enrollments this device started (live, redeemed or abandoned: a code's later use
        must be told why it is refused), by ceremony."""
        self._joining: Invitation | None = None
        self._lock = anyio.Lock()
        self._ceremonies: CeremonyService | None = None
        self._progressing: dict[CeremonyId, CeremonyProgress] = {}
        self._expected: dict[CeremonyId, _Expected] = {}
        self._wake = anyio.Event()
        self._pulled = -PULL_S
        self._asked = -ASK_S
        self._granted: set[ContextId] = set()
        """Bootstrap contexts whose capabilities this process granted (once each)."""
        self._switch_times = agent.settings.switches
        self._retries: dict[tuple[CeremonyId, AuthorityId], tuple[int, int]] = {}
        """`Switch`es that failed: (failures in a row, when the next is due, physical ms)."""
        self._heard: dict[AuthorityId, PeerSync] = {}
        """The latest sync report of each peer (a new one answered: the peer is up)."""
        self._tasks: anyio.abc.TaskGroup | None = None
        self._crash_at = os.environ.get(CRASH_ENV) or None
        """The fault-injection point (`CRASH_ENV`), read once as the agent starts."""
        self.fault: Callable[[str], Awaitable[None]] | None = None
        """In-process tests: awaited at each fault-injection point with its phase (a test
        that stops the agent there stands in for a SIGKILL)."""

    async def __aenter__(self) -> AccountService:
        agent = self._agent
        self._ceremonies = CeremonyService(self._fx, agent.dispatcher, self, self._times)
        await self._ceremonies.__aenter__()
        agent.dispatcher.serve(choreography().name, self._accept_join)
        agent.dispatcher.serve(prepare_choreography().name, self._accept_prepare)
        agent.dispatcher.serve(switch_choreography().name, self._accept_switch)
        agent.handlers.add(CREATE_ACCOUNT, self._create_request)
        agent.handlers.add(INVITE, self._invite_request)
        agent.handlers.add(JOIN_ACCOUNT, self._join_request)
        agent.handlers.add(CANCEL_INVITE, self._cancel_request)
        agent.handlers.add(REMOVE_DEVICE, self._remove_request)
        agent.handlers.add(CHANGE_THRESHOLD, self._threshold_request)
        agent.handlers.add(REFRESH_REQUEST, self._refresh_request)
        self._tasks = anyio.create_task_group()
        await self._tasks.__aenter__()
        self._tasks.start_soon(self._recover)
        self._tasks.start_soon(self._watch_sync)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tasks is not None:
            self._tasks.cancel_scope.cancel()
            await self._tasks.__aexit__(None, None, None)
            self._tasks = None
        for name in (choreography().name, prepare_choreography().name, switch_choreography().name):
            self._agent.dispatcher.unserve(name)
        if self._ceremonies is not None:
            await self._ceremonies.__aexit__(exc_type, exc, tb)

    # ------------------------------------------------------------------------- requests

    async def _create_request(self, _: CreateAccountRequest) -> AccountCreated:
        return AccountCreated(await self.create())

    async def _invite_request(self, request: InviteRequest) -> InviteCode:
        code = await self.invite(request.threshold, request.expires_in_ms / 1000)
        invitation = read_code(code)
        return InviteCode(code, invitation.ceremony, invitation.expires_ms)

    async def _join_request(self, request: JoinAccountRequest) -> AccountJoined:
        return AccountJoined(await self.join(request.code))

    async def _cancel_request(self, request: CancelInviteRequest) -> InviteCancelled:
        await self.cancel(request.ceremony)
        return InviteCancelled(request.ceremony)

    async def _remove_request(self, request: RemoveDeviceRequest) -> AccountChanged:
        await self.remove(request.device)
        return AccountChanged(self._agent.account)

    async def _threshold_request(self, request: ThresholdRequest) -> AccountChanged:
        await self.change_threshold(request.threshold)
        return AccountChanged(self._agent.account)

    async def _refresh_request(self, _: RefreshRequest) -> AccountChanged:
        await self.refresh()
        return AccountChanged(self._agent.account)

    async def _progress(self, ceremony: CeremonyId, phase: str, epoch: int) -> None:
        """The `agent.ceremonies` signal: enrollments under way on this device."""
        if phase in ("committed", "aborted"):
            self._progressing.pop(ceremony, None)
        else:
            self._progressing[ceremony] = CeremonyProgress(
                str(ceremony), "enrollment", phase, epoch
            )
        await self._agent.emit(
            CEREMONIES, Ceremonies(tuple(v for _, v in sorted(self._progressing.items())))
        )

    # ------------------------------------------------------------------------- create

    async def create(self) -> AuthorityId:
        """A new 1-of-1 account of this device (see the module docstring); its id.
        `AlreadyInAccount` if the device has one."""
        async with self._lock:
            agent = self._agent
            if agent.membership is not None:
                raise AlreadyInAccount(
                    f"this device is in account {agent.membership.account} already: leave it "
                    "before creating another"
                )
            held = self._held_join()
            if held is not None:
                raise AccountError(
                    f"this device is still joining account {held.account}: that join may have "
                    "committed, so it is finished first"
                )
            key = agent.keys.secrets.signing_key
            leaf = LeafNode(0, agent.identity.device, LeafRole.DEVICE, key.verifying_key.raw)
            genesis = TreeGenesis.found((leaf,), 1, key.verifying_key)
            await self._record(JournalNamespace.of(genesis.authority), genesis)
            context = await self._new_context([agent.address])
            await agent.join(Membership(genesis.authority, context, b""))
            await agent.notify("info", f"account {genesis.authority} created")
            return genesis.authority

    # ------------------------------------------------------------------------- invite

    async def invite(self, threshold: int = 2, expires_in_s: float = DEFAULT_EXPIRY_S) -> str:
        """An enrollment code admitting one device, after which the account is
        `threshold`-of-(devices + 1). Refused with a typed error, nothing recorded: no account,
        a threshold the new device count does not allow (or the fault bound refuses), another
        ceremony live on the tree's prestate (`CeremonyConflict`)."""
        async with self._lock:
            agent = self._agent
            membership = self._membership()
            state = await self._state(membership.account)
            count = len(state.leaves) + 1
            if type(threshold) is not int or not 2 <= threshold <= count:
                raise InvalidArgument(
                    f"with the new device the account has {count} devices: choose a threshold "
                    f"from 2 to {count}, not {threshold}"
                )
            try:
                fault_bound(count, threshold)
            except UnsafeThreshold as exc:
                raise UnsafeThreshold(
                    f"{threshold}-of-{count} is not safe ({exc.message}): choose a larger threshold"
                ) from None
            if type(expires_in_s) not in (int, float) or not 0 < expires_in_s <= 7 * 86400:
                raise InvalidArgument("a code expires within 0..7 days")
            prestate = tree_prestate(state).hash
            registry = await self._registry(membership.account)
            live = registry.live(prestate)
            if live is not None:
                raise CeremonyConflict(
                    f"ceremony {live} is in progress on this account: finish or cancel it first"
                )
            now = (await self._fx.time.now()).ts_ms
            bootstrap = await self._fx.random.random_bytes(32)
            expires = now + int(expires_in_s * 1000)
            op = EnrollmentOp(
                membership.account,
                threshold,
                expires,
                tagged_hash("AURA_ENROLLMENT_SECRET_HASH_V1", bootstrap).digest,
            )
            operation = encode(op)
            nonce = int.from_bytes(await self._fx.random.random_bytes(8), "big")
            started, _ = registry.start(
                prestate, operation_hash(operation), nonce, state.epoch, [agent.address]
            )
            listener = agent.listener
            invitation = Invitation(
                membership.account,
                started.ceremony_id,
                state.epoch + 1,
                threshold,
                expires,
                agent.address,
                agent.identity.signing_key,
                listener.static_key,
                (agent._hint(),),
                bootstrap,
            )
            code = write_code(invitation, agent.keys.secrets.signing_key)
            await self._record(JournalNamespace.of(membership.account), started)
            self._invites[started.ceremony_id] = _Invite(invitation, started, operation)
            await self._open_bootstrap(invitation)
            self._fx.trace.event("account.invited", ceremony=str(started.ceremony_id))
            await self._progress(started.ceremony_id, "invited", state.epoch + 1)
            return code

    async def cancel(self, ceremony: CeremonyId) -> None:
        """Abandon an enrollment this device started (`CeremonyAborted`): its code is refused
        from now on."""
        async with self._lock:
            invite = self._invites.get(ceremony)
            if invite is None:
                raise InvalidArgument(f"no enrollment {ceremony} was started on this device")
            await self._abort(invite, AbortReason.DECLINED)

    # ------------------------------------------------------------------------- key changes

    async def remove(self, device: DeviceId) -> None:
        """Remove `device` from the account: a refresh among the remaining share holders
        (same group key, new shares), `RemoveLeaf` committed, a new devices' context without
        it; it is told (it shows itself removed) and its old share no longer combines.
        Refused, nothing changed: an unknown device, the last device, this device (remove it
        from another), fewer remaining devices than the threshold, another live ceremony."""
        async with self._lock:
            membership = self._membership()
            state = await self._state(membership.account)
            leaf = next((x for x in state.leaves if x.device_id == device), None)
            if leaf is None:
                raise InvalidArgument(f"{device} is not a device of this account")
            if len(state.leaves) == 1:
                raise AccountError(
                    "that is the account's last device: an account needs one (leave it instead)"
                )
            if device == self._agent.identity.device:
                raise AccountError("remove this device from another of the account's devices")
            holders = await self._holders(state)
            remaining = tuple((a, x) for a, x in holders if x.device_id != device)
            threshold = state.required_signers
            if len(remaining) < max(2, threshold):
                raise AccountError(
                    f"removing it leaves {len(remaining)} device(s) for a {threshold}-of-"
                    f"{len(holders)} policy: add a device first"
                )
            _check_safe(len(remaining), threshold)
            gone = [a for a, x in holders if x.device_id == device]
            change = await self._start("remove", threshold, remaining, REFRESH, membership.context)
            done = await self._attempt(
                change, ops=lambda _: (RemoveLeaf(leaf.leaf_id),), removed=gone
            )
            await self._move(done)

    async def change_threshold(self, threshold: int) -> None:
        """Move the account to `threshold`-of-(its devices): a DKG among them for a new group
        key, `ChangePolicy` committed. A policy only tightens: `threshold` above the current
        one, at most the device count, and one the fault bound allows."""
        async with self._lock:
            membership = self._membership()
            state = await self._state(membership.account)
            holders = await self._holders(state)
            count = len(holders)
            current = state.required_signers
            if type(threshold) is not int or not current < threshold <= count or threshold < 2:
                raise InvalidArgument(
                    f"the account is {current}-of-{count}: a new threshold is above {current} "
                    f"(a policy only tightens) and at most {count}, not {threshold}"
                )
            _check_safe(count, threshold)
            change = await self._start(
                "threshold", threshold, tuple(holders), DKG, membership.context
            )
            done = await self._attempt(
                change, ops=lambda public: (ChangePolicy(threshold, public.group_public_key),)
            )
            await self._move(done)

    async def refresh(self) -> None:
        """New shares of the same group key for every device (a refresh; the epoch rotates):
        old shares no longer combine with new ones."""
        async with self._lock:
            membership = self._membership()
            state = await self._state(membership.account)
            holders = await self._holders(state)
            if len(holders) < 2:
                raise AccountError("a 1-of-1 account has no shares to refresh (FROST needs two)")
            threshold = state.required_signers
            change = await self._start(
                "refresh", threshold, tuple(holders), REFRESH, membership.context
            )
            group_key = state.group_key
            done = await self._attempt(change, ops=lambda _: (RotateEpoch(group_key),))
            await self._move(done)

    async def _attempt(
        self,
        change: _Change,
        *,
        ops: Callable[[frost.PublicKeyPackage], Sequence[TreeOpKind]],
        removed: Sequence[AuthorityId] = (),
    ) -> _Done:
        """`_change`; if it fails before its point of no return, its ceremony recorded aborted
        (its keys never used) and `AccountError`; past it, `ChangeUnfinished`."""
        try:
            return await self._change(change, ops=ops, removed=removed)
        except ChangeUnfinished:
            raise
        except AuraError as exc:
            await self._abort_started(change.started, AbortReason.TIMEOUT)
            self._fx.trace.event("account.change_failed", error=exc.code)
            raise AccountError(
                f"the change failed and changed nothing ({exc.message}): try again once the "
                "account's devices are reachable"
            ) from None

    async def _start(
        self,
        what: str,
        threshold: int,
        members: tuple[tuple[AuthorityId, LeafNode], ...],
        kind: str,
        context: ContextId,
    ) -> _Change:
        """Start the ceremony of a key change on the tree's prestate (`CeremonyConflict` if
        one is live there) and record it."""
        membership = self._membership()
        state = await self._state(membership.account)
        prestate = tree_prestate(state).hash
        registry = await self._registry(membership.account)
        live = registry.live(prestate)
        if live is not None:
            raise CeremonyConflict(
                f"ceremony {live} is in progress on this account: finish or cancel it first"
            )
        op = KeyChangeOp(membership.account, what, threshold, tuple(sorted(a for a, _ in members)))
        operation = encode(op)
        nonce = int.from_bytes(await self._fx.random.random_bytes(8), "big")
        started, _ = registry.start(
            prestate, operation_hash(operation), nonce, state.epoch, [self._agent.address]
        )
        await self._record(JournalNamespace.of(membership.account), started)
        return _Change(started, operation, kind, threshold, members, context)

    # ------------------------------------------------------------------------- join

    async def join(self, code: str) -> AuthorityId:
        """Join the account `code` invites to (see the module docstring); its id. Typed errors,
        nothing changed here: `EnrollmentCodeInvalid`, `EnrollmentCodeExpired`,
        `EnrollmentCodeRedeemed`, `AlreadyInAccount` (`AlreadyJoined` if it is the code's
        account), `JoinInProgress` (this code's join is under way or kept: it goes on by
        itself), another join not finished, and the inviter's refusals. `ChangeUnfinished` if
        the join may have committed but its outcome is not known yet (no answer after the key
        ceremony, or the inviter still finishing it): this device keeps the join and asks
        again until it knows (`_resume_join`). Each refusal is immediate, never a wait behind
        a join under way."""
        invitation = read_code(code)
        self._check_joining(invitation)  # before the lock: a join holds it while it asks
        async with self._lock:
            agent = self._agent
            self._check_joining(invitation)
            now = (await self._fx.time.now()).ts_ms
            if now >= invitation.expires_ms:
                raise EnrollmentCodeExpired(
                    "the enrollment code has expired: ask the inviting device for a new one"
                )
            _hint(invitation.hints[0])  # refused before anything is kept
            await agent.keys.update(
                lambda held: held.with_enrollment(invitation.ceremony, encode(invitation))
            )
            return await self._run_join(invitation)

    def _check_joining(self, invitation: Invitation) -> None:
        """Why this device cannot join with `invitation` now, if it cannot: it is in an
        account (`AlreadyJoined` if it is the code's), or a join is kept (`JoinInProgress` if
        it is this code's: it is being asked, or is asked again by itself until its outcome is
        known, and a second ask would only wait behind it for the same answer)."""
        agent = self._agent
        membership = agent.membership
        if membership is not None and membership.account == invitation.account:
            raise AlreadyJoined(
                f"this device joined account {membership.account}, the one this code invites "
                "to, already: nothing to do (to join another account, leave it first)"
            )
        if membership is not None:
            raise AlreadyInAccount(
                f"this device is in account {membership.account} already: leave it "
                "before joining another"
            )
        held = self._held_join()
        if held is not None and held.ceremony == invitation.ceremony:
            raise JoinInProgress(
                f"this device's join of account {held.account} with this code is in progress: "
                f"it asks its inviting device (again every {ASK_S:g} s while the outcome is "
                "not known) and ends by itself; the account status shows when it has"
            )
        if held is not None:
            raise AccountError(
                f"this device is still joining account {held.account}: that join may have "
                "committed, so it is finished first (this device asks its inviting device "
                "until it answers)"
            )

    def _held_join(self) -> Invitation | None:
        """The join this device is in the middle of (its invitation, from the key file)."""
        me = self._agent.address
        for held in self._agent.keys.secrets.enrollments:
            invitation = decode(held.invitation, Invitation)
            if invitation.inviter != me:
                return invitation
        return None

    async def _run_join(self, invitation: Invitation) -> AuthorityId:
        """Ask `invitation`'s inviter (again) in the bootstrap context. The join (its invitation
        and pending key in the key file) is dropped only once it cannot be needed: admitted and
        acknowledged, refused (never committed with this device's key), or ended before this
        device reported a key (nothing can have committed with it)."""
        agent = self._agent
        host, port = _hint(invitation.hints[0])
        context = bootstrap_context(invitation.bootstrap)
        self._joining = invitation
        await self._open_bootstrap(invitation)
        self._fx.peers.add(invitation.inviter, VerifyingKey(invitation.inviter_key))
        agent.seeds.put(invitation.inviter, PeerAddress(host, port, invitation.static_key))
        try:
            return await self._join(invitation, context)
        except BaseException:
            if agent.membership is None:
                agent.seeds.remove(invitation.inviter)  # joined: the membership's seed stays
                if agent.keys.secrets.pending_key(invitation.ceremony) is None:
                    with anyio.CancelScope(shield=True):
                        await self._end_join(invitation.ceremony)  # no key reported: not used
            raise
        finally:
            self._joining = None
            self._close_bootstrap(invitation)

    async def _join(self, invitation: Invitation, context: ContextId) -> AuthorityId:
        agent = self._agent
        listener = agent.listener
        ceremony = invitation.ceremony
        request = JoinRequest(
            ceremony,
            agent.identity.device,
            agent.identity.signing_key,
            listener.static_key,
            listener.host,
            listener.port,
            await self._fx.random.random_bytes(32),
        )
        session = Session(
            choreography(),
            _session_id(ceremony, agent.address, request.attempt),
            context,
            {"Joiner": (agent.address,), "Inviter": (invitation.inviter,)},
        )

        async def ask(endpoint: Endpoint) -> Refusal | AuraError | None:
            await endpoint.send("Join", encode(request))
            answer = await endpoint.branch()
            if answer.label == "Roster":
                for device in decode(answer.payload, Roster).devices:
                    if device.address != agent.address:
                        self._meet(device)
                answer = await endpoint.branch()
            if answer.label != "Admitted":
                return decode(answer.payload, Refusal)
            admission = decode(answer.payload, Admission)
            try:
                if admission.account != invitation.account:
                    raise EnrollmentCodeInvalid(
                        "the inviting device admitted this device elsewhere"
                    )
                await self._admitted(invitation, admission)
            except AuraError as exc:
                return exc
            await endpoint.send("Ack")
            return None

        outcome = await agent.dispatcher.run(session, "Joiner", ask, limit=JOIN_LIMIT_S)
        answer = outcome.value if isinstance(outcome, Completed) else None
        if isinstance(answer, AuraError):
            raise answer
        membership = agent.membership
        if membership is not None and membership.account == invitation.account:
            if isinstance(outcome, Completed):  # acknowledged; else asked again, to say so
                await self._end_join(ceremony)
            await agent.notify("info", f"joined account {membership.account}")
            return membership.account
        if isinstance(answer, Refusal):
            if answer.reason == "unfinished":
                raise ChangeUnfinished(
                    f"{answer.detail}; this device keeps its key and asks again until the "
                    "inviting device admits it"
                )
            await self._end_join(ceremony)
            raise _refusal_error(answer)
        if agent.keys.secrets.pending_key(ceremony) is None:
            raise AccountError(
                f"the inviting device did not answer ({type(outcome).__name__}) and this join "
                "changed nothing: is it running and reachable at the code's address?"
            )
        raise ChangeUnfinished(
            f"the inviting device did not answer after the key ceremony "
            f"({type(outcome).__name__}): the join may have committed, so this device keeps "
            "its key and asks again until it learns the outcome"
        )

    async def _admitted(self, invitation: Invitation, admission: Admission) -> None:
        """Record what the inviter sent, take the share the ceremony committed, start. An
        admission taken before (its acknowledgement was lost) changes nothing."""
        agent = self._agent
        fx = self._fx
        membership = agent.membership
        if membership is not None and membership.account == admission.account:
            return
        await _merge_account(fx, admission.account, admission.account_facts)
        context_fact = decode(admission.context_fact, Fact)
        context = context_fact.body.namespace.context
        await fx.journal.merge(JournalNamespace.of(context), [context_fact])
        registry = await self._registry(admission.account)
        key = released(agent.keys.secrets.pending_key(invitation.ceremony), registry)
        if key is None:
            raise AccountError("the enrollment ceremony did not commit with this device's key")
        if key.public_key_package.to_bytes() != admission.public_key_package:
            raise AccountError("the inviting device's key package is not the one agreed")
        await agent.add_context_secret(context, admission.context_secret)
        await agent.add_share(admission.account, admission.epoch, key.key_package)
        seed = Seed(invitation.inviter, admission.host, admission.port, invitation.static_key)
        await agent.join(
            Membership(admission.account, context, admission.public_key_package, (seed,))
        )
        await self._drop_pending(invitation.ceremony)

    async def _end_join(self, ceremony: CeremonyId) -> None:
        """A join whose outcome this device knows (or that cannot have committed): its pending
        key and invitation leave the key file."""
        await self._drop_pending(ceremony)
        await self._drop_enrollment(ceremony)

    async def _resume_join(self, held: Invitation) -> None:
        """The recovery's part for a joiner: a join kept across a stop is asked again (every
        `ASK_S`) until its outcome is known; one that never reported a key is dropped."""
        agent = self._agent
        membership = agent.membership
        joined = membership is not None and membership.account == held.account
        if not joined and agent.keys.secrets.pending_key(held.ceremony) is None:
            await self._end_join(held.ceremony)
            return
        now = anyio.current_time()
        if now - self._asked < ASK_S:
            return
        self._asked = now
        async with self._lock:
            if self._joining is not None or self._held_join() != held:
                return
            try:
                await self._run_join(held)
            except AuraError as exc:
                self._fx.trace.event("account.join_unknown_outcome", error=exc.code)

    # ------------------------------------------------------------------------- admit

    def _accept_join(self, message: SessionMessage, source: AuthorityId) -> Accepted | None:
        if message.label != "Join" or message.receiver != "Inviter":
            return None
        try:
            request = decode(message.payload, JoinRequest)
        except (EncodingError, InvalidArgument):
            return None
        invite = self._invites.get(request.ceremony)
        if invite is None or message.session != _session_id(
            request.ceremony, source, request.attempt
        ):
            self._fx.trace.event("account.join_unknown", peer=str(source))
            return None
        try:
            key = VerifyingKey(request.signing_key)
        except AuraError:
            return None
        if device_address(key) != source:
            self._fx.trace.event("account.join_forged", peer=str(source))
            return None  # cannot even answer: the caller is not who it says
        context = bootstrap_context(invite.invitation.bootstrap)
        session = Session(
            choreography(),
            message.session,
            context,
            {"Joiner": (source,), "Inviter": (self._agent.address,)},
        )
        joiner = Contact(
            source,
            request.signing_key,
            Seed(source, request.host, request.port, request.static_key),
        )

        async def admit(endpoint: Endpoint) -> None:
            await endpoint.receive("Join")
            self._meet(joiner)  # known from here on, so that the answer reaches it
            async with self._lock:
                again = await self._readmission(invite, source)
                refusal = None if again is not None else await self._check_join(invite, source)
                if refusal is not None:
                    await endpoint.select("refuse")
                    await endpoint.send("Refused", encode(refusal))
                    return
                await endpoint.select("proceed")
                roster = tuple(c for c in await self._contacts() if c.address != source)
                await endpoint.send("Roster", encode(Roster(roster)))
                if again is None:
                    again = await self._first_admission(endpoint, invite, request, joiner)
                    if again is None:
                        return
                await endpoint.select("admit")
                await endpoint.send("Admitted", encode(again))
            with anyio.move_on_after(self._times.round2_s):
                await self._checkpoint("inviter:ack")
                await endpoint.receive("Ack")
                # Noted in a task of its own: this session ends at once.
                assert self._tasks is not None
                self._tasks.start_soon(self._admission_taken, invite.invitation.ceremony, source)

        return Accepted(session, "Inviter", 0, admit, JOIN_LIMIT_S)

    async def _first_admission(
        self, endpoint: Endpoint, invite: _Invite, request: JoinRequest, joiner: Contact
    ) -> Admission | None:
        """Run the enrollment (under the lock); its admission, or None once the joiner was
        told why not."""
        try:
            done = await self._enroll(invite, request, joiner)
        except ChangeUnfinished as exc:  # the recovery finishes it; not the joiner's to drop
            await endpoint.select("fail")
            failed = Refusal("unfinished", f"the enrollment is not finished yet ({exc.code})")
            await endpoint.send("Refused", encode(failed))
            return None
        except AuraError as exc:
            self._fx.trace.event("account.enroll_failed", error=exc.code)
            await self._abort(invite, AbortReason.TIMEOUT)
            await endpoint.select("fail")
            failed = Refusal("failed", f"the enrollment failed ({exc.code}): try again")
            await endpoint.send("Refused", encode(failed))
            return None
        # Committed: this device moves whether or not the answer reaches the joiner (its
        # admission stays outstanding in the plan until it acknowledges it).
        await self._move(done)
        await self._agent.notify("info", f"device {request.device} joined the account")
        admission = await self._readmission(invite, joiner.address)
        assert admission is not None  # the plan keeps the joiner outstanding
        return admission

    async def _readmission(self, invite: _Invite, joiner: AuthorityId) -> Admission | None:
        """`joiner`'s admission, if its enrollment committed, the new devices' context is
        founded, and it has not acknowledged it yet (it is admitted as often as it asks)."""
        ceremony = invite.invitation.ceremony
        plan = (await self._plans()).get(ceremony)
        if (
            plan is None
            or not plan.context_fact
            or joiner not in await self._outstanding(plan)
            or joiner not in {j.address for j in plan.prepare.joiners}
        ):
            return None
        if not isinstance((await self._registry(plan.account)).state(ceremony), Committed):
            return None
        listener = self._agent.listener
        return Admission(
            plan.account,
            plan.prepare.started.current_epoch + 1,
            await _signed_facts(self._fx, JournalNamespace.of(plan.account)),
            plan.context_fact,
            self._secret(_context_of(plan)),
            plan.public_key_package,
            listener.host,
            listener.port,
        )

    async def _admission_taken(self, ceremony: CeremonyId, joiner: AuthorityId) -> None:
        """`joiner` acknowledged its admission: a record of its own (written at once, even
        while a change holds the lock: the plan is not rewritten here, so no update of it is
        lost) takes it off the outstanding ones, and the bootstrap secret leaves the key file
        (the recovery forgets the plan once none is outstanding)."""
        await self._fx.storage.put(_ADMITTED + _key(ceremony), joiner.raw)
        await self._drop_enrollment(ceremony)
        self._fx.trace.event("account.admitted", peer=str(joiner))
        self._wake.set()

    async def _outstanding(self, plan: ChangePlan) -> tuple[AuthorityId, ...]:
        """The devices `plan` still waits for: its outstanding ones but a joiner that took
        its admission."""
        taken = await self._fx.storage.get(_ADMITTED + _key(plan.ceremony))
        return tuple(a for a in plan.outstanding if taken is None or a.raw != taken)

    async def _check_join(self, invite: _Invite, joiner: AuthorityId) -> Refusal | None:
        """Why a join by `joiner` with `invite`'s code is refused now, if it is."""
        invitation = invite.invitation
        membership = self._agent.membership
        if membership is None or membership.account != invitation.account:
            return Refusal("invalid", "the code is for an account this device is not in now")
        plan = (await self._plans()).get(invitation.ceremony)
        if plan is not None:  # past its point of no return: the code is taken
            if joiner not in {j.address for j in plan.prepare.joiners}:
                return Refusal("redeemed", "the code was used already: ask for a new one")
            return Refusal("unfinished", "the enrollment is being finished")
        registry = await self._registry(invitation.account)
        state = registry.state(invitation.ceremony)
        if isinstance(state, Committed):
            return Refusal("redeemed", "the code was used already: ask for a new one")
        if isinstance(state, (Aborted, Superseded)):
            return Refusal("invalid", "the code's enrollment was cancelled: ask for a new one")
        if (await self._fx.time.now()).ts_ms >= invitation.expires_ms:
            await self._abort(invite, AbortReason.TIMEOUT)
            return Refusal("expired", "the code has expired: ask for a new one")
        return None

    async def _enroll(self, invite: _Invite, request: JoinRequest, joiner: Contact) -> _Done:
        """The enrollment of `joiner`: the DKG among the share holders and the joiner in the
        bootstrap context, then `AddLeaf` and `ChangePolicy` (`_change`: nothing is committed
        before the keys exist, so a failure before the commit leaves the tree as it was). The
        invitation is kept in the key file first: past the point of no return the joiner's
        admission is outstanding until it acknowledges it, also across a restart of this
        device, which then opens the bootstrap context again with it."""
        invitation = invite.invitation
        await self._agent.keys.update(
            lambda held: held.with_enrollment(invitation.ceremony, encode(invitation))
        )
        account = invitation.account
        state = await self._state(account)
        leaf = LeafNode(
            max(x.leaf_id for x in state.leaves) + 1,
            request.device,
            LeafRole.DEVICE,
            request.signing_key,
        )
        holders = await self._holders(state)
        change = _Change(
            invite.started,
            invite.operation,
            DKG,
            invitation.threshold,
            (*holders, (joiner.address, leaf)),
            bootstrap_context(invitation.bootstrap),
            invitation.bootstrap,
            (joiner,),
        )
        threshold = invitation.threshold
        return await self._change(
            change,
            ops=lambda public: (AddLeaf(leaf), ChangePolicy(threshold, public.group_public_key)),
        )

    # ------------------------------------------------------------------------- changes

    async def _change(
        self,
        change: _Change,
        *,
        ops: Callable[[frost.PublicKeyPackage], Sequence[TreeOpKind]],
        removed: Sequence[AuthorityId] = (),
    ) -> _Done:
        """Run a key change as its coordinator: tell the other share holders (`Prepare`), run
        the key ceremony (every member keeps its new key, pending, in its key file before it
        reports it), record the pending epoch, have the group the ceremony started from sign
        its commit, then, past the point of no return, `_finish` it: commit `ops(new public
        key package)`, record the commit, move everyone (`Switch`).

        Nothing is committed before that point, so a failure before it aborts the change
        (`_attempt`); from it on the change is kept (`ChangePlan`) and finished, never undone:
        a failure there is `ChangeUnfinished`, and the recovery finishes it."""
        agent = self._agent
        membership = self._membership()
        account = membership.account
        namespace = JournalNamespace.of(account)
        started = change.started
        ceremony = started.ceremony_id
        state0 = await self._state(account)
        old_holders = await self._holders(state0)
        single = agent._single(state0)
        old_public = (
            None if single else frost.PublicKeyPackage.from_bytes(membership.public_key_package)
        )
        old_share = agent.keys.secrets.share(account, state0.epoch)
        members = tuple(
            sorted(
                (
                    CeremonyMember(address, frost_identifier(leaf))
                    for address, leaf in change.members
                ),
                key=lambda m: m.identifier,
            )
        )
        prepare = Prepare(
            started,
            change.operation,
            change.kind,
            change.threshold,
            members,
            change.bootstrap,
            change.joiners,
        )
        # A device the change removes is neither told (it takes no part: it is usually lost or
        # dead, and it learns it is out from its `Switch`) nor asked to sign the commit.
        signing = [(a, leaf) for a, leaf in old_holders if a not in removed]
        others = [a for a, _ in signing if a != agent.address]
        for other in others:  # a holder that is down fails the change here, before any commit
            await self._tell(
                prepare_choreography(),
                "Prepare",
                prepare,
                other,
                membership.context,
                limit=self._times.round2_s,
            )
        await self._progress(ceremony, "prepared", started.current_epoch + 1)
        assert self._ceremonies is not None
        start = KeyCeremonyStart(
            ceremony, account, change.context, change.kind, change.threshold, members
        )
        approval = KeyApproval(old_share, old_public) if change.kind == REFRESH else KeyApproval()
        await self._progress(ceremony, "keys", started.current_epoch + 1)
        pending = await self._ceremonies.keys(start, approval)
        await self._record(
            namespace,
            CeremonyPendingEpoch(ceremony, started.current_epoch + 1, pending.key_commitment),
        )
        commit = await self._ceremony_commit(
            change, state0, signing, old_share, old_public, membership.context
        )
        plan = ChangePlan(
            attrs.evolve(prepare, bootstrap=b""),  # a code's secret: never in the storage
            account,
            membership.context,
            tuple(ops(pending.public_key_package)),
            commit,
            tuple(removed),
        )
        await self._save_plan(plan)  # the point of no return: from here on, finished
        await self._checkpoint("coordinator:committing")
        try:
            return await self._finish(plan)
        except AuraError as exc:
            self._fx.trace.event("account.change_unfinished", error=exc.code)
            raise ChangeUnfinished(
                f"the change is committed in part and could not finish now ({exc.message}); "
                "this device finishes it once the account's devices are reachable"
            ) from None

    async def _finish(self, plan: ChangePlan) -> _Done:
        """A change past its point of no return, from where the journals show it: its tree
        changes not committed yet, the ceremony's response and commit, this device's new
        share, the new devices' context and the `Switch`es. Repeating it is harmless."""
        agent = self._agent
        account = plan.account
        started = plan.prepare.started
        ceremony = plan.ceremony
        registry = await self._registry(account)
        if not isinstance(registry.state(ceremony), Committed):
            for kind in plan.ops:
                if not _applied(await self._state(account), kind, started):
                    await self._commit(account, kind)
            await self._checkpoint("coordinator:committed")
            await self._record(
                JournalNamespace.of(plan.context),
                CeremonyResponse(ceremony, agent.address, True),
            )
            await self._record(
                JournalNamespace.of(account), CeremonyCommitted(ceremony, plan.commit)
            )
            registry = await self._registry(account)
        await self._progress(ceremony, "committed", started.current_epoch + 1)
        final = await self._state(account)
        if agent.keys.secrets.share(account, final.epoch) is None:
            key = released(agent.keys.secrets.pending_key(ceremony), registry)
            if key is None:
                raise AccountError(f"this device holds no key of the committed change {ceremony}")
            await agent.add_share(account, final.epoch, key.key_package)
        return await self._hand_over(plan, final)

    async def _hand_over(self, plan: ChangePlan, final: TreeState) -> _Done:
        """After the commit: the new devices' context (once: kept in the plan), and `Switch`
        to every other device staying (a bare one, the facts only, to the removed). A device
        that does not acknowledge stays outstanding in the plan: the recovery sends it again.
        An enrollment's joiner is outstanding too, until it acknowledges its `Admitted` (sent
        in its join session, again each time it asks)."""
        agent = self._agent
        fx = self._fx
        me = agent.address
        staying = sorted({m.address for m in plan.prepare.members} | {me})
        if not plan.context_fact:
            contacts = {c.address: c for c in await self._contacts()}
            for joiner in plan.prepare.joiners:
                self._meet(joiner)  # its key, for the new context (also after a restart)
                contacts[joiner.address] = joiner
            secret = await fx.random.random_bytes(32)
            context = await self._new_context(staying, secret=secret)
            [context_fact] = await _signed_facts(fx, JournalNamespace.of(context))
            pending = agent.keys.secrets.pending_key(plan.ceremony)
            assert pending is not None  # kept until this device moved
            seeds = {a: c.seed for a, c in contacts.items() if a in staying}
            seeds[me] = Seed(
                me, agent.listener.host, agent.listener.port, agent.listener.static_key
            )
            joiners = {j.address for j in plan.prepare.joiners}
            plan = attrs.evolve(
                plan,
                context_fact=context_fact,
                public_key_package=pending.public_key_package.to_bytes(),
                seeds=tuple(seeds[a] for a in staying if a in seeds),
                outstanding=(*(a for a in staying if a != me), *plan.removed),
                handed_ms=(await fx.time.now()).ts_ms,
            )
            await self._save_plan(plan)
            acked = []
            for other in plan.outstanding:
                if other in joiners:
                    continue  # admitted in its join session (`Admitted`, when it asks)
                if await self._send_switch(plan, other, limit=self._times.round2_s):
                    acked.append(other)
            plan = attrs.evolve(
                plan, outstanding=tuple(a for a in plan.outstanding if a not in acked)
            )
            await self._save_plan(plan)
            for other in plan.outstanding:
                later = (
                    f"it is told again for {self._switch_times.removed_for_s:g} s at most"
                    if other in plan.removed
                    else "it is sent again until it does"
                )
                await agent.notify("warning", f"{other} has not taken the change yet: {later}")
        context = _context_of(plan)
        return _Done(
            plan.account,
            final.epoch,
            await _signed_facts(fx, JournalNamespace.of(plan.account)),
            plan.context_fact,
            self._secret(context),
            plan.public_key_package,
            context,
            tuple(seed for seed in plan.seeds if seed.authority != me),
        )

    async def _send_switch(self, plan: ChangePlan, peer: AuthorityId, *, limit: float) -> bool:
        """`peer`'s `Switch` of `plan` (the account journal as it is now; the facts only to a
        device the change removed), in the devices' context the change started in; whether
        `peer` acknowledged it."""
        final = await self._state(plan.account)
        facts = await _signed_facts(self._fx, JournalNamespace.of(plan.account))
        if peer in plan.removed:
            bare = Switch(plan.ceremony, plan.account, final.epoch, facts, b"", b"", b"", ())
            return await self._deliver(plan.context, peer, bare, limit)
        switch = Switch(
            plan.ceremony,
            plan.account,
            final.epoch,
            facts,
            plan.context_fact,
            self._secret(_context_of(plan)),
            plan.public_key_package,
            tuple(seed for seed in plan.seeds if seed.authority != peer),
        )
        return await self._deliver(plan.context, peer, switch, limit)

    async def _deliver(
        self, context: ContextId, peer: AuthorityId, switch: Switch, limit: float
    ) -> bool:
        """Send `switch` to `peer` in `context` (where it still is); whether it acknowledged
        (a failure is traced, not raised: the change is committed whatever one device does,
        and the recovery sends it again)."""
        try:
            await self._tell(switch_choreography(), "Switch", switch, peer, context, limit=limit)
        except AuraError as exc:  # committed: this device moves all the same
            self._fx.trace.event("account.switch_failed", peer=str(peer), error=exc.code)
            return False
        self._fx.trace.event("account.switched", peer=str(peer))
        return True

    def _secret(self, context: ContextId) -> bytes:
        """The shared secret of `context` from the key file."""
        for held in self._agent.keys.secrets.contexts:
            if held.context == context:
                return held.secret
        raise NotConfigured(f"the key file holds no secret of {context}")

    async def _move(self, done: _Done) -> None:
        """This device's own move to the new devices' context and group (the recovery then
        forgets the plan once every device staying took the change)."""
        await self._agent.join(
            Membership(done.account, done.context, done.public_key_package, done.seeds)
        )
        self._wake.set()

    async def _ceremony_commit(  # noqa: PLR0917 (the group the ceremony started from)
        self,
        change: _Change,
        state0: TreeState,
        signing: Sequence[tuple[AuthorityId, LeafNode]],
        old_share: frost.KeyPackage | None,
        old_public: frost.PublicKeyPackage | None,
        context: ContextId,
    ) -> CommitFact:
        """The commit of the ceremony's operation on its prestate, by the group it started
        from: this device's signature for a 1-of-1 tree, else a networked FROST signing by
        this device and the first other holders of `signing` (the old holders but those the
        change removes) the threshold needs."""
        agent = self._agent
        started = change.started
        if old_public is None:
            return single_signer_commit(
                prestate_hash=started.prestate_hash,
                operation_bytes=change.operation,
                nonce=started.nonce,
                witness=agent.address,
                key=agent.keys.secrets.signing_key,
            )
        assert old_share is not None and self._ceremonies is not None
        threshold = old_public.min_signers
        mine = [(a, leaf) for a, leaf in signing if a == agent.address]
        others = [(a, leaf) for a, leaf in signing if a != agent.address]
        chosen = [*mine, *others[: threshold - 1]]
        unsigned = _unsigned_commit(
            started, change.operation, threshold, [a for a, _ in chosen], state0.group_key
        )
        signers = tuple(
            sorted(
                (CeremonyMember(a, frost_identifier(leaf)) for a, leaf in chosen),
                key=lambda m: m.identifier,
            )
        )
        request = SignRequest(
            started.ceremony_id, state0.authority, context, state0.epoch, unsigned.message, signers
        )
        signature = await self._ceremonies.sign(request, old_share, old_public)
        return attrs.evolve(unsigned, threshold_signature=signature)

    async def _commit(self, account: AuthorityId, kind: TreeOpKind) -> None:
        """Commit a tree change: this device's signature for a 1-of-1 tree, else the networked
        consensus of the share holders."""
        state = await self._state(account)
        if state.group_key.raw == self._agent.identity.signing_key:
            # The group key is this device's own (a 1-of-1 account, or one whose new device
            # holds no share yet): it alone commits.
            await self._single_commit(account, kind)
            return
        device = self._agent.device
        if device is None:
            raise NotConfigured("the account services are not running")
        await device.change(kind)

    async def _holders(self, state: TreeState) -> list[tuple[AuthorityId, LeafNode]]:
        """The devices holding a share of the group key now (address, leaf), by leaf id."""
        agent = self._agent
        membership = self._membership()
        genesis = await member_genesis(self._fx, membership.context, agent.address)
        addresses = witness_addresses(state, genesis)
        if agent._single(state):
            ids = {frost_identifier(leaf) for leaf in state.leaves}
        else:
            ids = set(frost.PublicKeyPackage.from_bytes(membership.public_key_package).identifiers)
        return [
            (addresses[leaf.device_id], leaf)
            for leaf in state.leaves
            if frost_identifier(leaf) in ids and leaf.device_id in addresses
        ]

    async def _contacts(self) -> tuple[Contact, ...]:
        """The account's other devices: address, key and where they listen."""
        agent = self._agent
        membership = self._membership()
        genesis = await member_genesis(self._fx, membership.context, agent.address)
        found = []
        for member in sorted(genesis.members, key=lambda m: m.authority):
            if member.authority == agent.address:
                continue
            where = await agent.locator.locate(member.authority, membership.context)
            if where is None:
                continue
            seed = Seed(member.authority, where.host, where.port, where.static_key)
            found.append(Contact(member.authority, member.key.raw, seed))
        return tuple(found)

    def _meet(self, contact: Contact) -> None:
        """Know `contact`'s key and listener (for a device outside the devices' context)."""
        self._fx.peers.add(contact.address, VerifyingKey(contact.signing_key))
        self._agent.seeds.put(contact.address, contact.seed.address)

    async def _tell(
        self,
        choreo: Choreography,
        label: str,
        message: object,
        peer: AuthorityId,
        context: ContextId,
        *,
        limit: float,
    ) -> None:
        """Send `message` to `peer` in a `Prepare`/`Switch` session; its acknowledgement within
        `limit` seconds."""
        session = Session(
            choreo,
            SessionId.from_entropy(await self._fx.random.random_bytes(32)),
            context,
            {"Coordinator": (self._agent.address,), "Member": (peer,)},
        )

        async def send(endpoint: Endpoint) -> None:
            await endpoint.send(label, encode(message))
            await endpoint.receive("Ack")

        outcome = await self._agent.dispatcher.run(session, "Coordinator", send, limit=limit)
        if not isinstance(outcome, Completed):
            raise AccountError(f"{peer} did not acknowledge the change ({type(outcome).__name__})")

    # ------------------------------------------------------------------------- recovery

    async def _checkpoint(self, phase: str) -> None:
        """A fault-injection point, `role:step` (`member:prepared`, `member:keys:KIND`,
        `member:switch`, `coordinator:keys:KIND`, `coordinator:committing` (past the point of
        no return), `coordinator:committed` (its tree changes committed), `joiner:keys:dkg`,
        `inviter:ack` (waiting for the joiner's `Ack` of its admission: a hook that does not
        return loses it); KIND `dkg` or `refresh`): the in-process tests' `fault` hook is
        awaited, and a process started with `CRASH_ENV` naming this phase kills itself with
        SIGKILL here (the multi-process harness)."""
        if self.fault is not None:
            await self.fault(phase)
        if phase == self._crash_at:
            self._fx.trace.event("account.crash", phase=phase)
            os.kill(os.getpid(), signal.SIGKILL)

    async def _watch_sync(self) -> None:
        """Each sync report may bring a ceremony's outcome: look again. A peer that answered
        a session (or asked for one) is up: its `Switch`es not acknowledged are due at once."""
        async for status in self._fx.reactive.subscribe(SYNC.signal):
            for report in status.peers:
                if self._heard.get(report.peer) == report:
                    continue
                self._heard[report.peer] = report
                if report.outcome not in _UNANSWERED:
                    for key in [k for k in self._retries if k[1] == report.peer]:
                        del self._retries[key]
            self._wake.set()

    async def _recover(self) -> None:
        """Bring every change this device takes part in to its end, again and again: at start,
        on each sync report (a device that connects is synced with at once), and every
        `RETRY_S` (`_reconcile`)."""
        while True:
            with anyio.move_on_after(RETRY_S):
                await self._wake.wait()
            self._wake = anyio.Event()
            try:
                await self._reconcile()
            except AuraError as exc:
                self._fx.trace.event("account.recover_failed", error=exc.code)

    async def _reconcile(self) -> None:
        """Once the account services run: pending keys and prepared changes the journal shows
        final are dropped; this device's own ceremonies neither committed nor aborted are
        finished (past their point of no return: a `ChangePlan`) or recorded aborted; the
        `Switch`es not acknowledged are sent again."""
        agent = self._agent
        membership = agent.membership
        joining = self._joining or self._held_join()
        stray = [
            held.ceremony
            for held in agent.keys.secrets.pending
            if (membership is None or held.account != membership.account)
            and (joining is None or held.ceremony != joining.ceremony)
        ]
        for ceremony in stray:  # not this account's nor a join's: never used
            await self._drop_pending(ceremony)
        held = self._held_join()
        if held is not None and self._joining is None:
            await self._resume_join(held)
            membership = agent.membership
        if membership is None or agent.device is None:
            return
        waiting = await self._tidy(membership)
        now = anyio.current_time()
        if waiting and now - self._pulled >= PULL_S:
            self._pulled = now
            for coordinator in sorted(waiting):
                agent.sync.request(coordinator)
        async with self._lock:
            await self._settle_own()
            await self._reopen_admissions(await self._registry(membership.account))
        await self._retry_switches()

    async def _tidy(self, membership: Membership) -> set[AuthorityId]:
        """Drop the pending keys of ceremonies the journal shows aborted (or committed and
        taken), forget prepared changes that are final here, and know the others again after
        a restart (so that this device still signs their commits); the coordinators of the
        changes not final here."""
        agent = self._agent
        fx = self._fx
        account = membership.account
        registry = await self._registry(account)
        known = set(registry.ceremonies())
        drop = []
        for held in agent.keys.secrets.pending:
            if held.account != account or held.ceremony not in known:
                continue
            taken = held.public_key_package == membership.public_key_package
            if abandoned(held.ceremony, registry) or (
                taken and released(held.key(), registry) is not None
            ):
                drop.append(held.ceremony)
        if drop:
            await agent.keys.update(lambda held: held.without_pending(*drop))
            for ceremony in drop:
                fx.trace.event("account.pending_dropped", ceremony=str(ceremony))
        waiting = set()
        for key, raw in await fx.storage.scan(_PREPARED):
            try:
                held_change = decode(raw, Prepared)
            except (EncodingError, InvalidArgument):
                await fx.storage.delete(key)
                continue
            ceremony = held_change.prepare.started.ceremony_id
            found = registry.state(ceremony) if ceremony in known else None
            if (
                held_change.account != account
                or isinstance(found, (Aborted, Superseded))
                or (
                    isinstance(found, Committed)
                    and agent.keys.secrets.pending_key(ceremony) is None
                )
            ):
                await fx.storage.delete(key)
                self._expected.pop(ceremony, None)
                continue
            if not isinstance(found, Committed):
                waiting.add(held_change.coordinator)
            if ceremony not in self._expected:
                tree = await self._state(account)
                self._expected[ceremony] = _Expected(
                    held_change.prepare,
                    held_change.coordinator,
                    account,
                    agent.keys.secrets.share(account, tree.epoch),
                    frost.PublicKeyPackage.from_bytes(membership.public_key_package)
                    if membership.public_key_package
                    else None,
                )
        return waiting

    async def _settle_own(self) -> None:
        """Under the lock (no change of this device runs): its ceremonies neither committed
        nor aborted. With a plan, finished (and this device moves); a live invitation is
        left to its code; any other was interrupted before its point of no return (a
        restart) and is recorded aborted."""
        agent = self._agent
        membership = agent.membership
        if membership is None or agent.device is None:
            return
        account = membership.account
        registry = await self._registry(account)
        plans = await self._plans()
        for ceremony in registry.ceremonies():
            started = registry.started(ceremony)
            if started.required != (agent.address,) or ceremony in plans:
                continue
            invite = self._invites.get(ceremony)
            state = registry.state(ceremony)
            if invite is None and not isinstance(state, (Committed, Aborted, Superseded)):
                self._fx.trace.event("account.interrupted", ceremony=str(ceremony))
                await self._abort_started(started, AbortReason.CANCELLED)
        for plan in plans.values():
            outcome = (
                registry.state(plan.ceremony)
                if plan.account == account and plan.ceremony in registry.ceremonies()
                else None
            )
            if outcome is None or isinstance(outcome, (Aborted, Superseded)):
                await self._delete_plan(plan)  # another account's, or one that cannot finish
                continue
            # Not moved yet: still in the context the change started in (a device that moved
            # on, even past a later change, never goes back).
            if (
                not isinstance(outcome, Committed)
                or not plan.context_fact
                or membership.context == plan.context
            ):
                self._fx.trace.event("account.resume", ceremony=str(plan.ceremony))
                try:
                    await self._move(await self._finish(plan))
                except AuraError as exc:  # this plan waits for the next round, not the others
                    self._fx.trace.event(
                        "account.resume_failed", ceremony=str(plan.ceremony), error=exc.code
                    )

    async def _retry_switches(self) -> None:
        """Once this device moved (out of the context the change started in): each `Switch`
        not acknowledged and due (`SwitchTimes`), sent again (all at once, each within the
        round time); a removed device past `removed_for_s` abandoned; a joiner whose
        descriptor shows it took its admission, taken. The plan is forgotten when none is
        left (a joiner's `Admitted` is taken when it asks)."""
        agent = self._agent
        times = self._switch_times
        plans = await self._plans()
        for key in [k for k in self._retries if k[0] not in plans]:
            del self._retries[key]  # a plan gone by another way (aborted, another account's)
        for plan in plans.values():
            membership = agent.membership
            if membership is None or not plan.context_fact or membership.context == plan.context:
                continue
            now = (await self._fx.time.now()).ts_ms
            joiners = {j.address for j in plan.prepare.joiners}
            await self._admissions_seen(plan, joiners)
            switching = [a for a in plan.outstanding if a not in joiners]
            given_up = [
                a
                for a in switching
                if a in plan.removed and now - plan.handed_ms >= times.removed_for_s * 1000
            ]
            due = [
                a
                for a in switching
                if a not in given_up and self._retries.get((plan.ceremony, a), (0, now))[1] <= now
            ]
            acked: list[AuthorityId] = []
            if due:
                await agent._grant(plan.context)  # where those devices still are

                async def send(
                    peer: AuthorityId, plan: ChangePlan = plan, acked: list[AuthorityId] = acked
                ) -> None:
                    if await self._send_switch(plan, peer, limit=self._times.round2_s):
                        acked.append(peer)

                async with anyio.create_task_group() as tasks:
                    for peer in due:
                        tasks.start_soon(send, peer)
                now = (await self._fx.time.now()).ts_ms  # the wait starts once they ended
            for peer in due:  # in the plan's order: the jitter draws are deterministic
                key = (plan.ceremony, peer)
                if peer in acked:
                    self._retries.pop(key, None)
                    continue
                failures = self._retries.get(key, (0, 0))[0] + 1
                wait = times.delay_s(failures, await self._fx.random.random_bytes(2))
                self._retries[key] = (failures, now + int(wait * 1000))
            for peer in given_up:
                self._retries.pop((plan.ceremony, peer), None)
                self._fx.trace.event(
                    "account.switch_abandoned", ceremony=str(plan.ceremony), peer=str(peer)
                )
            gone = {*acked, *given_up}
            left = tuple(a for a in await self._outstanding(plan) if a not in gone)
            if left:
                if gone:
                    await self._save_plan(attrs.evolve(plan, outstanding=left))
                continue
            await self._delete_plan(plan)
            await self._drop_pending(plan.ceremony)
            await self._drop_enrollment(plan.ceremony)
            self._fx.trace.event("account.change_done", ceremony=str(plan.ceremony))

    async def _admissions_seen(self, plan: ChangePlan, joiners: set[AuthorityId]) -> None:
        """A joiner still outstanding whose descriptor is in the new devices' context's
        journal took its admission (only a device holding that context's secret can publish
        one there, and the joiner publishes it as it starts in the account): its `Ack` was
        lost. Taken as if acknowledged, so the bootstrap secret does not outlive its use."""
        waiting = [a for a in await self._outstanding(plan) if a in joiners]
        if not waiting:
            return
        published = await RendezvousLocator(self._fx).descriptors(_context_of(plan))
        for joiner in waiting:
            if joiner in published:
                self._fx.trace.event("account.admission_seen", peer=str(joiner))
                await self._admission_taken(plan.ceremony, joiner)

    async def _plans(self) -> dict[CeremonyId, ChangePlan]:
        """This device's changes past their point of no return, not done yet, by ceremony."""
        found = {}
        for key, raw in await self._fx.storage.scan(_PLANS):
            try:
                plan = decode(raw, ChangePlan)
            except (EncodingError, InvalidArgument) as exc:
                # Nothing can finish it (as `_tidy` does with a prepared change): dropped,
                # traced, and the others go on.
                self._fx.trace.event("account.plan_corrupt", key=key, error=exc.message)
                await self._fx.storage.delete(key)
                continue
            found[plan.ceremony] = plan
        return dict(sorted(found.items()))

    async def _save_plan(self, plan: ChangePlan) -> None:
        await self._fx.storage.put(_PLANS + _key(plan.ceremony), encode(plan))

    async def _delete_plan(self, plan: ChangePlan) -> None:
        await self._fx.storage.delete(_PLANS + _key(plan.ceremony))
        await self._fx.storage.delete(_ADMITTED + _key(plan.ceremony))

    async def _drop_pending(self, ceremony: CeremonyId) -> None:
        """Delete `ceremony`'s pending key from the key file, if it holds one."""
        keys = self._agent.keys
        if keys.secrets.pending_key(ceremony) is not None:
            await keys.update(lambda held: held.without_pending(ceremony))
            self._fx.trace.event("account.pending_dropped", ceremony=str(ceremony))

    async def _drop_enrollment(self, ceremony: CeremonyId) -> None:
        """Delete enrollment `ceremony`'s invitation (its bootstrap secret) from the key file."""
        keys = self._agent.keys
        if keys.secrets.enrollment(ceremony) is not None:
            await keys.update(lambda held: held.without_enrollment(ceremony))
            self._fx.trace.event("account.enrollment_dropped", ceremony=str(ceremony))

    async def _reopen_admissions(self, registry: CeremonyRegistry) -> None:
        """The inviter's enrollments in the key file: one past its point of no return (a
        plan) whose joiner has not taken its admission is answered again (after a restart
        its bootstrap context is opened again); any other final one is dropped."""
        me = self._agent.address
        plans = await self._plans()
        for held in self._agent.keys.secrets.enrollments:
            invitation = decode(held.invitation, Invitation)
            if invitation.inviter != me:
                continue
            plan = plans.get(held.ceremony)
            if plan is None:
                known = held.ceremony in registry.ceremonies()
                final = (Committed, Aborted, Superseded)
                if not known or isinstance(registry.state(held.ceremony), final):
                    if known and held.ceremony not in self._invites:
                        # Its joiner may still be asking (a restart aborted the enrollment
                        # while it waited): for this run it is told the code is void, so it
                        # drops its key instead of asking for good.
                        started = registry.started(held.ceremony)
                        self._invites[held.ceremony] = _Invite(invitation, started, b"")
                        await self._open_bootstrap(invitation)
                    await self._drop_enrollment(held.ceremony)
                continue
            if held.ceremony not in self._invites:
                started = plan.prepare.started
                self._invites[held.ceremony] = _Invite(invitation, started, plan.prepare.operation)
                await self._open_bootstrap(invitation)

    async def _forget(self, ceremony: CeremonyId) -> None:
        """A change that is over for this device: its record and pending key go."""
        await self._fx.storage.delete(_PREPARED + _key(ceremony))
        await self._drop_pending(ceremony)

    # ------------------------------------------------------------------------- as a member

    def _accept_prepare(self, message: SessionMessage, source: AuthorityId) -> Accepted | None:
        if message.label != "Prepare" or message.receiver != "Member":
            return None
        membership = self._agent.membership
        account = self._account_devices()
        if membership is None or source not in account:
            return None
        try:
            prepare = decode(message.payload, Prepare)
        except (EncodingError, InvalidArgument):
            return None
        session = Session(
            prepare_choreography(),
            message.session,
            membership.context,
            {"Coordinator": (source,), "Member": (self._agent.address,)},
        )

        async def take(endpoint: Endpoint) -> None:
            await endpoint.receive("Prepare")
            await self._prepared(prepare, source, membership)
            await endpoint.send("Ack")
            await self._checkpoint("member:prepared")

        return Accepted(session, "Member", 0, take, self._times.limit_s)

    async def _prepared(
        self, prepare: Prepare, coordinator: AuthorityId, membership: Membership
    ) -> None:
        agent = self._agent
        state = await self._state(membership.account)
        public = (
            None
            if not membership.public_key_package
            else frost.PublicKeyPackage.from_bytes(membership.public_key_package)
        )
        share = agent.keys.secrets.share(membership.account, state.epoch)
        ceremony = prepare.started.ceremony_id
        record_ = Prepared(  # a code's secret is never in the storage (nor needed again)
            attrs.evolve(prepare, bootstrap=b""), coordinator, membership.account
        )
        await self._fx.storage.put(_PREPARED + _key(ceremony), encode(record_))
        self._expected[ceremony] = _Expected(
            prepare, coordinator, membership.account, share, public
        )
        if prepare.bootstrap:
            await self._open_context(
                bootstrap_context(prepare.bootstrap), bootstrap_secret(prepare.bootstrap)
            )
        for joiner in prepare.joiners:
            self._meet(joiner)

    def _accept_switch(self, message: SessionMessage, source: AuthorityId) -> Accepted | None:
        if message.label != "Switch" or message.receiver != "Member":
            return None
        membership = self._agent.membership
        if membership is None or source not in self._account_devices():
            return None
        try:
            switch = decode(message.payload, Switch)
        except (EncodingError, InvalidArgument):
            return None
        if switch.account != membership.account:
            return None
        session = Session(
            switch_choreography(),
            message.session,
            membership.context,
            {"Coordinator": (source,), "Member": (self._agent.address,)},
        )

        async def take(endpoint: Endpoint) -> None:
            await endpoint.receive("Switch")
            await self._checkpoint("member:switch")
            async with self._lock:
                await self._switched(switch)
            await endpoint.send("Ack")

        return Accepted(session, "Member", 0, take, self._times.limit_s)

    async def _switched(self, switch: Switch) -> None:
        """Move to the new epoch the coordinator's change committed (or see the removal). A
        `Switch` this device took already (it is sent until acknowledged) changes nothing."""
        agent = self._agent
        fx = self._fx
        await _merge_account(fx, switch.account, switch.account_facts)
        self._expected.pop(switch.ceremony, None)
        if not switch.context_fact:
            await self._forget(switch.ceremony)
            await agent.refresh()  # removed: the tree no longer has this device
            await agent.notify("warning", "this device was removed from the account")
            return
        context_fact = decode(switch.context_fact, Fact)
        context = context_fact.body.namespace.context
        membership = agent.membership
        if membership is not None and membership.context == context:
            return
        await fx.journal.merge(JournalNamespace.of(context), [context_fact])
        registry = await self._registry(switch.account)
        key = released(agent.keys.secrets.pending_key(switch.ceremony), registry)
        if key is None and agent.keys.secrets.share(switch.account, switch.epoch) is not None:
            return  # taken before (its acknowledgement was lost); it may have moved on since
        if key is None or key.public_key_package.to_bytes() != switch.public_key_package:
            raise AccountError("the change did not commit with this device's key")
        await agent.add_context_secret(context, switch.context_secret)
        await agent.add_share(switch.account, switch.epoch, key.key_package)
        await agent.join(
            Membership(switch.account, context, switch.public_key_package, switch.seeds)
        )
        await self._forget(switch.ceremony)

    def _account_devices(self) -> frozenset[AuthorityId]:
        account = self._agent._account_devices
        return frozenset() if account is None else frozenset(account.devices)

    # ------------------------------------------------------------------------- policy

    def approve_keys(self, start: KeyCeremonyStart, coordinator: AuthorityId) -> KeyApproval | None:
        """Take part in the DKG of the enrollment this device is joining, with its inviter, or
        in a key change a device of the account prepared this device for."""
        joining = self._joining
        if joining is not None:
            if (
                start.ceremony != joining.ceremony
                or coordinator != joining.inviter
                or start.account != joining.account
                or start.kind != DKG
                or start.threshold != joining.threshold
            ):
                return None
            return KeyApproval()
        expected = self._expected.get(start.ceremony)
        if expected is None or expected.coordinator != coordinator:
            return None
        prepare = expected.prepare
        if (start.kind, start.threshold, start.members, start.account) != (
            prepare.kind,
            prepare.threshold,
            prepare.members,
            expected.account,
        ):
            return None
        if start.kind == REFRESH:
            return KeyApproval(expected.share, expected.public)
        return KeyApproval()

    def approve_signing(
        self, request: SignRequest, coordinator: AuthorityId
    ) -> frost.KeyPackage | None:
        """Sign only the commit of a ceremony this device was prepared for, by the group it
        started from, exactly as expected."""
        expected = self._expected.get(request.ceremony)
        if expected is None or expected.public is None or expected.coordinator != coordinator:
            return None
        prepare = expected.prepare
        unsigned = _unsigned_commit(
            prepare.started,
            prepare.operation,
            expected.public.min_signers,
            [m.address for m in request.signers],
            expected.public.group_public_key,
        )
        if request.message != unsigned.message or request.account != expected.account:
            return None
        return expected.share

    async def pending(self, key: PendingKey) -> None:
        """Keep `key` in the key file (inert until its ceremony commits) before this device
        reports it."""
        await self._agent.keys.update(lambda held: held.with_pending(key))
        joining = self._joining
        if joining is not None and joining.ceremony == key.ceremony:
            role = "joiner"
        else:
            role = "member" if key.ceremony in self._expected else "coordinator"
        await self._checkpoint(f"{role}:keys:{key.kind}")

    # ------------------------------------------------------------------------- helpers

    def _membership(self) -> Membership:
        membership = self._agent.membership
        if membership is None:
            raise NotConfigured("this device has no account: create one or join one first")
        return membership

    async def _state(self, account: AuthorityId) -> TreeState:
        journal = await self._fx.journal.journal(JournalNamespace.of(account))
        state = journal.view(TREE_REDUCER).current
        if state is None:
            raise NotConfigured(f"the genesis of {account} is not in this device's journal")
        return state

    async def _registry(self, account: AuthorityId) -> CeremonyRegistry:
        journal = await self._fx.journal.journal(JournalNamespace.of(account))
        registry: CeremonyRegistry = journal.view(CEREMONY_REDUCER)
        return registry

    async def _record(self, namespace: JournalNamespace, payload: object) -> Fact:
        """`payload` as a fact signed with this device's key, in this device's journal."""
        fx = self._fx
        type_id, version = record_tag(type(payload))
        body = FactBody(
            namespace,
            type_id,
            version,
            encode(payload),
            await fx.order.order_time(),
            await fx.time.now(),
        )
        fact = sign_fact(body, self._agent.keys.secrets.signing_key)
        await fx.journal.merge(namespace, [fact], origin=Origin.LOCAL)
        return fact

    async def _single_commit(self, account: AuthorityId, kind: TreeOpKind) -> None:
        """Commit `kind` on the 1-of-1 tree by this device's signature alone."""
        state = await self._state(account)
        op = TreeOp(state.epoch, state.commitment, kind)
        commit = single_signer_commit(
            prestate_hash=tree_prestate(state).hash,
            operation_bytes=encode(op),
            nonce=int.from_bytes(await self._fx.random.random_bytes(8), "big"),
            witness=self._agent.address,
            key=self._agent.keys.secrets.signing_key,
        )
        await self._record(JournalNamespace.of(account), TreeCommit(commit))

    async def _new_context(
        self, members: list[AuthorityId], *, secret: bytes | None = None
    ) -> ContextId:
        """A new devices' context of `members` (their keys: their self-certifying addresses'
        keys, which this device knows), founded and held by this device."""
        agent = self._agent
        keys = {agent.address: agent.keys.secrets.signing_key.verifying_key}
        for member in members:
            if member not in keys:
                known = await self._fx.peers.peer_key(member)
                if known is None:
                    raise InvalidArgument(f"no key of {member}")
                keys[member] = known
        genesis, _ = await found_context(
            self._fx,
            [ContextMember(m, keys[m]) for m in sorted(members)],
            agent.keys.secrets.signing_key,
        )
        if secret is None:
            secret = await self._fx.random.random_bytes(32)
        await agent.add_context_secret(genesis.context, secret)
        return genesis.context

    async def _open_bootstrap(self, invitation: Invitation) -> None:
        await self._open_context(
            bootstrap_context(invitation.bootstrap), bootstrap_secret(invitation.bootstrap)
        )

    async def _open_context(self, context: ContextId, secret: bytes) -> None:
        """Hold a bootstrap context's secret (not in the key file: it lives as long as the
        enrollment), let any caller that proves it in, and grant the enrollment and ceremony
        capabilities in it."""
        fx = self._fx
        fx.contexts.add(context, secret)
        fx.flow.set_default(context, UNLIMITED)
        self._agent.locator.admit_anyone(context)
        if context in self._granted:
            # Opened again (a joiner asking again): a second token, from another root, would
            # meet the first to nothing (authority only shrinks) and deny every send.
            return
        self._granted.add(context)
        token = issue_token(
            await fx.random.random_bytes(32),
            self._agent.address,
            [*ENROLL_CAPABILITIES, *CEREMONY_CAPABILITIES],
            seed=await fx.random.random_bytes(32),
            scope=ContextScope(context),
        )
        fx.authorization.grant(context, CapabilityFrontier.of(token))

    def _close_bootstrap(self, invitation: Invitation) -> None:
        """The joiner's side, once its join ended. (The inviter keeps its bootstrap contexts
        open while it runs, so that a late use of a code is told why it is refused.)"""
        self._agent.locator.close(bootstrap_context(invitation.bootstrap))

    async def _abort(self, invite: _Invite, reason: AbortReason) -> None:
        await self._abort_started(invite.started, reason)

    async def _abort_started(self, started: CeremonyStarted, reason: AbortReason) -> None:
        """Record `started`'s ceremony aborted, unless it is final already."""
        account = self._membership().account if self._agent.membership else None
        if account is None:
            return
        registry = await self._registry(account)
        try:
            fact, _ = registry.abort(started.ceremony_id, reason)
        except AuraError:
            return  # already final (or not this account's)
        await self._record(JournalNamespace.of(account), fact)
        await self._drop_pending(started.ceremony_id)
        for peer in sorted(self._account_devices()):  # so the holders drop their keys now
            self._agent.sync.request(peer)
        await self._progress(started.ceremony_id, "aborted", started.current_epoch + 1)


_UNANSWERED: Final = frozenset({"TimedOut", "Aborted", "Violated"})
"""Sync outcomes that do not show the peer up (it may not have answered at all)."""
_TREE_TYPES: Final = frozenset({record_tag(TreeGenesis)[0], record_tag(TreeCommit)[0]})


async def _merge_account(fx: Effects, account: AuthorityId, encoded: Sequence[bytes]) -> None:
    """Merge an account journal's facts sent by another device: the tree first (a ceremony's
    commit is checked against the tree's group keys, which the tree's facts bring)."""
    facts = [decode(raw, Fact) for raw in encoded]
    namespace = JournalNamespace.of(account)
    tree = [f for f in facts if f.body.type_id in _TREE_TYPES]
    waiting = [*tree, *(f for f in facts if f.body.type_id not in _TREE_TYPES)]
    # One at a time, again while any went in: a change recorded by a device the tree adds
    # goes in once the change adding it did.
    while waiting:
        left = []
        for fact in waiting:
            try:
                await fx.journal.merge(namespace, [fact])
            except AuraError:
                left.append(fact)
        if len(left) == len(waiting):
            for fact in left:
                fx.trace.event("account.fact_refused", fact=str(fact.id))
            return
        waiting = left


async def _signed_facts(fx: Effects, namespace: JournalNamespace) -> tuple[bytes, ...]:
    """The signed facts of a journal, encoded, by id (what another device can merge)."""
    journal = await fx.journal.journal(namespace)
    found = []
    for fact_id in sorted(journal.fact_ids()):
        fact = journal.get(fact_id)
        if fact is not None and not isinstance(fact.attestation, Unattested):
            found.append(encode(fact))
    return tuple(found)


def _session_id(ceremony: CeremonyId, joiner: AuthorityId, attempt: bytes) -> SessionId:
    return SessionId.derived(tagged_hash(_SESSION_TAG, ceremony.hash.digest, joiner.raw, attempt))


def _hint(hint: str) -> tuple[str, int]:
    """`tcp://host:port` as (host, port)."""
    if not hint.startswith("tcp://"):
        raise EnrollmentCodeInvalid(f"the code names no TCP address ({hint!r})")
    host, _, port = hint[len("tcp://") :].rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise EnrollmentCodeInvalid(f"the code's address {hint!r} is not host:port")
    return host, int(port)


def _check_safe(count: int, threshold: int) -> None:
    """`UnsafeThreshold` for a policy no fault bound makes safe (e.g. 2-of-4)."""
    try:
        fault_bound(count, threshold)
    except UnsafeThreshold as exc:
        raise UnsafeThreshold(
            f"{threshold}-of-{count} is not safe ({exc.message}): choose a larger threshold"
        ) from None


def _refusal_error(refusal: Refusal) -> AuraError:
    detail = f"the inviting device refused: {refusal.detail}"
    if refusal.reason == "expired":
        return EnrollmentCodeExpired(detail)
    if refusal.reason == "redeemed":
        return EnrollmentCodeRedeemed(detail)
    if refusal.reason == "invalid":
        return EnrollmentCodeInvalid(detail)
    return AccountError(detail)


def _key(ceremony: CeremonyId) -> str:
    """A ceremony's part of a storage key."""
    return ceremony.hash.digest.hex()


def _context_of(plan: ChangePlan) -> ContextId:
    """The new devices' context of a plan whose context is founded."""
    return decode(plan.context_fact, Fact).body.namespace.context


def _applied(state: TreeState, kind: TreeOpKind, started: CeremonyStarted) -> bool:
    """Whether the tree shows `kind` of the change `started` began committed already."""
    if isinstance(kind, AddLeaf):
        return any(leaf.device_id == kind.leaf.device_id for leaf in state.leaves)
    if isinstance(kind, RemoveLeaf):
        return state.leaf(kind.leaf_id) is None
    if isinstance(kind, ChangePolicy):
        return (state.threshold, state.group_key.raw) == (kind.threshold, kind.group_key.raw)
    return state.epoch > started.current_epoch
