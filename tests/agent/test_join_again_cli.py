"""`aura device join CODE --json` again with the code this device joined with: exit 1,
the error's code on stdout as JSON, the account as it was (two `aura agent run` children)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from aura_terminal.cli import app
from tests.terminal.test_agent import start, stop


def test_joining_again_with_the_same_code_from_the_command_line(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    first, _ = start("--data-dir", str(a))
    second, _ = start("--data-dir", str(b))
    runner = CliRunner()
    try:
        result = runner.invoke(app, ["account", "create", "--data-dir", str(a), "--json"])
        assert result.exit_code == 0, result.output
        account = json.loads(result.stdout)["account"]
        result = runner.invoke(app, ["device", "invite", "--data-dir", str(a), "--json"])
        assert result.exit_code == 0, result.output
        code = json.loads(result.stdout)["code"]
        result = runner.invoke(app, ["device", "join", code, "--data-dir", str(b), "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == {"account": account}
        status = runner.invoke(app, ["account", "status", "--data-dir", str(b), "--json"])
        before = json.loads(status.stdout)

        again = runner.invoke(app, ["device", "join", code, "--data-dir", str(b), "--json"])
        assert again.exit_code == 1, again.output
        error = json.loads(again.stdout)["error"]
        assert (error["code"], error["kind"]) == ("already_joined", "permanent")
        assert account in error["message"]
        status = runner.invoke(app, ["account", "status", "--data-dir", str(b), "--json"])
        assert json.loads(status.stdout) == before
    finally:
        assert stop(first)[0] == 0
        assert stop(second)[0] == 0
