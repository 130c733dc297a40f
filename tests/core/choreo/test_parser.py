"""Parsing: the AST of each construct, source positions, syntax errors with their line."""

from __future__ import annotations

import pytest

from aura_core.choreo import format_protocol, parse
from aura_core.choreo.parser import MAX_DEPTH, MAX_STATEMENTS
from aura_core.choreo.syntax import (
    Annotation,
    Branch,
    Choice,
    Continue,
    Message,
    Par,
    Rec,
    RoleDecl,
    RoleRef,
    Timeout,
)
from aura_core.errors import ChoreographyError, ChoreographyParseError

KEY_ROTATION = """\
protocol KeyRotation {
  roles Initiator, Witness[n];
  Initiator [guard_capability = "tree:rotate", flow_cost = 10] -> Witness[*] : Proposal(RotationData);
  Witness[*] [flow_cost = 5] -> Initiator : Vote(bool) within 2;
  choice Initiator {
    commit: Initiator -> Witness[*] : Commit;
    abort:  Initiator -> Witness[*] : Abort;
  }
}
"""  # noqa: E501


def test_design_example_parses_to_the_expected_tree() -> None:
    protocol = parse(KEY_ROTATION)
    assert protocol.name == "KeyRotation"
    assert protocol.roles == (RoleDecl("Initiator"), RoleDecl("Witness", "n"))
    proposal, vote, choice = protocol.body
    assert proposal == Message(
        RoleRef("Initiator"),
        RoleRef("Witness", every=True),
        "Proposal",
        "RotationData",
        (Annotation("guard_capability", "tree:rotate"), Annotation("flow_cost", 10)),
    )
    assert vote == Message(
        RoleRef("Witness", every=True),
        RoleRef("Initiator"),
        "Vote",
        "bool",
        (Annotation("flow_cost", 5),),
        within=2,
    )
    assert choice == Choice(
        "Initiator",
        (
            Branch(
                "commit",
                (Message(RoleRef("Initiator"), RoleRef("Witness", every=True), "Commit"),),
            ),
            Branch(
                "abort", (Message(RoleRef("Initiator"), RoleRef("Witness", every=True), "Abort"),)
            ),
        ),
    )


def test_every_node_carries_its_position() -> None:
    protocol = parse(KEY_ROTATION)
    proposal, vote, choice = protocol.body
    assert (protocol.line, protocol.column) == (1, 1)
    assert [(d.line, d.column) for d in protocol.roles] == [(2, 9), (2, 20)]
    assert isinstance(proposal, Message) and isinstance(vote, Message)
    assert (proposal.line, proposal.column) == (3, 3)
    assert (proposal.receiver.line, proposal.receiver.column) == (3, 67)
    assert [(a.line, a.column) for a in proposal.annotations] == [(3, 14), (3, 48)]
    assert (vote.line, vote.sender.line) == (4, 4)
    assert isinstance(choice, Choice)
    assert (choice.line, choice.column) == (5, 3)
    assert [(b.line, b.column) for b in choice.branches] == [(6, 5), (7, 5)]


def test_positions_do_not_take_part_in_equality() -> None:
    spaced = "\n\n" + KEY_ROTATION.replace("  ", "      ")
    assert parse(spaced) == parse(KEY_ROTATION)
    assert parse(spaced).body[0].line != parse(KEY_ROTATION).body[0].line


def test_recursion_par_timeout_and_comments() -> None:
    protocol = parse(
        """
        // a comment line
        protocol Mixed {   // trailing comment
          roles A, B, C;
          rec Loop {
            choice A {
              again: A -> B : More; continue Loop;
              stop: A -> B : Stop;
            }
          }
          par { A -> B : X; } and { A -> C : Y; } and { C -> B : Z; }
          timeout 250ms at A { B -> A : Pong; A -> B : Ok; } on timeout { A -> B : Late; }
          timeout 2s at A { B -> A : Pong; A -> B : Ok; } on timeout { A -> B : Late; }
          timeout patience at A { B -> A : Pong; A -> B : Ok; } on timeout { A -> B : Late; }
        }
        """
    )
    rec, par, fast, slow, symbolic = protocol.body
    assert isinstance(rec, Rec) and rec.var == "Loop"
    (choice,) = rec.body
    assert isinstance(choice, Choice)
    assert choice.branches[0].body[1] == Continue("Loop")
    assert isinstance(par, Par) and len(par.branches) == 3
    assert isinstance(fast, Timeout) and (fast.owner, fast.after) == ("A", 250)
    assert isinstance(slow, Timeout) and slow.after == 2000
    assert isinstance(symbolic, Timeout) and symbolic.after == "patience"
    assert [m.label for m in fast.body] == ["Pong", "Ok"]  # type: ignore[union-attr]
    assert [m.label for m in fast.on_timeout] == ["Late"]  # type: ignore[union-attr]


