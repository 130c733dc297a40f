"""Consensus in the simulator under every fault, 50 seeds (500 in `./dev long`).

`scenarios/consensus.toml` draws 3-7 witnesses, up to three byzantine ones (withholding or
equivocating, on a replaying and corrupting transport), drops, delays, duplicates, corruption,
a partition, a crash and restart, a held link and injected storage and transport failures. Its
`workload` property is the consensus workload's invariants (safety at every decision, no
honest witness ever proven an equivocator, no session open past its bound) and, after healing
the honest nodes, its goal (with at least t of them connected, everything they proposed is
decided by all of them within 30 s). See aura_sim/examples/consensus.py.
"""

from __future__ import annotations

from tests.sweeps import replays_byte_identically, sweep_passes_and_reaches


def test_fifty_seeds_keep_safety_and_reach_liveness() -> None:
    # The seeds exercise what the properties are about: fallback, equivocators proven, runs
    # with fewer than t honest witnesses (nothing may commit), retries and restarts.
    sweep_passes_and_reaches(
        "consensus",
        50,
        (
            "decided_fast_path",
            "decided_in_fallback",
            "equivocators_proven",
            "core_below_threshold",
            "consensus_retried",
            "restart",
        ),
    )


def test_a_consensus_run_replays_byte_identically() -> None:
    replays_byte_identically("consensus", (3, 8))
