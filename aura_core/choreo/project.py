"""Projection of a checked protocol onto each role, with the merge rules; `check`, `project`,
`compile` and `message_table`.

Projection folds each block from its end, so every statement is projected with the local type of
what follows it (its continuation). For a role `r`:

- a message is `Send` if `r` sends it, `Receive` if `r` receives it, nothing otherwise;
- a choice is `Select` for its decider and, for everyone else, the *merge* of the branches;
- `rec X { G }` is `Rec(X, π(G))`, dropped to `π(G)` when `r` never loops, and replaced by how the
  loop exits (continuation, `Var` of an outer loop, or `End`) when `r` takes no part in `G`;
- `par` is `Par` over the branches `r` takes part in (or just that branch if only one);
- a timeout is `Timeout` for its owner; for everyone else it is their part of the wait followed
  by the merge of the normal continuation and the on-timeout branch.

Merge (telltale's rules): identical sends merge (same peer, label, payload, annotations; their
continuations merge); receives from the same peer merge by taking the union of labels into a
`Branch` (same label: same payload and annotations, continuations merge); `End`, `Var`,
`Select`, `Rec`, `Timeout` and `Par` merge only with the same construct of the same shape.
Anything else means `r` would have to act differently without being able to tell which branch
was taken: a `ProjectionError` naming the choice (or timeout) and what differs.
"""

from __future__ import annotations

from collections.abc import Mapping

from aura_core.choreo import syntax
from aura_core.choreo.local import (
    Branch,
    Case,
    End,
    LocalType,
    MessageType,
    Par,
    Peer,
    Rec,
    Receive,
    Select,
    Send,
    Timeout,
    Var,
)
from aura_core.choreo.parser import parse
from aura_core.choreo.wellformed import (
    Scope,
    annotations_of,
    check_static,
    exits,
    messages,
    waiting_prefix,
)
from aura_core.errors import InvalidArgument, ProjectionError

__all__ = ["check", "project", "compile", "message_table", "merge"]


def message_table(protocol: syntax.Protocol) -> tuple[MessageType, ...]:
    """Every message of the protocol as the runtime sees it, indexed by `msg_id` (source order).

    Checks the static rules first (so annotations are valid and defaults filled in).
    """
    check_static(protocol)
    return _message_types(protocol)


def _message_types(protocol: syntax.Protocol) -> tuple[MessageType, ...]:
    return tuple(
        MessageType(
            m.label,
            m.payload,
            annotations_of(m),
            msg_id=index,
            line=m.line,
            column=m.column,
        )
        for index, m in enumerate(messages(protocol.body))
    )


def check(protocol: syntax.Protocol, bindings: Mapping[str, int] | None = None) -> None:
    """Check every well-formedness rule, including that every role can be projected.

    Without `bindings`, symbols (`n`, `t`, durations) stay symbolic and only literal sizes are
    range-checked; with them, every symbol must be bound and thresholds must fit their family.
    Raises `WellFormednessError` (or its subclass `ProjectionError`) naming line and column.
    """
    _project_all(protocol, bindings)


def project(
    protocol: syntax.Protocol, role: str, *, bindings: Mapping[str, int] | None = None
) -> LocalType:
    """The local type of `role` (for a family: of any one member).

    The whole protocol is checked first, as by `check`, so a local type is only ever handed out
    for a protocol every role of which can run. Raises `InvalidArgument` for an undeclared role.
    """
    if not any(decl.name == role for decl in protocol.roles):
        raise InvalidArgument(f"protocol {protocol.name} declares no role {role!r}")
    return _project_all(protocol, bindings)[role]


def compile(text: str, bindings: Mapping[str, int] | None = None) -> dict[str, LocalType]:
    """Parse, check and project: the local type of every declared role, in declaration order."""
    return _project_all(parse(text), bindings)


def _project_all(
    protocol: syntax.Protocol, bindings: Mapping[str, int] | None
) -> dict[str, LocalType]:
    scope = check_static(protocol, bindings)
    tables = _Tables(protocol)
    return {
        decl.name: _Projector(decl.name, scope, tables).block(protocol.body, End())
        for decl in protocol.roles
    }


class _Tables:
    """Per-protocol facts shared by the projections of every role."""

    def __init__(self, protocol: syntax.Protocol) -> None:
        body = protocol.body
        self.types = {
            id(m): t for m, t in zip(messages(body), _message_types(protocol), strict=True)
        }
        self._roles: dict[int, frozenset[str]] = {}

    def roles(self, body: tuple[syntax.Statement, ...]) -> frozenset[str]:
        """Roles that send or receive anything in `body`."""
        key = id(body)
        found = self._roles.get(key)
        if found is None:
            found = frozenset(
                name for m in messages(body) for name in (m.sender.name, m.receiver.name)
            )
            self._roles[key] = found
        return found