def test_payload_types_and_annotation_values() -> None:
    protocol = parse(
        """protocol P { roles A, B;
          A [leak = ("external", "group"), journal_facts = "say \\"hi\\" \\\\ bye"]
            -> B : M(dict[ str , list[tree.Op] ]);
          A -> B : N(bytes);
          A -> B : O;
        }"""
    )
    first, second, third = protocol.body
    assert isinstance(first, Message) and isinstance(second, Message)
    assert first.payload == "dict[str, list[tree.Op]]"  # canonical spacing
    assert first.annotations == (
        Annotation("leak", ("external", "group")),
        Annotation("journal_facts", 'say "hi" \\ bye'),
    )
    assert second.payload == "bytes"
    assert isinstance(third, Message) and third.payload is None


def test_format_round_trips() -> None:
    protocol = parse(KEY_ROTATION)
    text = format_protocol(protocol)
    assert parse(text) == protocol
    assert format_protocol(parse(text)) == text
    assert 'Initiator [guard_capability = "tree:rotate", flow_cost = 10] -> Witness[*]' in text
    assert "Vote(bool) within 2;" in text


def _error(text: str) -> ChoreographyParseError:
    with pytest.raises(ChoreographyParseError) as caught:
        parse(text)
    return caught.value


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("protocol P {\n  roles A, B;\n  A -> B : X\n}\n", 4, 1, "unexpected '}'"),
        ("protocol P {\n  roles A, B;\n  A -> B : X;\n", 4, 1, "end of text"),
        ("protocol P {\n  roles A, B;\n  A => B : X;\n}", 3, 5, "unexpected '='"),
        ("protocol P {\n  roles A, B;\n  A $ B;\n}", 3, 5, "unexpected character '$'"),
        ("protocol P {\n  roles A, W[2];\n  A -> W[ * ] : X;\n}", 3, 9, "unexpected '['"),
        ("protocol P {\n  roles A, W[2];\n  W[ *] -> A : X;\n}", 3, 6, "character '*'"),
        ("protocol P {\n  roles A, B;\n  choice A {\n    A -> B : X;\n  }\n}", 4, 5, "label"),
        ("protocol P {\n  roles A, B;\n  A -> B : X within 2s;\n}", 3, 22, "unexpected 's'"),
        ("protocol P {\n  roles A, choice;\n}", 2, 12, "reserved word"),
        ("protocol P {\n  roles A, B;\n  A -> B : within;\n}", 3, 12, "reserved word"),
        ("protocol P {\n  roles A, B;\n  A -> B : X;\n  roles C;\n}", 4, 9, "unexpected 'C'"),
        ("protocol P {\n  A -> B : X;\n}", 2, 3, "expected 'roles'"),
        ("protocol P {\n  roles;\n}", 2, 8, "unexpected ';'"),
        ("protocol P {\n  roles A, B;\n  A [x = 1.5] -> B : X;\n}", 3, 11, "unexpected"),
        ("protocol P {\n  roles A, B;\n  A [x = ((1))] -> B : X;\n}", 3, 11, "unexpected '('"),
        ('protocol P {\n  roles A, B;\n  A [x = "a\nb"] -> B : X;\n}', 3, 10, "character '\"'"),
        ("", 1, 1, "end of text"),
    ],
)
def test_syntax_errors_name_their_line_and_column(
    text: str, line: int, column: int, fragment: str
) -> None:
    error = _error(text)
    assert (error.line, error.column) == (line, column), str(error)
    assert fragment in str(error)
    assert str(error).startswith(f"line {line}, column {column}: ")


def test_syntax_errors_list_what_was_expected() -> None:
    error = _error("protocol P {\n  roles A, B;\n  A -> B X;\n}")
    assert str(error).endswith("unexpected 'X'; expected ':', '[*]'")


def test_size_limits() -> None:
    many = "\n".join("  A -> B : X;" for _ in range(MAX_STATEMENTS + 1))
    error = _error(f"protocol P {{\n  roles A, B;\n{many}\n}}")
    assert error.line == MAX_STATEMENTS + 3  # statement 257 of lines 3, 4, ...
    deep = "rec L { " * (MAX_DEPTH + 1) + "A -> B : X;" + " }" * (MAX_DEPTH + 1)
    assert "nest" in str(_error(f"protocol P {{ roles A, B; {deep} }}"))
    nested_type = "list[" * (MAX_DEPTH + 1) + "int" + "]" * (MAX_DEPTH + 1)
    assert "nest" in str(_error(f"protocol P {{ roles A, B; A -> B : X({nested_type}); }}"))
    fine = "\n".join("  A -> B : X;" for _ in range(MAX_STATEMENTS))
    assert len(parse(f"protocol P {{\n  roles A, B;\n{fine}\n}}").body) == MAX_STATEMENTS


def test_non_text_is_rejected() -> None:
    with pytest.raises(ChoreographyError):
        parse(b"protocol P { roles A; }")  # type: ignore[arg-type]
