"""What the choreography language costs: parsing, the well-formedness rules and projection.

A synthetic protocol of 10 and of 50 messages is built from the shapes real protocols use
(fan-out, threshold fan-in under a timeout, choices with third parties, loops with an exit) and
timed through each stage: `parse`, the static rules (`check_static`), `check` (the rules plus
the projection of every role), `project` of one role (which checks first) and `compile` (all of
it from text). This happens once per protocol per process, before any session runs.

The script prints one table per concern. `language_table()` is the language's; a second table,
the runtime's per-message overhead against a bare guard-chain send, belongs next to it when the
runtime (`aura_protocol`) exists: add a `runtime_table()` and print it from `main()`.

Run: ./dev bench   (or .venv/bin/python benchmarks/choreo.py)
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aura_core.choreo import check, compile, message_table, parse, project
from aura_core.choreo.wellformed import check_static
from benchmarks._harness import Timing, measure, table

BINDINGS = {"n": 5, "t": 3}

# Segments of a synthetic protocol, by the number of messages each holds. `{i}` keeps labels
# and loop names unique.
SEGMENTS: list[tuple[int, str]] = [
    (
        1,
        'Coordinator [guard_capability = "consensus:initiate"] -> Witness[*] : Execute{i}(Op);',
    ),
    (
        5,
        """timeout 30s at Coordinator {{
    Witness[*] [guard_capability = "consensus:witness_sign", flow_cost = 50, leak = "neighbor"]
      -> Coordinator : Share{i}(Share) within t;
    Coordinator [journal_facts = "consensus_complete"] -> Witness[*] : Commit{i}(CommitFact);
    Coordinator -> Observer : Done{i};
  }} on timeout {{
    Coordinator -> Witness[*] : Abort{i};
    Coordinator -> Observer : Failed{i}(bytes);
  }}""",
    ),
    (
        4,
        """choice Coordinator {{
    go: Coordinator -> Auditor : Go{i}; Auditor -> Observer : Note{i}(bytes);
    stop: Coordinator -> Auditor : Stop{i}; Auditor -> Observer : Halt{i};
  }}""",
    ),
    (
        3,
        """rec L{i} {{
    choice Coordinator {{
      again: Coordinator -> Witness[*] : Ping{i}; Witness[*] -> Coordinator : Pong{i};
             continue L{i};
      stop: Coordinator -> Witness[*] : Last{i};
    }}
  }}""",
    ),
]


def synthetic_protocol(messages: int) -> str:
    """A well-formed protocol of exactly `messages` message statements."""
    parts: list[str] = []
    written = 0
    index = 0
    while written < messages:
        size, template = SEGMENTS[index % len(SEGMENTS)]
        if written + size > messages:
            size, template = SEGMENTS[0]
        parts.append("  " + template.format(i=index))
        written += size
        index += 1
    body = "\n".join(parts)
    return (
        f"protocol Synthetic {{\n  roles Coordinator, Witness[n], Observer, Auditor;\n{body}\n}}\n"
    )


def language_table() -> str:
    rows: list[Timing] = []
    baseline: Timing | None = None
    for messages in (10, 50):
        text = synthetic_protocol(messages)
        protocol = parse(text)
        assert len(message_table(protocol)) == messages
        compile(text, BINDINGS)  # well-formed, or the benchmark is meaningless
        parse_row = measure(f"parse ({messages} messages)", partial(parse, text))
        baseline = baseline or parse_row
        rows += [
            parse_row,
            measure(
                f"rules only: check_static ({messages})",
                partial(check_static, protocol, BINDINGS),
            ),
            measure(
                f"check: rules + project all 4 roles ({messages})",
                partial(check, protocol, BINDINGS),
            ),
            measure(
                f"project one role, checked ({messages})",
                partial(project, protocol, "Witness", bindings=BINDINGS),
            ),
            measure(
                f"compile: text to all local types ({messages})",
                partial(compile, text, BINDINGS),
            ),
        ]
    assert baseline is not None
    per_message = rows[-1].median / 50 / 1000
    return (
        table("Choreography language: parse, check, project", rows, baseline)
        + f"\ncompile of the 50-message protocol: {per_message:.1f} µs per message"
    )


def main() -> None:
    print(language_table())


if __name__ == "__main__":
    main()
