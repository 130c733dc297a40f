"""The static well-formedness rules, checked on the AST before anything is projected or run.

Each violation raises `WellFormednessError` with the `rule` it breaks and the line and column of
the offending node (the second of two duplicates, the statement that breaks a rule, the
annotation with a bad value). The rules and their names are listed in `docs/choreography.md`.
Knowledge of choice is checked in two halves: here, that every branch starts with a send by the
decider; in `aura_core.choreo.project`, that every other role can be projected (the merge rules).

`check_static` returns a `Scope`: the roles and the symbols resolved against the bindings, which
projection needs and which is only meaningful once the rules hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

import attrs

from aura_core.choreo.local import DEFAULT_FLOW_COST, OBSERVER_CLASSES, Annotations
from aura_core.choreo.syntax import (
    Annotation,
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
from aura_core.errors import WellFormednessError

__all__ = [
    "ANNOTATION_KEYS",
    "MAX_FAMILY_SIZE",
    "MAX_FLOW_COST",
    "MAX_DURATION_MS",
    "Scope",
    "check_static",
    "annotations_of",
    "waiting_prefix",
    "messages",
    "exits",
]

ANNOTATION_KEYS = ("guard_capability", "public", "flow_cost", "journal_facts", "leak")
"""The annotation keys a message may carry; any other key is an error."""
MAX_FAMILY_SIZE = 0xFFFF
"""Largest family (a threshold is a u16 in a `CommitFact`)."""
MAX_FLOW_COST = 0xFFFF_FFFF
"""Largest `flow_cost` (receipts carry the cost as a u32)."""
MAX_DURATION_MS = 0xFFFF_FFFF
"""Longest timeout, in milliseconds (about 49 days)."""

_CAPABILITY = re.compile(r"[a-z0-9_:-]+")


def _fail(rule: str, message: str, node: object) -> WellFormednessError:
    line = getattr(node, "line", 0)
    column = getattr(node, "column", 0)
    return WellFormednessError(message, line, column, rule=rule)


@attrs.frozen
class Scope:
    """Declared roles and the protocol's symbols resolved against the caller's bindings.

    `families` maps each family to its size: an int when written as a literal or bound, the
    symbol otherwise. `resolve` does the same for any size, threshold or duration.
    """

    singles: frozenset[str]
    families: Mapping[str, Size]
    bindings: Mapping[str, int] | None

    def resolve(self, value: Size) -> Size:
        if isinstance(value, int) or self.bindings is None:
            return value
        return self.bindings[value]  # check_static made sure it is bound

    def family_size(self, family: str) -> Size:
        return self.families[family]


def messages(body: tuple[Statement, ...]) -> Iterator[Message]:
    """Every message statement of a block, nested ones included, in source order."""
    for statement in body:
        match statement:
            case Message():
                yield statement
            case Choice(branches=branches):
                for branch in branches:
                    yield from messages(branch.body)
            case Rec(body=inner):
                yield from messages(inner)
            case Par(branches=branches):
                for inner in branches:
                    yield from messages(inner)
            case Timeout(body=inner, on_timeout=handler):
                yield from messages(inner)
                yield from messages(handler)
            case Continue():
                pass


def waiting_prefix(timeout: Timeout) -> int:
    """How many leading statements of a timeout's body form its wait: the messages before the
    owner's first send (the owner only receives in them)."""
    count = 0
    for statement in timeout.body:
        if not isinstance(statement, Message) or statement.sender.name == timeout.owner:
            break
        count += 1
    return count


