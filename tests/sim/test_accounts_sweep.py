"""The account flows of real agents in the simulator: 6 seeds in the default run (400 in
`./dev long`).

`aura_sim/scenarios/accounts.toml`: three `aura_agent.Agent`s (their production account code
through `Agent.run`, on seeded parts and the simulated network, 2 % of messages lost) create an
account, enroll two devices by code, are crashed and partitioned between flows, refresh (a
refresh asked during the partition fails, recorded aborted, and is retried after it) and remove
a device; the account safety invariants hold throughout and every device ends with the same tree
(aura_sim/examples/accounts.py). On this machine the 6 seeds take about 7 s with two worker
processes.
"""

from __future__ import annotations

from tests.sweeps import replays_byte_identically, sweep_passes_and_reaches


def test_six_seeds_run_the_account_flows_to_one_tree() -> None:
    # The seeds did exercise the faults the scenario is about: a device came back from a
    # crash, and a change failed under the partition and was retried until it was done.
    sweep_passes_and_reaches(
        "accounts", 6, ("agent_restarted", "step_failed:refresh", "step_retried")
    )


def test_an_accounts_run_replays_byte_identically() -> None:
    replays_byte_identically("accounts", (3,))
