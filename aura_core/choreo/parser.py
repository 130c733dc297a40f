"""Protocol text to AST: `parse`.

lark does the parsing (LALR(1), positions propagated); this module turns its tree into the typed
nodes of `aura_core.choreo.syntax` and turns every lark error into a `ChoreographyParseError` that
carries the line and column, so a caller never sees a lark exception. Input size is bounded
(statements and nesting depth) because everything downstream recurses over the tree.
"""

from __future__ import annotations

import functools
import re
from typing import Any, NoReturn

import lark
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from aura_core.choreo.grammar import GRAMMAR, KEYWORDS
from aura_core.choreo.syntax import (
    Annotation,
    AnnotationValue,
    Branch,
    Choice,
    Continue,
    Message,
    Par,
    Protocol,
    Rec,
    RoleDecl,
    RoleRef,
    Size,
    Statement,
    Timeout,
)
from aura_core.errors import ChoreographyParseError

__all__ = ["parse", "MAX_STATEMENTS", "MAX_DEPTH", "MAX_TEXT"]

MAX_STATEMENTS = 256
"""Most statements (messages, choices, loops, ...) one protocol may hold. Real protocols hold
tens; the bound keeps every recursive walk over trees and local types far from Python's
recursion limit."""
MAX_DEPTH = 32
"""Deepest nesting of blocks (choice, rec, par, timeout) one protocol may hold."""
MAX_TEXT = 1 << 20
"""Longest protocol text accepted, in characters."""

_ESCAPE = re.compile(r"\\(.)")


@functools.cache
def _lark() -> Lark:
    # Built once per process (tens of milliseconds); the LALR tables are checked for
    # conflicts here, so a grammar edit that breaks LALR(1) fails loudly on first use.
    return Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


@functools.cache
def _terminal_text() -> dict[str, str]:
    """How to show a terminal in an error: the literal for keywords and punctuation."""
    shown: dict[str, str] = {}
    for terminal in _lark().terminals:
        pattern = terminal.pattern
        if pattern.type == "str":
            shown[terminal.name] = repr(pattern.value)
        else:
            shown[terminal.name] = terminal.name.lower()
    shown["$END"] = "end of text"
    return shown


def parse(text: str) -> Protocol:
    """Parse protocol text into its AST.

    Raises `ChoreographyParseError` (with `line` and `column`) for text outside the grammar or
    beyond the size limits, and nothing else. The tree is not checked: call `check` (or
    `project`/`compile`, which check first) before using it.
    """
    if not isinstance(text, str):
        raise ChoreographyParseError("protocol text must be a str")
    if len(text) > MAX_TEXT:
        raise ChoreographyParseError(f"protocol text is longer than {MAX_TEXT} characters", 1, 1)
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as error:
        _raise_syntax_error(error, text)
    except lark.exceptions.LarkError as error:  # pragma: no cover - lark raises UnexpectedInput
        raise ChoreographyParseError(f"cannot parse protocol: {error}") from None
    return _Builder().protocol(tree)


