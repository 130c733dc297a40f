"""The consensus choreographies, in the protocol language.

Three protocols carry every consensus message:

- `AuraConsensus` — one signing round: the initiator sends the signing package to its signers
  (`SignRequest`) and the instance to every other witness (`Execute`), waits for every signer's
  `SignShare` under the fallback timer, then tells everyone the outcome: `Commit`, or
  `Fallback` when a reply made the package fail or the timer fired. With pipelined nonce
  commitments this is the whole fast path: one round of requests and replies, then the commit.
  The signers are a family of exactly the package's size (FROST needs every signer's share),
  the observers the remaining witnesses; with no observers the protocol has no `Observer` role.
- `AuraNonces` — round one without cached commitments (the 2-round path, and fallback): the
  initiator asks witnesses for nonce commitments and proceeds with the first t replies.
- `AuraGossip` — one message between two nodes: fallback gossip, or a commit announcement.
- `AuraRoundChange` — one message from a witness moving to a later round of a prestate to each
  other witness (the round's leader proposes with it, the others catch up with it).

Bindings: `t` (signers), `m` (observers), `n` (nonce-round witnesses), `k` (replies a nonce
round waits for), `fallback` (the signing round's timer, in milliseconds).
"""

from __future__ import annotations

import functools

from aura_protocol.choreography import Choreography

__all__ = [
    "INITIATE",
    "SIGN",
    "NONCE",
    "FINALIZE",
    "GOSSIP",
    "CAPABILITIES",
    "signing_round",
    "nonce_round",
    "gossip",
    "round_change",
    "signing_text",
    "NONCES_TEXT",
    "GOSSIP_TEXT",
    "ROUND_CHANGE_TEXT",
]

INITIATE = "consensus:initiate"
SIGN = "consensus:witness_sign"
NONCE = "consensus:witness_nonce"
FINALIZE = "consensus:finalize"
GOSSIP = "consensus:gossip"
CAPABILITIES = (INITIATE, SIGN, NONCE, FINALIZE, GOSSIP)
"""Every capability a node needs to take part in consensus."""


def signing_text(observers: bool) -> str:
    """`AuraConsensus`, with or without the `Observer` family (a family has at least one
    member, so a round whose package names every witness has no observers)."""
    execute = (
        f'  Initiator [guard_capability = "{INITIATE}", flow_cost = 100]\n'
        "    -> Observer[*] : Execute(consensus.wire.execute);\n"
        if observers
        else ""
    )

    def tell(label: str, payload: str, extra: str = "") -> str:
        lines = (
            f'      Initiator [guard_capability = "{FINALIZE}", flow_cost = 100{extra}]\n'
            f"        -> Signer[*] : {label}({payload});\n"
        )
        if observers:
            lines += (
                f'      Initiator [guard_capability = "{FINALIZE}", flow_cost = 100{extra}]\n'
                f"        -> Observer[*] : {label}({payload});\n"
            )
        return lines

    commit = tell("Commit", "consensus.wire.decision", ', journal_facts = "consensus.commit"')
    fallback = tell("Fallback", "consensus.wire.decision")
    roles = "Initiator, Signer[t], Observer[m]" if observers else "Initiator, Signer[t]"
    return (
        "protocol AuraConsensus {\n"
        f"  roles {roles};\n"
        f"{execute}"
        f'  Initiator [guard_capability = "{INITIATE}", flow_cost = 75]\n'
        "    -> Signer[*] : SignRequest(consensus.wire.execute);\n"
        "  timeout fallback at Initiator {\n"
        f'    Signer[*] [guard_capability = "{SIGN}", flow_cost = 50, leak = "neighbor"]\n'
        "      -> Initiator : SignShare(consensus.wire.reply);\n"
        "    choice Initiator {\n"
        "      commit:\n"
        f"{commit}"
        "      stalled:\n"
        f"{fallback}"
        "    }\n"
        "  } on timeout {\n"
        f"{fallback}"
        "  }\n"
        "}\n"
    )


NONCES_TEXT = f"""\
protocol AuraNonces {{
  roles Initiator, Witness[n];
  Initiator [guard_capability = "{INITIATE}", flow_cost = 50]
    -> Witness[*] : NonceRequest(consensus.wire.nonce_request);
  Witness[*] [guard_capability = "{NONCE}", flow_cost = 50]
    -> Initiator : NonceCommit(consensus.wire.nonce_reply) within k;
}}
"""

GOSSIP_TEXT = f"""\
protocol AuraGossip {{
  roles Sender, Receiver;
  Sender [guard_capability = "{GOSSIP}", flow_cost = 20]
    -> Receiver : Gossip(consensus.wire.gossip);
}}
"""

ROUND_CHANGE_TEXT = f"""\
protocol AuraRoundChange {{
  roles Witness, Peer;
  Witness [guard_capability = "{GOSSIP}", flow_cost = 20]
    -> Peer : RoundChange(consensus.wire.round_change);
}}
"""


@functools.lru_cache(maxsize=256)
def signing_round(signers: int, observers: int, fallback_ms: int) -> Choreography:
    """`AuraConsensus` for `signers` signers and `observers` other witnesses (compiled once per
    shape)."""
    bindings = {"t": signers, "fallback": fallback_ms}
    if observers:
        bindings["m"] = observers
    return Choreography.compile(signing_text(observers > 0), bindings)


@functools.lru_cache(maxsize=256)
def nonce_round(witnesses: int, replies: int) -> Choreography:
    """`AuraNonces` asking `witnesses` witnesses and waiting for the first `replies`."""
    return Choreography.compile(NONCES_TEXT, {"n": witnesses, "k": replies})


@functools.lru_cache(maxsize=1)
def gossip() -> Choreography:
    """`AuraGossip` (no bindings)."""
    return Choreography.compile(GOSSIP_TEXT)


@functools.lru_cache(maxsize=1)
def round_change() -> Choreography:
    """`AuraRoundChange` (no bindings)."""
    return Choreography.compile(ROUND_CHANGE_TEXT)
