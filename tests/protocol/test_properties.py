"""Random well-formed protocols, every projected endpoint driven together, always complete.

For protocols drawn by `tests/core/choreo/strategies.py` (choices, loops, timeouts, `par`,
families of 1 to 5 members, thresholds), every member of every role runs on its own node with
the automatic driver (seeded choices and payloads). Each example runs twice: on the in-memory
network (everything instant, so no timer fires) and on a seeded-latency network (so timers do
fire, on-timeout branches run and late messages are discarded). Under every seed:

- every member's run ends `Completed` (no violation, and no deadlock: the simulator raises
  `Deadlock` when every task waits with no timer pending);
- every message sent, consumed or discarded is one the global protocol sends from the
  sender's role to the receiver's role with that label (checked against the AST, not the
  runtime's own tables);
- per pair of members, what the receiver consumed or discarded is a prefix of what the sender
  sent, in order (nothing invented, duplicated or reordered).
"""

from __future__ import annotations

from collections import defaultdict
from functools import partial

from hypothesis import given, settings
from hypothesis import strategies as st

import aura_sim
from aura_core.choreo import parse
from aura_core.choreo.wellformed import messages
from aura_protocol import Choreography, Completed, EventKind, Member
from tests.core.choreo.strategies import GeneratedProtocol, protocols
from tests.protocol.generated import GeneratedRun, guarded, run_generated
from tests.protocol.networks import LatencyNetwork

LATENCY_MEAN = 0.05
"""Seconds; the strategies draw timeouts of 50 ms to 60 s, so some fire and most do not."""


async def run_with_latency(choreography: Choreography) -> GeneratedRun:
    return await run_generated(choreography, LatencyNetwork(LATENCY_MEAN).attach)


def check_run(text: str, run: GeneratedRun) -> None:
    failed = {m: o for m, o in run.outcomes.items() if not isinstance(o, Completed)}
    assert not failed, f"{failed}\n{text}"
    statements = list(messages(parse(text).body))
    sent: dict[tuple[Member, Member], list[str]] = defaultdict(list)
    taken: dict[tuple[Member, Member], list[str]] = defaultdict(list)
    for event in run.events:
        statement = statements[event.msg_id]
        assert (statement.sender.name, statement.receiver.name, statement.label) == (
            event.sender.role,
            event.receiver.role,
            event.label,
        ), event
        pair = (event.sender, event.receiver)
        (sent if event.kind is EventKind.SENT else taken)[pair].append(event.label)
    for pair, labels in taken.items():
        assert sent[pair][: len(labels)] == labels, pair


@settings(max_examples=100)
@given(generated=protocols(), seed=st.integers(0, 2**32))
def test_random_protocols_complete_under_random_schedules(
    generated: GeneratedProtocol, seed: int
) -> None:
    text = guarded(generated.text)
    choreography = Choreography.compile(text, generated.bindings)
    instant = aura_sim.run(partial(run_generated, choreography), seed=seed)
    check_run(text, instant)
    assert instant.timers_fired == 0  # nothing takes virtual time on the in-memory network
    delayed = aura_sim.run(partial(run_with_latency, choreography), seed=seed + 1)
    check_run(text, delayed)


def test_latency_makes_timers_fire_and_runs_still_complete() -> None:
    """A fixed protocol where the latency network makes the owner's timer fire in some seeds
    and not in others; every run completes either way."""
    text = """
    protocol Race {
      roles A, B, W[3];
      A [guard_capability = "t:a"] -> W[*] : Go;
      timeout 60ms at A {
        W[*] [guard_capability = "t:w"] -> A : Vote within 2;
        A [guard_capability = "t:a"] -> W[*] : Ok;
        A [guard_capability = "t:a"] -> B : Fine;
      } on timeout {
        A [guard_capability = "t:a"] -> W[*] : Late;
        A [guard_capability = "t:a"] -> B : Slow;
      }
      W[*] [guard_capability = "t:w"] -> A : Done;
      B [guard_capability = "t:b"] -> A : Bye;
    }
    """
    choreography = Choreography.compile(text)
    runs = []
    for seed in range(12):
        run = aura_sim.run(partial(run_with_latency, choreography), seed=seed)
        check_run(text, run)
        runs.append(run)
    fired = [run.timers_fired for run in runs]
    assert 0 < sum(1 for count in fired if count) < len(runs), fired
    discarded = [e for run in runs for e in run.events if e.kind is EventKind.DISCARDED]
    assert {e.label for e in discarded} == {"Vote"}


MIXED = Choreography.compile(
    """
    protocol Mixed {
      roles A, B, C, D, W[3];
      A [guard_capability = "m:a"] -> W[*] : Go(bytes);
      timeout 60ms at A {
        W[*] [guard_capability = "m:w", leak = "group"] -> A : Vote(bytes) within 2;
        A [guard_capability = "m:a", journal_facts = "fine"] -> B : Fine;
      } on timeout {
        A [guard_capability = "m:a"] -> B : Slow;
      }
      par {
        rec L {
          choice A {
            more: A [guard_capability = "m:a"] -> B : More(bytes);
                  B [guard_capability = "m:b"] -> A : Ack;
                  continue L;
            stop: A [guard_capability = "m:a"] -> B : Stop;
          }
        }
      } and {
        C [guard_capability = "m:c"] -> D : Hi;
        D [guard_capability = "m:d"] -> C : Ho(bytes);
      }
    }
    """
)


async def mixed_on_latency() -> None:
    run = await run_with_latency(MIXED)
    assert all(isinstance(outcome, Completed) for outcome in run.outcomes.values())


def test_driven_runs_agree_across_interpreters() -> None:
    """Loops, `par`, a timer and a threshold, driven at random on the latency network: fresh
    interpreters with different str hash seeds replay the same trace."""
    for seed in (1, 2):
        digest = aura_sim.check_determinism_across_processes(
            "tests.protocol.test_properties:mixed_on_latency", seed
        )
        assert digest == aura_sim.record(mixed_on_latency, seed)[0].digest()