def annotations_of(message: Message) -> Annotations:
    """The message's annotations with defaults filled in (call after `check_static`)."""
    values = {a.key: a.value for a in message.annotations}
    leak = values.get("leak", ())
    leak_set = set(leak) if isinstance(leak, tuple) else {leak}
    capability = values.get("guard_capability")
    public = values.get("public")
    journal = values.get("journal_facts")
    cost = values.get("flow_cost", DEFAULT_FLOW_COST)
    assert capability is None or isinstance(capability, str)
    assert public is None or isinstance(public, str)
    assert journal is None or isinstance(journal, str)
    assert isinstance(cost, int)
    return Annotations(
        guard_capability=capability,
        flow_cost=cost,
        journal_facts=journal,
        leak=tuple(c for c in OBSERVER_CLASSES if c in leak_set),
        public=public,
    )


def check_static(protocol: Protocol, bindings: Mapping[str, int] | None = None) -> Scope:
    """Check every static rule; return the resolved `Scope`. Raises `WellFormednessError`."""
    return _Checker(protocol, bindings).run()


def _channels(body: tuple[Statement, ...]) -> dict[tuple[str, str, str], Message]:
    """(role, "send" | "receive", peer) for every message of a block, with its first message."""
    seen: dict[tuple[str, str, str], Message] = {}
    for message in messages(body):
        sender, receiver = message.sender.name, message.receiver.name
        seen.setdefault((sender, "send", receiver), message)
        seen.setdefault((receiver, "receive", sender), message)
    return seen


def _ends(statement: Statement) -> bool:
    """Whether no path through `statement` reaches the statement after it (every path ends in a
    `continue`), so anything written after it is unreachable."""
    match statement:
        case Continue():
            return True
        case Choice(branches=branches):
            return all(_block_ends(branch.body) for branch in branches)
        case Rec(body=body):
            return _block_ends(body)
        case Timeout(body=body, on_timeout=handler):
            return _block_ends(body) and _block_ends(handler)
        case Par(branches=branches):
            return any(_block_ends(branch) for branch in branches)
        case Message():
            return False


def _block_ends(body: tuple[Statement, ...]) -> bool:
    return any(_ends(statement) for statement in body)


def _communicates(statement: Statement) -> bool:
    """Whether every path through `statement` sends at least one message."""
    match statement:
        case Message():
            return True
        case Choice(branches=branches):
            return all(_block_communicates(branch.body) for branch in branches)
        case Rec(body=body):
            return _block_communicates(body)
        case Timeout(body=body, on_timeout=handler):
            return _block_communicates(body) and _block_communicates(handler)
        case Par(branches=branches):
            return any(_block_communicates(branch) for branch in branches)
        case Continue():
            return False


def _block_communicates(body: tuple[Statement, ...]) -> bool:
    for statement in body:
        if _communicates(statement):
            return True
        if _ends(statement):
            return False
    return False


@attrs.frozen
class _Loops:
    """The recursion variables in scope at a point of the protocol."""

    bound: frozenset[str] = frozenset()
    guarded: frozenset[str] = frozenset()
    """Bound variables with a communication on every path since their `rec`."""
    outside_par: frozenset[str] = frozenset()
    """Bound variables whose `rec` encloses the innermost `par` (continuing them would leave
    the par branch)."""


