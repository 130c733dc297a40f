"""Anti-entropy sync in the simulator: 50 seeds in the default run (1000 in `./dev long`).

`aura_sim/scenarios/sync.toml`: four nodes write notes while the network drops 15 % of messages,
duplicates and reorders others, a partition comes and goes, a node crashes and restarts (losing
its unsynced writes) and storage and sends fail now and then. No note is carried by hand: the
`SyncService` of every node (aura_sim/examples/sync.py) is the only way a note reaches another
node. After the safety phase the partition heals and crashed nodes restart while the links stay
lossy, and every node must hold every note within 20 s of virtual time (`convergence`); no sync
session may stay open past its bound (`workload`). On this machine the 50 seeds take about 9 s
with two worker processes.
"""

from __future__ import annotations

from tests.sweeps import replays_byte_identically, sweep_passes_and_reaches


def test_fifty_seeds_converge_by_sync_under_loss_and_crashes() -> None:
    # The seeds did exercise what the scenario is about: sync repaired journals, sessions were
    # cut by lost messages and by injected failures, and a restarted node caught up.
    sweep_passes_and_reaches(
        "sync",
        50,
        (
            "repaired_by_sync",
            "sync_session_timed_out",
            "sync_session_aborted",
            "sync_after_restart",
            "unsynced_writes_lost",
        ),
    )


def test_a_sync_run_replays_byte_identically() -> None:
    replays_byte_identically("sync", (2, 7))
