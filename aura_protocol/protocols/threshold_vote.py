"""A coordinator proposes to n witnesses and decides on the first t votes, or aborts in time.

This is the shape the consensus fast path takes (execute, collect t shares, commit or abort):

```
Coordinator ! Propose to Witness[*];
timeout window { Witness[*] ? Vote count t; Witness[*] ! Decide } on timeout { Witness[*] ! Abort }
Witness:  Coordinator ? Propose;  Coordinator ! Vote;  branch Coordinator { Abort | Decide }
```

Votes beyond the first t are discarded by the coordinator's runtime when they arrive.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from aura_protocol.endpoint import Endpoint, Program, Received, TimerFired

__all__ = ["TEXT", "BINDINGS", "Decision", "coordinator", "witness"]

TEXT = """\
protocol ThresholdVote {
  roles Coordinator, Witness[n];
  Coordinator [guard_capability = "vote:propose", flow_cost = 10] -> Witness[*] : Propose(bytes);
  timeout window at Coordinator {
    Witness[*] [guard_capability = "vote:cast", flow_cost = 5, leak = "neighbor"]
      -> Coordinator : Vote(bytes) within t;
    Coordinator [guard_capability = "vote:decide", flow_cost = 10, journal_facts = "vote_decided"]
      -> Witness[*] : Decide(bytes);
  } on timeout {
    Coordinator [guard_capability = "vote:decide", flow_cost = 10] -> Witness[*] : Abort;
  }
}
"""

BINDINGS = {"n": 5, "t": 3, "window": 2_000}
"""Five witnesses, a threshold of three, a two-second window (milliseconds)."""


@attrs.frozen
class Decision:
    """What the coordinator decided on: the votes it counted (arrival order) and the decision."""

    votes: tuple[Received, ...]
    value: bytes


def _concatenate(votes: tuple[Received, ...]) -> bytes:
    ordered = sorted(votes, key=lambda vote: vote.sender.index)
    return b"".join(vote.payload for vote in ordered)


def coordinator(
    proposal: bytes, decide: Callable[[tuple[Received, ...]], bytes] = _concatenate
) -> Program:
    """The coordinator: returns the `Decision`, or None if the window closed first (Abort)."""

    async def run(endpoint: Endpoint) -> Decision | None:
        await endpoint.send("Propose", proposal)
        try:
            votes = await endpoint.collect("Vote")
        except TimerFired:
            await endpoint.send("Abort")
            return None
        value = decide(votes)
        await endpoint.send("Decide", value)
        return Decision(votes, value)

    return run


def witness(vote: Callable[[bytes], bytes]) -> Program:
    """A witness: votes `vote(proposal)`; returns the decision's bytes, or None on Abort."""

    async def run(endpoint: Endpoint) -> bytes | None:
        proposal = await endpoint.receive("Propose")
        await endpoint.send("Vote", vote(proposal.payload))
        verdict = await endpoint.branch()
        return verdict.payload if verdict.label == "Decide" else None

    return run
