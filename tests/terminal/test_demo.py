"""`aura demo` runs end to end: the core tour, then four devices on SQLite agreeing on changes."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from aura_terminal.cli import app


def test_the_demo_runs_and_the_devices_agree(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "--seed", "7", "--data-dir", str(tmp_path)], env={"COLUMNS": "160"}
    )
    assert result.exit_code == 0, result.output
    out = result.output
    for change in ("add device 3", "3-of-4 policy", "remove device 0", "refresh, new epoch"):
        assert change in out
    assert "refused: participants not in the public key package" in out
    assert sorted(p.name for p in tmp_path.glob("*.sqlite")) == [
        f"device-{i}.sqlite" for i in range(4)
    ]
    roots = dict(re.findall(r"(device [0-3]) .*?device-\d\.sqlite .*? (\w{16})…", out))
    assert roots["device 1"] == roots["device 2"] == roots["device 3"] != roots["device 0"]


def test_the_demo_runs_over_tcp_and_sync_gives_every_device_the_same_journal(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(
        app,
        ["demo", "--seed", "7", "--data-dir", str(tmp_path), "--network", "tcp"],
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 0, result.output
    out = result.output
    for change in ("add device 3", "3-of-4 policy", "remove device 0", "refresh, new epoch"):
        assert change in out
    assert "refused: participants not in the public key package" in out
    # Each device listened on its own port of 127.0.0.1 and opened a channel to each other one.
    listeners = re.findall(r"(device [0-3]) +│ 127\.0\.0\.1:(\d+) +│ \w{16}… +│ (\d+) / (\d+)", out)
    assert len({port for _, port, _, _ in listeners}) == 4
    assert all(int(out_) >= 3 and int(in_) >= 3 for _, _, out_, in_ in listeners)
    # Sync carried every device's records to the others, device 0 (removed from the tree,
    # still in the devices' context) included.
    (count,) = re.findall(r"holds the same (\d+) facts", out)
    journals = re.findall(r"(device [0-3]) .*?device-\d\.sqlite +│ (\d+) +│ (\w{16})…", out)
    assert {facts for _, facts, _ in journals} == {count}
    assert len({root for _, _, root in journals}) == 1
