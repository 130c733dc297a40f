"""`aura account ...` and `aura device ...` against two `aura agent run` children: create,
invite, join (and join again with the same code), list and status, text and `--json`; errors
print a message and exit 1 (with `--json`, also the error as JSON on stdout)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from aura_terminal.cli import app
from tests.terminal.test_agent import start, stop


def test_two_agents_one_account_from_the_command_line(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    first, _ = start("--data-dir", str(a))
    second, _ = start("--data-dir", str(b))
    runner = CliRunner()
    try:
        result = runner.invoke(app, ["account", "create", "--data-dir", str(a), "--json"])
        assert result.exit_code == 0, result.output
        account = json.loads(result.stdout)["account"]
        again = runner.invoke(app, ["account", "create", "--data-dir", str(a)])
        assert again.exit_code == 1 and "already" in again.output
        result = runner.invoke(app, ["device", "invite", "--data-dir", str(a), "--json"])
        assert result.exit_code == 0, result.output
        code = json.loads(result.stdout)["code"]
        bad = runner.invoke(app, ["device", "join", "aura:v1:xyz", "--data-dir", str(b)])
        assert bad.exit_code == 1 and "does not decode" in bad.output
        result = runner.invoke(app, ["device", "join", code, "--data-dir", str(b)])
        assert result.exit_code == 0, result.output
        assert result.stdout.strip() == f"joined account {account}"
        # The same code again: refused at once, its code on stdout as JSON, nothing changed.
        status = ["account", "status", "--data-dir", str(b), "--json"]
        before = json.loads(runner.invoke(app, status).stdout)
        again = runner.invoke(app, ["device", "join", code, "--data-dir", str(b), "--json"])
        assert again.exit_code == 1, again.output
        error = json.loads(again.stdout)["error"]
        assert (error["code"], error["kind"]) == ("already_joined", "permanent")
        assert account in error["message"]
        assert json.loads(runner.invoke(app, status).stdout) == before
        result = runner.invoke(app, ["device", "list", "--data-dir", str(b), "--json"])
        assert result.exit_code == 0, result.output
        listed = json.loads(result.stdout)
        assert [(d["leaf"], d["this_device"], d["holds_share"]) for d in listed] == [
            (0, False, True),
            (1, True, True),
        ]
        result = runner.invoke(app, ["account", "status", "--data-dir", str(b), "--json"])
        status = json.loads(result.stdout)
        assert (status["account"], status["devices"], status["threshold"]) == (account, 2, 2)
        text = runner.invoke(app, ["account", "status", "--data-dir", str(b)])
        assert "2-of-2" in text.stdout
        result = runner.invoke(app, ["account", "refresh", "--data-dir", str(b), "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["epoch"] == status["epoch"] + 1
        bad = runner.invoke(app, ["account", "threshold", "5", "--data-dir", str(b)])
        assert bad.exit_code == 1 and "at most 2" in bad.output
        first_device = next(d["device"] for d in listed if not d["this_device"])
        bad = runner.invoke(app, ["device", "remove", first_device, "--data-dir", str(b)])
        assert bad.exit_code == 1 and "add a device first" in bad.output
        bad = runner.invoke(app, ["device", "remove", "device-xyz", "--data-dir", str(b)])
        assert bad.exit_code == 1
    finally:
        assert stop(first)[0] == 0
        assert stop(second)[0] == 0
