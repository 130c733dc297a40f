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
    byzantine witnesses: WITHHOLD answers nonce requests but never signs; EQUIVOCATE never
    signs the instance's result but votes for two different made-up results (one to the
    initiator, another in its gossip), so the others must detect and exclude it."""

    HONEST = "honest"
    WITHHOLD = "withhold"
    EQUIVOCATE = "equivocate"


@attrs.frozen
class ConsensusConfig:
    """Timers (seconds on the loop clock) and gossip fan-out.

    `fallback_s` is T_fallback (about 2 to 3 median round trips): how long a signing round waits for
    its shares. `gossip_s` is the fallback gossip period, `fanout` the peers per gossip tick,
    `deadline_s` how long an instance may take before it fails (`ConsensusFailed`)."""

    fallback_s: float = 0.5
    gossip_s: float = 0.3
    deadline_s: float = 30.0
    fanout: int = 3

    def __attrs_post_init__(self) -> None:
        for name in ("fallback_s", "gossip_s", "deadline_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 < value < math.inf):
                raise InvalidArgument(f"{name} must be a positive number of seconds")
        if type(self.fanout) is not int or self.fanout < 1:
            raise InvalidArgument("fanout is a positive int")

    def timer_s(self, timer: Timer) -> float:
        return {
            Timer.FALLBACK: self.fallback_s,
            Timer.GOSSIP: self.gossip_s,
            Timer.DEADLINE: self.deadline_s,
        }[timer]


@attrs.frozen
class Group:
    """The witness group this node takes part in at one epoch: who witnesses, the FROST public
    key package every aggregator needs, and this node's own key share (None if the node only
    initiates or observes)."""

    epoch: int
    witnesses: WitnessSet
    public_key_package: frost.PublicKeyPackage
    key_package: frost.KeyPackage | None = None

    def __attrs_post_init__(self) -> None:
        if type(self.epoch) is not int or not 0 <= self.epoch < 2**64:
            raise InvalidArgument("a group epoch is an unsigned 64-bit integer")
        if type(self.witnesses) is not WitnessSet:
            raise InvalidArgument("witnesses must be a WitnessSet")
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


PrestateView = Callable[[ConsensusParams], Awaitable[Hash32]]
"""This node's own prestate hash for the state an instance's operation applies to."""

DecidedHook = Callable[[CommitFact], Awaitable[None]]
"""Called once per instance this node learns was decided (record the commit in a journal); if
it raises an `AuraError` that is not permanent, it is called again after a backoff."""
