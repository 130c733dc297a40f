"""The example in docs/consensus.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path


def test_the_documented_fast_path_example_runs() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "consensus.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", doc, re.S | re.M)
    (example,) = [b for b in blocks if "new_instance" in b]
    namespace: dict[str, object] = {}
    exec(compile(example, "docs/consensus.md", "exec"), namespace)
    fact = namespace["fact"]
    assert fact is not None and getattr(fact, "participants", None)
