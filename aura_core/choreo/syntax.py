"""The choreography AST: what `parse` returns and what `check` and `project` consume.

Every node is a frozen attrs class carrying the 1-based `line` and `column` where it starts in the
protocol text, so every later error can point at the source. Positions are excluded from
equality: two trees are equal when they say the same thing, wherever it was written, which is
what lets `parse(format_protocol(p)) == p` hold.

The tree is exactly what was written. Nothing is validated or resolved here (role names may be
undeclared, annotation keys unknown); that is `aura_core.choreo.wellformed`'s job, so that parse
errors and rule violations stay separate.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import attrs

__all__ = [
    "Size",
    "RoleDecl",
    "RoleRef",
    "AnnotationValue",
    "Annotation",
    "Message",
    "Branch",
    "Choice",
    "Rec",
    "Continue",
    "Par",
    "Timeout",
    "Statement",
    "Protocol",
    "format_protocol",
    "format_message",
    "format_duration",
]

Size: TypeAlias = int | str
"""A count written as an integer literal or as a symbol (`n`, `t`) bound at projection or by the
runtime. Also used for timeout durations (milliseconds, or a symbol)."""


def _position() -> Any:
    return attrs.field(default=0, eq=False, kw_only=True)


@attrs.frozen
class RoleDecl:
    """`A` (a single role, `size is None`) or `Witness[n]` (a family of `size` members)."""

    name: str
    size: Size | None = None
    line: int = _position()
    column: int = _position()

    @property
    def is_family(self) -> bool:
        return self.size is not None


@attrs.frozen
class RoleRef:
    """A message endpoint: `A`, or `Witness[*]` (every member of a family, `every=True`)."""

    name: str
    every: bool = False
    line: int = _position()
    column: int = _position()

    def __str__(self) -> str:
        return f"{self.name}[*]" if self.every else self.name


AnnotationValue: TypeAlias = str | int | tuple[str | int, ...]
"""A string, an integer, or a parenthesised tuple of them, as written."""


@attrs.frozen
class Annotation:
    """One `key = value` inside a message's `[...]`."""

    key: str
    value: AnnotationValue
    line: int = _position()
    column: int = _position()


@attrs.frozen
class Message:
    """`Sender [annotations] -> Receiver : Label(Payload) within k;`.

    `payload` is the payload type expression in canonical text (`list[bytes]`, `tree.Op`), or
    None for a bare label. `within` is the threshold of a fan-in, or None.
    """

    sender: RoleRef
    receiver: RoleRef
    label: str
    payload: str | None = None
    annotations: tuple[Annotation, ...] = ()
    within: Size | None = None
    line: int = _position()
    column: int = _position()


@attrs.frozen
class Branch:
    """`label: statements` inside a choice."""

    label: str
    body: tuple[Statement, ...]
    line: int = _position()
    column: int = _position()


@attrs.frozen
class Choice:
    """`choice Decider { label: ...; label: ... }`."""

    decider: str
    branches: tuple[Branch, ...]
    line: int = _position()
    column: int = _position()


@attrs.frozen
class Rec:
    """`rec X { ... }`: a loop that `continue X;` re-enters and that falls through when a path
    ends without `continue`."""

    var: str
    body: tuple[Statement, ...]
    line: int = _position()
    column: int = _position()


@attrs.frozen
class Continue:
    """`continue X;`: jump back to the start of the enclosing `rec X`."""

    var: str
    line: int = _position()
    column: int = _position()


@attrs.frozen
class Par:
    """`par { ... } and { ... }`: blocks that run concurrently, joined before what follows."""

    branches: tuple[tuple[Statement, ...], ...]
    line: int = _position()
    column: int = _position()


@attrs.frozen
class Timeout:
    """`timeout 30s at Owner { body } on timeout { on_timeout }`.

    `after` is milliseconds (an int) or a symbol bound later. The semantics (the owner's timer,
    the waiting prefix of `body`, how other roles learn of it) are in `docs/choreography.md`.
    """

    owner: str
    after: Size
    body: tuple[Statement, ...]
    on_timeout: tuple[Statement, ...]
    line: int = _position()
    column: int = _position()


Statement: TypeAlias = Message | Choice | Rec | Continue | Par | Timeout


@attrs.frozen
class Protocol:
    """A whole choreography: its name, declared roles and top-level statements."""

    name: str
    roles: tuple[RoleDecl, ...]
    body: tuple[Statement, ...]
    line: int = _position()
    column: int = _position()


# ---------------------------------------------------------------------------------------------
# Printing


def format_protocol(protocol: Protocol) -> str:
    """The protocol as canonical text; `parse(format_protocol(p)) == p` for every parsed `p`."""
    roles = ", ".join(
        decl.name if decl.size is None else f"{decl.name}[{decl.size}]" for decl in protocol.roles
    )
    lines = [f"protocol {protocol.name} {{", f"  roles {roles};"]
    _format_block(protocol.body, 1, lines)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _format_value(value: AnnotationValue) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_format_value(item) for item in value) + ")"
    if isinstance(value, str):
        return _quote(value)
    return str(value)


def format_message(message: Message) -> str:
    """One message statement on one line, ending in `;`."""
    annotations = ""
    if message.annotations:
        inner = ", ".join(f"{a.key} = {_format_value(a.value)}" for a in message.annotations)
        annotations = f" [{inner}]"
    payload = f"({message.payload})" if message.payload is not None else ""
    within = f" within {message.within}" if message.within is not None else ""
    return (
        f"{message.sender}{annotations} -> {message.receiver} : {message.label}{payload}{within};"
    )


def format_duration(after: Size) -> str:
    """`30s` for whole seconds, `250ms` otherwise; a symbol as itself."""
    if isinstance(after, str):
        return after
    return f"{after // 1000}s" if after and after % 1000 == 0 else f"{after}ms"


def _format_block(body: tuple[Statement, ...], depth: int, lines: list[str]) -> None:
    pad = "  " * depth
    for statement in body:
        match statement:
            case Message():
                lines.append(pad + format_message(statement))
            case Choice(decider=decider, branches=branches):
                lines.append(f"{pad}choice {decider} {{")
                for branch in branches:
                    lines.append(f"{pad}  {branch.label}:")
                    _format_block(branch.body, depth + 2, lines)
                lines.append(pad + "}")
            case Rec(var=var, body=inner):
                lines.append(f"{pad}rec {var} {{")
                _format_block(inner, depth + 1, lines)
                lines.append(pad + "}")
            case Continue(var=var):
                lines.append(f"{pad}continue {var};")
            case Par(branches=branches):
                lines.append(f"{pad}par {{")
                for index, inner in enumerate(branches):
                    if index:
                        lines.append(f"{pad}}} and {{")
                    _format_block(inner, depth + 1, lines)
                lines.append(pad + "}")
            case Timeout(owner=owner, after=after, body=inner, on_timeout=handler):
                lines.append(f"{pad}timeout {format_duration(after)} at {owner} {{")
                _format_block(inner, depth + 1, lines)
                lines.append(f"{pad}}} on timeout {{")
                _format_block(handler, depth + 1, lines)
                lines.append(pad + "}")
