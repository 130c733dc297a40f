"""How the coordinator of an account change tells the account's other devices about it.

Two small choreographies in the devices' context (so inside the Noise channels of devices that
are members of it), both answered by an acknowledgement:

- `AuraChangePrepare`: before a change's key ceremony, its ceremony (the started fact and its
  operation), so that a device takes part in that ceremony, and signs its commit, only if it
  was told; for an enrollment, also the bootstrap secret and the joining device (its key and
  listener), so that the holders reach it in the bootstrap context.
- `AuraChangeSwitch`: once the change committed, what a device needs to move to the new epoch:
  the account journal's facts, the new devices' context (genesis fact and secret: secret, sent
  only in the channel) and the group's public key package, and everyone's listeners. A device
  the change removed gets the facts only (no context): it sees itself removed. A `Switch` is
  sent until it is acknowledged (again after a restart of either device), a device that stays
  with a capped exponential back-off, a removed one for `SwitchTimes.removed_for_s` at most
  (it learns it is out anyway the next time it asks: it is not a member of the new context).

What survives a restart (records in the device's storage, not secret: the keys are in the key
file, and an enrollment's bootstrap secret is left out of the `Prepare` kept, as nothing after
a restart needs it): the coordinator's `ChangePlan` of a change past its point of no return,
until every device staying took it, and a member's `Prepared`, until the change is final for
it.
"""

from __future__ import annotations

import functools
from typing import Final

import attrs

from aura_agent.membership import Seed
from aura_consensus.ceremony import CeremonyStarted
from aura_consensus.commit import CommitFact
from aura_core.encoding import record
from aura_core.errors import InvalidArgument
from aura_core.ids import AuthorityId, CeremonyId, ContextId
from aura_journal.tree import TreeOpKind
from aura_protocol.ceremonies import CeremonyMember
from aura_protocol.choreography import Choreography

__all__ = [
    "CHANGE",
    "CAPABILITIES",
    "ChangePlan",
    "Contact",
    "Prepare",
    "Prepared",
    "Switch",
    "Roster",
    "SwitchTimes",
    "prepare_choreography",
    "switch_choreography",
]

CHANGE: Final = "account:change"
ACK: Final = "account:ack"
CAPABILITIES = (ACK, CHANGE)


def _text(name: str, label: str, payload: str) -> str:
    return f"""\
protocol {name} {{
  roles Coordinator, Member;
  Coordinator [guard_capability = "{CHANGE}", flow_cost = 10] -> Member : {label}({payload});
  Member [guard_capability = "{ACK}", flow_cost = 1] -> Coordinator : Ack;
}}
"""


@functools.lru_cache(maxsize=1)
def prepare_choreography() -> Choreography:
    return Choreography.compile(_text("AuraChangePrepare", "Prepare", "agent.change_prepare"))


@functools.lru_cache(maxsize=1)
def switch_choreography() -> Choreography:
    return Choreography.compile(_text("AuraChangeSwitch", "Switch", "agent.change_switch"))


@record("agent.contact", version=1)
@attrs.frozen
class Contact:
    """A device: its address, Ed25519 key and listener."""

    address: AuthorityId
    signing_key: bytes
    seed: Seed


@record("agent.change_prepare", version=1)
@attrs.frozen
class Prepare:
    started: CeremonyStarted
    operation: bytes
    kind: str
    threshold: int
    members: tuple[CeremonyMember, ...]
    """The key ceremony's members (the coordinator among them)."""
    bootstrap: bytes = b""
    """An enrollment's bootstrap secret (the ceremony runs in its context), else empty."""
    joiners: tuple[Contact, ...] = ()


@record("agent.change_switch", version=1)
@attrs.frozen
class Switch:
    ceremony: CeremonyId
    account: AuthorityId
    epoch: int
    account_facts: tuple[bytes, ...]
    context_fact: bytes
    """Empty for a device the change removed."""
    context_secret: bytes = attrs.field(repr=False)
    public_key_package: bytes
    seeds: tuple[Seed, ...]


@record("agent.roster", version=1)
@attrs.frozen
class Roster:
    """For a joiner: the devices its key ceremony reaches (their keys and listeners)."""

    devices: tuple[Contact, ...]


@attrs.frozen
class SwitchTimes:
    """How a coordinator resends the `Switch`es of a committed change that are not
    acknowledged (`AgentSettings.switches`). A device that stays cannot move without its
    `Switch`, so it is sent until it is taken, but an offline device costs little: the wait
    after each failed attempt doubles from `retry_s` up to `retry_cap_s` (times a jitter of
    0.5..1 from the seeded randomness), and a sign of life from the device (a sync session)
    makes it due at once. A removed device is usually lost or dead: it is told for
    `removed_for_s` after the change committed, then abandoned (`account.switch_abandoned`)."""

    retry_s: float = 1.0
    retry_cap_s: float = 300.0
    removed_for_s: float = 3600.0

    def __attrs_post_init__(self) -> None:
        if not 0 < self.retry_s <= self.retry_cap_s or self.removed_for_s < 0:
            raise InvalidArgument(
                "switch times: 0 < retry_s <= retry_cap_s and removed_for_s >= 0, not "
                f"{self.retry_s}, {self.retry_cap_s}, {self.removed_for_s}"
            )

    def delay_s(self, failures: int, jitter: bytes) -> float:
        """The wait after the `failures`-th failed attempt in a row (from 1): `retry_s`
        doubled each time, capped, times 0.5..1 from `jitter` (two random bytes)."""
        full = min(self.retry_cap_s, self.retry_s * 2.0 ** min(failures - 1, 64))
        return full * (0.5 + 0.5 * int.from_bytes(jitter[:2], "big") / 0xFFFF)


@record("agent.change_plan", version=2)
@attrs.frozen
class ChangePlan:
    """A key change past its point of no return (every member keeps its new key, the old
    group signed the ceremony's commit), as its coordinator keeps it until the change is
    finished and every device staying took it: what resumes it after a restart."""

    prepare: Prepare
    account: AuthorityId
    context: ContextId
    """The devices' context the change started in: where its `Switch`es go (a device that has
    not taken the change is still there)."""
    ops: tuple[TreeOpKind, ...]
    """The tree changes it commits, in order (those the tree shows are not committed again)."""
    commit: CommitFact
    """The ceremony's commit, signed by the group it started from."""
    removed: tuple[AuthorityId, ...] = ()
    context_fact: bytes = b""
    """The new devices' context's genesis fact, once founded (its secret is in the key file)."""
    public_key_package: bytes = b""
    seeds: tuple[Seed, ...] = ()
    """Where each device staying listens (this one included)."""
    outstanding: tuple[AuthorityId, ...] = ()
    """Devices that have not acknowledged their `Switch` yet (the removed ones too, until
    they do or are abandoned; an enrollment's joiner until it takes its admission)."""
    handed_ms: int = 0
    """When the new devices' context was founded and the `Switch`es first sent (physical
    time, ms): a removed device is abandoned `SwitchTimes.removed_for_s` after it."""

    @property
    def ceremony(self) -> CeremonyId:
        return self.prepare.started.ceremony_id


@record("agent.prepared", version=1)
@attrs.frozen
class Prepared:
    """A change `coordinator` prepared this device for, kept until it is final here, so that
    after a restart this device still signs its commit and takes its `Switch`."""

    prepare: Prepare
    coordinator: AuthorityId
    account: AuthorityId
