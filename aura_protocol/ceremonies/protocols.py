"""The ceremony choreographies, in the protocol language.

- `AuraKeyCeremony` — a DKG or a refresh among the coordinator and the other members
  (`Participant[n]`): `Start`; every participant answers `Round1` (its round-1 package, or a
  refusal) under the coordinator's timer; the coordinator sends everyone's packages
  (`Round1All`), or `Abort`; round 2 runs pairwise (below); every participant reports the
  commitment to the public key package it computed (`Result`) under a second timer, and the
  coordinator says whether they all agree (`Agreed`) or not (`Abort`).
- `AuraKeyShare` — one round-2 package from one member to another: a session of its own
  between the two devices, so a secret share travels only inside their Noise channel.
- `AuraThresholdSign` — FROST signing of one message: `Request`, the signers' `Commitment`s,
  the signing `Package`, their `Share`s, the aggregate (`Signed`), or `Abort`.

Capabilities: `ceremony:start` (the coordinator's messages), `ceremony:round` (a
participant's), `ceremony:share` (round-2 packages), `ceremony:sign` (a signer's).
Bindings: `n` (participants besides the coordinator), `round1`, `round2` (the coordinator's
timers, milliseconds).
"""

from __future__ import annotations

import functools

from aura_protocol.choreography import Choreography

__all__ = [
    "KEYS",
    "SHARE",
    "SIGN",
    "START",
    "ROUND",
    "SHARES",
    "SIGNS",
    "CAPABILITIES",
    "KEYS_TEXT",
    "SHARE_TEXT",
    "SIGN_TEXT",
    "key_ceremony",
    "key_share",
    "threshold_sign",
]

KEYS = "AuraKeyCeremony"
SHARE = "AuraKeyShare"
SIGN = "AuraThresholdSign"
START = "ceremony:start"
ROUND = "ceremony:round"
SHARES = "ceremony:share"
SIGNS = "ceremony:sign"
CAPABILITIES = (ROUND, SHARES, SIGNS, START)
"""Every capability a device needs, in the context a ceremony runs in, to take part."""


def _coordinator(label: str, family: str, payload: str = "") -> str:
    typed = f"({payload})" if payload else ""
    return (
        f'Coordinator [guard_capability = "{START}", flow_cost = 10]\n'
        f"    -> {family}[*] : {label}{typed};\n"
    )


KEYS_TEXT = f"""\
protocol {KEYS} {{
  roles Coordinator, Participant[n];
  {_coordinator("Start", "Participant", "ceremony.key_start")}
  timeout round1 at Coordinator {{
    Participant[*] [guard_capability = "{ROUND}", flow_cost = 10]
      -> Coordinator : Round1(ceremony.round1);
    choice Coordinator {{
      go:
        {_coordinator("Round1All", "Participant", "ceremony.round1_all")}
        timeout round2 at Coordinator {{
          Participant[*] [guard_capability = "{ROUND}", flow_cost = 10]
            -> Coordinator : Result(ceremony.key_result);
          choice Coordinator {{
            agreed:
              {_coordinator("Agreed", "Participant", "ceremony.key_verdict")}
            failed:
              {_coordinator("Abort", "Participant")}
          }}
        }} on timeout {{
          {_coordinator("Abort", "Participant")}
        }}
      stop:
        {_coordinator("Abort", "Participant")}
    }}
  }} on timeout {{
    {_coordinator("Abort", "Participant")}
  }}
}}
"""

SHARE_TEXT = f"""\
protocol {SHARE} {{
  roles Sender, Receiver;
  Sender [guard_capability = "{SHARES}", flow_cost = 10] -> Receiver : Share(ceremony.key_share);
}}
"""

SIGN_TEXT = f"""\
protocol {SIGN} {{
  roles Coordinator, Signer[n];
  {_coordinator("Request", "Signer", "ceremony.sign_request")}
  timeout round1 at Coordinator {{
    Signer[*] [guard_capability = "{SIGNS}", flow_cost = 10]
      -> Coordinator : Commitment(ceremony.sign_commitment);
    choice Coordinator {{
      go:
        {_coordinator("Package", "Signer", "ceremony.sign_package")}
        timeout round2 at Coordinator {{
          Signer[*] [guard_capability = "{SIGNS}", flow_cost = 10]
            -> Coordinator : Share(ceremony.sign_share);
          choice Coordinator {{
            done:
              {_coordinator("Signed", "Signer", "ceremony.sign_done")}
            failed:
              {_coordinator("Abort", "Signer")}
          }}
        }} on timeout {{
          {_coordinator("Abort", "Signer")}
        }}
      stop:
        {_coordinator("Abort", "Signer")}
    }}
  }} on timeout {{
    {_coordinator("Abort", "Signer")}
  }}
}}
"""


@functools.lru_cache(maxsize=64)
def key_ceremony(n: int, round1_ms: int, round2_ms: int) -> Choreography:
    """`AuraKeyCeremony` for `n` participants besides the coordinator."""
    return Choreography.compile(KEYS_TEXT, {"n": n, "round1": round1_ms, "round2": round2_ms})


@functools.lru_cache(maxsize=1)
def key_share() -> Choreography:
    return Choreography.compile(SHARE_TEXT)


@functools.lru_cache(maxsize=64)
def threshold_sign(n: int, round1_ms: int, round2_ms: int) -> Choreography:
    """`AuraThresholdSign` for `n` signers besides the coordinator."""
    return Choreography.compile(SIGN_TEXT, {"n": n, "round1": round1_ms, "round2": round2_ms})
