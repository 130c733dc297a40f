"""Every code block in README.md and docs/*.md runs as written, or says why it does not.

A document's fenced ```python blocks run in order as one script (a tutorial builds on its
earlier steps), in a fresh Python process from an empty working directory.
Any block that is not run (shell commands, the wire, choreography text, output, a signature
listing) carries the marker `<!-- not run: reason -->` on the line right before its fence, so
the reason sits next to the block in the source and stays invisible on the rendered page. An
unmarked block that is not Python fails here: a reader cannot tell an example that was never
tried from one that works.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"<!-- not run: (?P<reason>.*?) -->")
FENCE = re.compile(r"^```(?P<language>[\w-]*)\n(?P<code>.*?)^```$", re.S | re.M)


@attrs.frozen
class Block:
    """One fenced block: where it is, its language tag, its code and the not-run reason."""

    path: str
    line: int
    language: str
    code: str
    not_run: str | None

    @property
    def runs(self) -> bool:
        return self.language == "python" and self.not_run is None


def parse(text: str, path: str) -> list[Block]:
    found = []
    for fence in FENCE.finditer(text):
        before = text[: fence.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.fullmatch(before.strip())
        found.append(
            Block(
                path=path,
                line=text.count("\n", 0, fence.start()) + 1,
                language=fence["language"],
                code=fence["code"],
                not_run=marker["reason"].strip() if marker else None,
            )
        )
    return found


BLOCKS = [
    block
    for doc in DOCS
    for block in parse(doc.read_text(encoding="utf-8"), str(doc.relative_to(ROOT)))
]
EXAMPLES = [block for block in BLOCKS if block.runs]


def test_every_block_runs_or_says_why_not() -> None:
    unexplained = [
        f"{b.path}:{b.line} ({b.language or 'no language'})"
        for b in BLOCKS
        if not b.runs and not b.not_run
    ]
    assert not unexplained, "mark with <!-- not run: reason --> or make it Python"


def test_the_extraction_sees_the_docs() -> None:
    # A broken pattern would find nothing and pass everything: pin what it must see.
    assert {b.path for b in EXAMPLES} >= {"README.md", "docs/tutorial.md", "docs/network.md"}
    assert len(EXAMPLES) >= 19
    assert all(b.code.endswith("\n") and not b.code.startswith("```") for b in BLOCKS)


def test_a_marker_only_counts_right_before_its_fence() -> None:
    text = (
        "<!-- not run: far away -->\n\nprose\n```sh\nls\n```\n<!-- not run: why -->\n```py\n```\n"
    )
    found = parse(text, "probe.md")
    assert [(b.language, b.not_run, b.line) for b in found] == [("sh", None, 4), ("py", "why", 8)]


SCRIPTS = sorted({b.path for b in EXAMPLES})


def script(path: str) -> str:
    """A document's Python blocks as one script, each block on its own lines of the document,
    so a traceback's line numbers are the document's."""
    source = ""
    for block in [b for b in EXAMPLES if b.path == path]:
        source += "\n" * (block.line - source.count("\n")) + block.code
    return source


def test_a_script_keeps_the_documents_line_numbers() -> None:
    lines = script("README.md").split("\n")
    for block in [b for b in EXAMPLES if b.path == "README.md"]:
        assert lines[block.line] == block.code.split("\n")[0]


@pytest.mark.parametrize("path", SCRIPTS)
def test_the_examples_run(path: str, tmp_path: Path) -> None:
    # A fresh process in an empty directory, as a reader runs a script: nothing one document
    # sets up or leaves open reaches another.
    file = tmp_path / f"{Path(path).name}.py"
    file.write_text(script(path), encoding="utf-8")
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    done = subprocess.run(
        [sys.executable, str(file)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
