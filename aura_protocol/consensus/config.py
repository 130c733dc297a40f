"""What a consensus node is configured with: its group, timers, hooks and (in the simulator)
its behaviour as a witness."""

from __future__ import annotations

import enum
import math
from collections.abc import Awaitable, Callable

import attrs

from aura_consensus.commit import CommitFact
from aura_consensus.events import Timer
from aura_consensus.params import ConsensusParams
from aura_consensus.witnesses import WitnessSet
from aura_core.crypto import frost
from aura_core.errors import InvalidArgument, InvalidWitnessSet, UnknownWitness
from aura_core.hashing import Hash32

__all__ = ["Behavior", "ConsensusConfig", "Group", "PrestateView", "DecidedHook"]


class Behavior(enum.Enum):
    """How a node behaves as a witness. Anything but HONEST exists for the simulator's
    byzantine witnesses (`aura_protocol.consensus.byzantine` carries them out):

    - WITHHOLD answers nonce requests but never signs, votes or changes rounds;
    - EQUIVOCATE never signs the instance's result but signs votes for two different made-up
      results (one to the initiator, another in its gossip): valid equivocation proofs;
    - DOUBLE_SIGN signs every package and votes for every proposal it is shown, in any round,
      ignoring its ledger: the attack the fault bound is about;
    - FORGE_EVIDENCE gossips equivocation proofs against honest witnesses with signatures it
      made up (and never signs);
    - FORGE_RELAY gossips votes in honest witnesses' names that they never signed, and genuine
      votes paired with shares they did not make (and never signs);
    - REPLAY gossips genuine votes it saw in other instances, prestates and rounds into every
      instance it takes part in (and never signs);
    - SELECTIVE signs and votes only for some instances (by the parity of the consensus id)
      and gossips to half of its peers;
    - LIE_PRESTATE claims to hold another prestate for every instance.
    """

    HONEST = "honest"
    WITHHOLD = "withhold"
    EQUIVOCATE = "equivocate"
    DOUBLE_SIGN = "double_sign"
    FORGE_EVIDENCE = "forge_evidence"
    FORGE_RELAY = "forge_relay"
    REPLAY = "replay"
    SELECTIVE = "selective"
    LIE_PRESTATE = "lie_prestate"


@attrs.frozen
class ConsensusConfig:
    """Timers (seconds on the loop clock), gossip fan-out and the misbehaviour bound.

    `fallback_s` is T_fallback (about 2 to 3 median round trips): how long a signing round
    waits for its shares. `gossip_s` is the fallback gossip period, `fanout` the peers per
    gossip tick, `deadline_s` how long an instance may take before it fails
    (`ConsensusFailed`). `round_s` is how long a witness stays in round 0 of a prestate that
    has not committed before it moves on; round r waits `round_timeout(r)`.
    `misbehaviour_limit` is how many forged statements a peer may forward before this node
    ignores its gossip (docs/consensus.md, "Misbehaviour")."""

    fallback_s: float = 0.5
    gossip_s: float = 0.3
    deadline_s: float = 30.0
    fanout: int = 3
    round_s: float = 2.0
    misbehaviour_limit: int = 3

    def __attrs_post_init__(self) -> None:
        for name in ("fallback_s", "gossip_s", "deadline_s", "round_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 < value < math.inf):
                raise InvalidArgument(f"{name} must be a positive number of seconds")
        if type(self.fanout) is not int or self.fanout < 1:
            raise InvalidArgument("fanout is a positive int")
        if type(self.misbehaviour_limit) is not int or self.misbehaviour_limit < 1:
            raise InvalidArgument("misbehaviour_limit is a positive int")

    def timer_s(self, timer: Timer) -> float:
        return {
            Timer.FALLBACK: self.fallback_s,
            Timer.GOSSIP: self.gossip_s,
            Timer.DEADLINE: self.deadline_s,
        }[timer]

    def round_timeout(self, round: int) -> float:
        """How long a witness waits in round r of an undecided prestate before it moves to
        r + 1: `round_s x (r + 1)`. Later rounds wait longer, so that once messages arrive in
        bounded time some round is long enough for its leader to finish (partial synchrony)."""
        return self.round_s * (round + 1)


@attrs.frozen
class Group:
    """The witness group this node takes part in at one epoch: who witnesses (with their vote
    keys, threshold t and fault bound f: the set refuses an unsafe t with `UnsafeThreshold`),
    the FROST public key package every aggregator needs, and this node's own key share (None
    if the node only initiates or observes)."""

    epoch: int
    witnesses: WitnessSet
    public_key_package: frost.PublicKeyPackage
    key_package: frost.KeyPackage | None = None

    def __attrs_post_init__(self) -> None:
        if type(self.epoch) is not int or not 0 <= self.epoch < 2**64:
            raise InvalidArgument("a group epoch is an unsigned 64-bit integer")
        if type(self.witnesses) is not WitnessSet:
            raise InvalidArgument("witnesses must be a WitnessSet")
        if not self.witnesses.has_keys:
            raise InvalidWitnessSet("a consensus group needs every witness's vote key")
        if not isinstance(self.public_key_package, frost.PublicKeyPackage):
            raise InvalidArgument("expected a frost.PublicKeyPackage")
        self.witnesses.check_group(self.public_key_package)
        key = self.key_package
        if key is None:
            return
        if not isinstance(key, frost.KeyPackage):
            raise InvalidArgument("expected a frost.KeyPackage (or None)")
        if key.group_public_key != self.public_key_package.group_public_key:
            raise InvalidWitnessSet("the key package belongs to another group")
        try:
            self.witnesses.authority_of(key.identifier)
        except UnknownWitness:
            raise InvalidWitnessSet(
                f"FROST participant {key.identifier} is not one of the witnesses"
            ) from None

    @property
    def faults(self) -> int:
        """f: how many witnesses may be byzantine."""
        return self.witnesses.faults


PrestateView = Callable[[ConsensusParams], Awaitable[Hash32]]
"""This node's own prestate hash for the state an instance's operation applies to."""

DecidedHook = Callable[[CommitFact], Awaitable[None]]
"""Called once per instance this node learns was decided (record the commit in a journal); if
it raises an `AuraError` that is not permanent, it is called again after a backoff."""
