"""Every Python example in docs/agent.md runs as written (the other blocks are marked not run,
with the reason on their first line)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "agent.md"
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.S | re.M)
EXAMPLES = [code for language, code in BLOCKS if language == "python"]


def test_every_block_is_python_or_says_why_it_is_not_run() -> None:
    assert len(EXAMPLES) >= 3
    for language, code in BLOCKS:
        assert language in ("python", "text"), language
        if language == "text":
            assert code.startswith("(not run: "), code.splitlines()[0]


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_the_example_runs(index: int) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_agent_{index}"}
    exec(compile(EXAMPLES[index], f"docs/agent.md example {index + 1}", "exec"), namespace)