class _Checker:
    def __init__(self, protocol: Protocol, bindings: Mapping[str, int] | None) -> None:
        self.protocol = protocol
        self.bindings = bindings
        self.singles: set[str] = set()
        self.families: dict[str, RoleDecl] = {}

    def run(self) -> Scope:
        self.check_bindings()
        for decl in self.protocol.roles:
            self.declare(decl)
        self.block(self.protocol.body, _Loops())
        families = {name: self.family_size(decl) for name, decl in self.families.items()}
        for name, size in families.items():
            if isinstance(size, int) and not 1 <= size <= MAX_FAMILY_SIZE:
                raise _fail(
                    "family-size",
                    f"family {name} has {size} members; a family has 1 to {MAX_FAMILY_SIZE}",
                    self.families[name],
                )
        return Scope(frozenset(self.singles), families, self.bindings)

    # -- roles and symbols ---------------------------------------------------------------------

    def check_bindings(self) -> None:
        if self.bindings is None:
            return
        for key, value in self.bindings.items():
            if not isinstance(key, str) or type(value) is not int or value < 1:
                raise WellFormednessError(
                    f"binding {key!r} = {value!r}: bindings map symbols to positive ints",
                    rule="binding",
                )

    def size(self, value: Size, node: object) -> Size:
        """A size, threshold or duration resolved against the bindings."""
        if isinstance(value, int) or self.bindings is None:
            return value
        if value not in self.bindings:
            raise _fail("unbound-symbol", f"symbol {value!r} has no binding", node)
        return self.bindings[value]

    def family_size(self, decl: RoleDecl) -> Size:
        assert decl.size is not None
        return self.size(decl.size, decl)

    def declare(self, decl: RoleDecl) -> None:
        if decl.name in self.singles or decl.name in self.families:
            raise _fail("duplicate-role", f"role {decl.name} is declared twice", decl)
        if decl.size is None:
            self.singles.add(decl.name)
        else:
            self.families[decl.name] = decl
            if isinstance(decl.size, int) and not 1 <= decl.size <= MAX_FAMILY_SIZE:
                raise _fail(
                    "family-size",
                    f"family {decl.name} has {decl.size} members; "
                    f"a family has 1 to {MAX_FAMILY_SIZE}",
                    decl,
                )

    def endpoint(self, ref: RoleRef) -> None:
        if ref.name in self.singles:
            if ref.every:
                raise _fail(
                    "family-wildcard", f"{ref.name} is a single role, not a family: drop [*]", ref
                )
        elif ref.name in self.families:
            if not ref.every:
                raise _fail(
                    "family-wildcard",
                    f"{ref.name} is a family: write {ref.name}[*] for its members",
                    ref,
                )
        else:
            raise _fail("undeclared-role", f"role {ref.name} is not declared", ref)

    def single_role(self, name: str, what: str, node: object) -> None:
        if name in self.families:
            raise _fail(
                "single-role-expected", f"the {what} must be a single role, not family {name}", node
            )
        if name not in self.singles:
            raise _fail("undeclared-role", f"role {name} is not declared", node)

    # -- statements ----------------------------------------------------------------------------

    def block(self, body: tuple[Statement, ...], loops: _Loops) -> None:
        for index, statement in enumerate(body):
            self.statement(statement, loops)
            if index + 1 < len(body) and _ends(statement):
                raise _fail(
                    "unreachable",
                    "unreachable statement: every path before it ends in `continue`",
                    body[index + 1],
                )
            if _communicates(statement):
                loops = attrs.evolve(loops, guarded=loops.bound)

    def statement(self, statement: Statement, loops: _Loops) -> None:
        match statement:
            case Message():
                self.message(statement)
            case Choice():
                self.choice(statement, loops)
            case Rec(var=var, body=body):
                if var in loops.bound:
                    raise _fail(
                        "duplicate-variable",
                        f"recursion variable {var} is already bound by an enclosing rec",
                        statement,
                    )
                if not body:
                    raise _fail("empty-block", f"rec {var} has an empty body", statement)
                self.block(body, attrs.evolve(loops, bound=loops.bound | {var}))
            case Continue(var=var):
                if var not in loops.bound:
                    raise _fail(
                        "unbound-variable", f"continue {var}: no enclosing rec {var}", statement
                    )
                if var in loops.outside_par:
                    raise _fail(
                        "continue-in-par",
                        f"continue {var} would leave a par branch; loops inside par stay inside",
                        statement,
                    )
                if var not in loops.guarded:
                    raise _fail(
                        "unguarded-recursion",
                        f"continue {var} is reached without any message since rec {var}",
                        statement,
                    )
            case Par():
                self.par(statement, loops)
            case Timeout():
                self.timeout(statement, loops)

    def message(self, message: Message) -> None:
        sender, receiver = message.sender, message.receiver
        self.endpoint(sender)
        self.endpoint(receiver)
        if sender.name == receiver.name:
            rule = "family-to-family" if sender.every else "self-send"
            raise _fail(rule, f"{sender} sends to itself", message)
        if sender.every and receiver.every:
            raise _fail(
                "family-to-family",
                f"{sender} -> {receiver}: one side of a message must be a single role",
                message,
            )
        if message.within is not None:
            self.threshold(message)
        self.annotations(message.annotations)

    def threshold(self, message: Message) -> None:
        assert message.within is not None
        if not message.sender.every:
            raise _fail(
                "threshold",
                "`within` applies to a fan-in (Family[*] -> Role) only",
                message,
            )
        k = self.size(message.within, message)
        if isinstance(k, int) and k < 1:
            raise _fail("threshold", f"within {k}: a threshold is at least 1", message)
        decl = self.families[message.sender.name]
        n = self.family_size(decl)
        if isinstance(k, int) and isinstance(n, int) and k > n:
            raise _fail(
                "threshold",
                f"within {k}: family {decl.name} has only {n} members",
                message,
            )

    def annotations(self, annotations: tuple[Annotation, ...]) -> None:
        seen: set[str] = set()
        for annotation in annotations:
            key, value = annotation.key, annotation.value
            if key not in ANNOTATION_KEYS:
                raise _fail(
                    "unknown-annotation",
                    f"unknown annotation {key!r} (known: {', '.join(ANNOTATION_KEYS)})",
                    annotation,
                )
            if key in seen:
                raise _fail(
                    "duplicate-annotation", f"{key} is given twice for one message", annotation
                )
            seen.add(key)
            if key == "guard_capability":
                self.capability(annotation)
            elif key == "public":
                if not isinstance(value, str) or not value.strip():
                    raise _fail(
                        "annotation-value",
                        f"public gives the reason the message needs no capability, not {value!r}",
                        annotation,
                    )
            elif key == "flow_cost":
                if type(value) is not int or not 0 <= value <= MAX_FLOW_COST:
                    raise _fail(
                        "annotation-value",
                        f"flow_cost is an integer from 0 to {MAX_FLOW_COST}, not {value!r}",
                        annotation,
                    )
            elif key == "journal_facts":
                if not isinstance(value, str) or not value:
                    raise _fail(
                        "annotation-value",
                        f"journal_facts is a non-empty string, not {value!r}",
                        annotation,
                    )
            else:
                self.leak(annotation)
        if {"guard_capability", "public"} <= seen:
            second = [a for a in annotations if a.key in ("guard_capability", "public")][1]
            raise _fail(
                "capability-or-public",
                "a message names a capability or is declared public, not both",
                second,
            )

    def capability(self, annotation: Annotation) -> None:
        value = annotation.value
        if not isinstance(value, str):
            raise _fail(
                "annotation-value", f"guard_capability is a string, not {value!r}", annotation
            )
        if not _CAPABILITY.fullmatch(value):
            problem = "only a-z, 0-9, '_', ':' and '-' are allowed"
        elif ":" not in value:
            problem = "it needs a namespace (`ns:name`)"
        elif value.startswith("cap:"):
            problem = "the legacy `cap:` prefix is not allowed"
        else:
            return
        raise _fail("bad-capability", f"capability {value!r}: {problem}", annotation)

    def leak(self, annotation: Annotation) -> None:
        value = annotation.value
        classes = (value,) if isinstance(value, str | int) else value
        known = ", ".join(OBSERVER_CLASSES)
        for item in classes:
            if item not in OBSERVER_CLASSES:
                raise _fail(
                    "annotation-value",
                    f"leak names observer classes ({known}), not {item!r}",
                    annotation,
                )
        if len(set(classes)) != len(classes):
            raise _fail("annotation-value", "leak names an observer class twice", annotation)

    def choice(self, choice: Choice, loops: _Loops) -> None:
        self.single_role(choice.decider, "decider of a choice", choice)
        if not choice.branches:
            raise _fail("empty-choice", "a choice needs at least one branch", choice)
        labels: set[str] = set()
        for branch in choice.branches:
            if branch.label in labels:
                raise _fail(
                    "duplicate-label", f"choice label {branch.label!r} is used twice", branch
                )
            labels.add(branch.label)
            if not branch.body:
                raise _fail("empty-branch", f"branch {branch.label!r} is empty", branch)
            self.block(branch.body, loops)
            first = branch.body[0]
            if not (isinstance(first, Message) and first.sender.name == choice.decider):
                raise _fail(
                    "choice-start",
                    f"branch {branch.label!r} must start with a message sent by "
                    f"{choice.decider}, so the others can learn the choice",
                    first,
                )

    def par(self, par: Par, loops: _Loops) -> None:
        inner = attrs.evolve(loops, outside_par=loops.bound)
        owners: dict[tuple[str, str, str], int] = {}
        for index, branch in enumerate(par.branches):
            if not branch:
                raise _fail("empty-block", "a par branch is empty", par)
            self.block(branch, inner)
            if _block_ends(branch):
                raise _fail("par-never-joins", "a par branch never finishes", par)
            for channel, message in _channels(branch).items():
                if channel in owners:
                    role, direction, peer = channel
                    raise _fail(
                        "inconsistent-parallel",
                        f"{role} would {direction} {'to' if direction == 'send' else 'from'} "
                        f"{peer} in two parallel branches (branches {owners[channel] + 1} and "
                        f"{index + 1}); their messages could not be told apart",
                        message,
                    )
                owners[channel] = index

    def timeout(self, timeout: Timeout, loops: _Loops) -> None:
        owner = timeout.owner
        self.single_role(owner, "owner of a timeout", timeout)
        after = self.size(timeout.after, timeout)
        if isinstance(after, int) and not 1 <= after <= MAX_DURATION_MS:
            raise _fail(
                "duration", f"a timeout lasts 1 to {MAX_DURATION_MS} ms, not {after}", timeout
            )
        self.block(timeout.body, loops)
        self.block(timeout.on_timeout, loops)
        wait = waiting_prefix(timeout)
        prefix = timeout.body[:wait]
        if not any(m.receiver.name == owner for m in prefix if isinstance(m, Message)):
            raise _fail(
                "timeout-wait",
                f"the timeout body must start with messages to {owner} (what the timer waits "
                f"for) before {owner}'s first send",
                timeout,
            )
        for part, what in ((timeout.body[wait:], "after the wait"), (timeout.on_timeout, "")):
            where = f"the timeout body {what}" if what else "the on-timeout branch"
            if not part:
                raise _fail(
                    "timeout-start",
                    f"{where} is empty; it must start with a message sent by {owner}",
                    timeout,
                )
            first = part[0]
            starts = (isinstance(first, Message) and first.sender.name == owner) or (
                isinstance(first, Choice) and first.decider == owner
            )
            if not starts:
                raise _fail(
                    "timeout-start",
                    f"{where} must start with a message sent (or a choice made) by {owner}, "
                    "so the others can learn whether the timer fired",
                    first,
                )


def exits(body: tuple[Statement, ...]) -> frozenset[str | None]:
    """How paths leave a block: None for falling off its end, a name for `continue name`."""
    found: set[str | None] = set()
    for statement in body:
        match statement:
            case Continue(var=var):
                found.add(var)
                return frozenset(found)
            case Choice(branches=branches):
                inner = set().union(*(exits(branch.body) for branch in branches))
            case Rec(var=var, body=loop):
                inner = set(exits(loop) - {var})
            case Timeout(body=normal, on_timeout=handler):
                inner = set(exits(normal) | exits(handler))
            case Message() | Par():
                continue
        found |= inner - {None}
        if None not in inner:
            return frozenset(found)
    found.add(None)
    return frozenset(found)