class _Projector:
    def __init__(self, role: str, scope: Scope, tables: _Tables) -> None:
        self.role = role
        self.scope = scope
        self.tables = tables

    def block(self, body: tuple[syntax.Statement, ...], then: LocalType) -> LocalType:
        result = then
        for statement in reversed(body):
            result = self.statement(statement, result)
        return result

    def statement(self, statement: syntax.Statement, then: LocalType) -> LocalType:
        match statement:
            case syntax.Message():
                return self.message(statement, then)
            case syntax.Choice():
                return self.choice(statement, then)
            case syntax.Rec():
                return self.rec(statement, then)
            case syntax.Continue(var=var):
                return Var(var)
            case syntax.Par(branches=branches):
                active = [b for b in branches if self.role in self.tables.roles(b)]
                if not active:
                    return then
                if len(active) == 1:
                    return self.block(active[0], then)
                return Par(tuple(self.block(b, End()) for b in active), then)
            case syntax.Timeout():
                return self.timeout(statement, then)

    def message(self, message: syntax.Message, then: LocalType) -> LocalType:
        sender, receiver = message.sender, message.receiver
        kind = self.tables.types[id(message)]
        if sender.name == self.role:
            return Send(Peer(receiver.name, receiver.every), kind, then)
        if receiver.name != self.role:
            return then
        count: syntax.Size = 1
        if sender.every:
            if message.within is not None:
                count = self.scope.resolve(message.within)
            else:
                count = self.scope.family_size(sender.name)
        return Receive(Peer(sender.name, sender.every), kind, then, count)

    def choice(self, choice: syntax.Choice, then: LocalType) -> LocalType:
        branches = [(b.label, self.block(b.body, then)) for b in choice.branches]
        if choice.decider == self.role:
            cases = tuple(Case(label, body) for label, body in branches)
            return Select(cases, line=choice.line, column=choice.column)
        first_label, merged = branches[0]
        merger = _Merger()
        for label, body in branches[1:]:
            try:
                merged = merger.merge(merged, body)
            except _Conflict as conflict:
                raise ProjectionError(
                    f"role {self.role} cannot tell which branch of the choice by "
                    f"{choice.decider} was taken: {conflict.describe(first_label, label)}",
                    choice.line,
                    choice.column,
                    rule="unmergeable-choice",
                ) from None
        return merged

    def rec(self, rec: syntax.Rec, then: LocalType) -> LocalType:
        if self.role not in self.tables.roles(rec.body):
            # The role waits out the loop: it only needs to know how the loop is left.
            ways = exits(rec.body) - {rec.var}
            if not ways:
                return End()
            if ways == {None}:
                return then
            if len(ways) == 1:
                (outer,) = ways
                assert outer is not None
                return Var(outer)
            raise ProjectionError(
                f"role {self.role} takes no part in loop {rec.var} but cannot tell how it is "
                "left (it falls through on some paths and continues an outer loop on others)",
                rec.line,
                rec.column,
                rule="unmergeable-loop-exit",
            )
        body = self.block(rec.body, then)
        if not _mentions(body, rec.var):
            return body
        return Rec(rec.var, body)

    def timeout(self, timeout: syntax.Timeout, then: LocalType) -> LocalType:
        if timeout.owner == self.role:
            return Timeout(
                self.scope.resolve(timeout.after),
                self.block(timeout.body, then),
                self.block(timeout.on_timeout, then),
                line=timeout.line,
                column=timeout.column,
            )
        wait = waiting_prefix(timeout)
        normal = self.block(timeout.body[wait:], then)
        fired = self.block(timeout.on_timeout, then)
        try:
            after_wait = _Merger().merge(normal, fired)
        except _Conflict as conflict:
            raise ProjectionError(
                f"role {self.role} cannot tell whether {timeout.owner}'s timer fired: "
                f"{conflict.describe('normal', 'on timeout')}",
                timeout.line,
                timeout.column,
                rule="unmergeable-timeout",
            ) from None
        return self.block(timeout.body[:wait], after_wait)


def _mentions(local_type: LocalType, var: str) -> bool:
    """Whether `Var(var)` occurs in `local_type` (shared subtrees are visited once)."""
    seen: set[int] = set()
    stack: list[LocalType] = [local_type]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        match node:
            case Var(name=name):
                if name == var:
                    return True
            case Send(then=then) | Receive(then=then):
                stack.append(then)
            case Select(branches=branches):
                stack.extend(case.then for case in branches)
            case Branch(cases=cases):
                stack.extend(cases)
            case Rec(var=inner, body=body):
                if inner != var:
                    stack.append(body)
            case Timeout(body=body, on_timeout=handler):
                stack.extend((body, handler))
            case Par(branches=branches, then=then):
                stack.extend(branches)
                stack.append(then)
            case End():
                pass
    return False


# ---------------------------------------------------------------------------------------------
# Merge


