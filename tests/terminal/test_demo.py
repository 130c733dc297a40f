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
