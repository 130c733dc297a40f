"""Choreography sessions under the simulator's faults end with typed outcomes, never hang.

`aura_sim/scenarios/sessions.toml` draws 3-7 nodes that keep running request/response
sessions (client deadline) and threshold votes (coordinator window) under drops, delays, duplicates,
corruption, partitions, crashes, held links and injected failures; servers and witnesses run
with a limit. Its `workload` property fails on any `Violated` outcome and on any run still going
past its bound (a hung session), and after healing requires answers again. 50 seeds here, 500
in `./dev long`.
"""

from __future__ import annotations

from tests.sweeps import replays_byte_identically, sweep_passes_and_reaches


def test_fifty_seeds_find_no_hung_session() -> None:
    # Timers fired and limits passed, and sessions still ended with an outcome.
    sweep_passes_and_reaches(
        "sessions",
        50,
        (
            "client_timer_fired",
            "coordinator_timer_fired",
            "server_timedout",
            "witness_timedout",
            "client_completed",
            "client_aborted",
        ),
    )


def test_a_sessions_run_replays_byte_identically() -> None:
    replays_byte_identically("sessions", (4,))
