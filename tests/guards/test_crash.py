"""Crash safety: a batch killed midway is all-or-nothing, and nothing leaves without its charge."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import anyio
import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aura_core.effects import StorageOp
from aura_core.encoding import decode
from aura_core.errors import StorageError
from aura_effects.journal import JournalHandler
from aura_effects.loopback import LoopbackNetwork
from aura_effects.storage import SqliteStorage
from aura_guards.transport import CHARGE_KEY_PREFIX, GuardedTransport
from aura_journal.budget import FlowCharge
from aura_journal.fact import JournalNamespace
from aura_journal.leakage import ObserverClass
from aura_journal.standard import standard_registry
from aura_sim.handlers import Disk, MemoryStorage
from tests.guards.harness import ALICE, BOB, CONTEXT, SEND, make_node
from tests.journal.helpers import CONTEXT_NS

ROOT = Path(__file__).resolve().parents[2]
COUPLED = attrs.evolve(SEND, journal_label="chat", leak=(ObserverClass.EXTERNAL,))


class Killed(StorageError):
    pass


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(0, 2), st.integers(1, 4))  # charge register (the chain head), coupled, leakage
def test_memory_batch_killed_midway_is_all_or_nothing(
    tmp_path: Path, kill_at: int, good_sends: int
) -> None:
    anyio.run(memory_crash, tmp_path, kill_at, good_sends)


async def memory_crash(tmp_path: Path, kill_at: int, good_sends: int) -> None:
    disk = Disk()
    network = LoopbackNetwork()
    alice = await make_node(
        "testing", ALICE, network, tmp_path, seed=1, storage=MemoryStorage(disk)
    )
    alice.effects.peers.add(BOB, alice.key.verifying_key)
    network.attach(BOB)
    for _ in range(good_sends):
        await alice.guarded.send(CONTEXT, BOB, "m", b"ok", COUPLED)
    before = dict(disk.data)
    delivered = len(network.delivered)

    def fault(index: int, op: StorageOp) -> None:
        if index == kill_at:
            raise Killed("power cut")

    storage = alice.effects.storage
    assert isinstance(storage, MemoryStorage)
    storage.fault = fault
    with pytest.raises(StorageError):
        await alice.guarded.send(CONTEXT, BOB, "m", b"lost", COUPLED)
    assert len(network.delivered) == delivered  # nothing sent without its charge
    assert disk.data == before  # none of the batch is visible

    # Reopen over the same disk: the register and journal hold exactly the committed sends.
    reopened = await make_node(
        "testing", ALICE, LoopbackNetwork(), tmp_path, seed=1, storage=MemoryStorage(disk)
    )
    assert await reopened.spent(BOB) == SEND.flow_cost * good_sends
    journal = await reopened.journal()
    assert len(journal.of_type("flow.coupled_send")) == good_sends
    assert len(journal.of_type("leakage.recorded")) == good_sends
    storage.fault = None
    await alice.guarded.send(CONTEXT, BOB, "m", b"after", SEND)
    assert await alice.spent(BOB) == SEND.flow_cost * (good_sends + 1)


class FailingSqlite(SqliteStorage):
    """Dies at the k-th write of the next batch, inside the transaction."""

    kill_at: int | None = None

    def _write(self, connection: sqlite3.Connection, index: int, op: StorageOp) -> None:
        if index == self.kill_at:
            raise sqlite3.OperationalError("disk I/O error (injected)")
        super()._write(connection, index, op)


@pytest.mark.anyio
@pytest.mark.parametrize("kill_at", [0, 1, 2])  # charge register, coupled fact, leakage fact
async def test_sqlite_batch_killed_midway_rolls_back(tmp_path: Path, kill_at: int) -> None:
    network = LoopbackNetwork()
    alice = await make_node("sqlite", ALICE, network, tmp_path, seed=1)
    alice.effects.peers.add(BOB, alice.key.verifying_key)
    network.attach(BOB)
    await alice.guarded.send(CONTEXT, BOB, "m", b"ok", SEND)
    path = alice.effects.storage.path  # type: ignore[attr-defined]
    failing = await FailingSqlite.open(path)
    failing.kill_at = kill_at
    effects = alice.effects
    crashing = attrs.evolve(
        effects, storage=failing, journal=JournalHandler(failing, standard_registry())
    )
    guarded = GuardedTransport(crashing, alice.raw, local=ALICE, signing_key=alice.key)
    delivered = len(network.delivered)
    with pytest.raises(StorageError):
        await guarded.send(CONTEXT, BOB, "m", b"lost", COUPLED)
    assert len(network.delivered) == delivered
    await failing.close()
    reopened = await SqliteStorage.open(path)
    journal = await JournalHandler(reopened, standard_registry()).journal(
        JournalNamespace.of(CONTEXT)
    )
    assert len(journal) == 0  # the plain send wrote no fact, the killed one none either
    [register] = await reopened.list_keys(CHARGE_KEY_PREFIX)
    stored = await reopened.get(register)
    assert stored is not None
    charge = decode(stored, FlowCharge)
    assert (charge.nonce, charge.spent) == (1, SEND.flow_cost)  # only the committed send
    assert await reopened.list_keys("guard/") == [register]  # the register is the chain head
    await reopened.close()


def test_sqlite_survives_sigkill_with_every_acknowledged_fact(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.guards.sqlite_writer", str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    acked = []
    assert child.stdout is not None
    for line in child.stdout:
        acked.append(line.split()[1])
        if len(acked) >= 40:
            break
    child.send_signal(signal.SIGKILL)  # mid-loop: the next merge is in flight
    child.wait()
    child.stdout.close()
    assert oct(path.stat().st_mode & 0o777) == "0o600"

    async def reopen() -> set[str]:
        storage = await SqliteStorage.open(path)
        journal = await JournalHandler(storage, standard_registry()).journal(CONTEXT_NS)
        await storage.close()
        return {str(f) for f in journal.fact_ids()}

    present = anyio.run(reopen)
    assert set(acked) <= present
    assert len(present) >= len(acked)
