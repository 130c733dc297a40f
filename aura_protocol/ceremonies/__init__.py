"""Networked key ceremonies: DKG, refresh and threshold signing among a group's devices
(`CeremonyService`), their choreographies (`protocols`) and messages (`wire`), and the pending
key material they give, inert until its ceremony commits (`released`; `abandoned` when it never
will)."""

from aura_protocol.ceremonies.protocols import CAPABILITIES
from aura_protocol.ceremonies.service import (
    CeremonyPolicy,
    CeremonyService,
    CeremonyTimes,
    KeyApproval,
    PendingKey,
    TrustingHolder,
    abandoned,
    key_commitment,
    released,
)
from aura_protocol.ceremonies.wire import (
    DKG,
    REFRESH,
    CeremonyMember,
    KeyCeremonyStart,
    SignRequest,
)

__all__ = [
    "CAPABILITIES",
    "DKG",
    "REFRESH",
    "CeremonyMember",
    "CeremonyPolicy",
    "CeremonyService",
    "CeremonyTimes",
    "KeyApproval",
    "KeyCeremonyStart",
    "PendingKey",
    "abandoned",
    "released",
    "SignRequest",
    "TrustingHolder",
    "key_commitment",
]