class _Conflict(Exception):
    """Two local types that cannot be merged; `left`/`right` are the first nodes that differ."""

    def __init__(self, left: LocalType, right: LocalType) -> None:
        super().__init__()
        self.left = left
        self.right = right

    def describe(self, left_name: str, right_name: str) -> str:
        return (
            f"in {left_name!r} it must {_first_action(self.left)}, "
            f"in {right_name!r} it must {_first_action(self.right)}"
        )


def _at(message: MessageType) -> str:
    return f" (line {message.line})" if message.line else ""


def _first_action(node: LocalType) -> str:
    match node:
        case End():
            return "do nothing more"
        case Send(peer=peer, message=message):
            return f"send {message} {message.annotations} to {peer}{_at(message)}"
        case Receive(peer=peer, message=message):
            return f"receive {message} {message.annotations} from {peer}{_at(message)}"
        case Branch(peer=peer):
            return f"receive one of {', '.join(node.labels)} from {peer}"
        case Select():
            return f"choose one of {', '.join(node.labels)}"
        case Var(name=name):
            return f"continue {name}"
        case Rec(var=var):
            return f"enter loop {var}"
        case Timeout(after=after):
            return f"start a {syntax.format_duration(after)} timer"
        case Par():
            return f"run {len(node.branches)} parallel branches"


def merge(left: LocalType, right: LocalType) -> LocalType:
    """The merge of two local types of a role that cannot tell them apart (see the module doc).

    Raises `ProjectionError` (rule `unmergeable`) if they cannot be merged.
    """
    try:
        return _Merger().merge(left, right)
    except _Conflict as conflict:
        raise ProjectionError(
            f"cannot merge: {conflict.describe('left', 'right')}", rule="unmergeable"
        ) from None


def _earliest(a: MessageType, b: MessageType) -> MessageType:
    return a if a.msg_id <= b.msg_id else b


class _Merger:
    """Merges with a memo, so shared continuations are merged once."""

    def __init__(self) -> None:
        self.memo: dict[tuple[int, int], tuple[LocalType, LocalType, LocalType]] = {}

    def merge(self, left: LocalType, right: LocalType) -> LocalType:
        if left is right:
            return left
        key = (id(left), id(right))
        hit = self.memo.get(key)
        if hit is not None:
            return hit[2]
        result = self._merge(left, right)
        self.memo[key] = (left, right, result)  # keeps left/right alive, so ids stay unique
        return result

    def _merge(self, left: LocalType, right: LocalType) -> LocalType:
        if isinstance(left, Receive | Branch) and isinstance(right, Receive | Branch):
            return self.receives(left, right)
        match left, right:
            case End(), End():
                return left
            case Var(name=a), Var(name=b) if a == b:
                return left
            case Send(), Send() if left.peer == right.peer and left.message == right.message:
                then = self.merge(left.then, right.then)
                return Send(left.peer, _earliest(left.message, right.message), then)
            case Select(), Select() if left.labels == right.labels:
                cases = tuple(
                    Case(a.label, self.merge(a.then, b.then))
                    for a, b in zip(left.branches, right.branches, strict=True)
                )
                return Select(cases, line=left.line, column=left.column)
            case Rec(), Rec() if left.var == right.var:
                return Rec(left.var, self.merge(left.body, right.body))
            case Timeout(), Timeout() if left.after == right.after:
                return Timeout(
                    left.after,
                    self.merge(left.body, right.body),
                    self.merge(left.on_timeout, right.on_timeout),
                    line=left.line,
                    column=left.column,
                )
            case Par(), Par() if len(left.branches) == len(right.branches):
                branches = tuple(
                    self.merge(a, b) for a, b in zip(left.branches, right.branches, strict=True)
                )
                return Par(branches, self.merge(left.then, right.then))
        raise _Conflict(left, right)

    def receives(self, left: Receive | Branch, right: Receive | Branch) -> LocalType:
        if left.peer != right.peer:
            raise _Conflict(left, right)
        peer = left.peer
        cases: dict[str, Receive] = {}
        for case in _cases(left) + _cases(right):
            label = case.message.label
            previous = cases.get(label)
            if previous is None:
                cases[label] = case
                continue
            if previous.message != case.message or previous.count != case.count:
                raise _Conflict(previous, case)
            cases[label] = Receive(
                peer,
                _earliest(previous.message, case.message),
                self.merge(previous.then, case.then),
                previous.count,
            )
        if len(cases) == 1:
            (only,) = cases.values()
            return only
        if peer.every:
            # A fan-in collects `count` messages from different members; letting the first
            # label pick the branch would leave the others' messages unaccounted for.
            raise _Conflict(left, right)
        return Branch(peer, tuple(cases[label] for label in sorted(cases)))


def _cases(node: Receive | Branch) -> tuple[Receive, ...]:
    return node.cases if isinstance(node, Branch) else (node,)
