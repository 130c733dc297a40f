"""Every Python example in README.md runs as written, as a user runs it: in a fresh Python
process from the repository (shell blocks are not run)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)
EXAMPLES = [code for language, code in BLOCKS if language == "python"]


def test_every_block_is_python_or_shell() -> None:
    assert len(EXAMPLES) >= 2
    assert {language for language, _ in BLOCKS} <= {"python", "sh"}


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_the_example_runs(index: int, tmp_path: Path) -> None:
    script = tmp_path / f"readme_example_{index + 1}.py"
    script.write_text(EXAMPLES[index], encoding="utf-8")
    path = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    done = subprocess.run(
        [sys.executable, str(script)],
        check=False,
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
