"""Every Python example in README.md runs as written (shell blocks are not run)."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)
EXAMPLES = [code for language, code in BLOCKS if language == "python"]


def test_every_block_is_python_or_shell() -> None:
    assert len(EXAMPLES) >= 2
    assert {language for language, _ in BLOCKS} <= {"python", "sh"}


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_the_example_runs(index: int) -> None:
    # A real module, so that record classes defined in the example resolve their annotations.
    module = types.ModuleType(f"readme_example_{index}")
    sys.modules[module.__name__] = module
    try:
        code = compile(EXAMPLES[index], f"README.md example {index + 1}", "exec")
        exec(code, module.__dict__)
    finally:
        del sys.modules[module.__name__]