def _end_position(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


def _raise_syntax_error(error: UnexpectedInput, text: str) -> NoReturn:
    shown = _terminal_text()
    if isinstance(error, UnexpectedCharacters):
        message = f"unexpected character {error.char!r}"
        line, column = error.line, error.column
    elif isinstance(error, UnexpectedToken) and error.token.type != "$END":
        message = f"unexpected {error.token.value!r}"
        line, column = error.line, error.column
    else:
        message = "unexpected end of text"
        line, column = -1, -1
    expected = getattr(error, "expected", None)
    if expected:
        names = sorted({shown.get(name, name.lower()) for name in expected})
        message += "; expected " + ", ".join(names)
    if not isinstance(line, int) or not isinstance(column, int) or line < 1 or column < 1:
        line, column = _end_position(text)
    raise ChoreographyParseError(message, line, column) from None


def _pos(item: Tree[Token] | Token) -> dict[str, int]:
    if isinstance(item, Token):
        return {"line": item.line or 0, "column": item.column or 0}
    meta = item.meta
    if meta.empty:  # pragma: no cover - every rule of the grammar holds a token
        return {"line": 0, "column": 0}
    return {"line": meta.line, "column": meta.column}


def _token(item: Any) -> Token:
    assert isinstance(item, Token), item
    return item


def _tree(item: Any) -> Tree[Token]:
    assert isinstance(item, Tree), item
    return item


def _name(item: Any) -> str:
    """A NAME token's text; reserved words are refused even where the lexer let them through
    (its contextual mode accepts `choice` as a role name in some positions)."""
    token = _token(item)
    if token in KEYWORDS:
        raise ChoreographyParseError(f"{str(token)!r} is a reserved word", **_pos(token))
    return str(token)


def _size(token: Token) -> Size:
    return int(token) if token.type == "INT" else _name(token)


class _Builder:
    """Turns one lark tree into AST nodes, counting statements and depth as it goes."""

    def __init__(self) -> None:
        self.statements = 0

    def protocol(self, tree: Tree[Token]) -> Protocol:
        name, roles, *body = tree.children
        return Protocol(
            _name(name),
            tuple(self.role(_tree(decl)) for decl in _tree(roles).children),
            self.block(body, 1),
            **_pos(tree),
        )

    def role(self, tree: Tree[Token]) -> RoleDecl:
        name = _name(tree.children[0])
        if tree.data == "family_role":
            return RoleDecl(name, _size(_token(tree.children[1])), **_pos(tree))
        return RoleDecl(name, None, **_pos(tree))

    def block(self, items: list[Any], depth: int) -> tuple[Statement, ...]:
        return tuple(self.statement(_tree(item), depth) for item in items)

    def statement(self, tree: Tree[Token], depth: int) -> Statement:
        self.statements += 1
        if self.statements > MAX_STATEMENTS:
            raise ChoreographyParseError(
                f"a protocol holds at most {MAX_STATEMENTS} statements", **_pos(tree)
            )
        if depth > MAX_DEPTH:
            raise ChoreographyParseError(f"blocks nest at most {MAX_DEPTH} deep", **_pos(tree))
        match tree.data:
            case "message":
                return self.message(tree)
            case "choice":
                return self.choice(tree, depth)
            case "rec":
                var, *body = tree.children
                return Rec(_name(var), self.block(body, depth + 1), **_pos(tree))
            case "continue_":
                return Continue(_name(tree.children[0]), **_pos(tree))
            case "par":
                branches = tuple(
                    self.block(_tree(block).children, depth + 1) for block in tree.children
                )
                return Par(branches, **_pos(tree))
            case "timeout":
                after, owner, normal, handler = tree.children
                return Timeout(
                    _name(owner),
                    _duration(_token(after)),
                    self.block(_tree(normal).children, depth + 1),
                    self.block(_tree(handler).children, depth + 1),
                    **_pos(tree),
                )
        raise AssertionError(f"unknown statement {tree.data}")  # pragma: no cover

    def message(self, tree: Tree[Token]) -> Message:
        children = list(tree.children)
        sender = self.endpoint(_tree(children.pop(0)))
        annotations: tuple[Annotation, ...] = ()
        if isinstance(children[0], Tree) and children[0].data == "annotations":
            annotations = tuple(self.annotation(_tree(a)) for a in _tree(children.pop(0)).children)
        receiver = self.endpoint(_tree(children.pop(0)))
        label = _name(children.pop(0))
        payload: str | None = None
        within: Size | None = None
        for rest in children:
            part = _tree(rest)
            if part.data == "payload":
                payload = _type_text(_tree(part.children[0]), 1)
            else:
                within = _size(_token(part.children[0]))
        return Message(sender, receiver, label, payload, annotations, within, **_pos(tree))

    def endpoint(self, tree: Tree[Token]) -> RoleRef:
        return RoleRef(_name(tree.children[0]), len(tree.children) == 2, **_pos(tree))

    def annotation(self, tree: Tree[Token]) -> Annotation:
        key, value = tree.children
        return Annotation(_name(key), _value(_tree(value)), **_pos(tree))

    def choice(self, tree: Tree[Token], depth: int) -> Choice:
        decider, *items = tree.children
        branches: list[Branch] = []
        label: Token | None = None
        body: list[Any] = []
        for item in items:
            node = _tree(item)
            if node.data == "branch_label":
                if label is not None:
                    branches.append(self.branch(label, body, depth))
                label, body = _token(node.children[0]), []
                _name(label)
            elif label is None:
                raise ChoreographyParseError(
                    "a statement inside a choice must follow a branch label (`label:`)",
                    **_pos(node),
                )
            else:
                body.append(node)
        if label is not None:
            branches.append(self.branch(label, body, depth))
        return Choice(_name(decider), tuple(branches), **_pos(tree))

    def branch(self, label: Token, body: list[Any], depth: int) -> Branch:
        return Branch(str(label), self.block(body, depth + 1), **_pos(label))


def _duration(token: Token) -> Size:
    if token.type == "DURATION":
        text = str(token)
        if text.endswith("ms"):
            return int(text[:-2])
        return int(text[:-1]) * 1000
    return _name(token)


def _value(tree: Tree[Token]) -> AnnotationValue:
    if tree.data == "tuple":
        items: list[str | int] = []
        for child in tree.children:
            item = _value(_tree(child))
            assert not isinstance(item, tuple)
            items.append(item)
        return tuple(items)
    token = _token(tree.children[0])
    if tree.data == "integer":
        return int(token)
    return _ESCAPE.sub(r"\1", str(token)[1:-1])


def _type_text(tree: Tree[Token], depth: int) -> str:
    """Canonical text of a payload type: dotted name, then `[arg, arg]` if generic."""
    if depth > MAX_DEPTH:
        raise ChoreographyParseError(f"payload types nest at most {MAX_DEPTH} deep", **_pos(tree))
    names: list[str] = []
    args = ""
    for child in tree.children:
        if isinstance(child, Token):
            names.append(_name(child))
        else:
            inner = (_type_text(_tree(arg), depth + 1) for arg in child.children)
            args = "[" + ", ".join(inner) + "]"
    return ".".join(names) + args
