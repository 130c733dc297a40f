"""A catalogue of ill-formed protocols, each rejected with the right error, rule and line.

The offending line of each protocol is marked with `// <-` (a comment in the language); the
test asserts that the error points at exactly that line.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from aura_core.choreo import check, compile, parse, project
from aura_core.errors import (
    ChoreographyError,
    ChoreographyParseError,
    ProjectionError,
    WellFormednessError,
)

W = WellFormednessError
P = ProjectionError

# (name, error type, rule, protocol text, bindings)
BAD: list[tuple[str, type[ChoreographyError], str, str, Mapping[str, int] | None]] = [
    (
        "undeclared role",
        W,
        "undeclared-role",
        """
        A -> B : X;
        B -> D : Y;  // <-
        """,
        None,
    ),
    ("undeclared decider", W, "undeclared-role", "choice Z { a: A -> B : X; }  // <-", None),
    ("self-send", W, "self-send", "A -> B : X;\nB -> B : Y;  // <-", None),
    (
        "unguarded recursion",
        W,
        "unguarded-recursion",
        """
        rec X {
          continue X;  // <-
        }
        """,
        None,
    ),
    (
        "unguarded through an inner loop",
        W,
        "unguarded-recursion",
        """
        rec X {
          A -> B : M;
          rec Y {
            continue Y;  // <-
          }
        }
        """,
        None,
    ),
    (
        "unguarded outer variable",
        W,
        "unguarded-recursion",
        "rec X {\n  rec Y {\n    continue X;  // <-\n  }\n}",
        None,
    ),
    (
        "unbound recursion variable",
        W,
        "unbound-variable",
        """
        rec X {
          A -> B : M;
          continue Y;  // <-
        }
        """,
        None,
    ),
    (
        "unbound after its loop",
        W,
        "unbound-variable",
        "rec X { A -> B : M; }\nA -> B : N;\ncontinue X;  // <-",
        None,
    ),
    (
        "third party cannot tell: different sends",
        P,
        "unmergeable-choice",
        """
        choice A {  // <-
          l1: A -> B : X; C -> B : P;
          l2: A -> B : Y; C -> B : Q;
        }
        """,
        None,
    ),
    (
        "third party cannot tell: receive or nothing",
        P,
        "unmergeable-choice",
        """
        A -> C : Hello;
        choice A {  // <-
          l1: A -> B : X; B -> C : P;
          l2: A -> B : Y;
        }
        """,
        None,
    ),
    (
        "third party cannot tell: receives from different peers",
        P,
        "unmergeable-choice",
        """
        choice A {  // <-
          l1: A -> B : X; A -> C : P;
          l2: A -> B : Y; B -> C : Q;
        }
        """,
        None,
    ),
    (
        "third party cannot tell: fan-in with different labels",
        P,
        "unmergeable-choice",
        """
        choice A {  // <-
          l1: A -> W[*] : X; W[*] -> B : P;
          l2: A -> W[*] : Y; W[*] -> B : Q;
        }
        """,
        None,
    ),
    (
        "third party cannot tell: same label, different annotations",
        P,
        "unmergeable-choice",
        """
        choice A {  // <-
          l1: A -> B : X; C [flow_cost = 1] -> B : P;
          l2: A -> B : Y; C [flow_cost = 2] -> B : P;
        }
        """,
        None,
    ),
    (
        "loop member told only when the loop ends",
        P,
        "unmergeable-choice",
        """
        rec L {
          choice A {  // <-
            again: A -> B : More; continue L;
            stop: A -> B : Stop; A -> C : Result;
          }
        }
        """,
        None,
    ),
    (
        "outsider of a loop that exits two ways",
        P,
        "unmergeable-loop-exit",
        """
        rec Outer {
          A -> C : Tick;
          rec Inner {  // <-
            choice A {
              again: A -> B : More; continue Inner;
              next: A -> B : Next; continue Outer;
              stop: A -> B : Stop;
            }
          }
        }
        """,
        None,
    ),
    (
        "third party told only on timeout",
        P,
        "unmergeable-timeout",
        """
        timeout 1s at A {  // <-
          B -> A : Pong;
          A -> B : Ok;
        } on timeout {
          A -> B : Late;
          A -> C : Alarm;
        }
        """,
        None,
    ),
    (
        "conflicting parallel sends",
        W,
        "inconsistent-parallel",
        """
        par {
          A -> B : X;
        } and {
          A -> C : Y;
          A -> B : Z;  // <-
        }
        """,
        None,
    ),
    (
        "conflicting parallel fan-outs",
        W,
        "inconsistent-parallel",
        """
        par { A -> W[*] : X; } and { C -> A : Y; }
        and { A -> W[*] : Z; }  // <-
        """,
        None,
    ),
    (
        "conflicting parallel sends, one inside a choice",
        W,
        "inconsistent-parallel",
        """
        par {
          choice B { a: B -> A : X; b: B -> A : Y; }
        } and {
          C -> B : Go;
          B -> A : Z;  // <-
        }
        """,
        None,
    ),
    (
        "duplicate flow_cost",
        W,
        "duplicate-annotation",
        """
        A [flow_cost = 1,
           flow_cost = 2]  // <-
          -> B : X;
        """,
        None,
    ),
    (
        "duplicate capability",
        W,
        "duplicate-annotation",
        'A [guard_capability = "a:b", guard_capability = "a:c"] -> B : X;  // <-',
        None,
    ),
    (
        "capability with uppercase",
        W,
        "bad-capability",
        'A -> B : X;\nA [guard_capability = "Tree:rotate"] -> B : Y;  // <-',
        None,
    ),
    (
        "capability without a namespace",
        W,
        "bad-capability",
        'A [guard_capability = "rotate"] -> B : Y;  // <-',
        None,
    ),
    (
        "capability with the legacy prefix",
        W,
        "bad-capability",
        'A [guard_capability = "cap:rotate"] -> B : Y;  // <-',
        None,
    ),
    (
        "capability with a space",
        W,
        "bad-capability",
        'A [guard_capability = "tree: rotate"] -> B : Y;  // <-',
        None,
    ),
    (
        "capability that is not a string",
        W,
        "annotation-value",
        "A [guard_capability = 7] -> B : Y;  // <-",
        None,
    ),
    (
        "unknown annotation key",
        W,
        "unknown-annotation",
        "A [flow_cost = 1,\n   priority = 3] -> B : Y;  // <-",
        None,
    ),
    ("flow_cost not an int", W, "annotation-value", 'A [flow_cost = "1"] -> B : Y;  // <-', None),
    (
        "flow_cost beyond u32",
        W,
        "annotation-value",
        "A [flow_cost = 4294967296] -> B : Y;  // <-",
        None,
    ),
    ("unknown leak class", W, "annotation-value", 'A [leak = "public"] -> B : Y;  // <-', None),
    (
        "leak class twice",
        W,
        "annotation-value",
        'A [leak = ("group", "group")] -> B : Y;  // <-',
        None,
    ),
    ("empty journal_facts", W, "annotation-value", 'A [journal_facts = ""] -> B : Y;  // <-', None),
    (
        "capability and public on one message",
        W,
        "capability-or-public",
        """
        A [guard_capability = "a:b",
           public = "beacon"]  // <-
          -> B : X;
        """,
        None,
    ),
    (
        "public before the capability",
        W,
        "capability-or-public",
        'A [public = "beacon", guard_capability = "a:b"] -> B : X;  // <-',
        None,
    ),
    ("empty public reason", W, "annotation-value", 'A [public = ""] -> B : Y;  // <-', None),
    ("blank public reason", W, "annotation-value", 'A [public = "  "] -> B : Y;  // <-', None),
    ("public reason not a string", W, "annotation-value", "A [public = 1] -> B : Y;  // <-", None),
    (
        "public twice",
        W,
        "duplicate-annotation",
        'A [public = "a", public = "b"] -> B : Y;  // <-',
        None,
    ),
    (
        "duplicate choice labels",
        W,
        "duplicate-label",
        """
        choice A {
          go: A -> B : X;
          go: A -> B : Y;  // <-
        }
        """,
        None,
    ),
    (
        "empty branch",
        W,
        "empty-branch",
        """
        choice A {
          quiet:  // <-
          loud: A -> B : Y;
        }
        """,
        None,
    ),
    ("empty choice", W, "empty-choice", "choice A { }  // <-", None),
    (
        "branch not started by the decider",
        W,
        "choice-start",
        """
        choice A {
          a: A -> B : X;
          b: B -> A : Y;  // <-
        }
        """,
        None,
    ),
    (
        "threshold on a plain message",
        W,
        "threshold",
        "A -> B : X within 1;  // <-",
        None,
    ),
    ("threshold of zero", W, "threshold", "W[*] -> A : X within 0;  // <-", None),
    ("threshold above the family", W, "threshold", "W[*] -> A : X within 4;  // <-", None),
    (
        "bound threshold above the bound family",
        W,
        "threshold",
        "V[*] -> A : X within t;  // <-",
        {"n": 2, "t": 3},
    ),
    ("family without [*]", W, "family-wildcard", "A -> W : X;  // <-", None),
    ("single role with [*]", W, "family-wildcard", "A[*] -> B : X;  // <-", None),
    ("family to family", W, "family-to-family", "W[*] -> V[*] : X;  // <-", None),
    ("family to itself", W, "family-to-family", "W[*] -> W[*] : X;  // <-", None),
    ("family decides", W, "single-role-expected", "choice W { a: A -> B : X; }  // <-", None),
    (
        "family owns a timer",
        W,
        "single-role-expected",
        "timeout 1s at W { A -> B : X; } on timeout { A -> B : Y; }  // <-",
        None,
    ),
    (
        "unreachable after continue",
        W,
        "unreachable",
        """
        rec L {
          A -> B : X;
          continue L;
          A -> B : Y;  // <-
        }
        """,
        None,
    ),
    (
        "unreachable after a loop that never exits",
        W,
        "unreachable",
        """
        rec L { A -> B : X; continue L; }
        A -> B : Y;  // <-
        """,
        None,
    ),
    (
        "continue leaving a par branch",
        W,
        "continue-in-par",
        """
        rec L {
          par {
            A -> B : X;
            continue L;  // <-
          } and { C -> A : Y; }
        }
        """,
        None,
    ),
    (
        "shadowed recursion variable",
        W,
        "duplicate-variable",
        "rec L {\n  A -> B : X;\n  rec L { A -> B : Y; }  // <-\n}",
        None,
    ),
    ("empty loop", W, "empty-block", "rec L { }  // <-", None),
    ("empty par branch", W, "empty-block", "par { } and { A -> B : X; }  // <-", None),
    (
        "par branch that never ends",
        W,
        "par-never-joins",
        "par { rec L { A -> B : X; continue L; } } and { C -> A : Y; }  // <-",
        None,
    ),
    (
        "timeout that waits for nothing",
        W,
        "timeout-wait",
        """
        timeout 1s at A {  // <-
          A -> B : X;
        } on timeout {
          A -> B : Y;
        }
        """,
        None,
    ),
    (
        "timeout body that ends after the wait",
        W,
        "timeout-start",
        """
        timeout 1s at A {  // <-
          B -> A : X;
        } on timeout {
          A -> B : Y;
        }
        """,
        None,
    ),
    (
        "timeout body that goes on without the owner",
        W,
        "timeout-start",
        """
        timeout 1s at A {
          B -> A : X;
          rec L { A -> B : Y; }  // <-
        } on timeout {
          A -> B : Z;
        }
        """,
        None,
    ),
    (
        "empty on-timeout branch",
        W,
        "timeout-start",
        "timeout 1s at A { B -> A : X; A -> B : Y; } on timeout { }  // <-",
        None,
    ),
    (
        "on-timeout branch not started by the owner",
        W,
        "timeout-start",
        """
        timeout 1s at A {
          B -> A : X; A -> B : Y;
        } on timeout {
          B -> C : Z;  // <-
        }
        """,
        None,
    ),
    (
        "zero timeout",
        W,
        "duration",
        "timeout 0ms at A { B -> A : X; A -> B : Y; } on timeout { A -> B : Z; }  // <-",
        None,
    ),
    (
        "unbound threshold symbol",
        W,
        "unbound-symbol",
        "A -> V[*] : X;\nV[*] -> A : X within k;  // <-",
        {"n": 2},
    ),
    (
        "unbound family size",
        W,
        "unbound-symbol",
        "A -> B : X;",
        {"t": 1},
    ),
]

HEADER = "protocol Bad {\n  roles A, B, C, W[3], V[n];\n"


def _text(body: str) -> str:
    lines = [line.strip() for line in body.strip("\n").splitlines()]
    return HEADER + "\n".join("  " + line for line in lines) + "\n}\n"


def _marked_line(text: str) -> int:
    marked = [n for n, line in enumerate(text.splitlines(), 1) if "// <-" in line]
    return marked[0] if marked else 2  # unmarked: the roles line


@pytest.mark.parametrize(
    ("name", "error", "rule", "body", "bindings"), BAD, ids=[case[0] for case in BAD]
)
def test_bad_protocols_are_rejected_at_their_line(
    name: str,
    error: type[ChoreographyError],
    rule: str,
    body: str,
    bindings: Mapping[str, int] | None,
) -> None:
    text = _text(body)
    protocol = parse(text)
    with pytest.raises(ChoreographyError) as caught:
        check(protocol, bindings)
    raised = caught.value
    assert type(raised) is error, f"{name}: {raised!r}"
    assert isinstance(raised, WellFormednessError)
    assert raised.rule == rule, f"{name}: {raised!r}"
    assert raised.line == _marked_line(text), f"{name}: {raised!r}"
    assert raised.column >= 1
    # project and compile check first, so they refuse the same protocol the same way.
    with pytest.raises(error) as again:
        project(protocol, "A", bindings=bindings)
    assert str(again.value) == str(raised)
    with pytest.raises(error):
        compile(text, bindings)


def test_errors_point_at_the_column_too() -> None:
    text = _text("A -> B : X;\nB -> Nobody : Y;")
    with pytest.raises(WellFormednessError) as caught:
        check(parse(text))
    assert (caught.value.line, caught.value.column) == (4, 8)
    assert str(caught.value) == "line 4, column 8: role Nobody is not declared"


def test_third_party_error_says_what_differs() -> None:
    text = _text(
        """
        choice A {
          l1: A -> B : X; C -> B : P;
          l2: A -> B : Y; C -> B : Q;
        }
        """
    )
    with pytest.raises(ProjectionError) as caught:
        check(parse(text))
    assert str(caught.value) == (
        "line 3, column 3: role C cannot tell which branch of the choice by A was taken: "
        "in 'l1' it must send P [flow_cost = 100] to B (line 4), "
        "in 'l2' it must send Q [flow_cost = 100] to B (line 5)"
    )


def test_role_declarations() -> None:
    with pytest.raises(WellFormednessError) as caught:
        check(parse("protocol P {\n  roles A, B,\n    A;\n}"))
    assert (caught.value.rule, caught.value.line, caught.value.column) == ("duplicate-role", 3, 5)
    with pytest.raises(WellFormednessError) as caught:
        check(parse("protocol P {\n  roles A, W[0];\n}"))
    assert (caught.value.rule, caught.value.line) == ("family-size", 2)
    with pytest.raises(WellFormednessError) as caught:
        check(parse("protocol P {\n  roles A, W[70000];\n}"))
    assert caught.value.rule == "family-size"
    with pytest.raises(WellFormednessError) as caught:
        check(parse("protocol P {\n  roles A, W[n];\n}"), {"n": 70000})
    assert (caught.value.rule, caught.value.line) == ("family-size", 2)


@pytest.mark.parametrize("bindings", [{"n": 0}, {"n": -1}, {"n": True}, {"n": "3"}])
def test_bindings_must_be_positive_ints(bindings: Mapping[str, int]) -> None:
    with pytest.raises(WellFormednessError) as caught:
        check(parse("protocol P { roles A, W[n]; A -> W[*] : X; }"), bindings)
    assert caught.value.rule == "binding"


def test_good_protocols_pass_with_and_without_bindings() -> None:
    protocol = parse(_text("A -> V[*] : X;\nV[*] -> A : Y within t;\nW[*] -> A : Z within 3;"))
    check(protocol)
    check(protocol, {"n": 3, "t": 3, "unused": 9})


def test_parse_errors_are_choreography_errors_but_not_well_formedness_errors() -> None:
    with pytest.raises(ChoreographyParseError) as caught:
        compile("protocol P { roles A, B; A -> B : X }")
    assert not isinstance(caught.value, WellFormednessError)
    assert isinstance(caught.value, ChoreographyError)
