"""`aura agent run` in the foreground (a child process, stopped by SIGTERM) and `aura agent
status` asking it through the local API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from aura_terminal.cli import app

REPO = Path(__file__).resolve().parents[2]
AURA = [sys.executable, "-c", "from aura_terminal.cli import main; main()"]


def start(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    """`aura agent run ARGS` until it has printed where it listens (its four lines)."""
    path = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    child = subprocess.Popen(
        [*AURA, "agent", "run", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert child.stdout is not None
    lines = [child.stdout.readline() for _ in range(4)]
    return child, lines


def stop(child: subprocess.Popen[str]) -> tuple[int, str]:
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=30)
    return child.returncode, out


def test_run_status_and_a_clean_stop(tmp_path: Path) -> None:
    home = tmp_path / "agent"
    child, lines = start("--data-dir", str(home))
    try:
        assert lines[0].startswith("agent device-"), lines
        assert lines[1].strip() == f"api      unix:{home / 'agent.sock'}"
        assert lines[2].strip().startswith("network  tcp://127.0.0.1:")
        assert lines[3].strip() == "account  none"
        runner = CliRunner()
        result = runner.invoke(app, ["agent", "status", "--data-dir", str(home), "--json"])
        assert result.exit_code == 0, result.output
        status = json.loads(result.stdout)
        assert status["device"] == lines[0].split()[1]
        assert status["account"]["phase"] == "none"
        assert status["sealed"] is False
        result = runner.invoke(app, ["agent", "status", "--socket", str(home / "agent.sock")])
        assert result.exit_code == 0, result.output
        assert f"device    {status['device']}" in result.stdout
        second = runner.invoke(app, ["agent", "run", "--data-dir", str(home)])
        assert second.exit_code == 1
        assert "another agent" in second.stderr
    finally:
        code, out = stop(child)
    assert code == 0, out
    assert "stopping (SIGTERM)" in out
    assert not (home / "agent.sock").exists()
    result = CliRunner().invoke(app, ["agent", "status", "--data-dir", str(home)])
    assert result.exit_code == 1
    assert "no agent answers" in result.stderr


def test_a_sealed_key_file_needs_its_passphrase(tmp_path: Path) -> None:
    home = tmp_path / "agent"
    secret = tmp_path / "passphrase"
    secret.write_text("correct horse\n")
    child, lines = start("--data-dir", str(home), "--passphrase-file", str(secret))
    try:
        assert lines[3].strip() == "account  none", lines
    finally:
        assert stop(child)[0] == 0
    secret.write_text("wrong horse\n")
    before = (home / "keys").read_bytes()
    result = CliRunner().invoke(
        app, ["agent", "run", "--data-dir", str(home), "--passphrase-file", str(secret)]
    )
    assert result.exit_code == 1
    assert "passphrase does not open the key file" in result.stderr
    assert (home / "keys").read_bytes() == before


def test_bad_arguments_are_named(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["agent", "run", "--data-dir", str(tmp_path / "a"), "--listen", "0.0.0.0:7000"]
    )
    assert result.exit_code == 1
    assert "--advertise" in result.stderr
    result = runner.invoke(
        app,
        ["agent", "run", "--data-dir", str(tmp_path / "a"), "--passphrase-file", "/nonexistent"],
    )
    assert result.exit_code == 2  # invalid input (aura_core.exitcodes)
    assert "cannot read the passphrase file" in result.stderr
    assert not (tmp_path / "a").exists()
