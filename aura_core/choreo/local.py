"""Local types: what one role of a choreography may do next. The runtime executes these.

A local type is a tree of frozen attrs nodes in continuation style: `Send` and `Receive` hold
the node that follows them in `then`, choices hold one continuation per branch. The runtime keeps
one pointer per endpoint into this tree and moves it one node per action; anything the node does
not allow is a `ProtocolViolation`. Subtrees are shared (the code after a choice appears once in
memory under every branch), so walk them, don't copy them.

- `Send(peer, message, then)`: send `message` to `peer` (one copy per member if `peer.every`).
- `Receive(peer, message, then, count)`: receive `message` from `peer`; with `peer.every`, from
  `count` distinct members of the family.
- `Select(branches)`: decide: pick one `Case`; its type starts with a `Send` telling the others.
- `Branch(peer, cases)`: receive one message from `peer`; its label picks the `Receive` case.
- `Rec(var, body)` / `Var(name)`: a loop head / jump back to the `Rec` of that name.
- `Timeout(after, body, on_timeout)`: run `body` with a timer over its leading receives; if the
  timer fires first, switch to `on_timeout`.
- `Par(branches, then)`: run every branch concurrently; when all reach `End`, go on with `then`.
- `End()`: nothing more.

Every `Send` and `Receive` carries the full `MessageType`: label, payload type and the guard
annotations (`guard_capability` or `public`, `flow_cost` defaulting to 100, `journal_facts`,
`leak`), so the
runtime can run the guard chain without looking anything up. The semantics the runtime must
enforce (fan-out costs, threshold collection, late arrivals, timers) are specified in
`docs/choreography.md`.

Equality ignores positions (`msg_id`, `line`, `column` of a `MessageType` and of `Select` and
`Timeout`): two local types are equal when they allow the same behaviour. Hashes are cached per
node, so hashing is linear in the number of distinct nodes; comparing two separately built types
walks every path, which is fine for tests but not for hot code (compare identities there).
`str()` of any node is a readable multi-line rendering (`pretty`) that prints shared subtrees once.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import attrs

from aura_core.choreo.syntax import Size, format_duration

__all__ = [
    "DEFAULT_FLOW_COST",
    "OBSERVER_CLASSES",
    "Peer",
    "Annotations",
    "MessageType",
    "End",
    "Send",
    "Receive",
    "Case",
    "Select",
    "Branch",
    "Rec",
    "Var",
    "Timeout",
    "Par",
    "LocalType",
    "pretty",
]

DEFAULT_FLOW_COST = 100
"""The flow budget a message charges when its `flow_cost` annotation is omitted."""

OBSERVER_CLASSES = ("external", "neighbor", "group")
"""The leakage observer classes a `leak` annotation may name, in canonical order."""


def _position() -> Any:
    return attrs.field(default=0, eq=False, kw_only=True)


@attrs.frozen
class Peer:
    """Who is on the other side: one role, or (`every=True`) every member of a family."""

    role: str
    every: bool = False

    def __str__(self) -> str:
        return f"{self.role}[*]" if self.every else self.role


@attrs.frozen
class Annotations:
    """The guard annotations of one message, defaults filled in.

    At most one of `guard_capability` and `public` (the reason a message needs no capability)
    is set; with neither, the message is unguarded and the guard chain denies every send of it
    (closed by default). `leak` lists the observer classes charged, in `OBSERVER_CLASSES`
    order, empty when the message reveals no metadata.
    """

    guard_capability: str | None = None
    flow_cost: int = DEFAULT_FLOW_COST
    journal_facts: str | None = None
    leak: tuple[str, ...] = ()
    public: str | None = attrs.field(default=None, kw_only=True)

    def __str__(self) -> str:
        parts = []
        if self.guard_capability is not None:
            parts.append(f"guard_capability = {_quote(self.guard_capability)}")
        if self.public is not None:
            parts.append(f"public = {_quote(self.public)}")
        parts.append(f"flow_cost = {self.flow_cost}")
        if self.journal_facts is not None:
            parts.append(f"journal_facts = {_quote(self.journal_facts)}")
        if len(self.leak) == 1:
            parts.append(f"leak = {_quote(self.leak[0])}")
        elif self.leak:
            parts.append("leak = (" + ", ".join(_quote(c) for c in self.leak) + ")")
        return "[" + ", ".join(parts) + "]"


@attrs.frozen
class MessageType:
    """A message as one endpoint sees it: label, payload type and guard annotations.

    `msg_id` is the message statement's index in the protocol text (0-based, source order; see
    `message_table`), `line`/`column` its position. Where projection merged identical messages
    from several branches into one node, these name the earliest of them. They identify, they do
    not distinguish: equality ignores them.
    """

    label: str
    payload: str | None = None
    annotations: Annotations = Annotations()
    msg_id: int = attrs.field(default=-1, eq=False, kw_only=True)
    line: int = _position()
    column: int = _position()

    def __str__(self) -> str:
        payload = f"({self.payload})" if self.payload is not None else ""
        return f"{self.label}{payload}"


@attrs.frozen
class End:
    """The endpoint has nothing more to do."""

    def __str__(self) -> str:
        return pretty(self)


@attrs.frozen(cache_hash=True)
class Send:
    """Send `message` to `peer`, then continue with `then`.

    With `peer.every` the endpoint sends one copy to each member of the family (each copy is its
    own guarded send, charged `flow_cost`).
    """

    peer: Peer
    message: MessageType
    then: LocalType = End()

    def __str__(self) -> str:
        return pretty(self)


@attrs.frozen(cache_hash=True)
class Receive:
    """Receive `message` from `peer`, then continue with `then`.

    With `peer.every` (a fan-in) the endpoint waits for `count` messages, each from a different
    member of the family, then continues; `count` is the family size for a plain fan-in and k for
    `within k`. Messages of this step from the remaining members arrive late and are discarded.
    `count` is an int once bound, or the symbol the protocol used (`n`, `t`) when projected
    without bindings. A receive from a single role has `count == 1`.
    """

    peer: Peer
    message: MessageType
    then: LocalType = End()
    count: Size = 1

    def __str__(self) -> str:
        return pretty(self)


@attrs.frozen(cache_hash=True)
class Case:
    """One branch of a `Select`: the choice label and the type that follows picking it."""

    label: str
    then: LocalType


@attrs.frozen(cache_hash=True)
class Select:
    """This endpoint decides a choice: it picks one case by its label and continues with it.

    Each case's type begins with a `Send` (that message tells the others what was chosen).
    `line`/`column` point at the `choice` in the protocol text.
    """

    branches: tuple[Case, ...]
    line: int = _position()
    column: int = _position()

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(case.label for case in self.branches)

    def case(self, label: str) -> LocalType:
        """The continuation for `label`; KeyError if the choice has no such branch."""
        for case in self.branches:
            if case.label == label:
                return case.then
        raise KeyError(label)

    def __str__(self) -> str:
        return pretty(self)


@attrs.frozen(cache_hash=True)
class Branch:
    """Another endpoint decided: receive one message from `peer` and continue with the case whose
    message label matches. `cases` are `Receive` nodes from `peer` with distinct labels, sorted
    by label; there are at least two (one case is just a `Receive`)."""

    peer: Peer
    cases: tuple[Receive, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(case.message.label for case in self.cases)

    def case(self, label: str) -> Receive:
        """The case for a received message label; KeyError if none matches."""
        for case in self.cases:
            if case.message.label == label:
                return case
        raise KeyError(label)

    def __str__(self) -> str:
        return pretty(self)


@attrs.frozen(cache_hash=True)
class Rec:
    """A loop head: behave as `body`, where `Var(var)` inside jumps back here."""

    var: str
    body: LocalType

    def __str__(self) -> str:
        return pretty(self)


@attrs.frozen
class Var:
    """Jump back to the enclosing `Rec` named `name`."""

    name: str

    def __str__(self) -> str:
        return pretty(self)


@attrs.frozen(cache_hash=True)
class Timeout:
    """This endpoint owns a timer of `after` milliseconds (an int once bound, else a symbol).

    `body` begins with one or more `Receive` nodes (the wait); the timer starts when the endpoint
    enters this node and stops when it has completed all of those leading receives (its next node
    is not a `Receive`). If the timer fires first, the endpoint abandons `body` and continues with
    `on_timeout`; messages the abandoned receives still expected are discarded when they arrive.
    Both `body` after the wait and `on_timeout` begin with a send (or a `Select`) from this
    endpoint, which is how every other role learns which way it went.
    """

    after: Size
    body: LocalType
    on_timeout: LocalType
    line: int = _position()
    column: int = _position()

    def __str__(self) -> str:
        return pretty(self)


@attrs.frozen(cache_hash=True)
class Par:
    """Run each of `branches` concurrently (each to its `End`), then continue with `then`.

    Branches never talk to the same peer in the same direction, so an incoming message belongs
    to exactly one branch: the one whose next receive names its sender.
    """

    branches: tuple[LocalType, ...]
    then: LocalType = End()

    def __str__(self) -> str:
        return pretty(self)


LocalType: TypeAlias = End | Send | Receive | Select | Branch | Rec | Var | Timeout | Par
"""Any local type node."""


# ---------------------------------------------------------------------------------------------
# Printing


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _receive_text(node: Receive, *, with_peer: bool = True) -> str:
    count = f" count {node.count}" if node.peer.every else ""
    head = f"{node.peer} ? " if with_peer else ""
    return f"{head}{node.message}{count} {node.message.annotations}"


def pretty(local: LocalType) -> str:
    """A multi-line rendering of a local type, one action per line, blocks indented by two.

    ```
    Witness[*] ! Proposal(RotationData) [guard_capability = "tree:rotate", flow_cost = 10];
    Witness[*] ? Vote(bool) count 2 [flow_cost = 5];
    select {
      commit:
        Witness[*] ! Commit [flow_cost = 100];
        => @1
      abort:
        Witness[*] ! Abort [flow_cost = 100];
        => @1
    }
    @1:
    Witness[*] ? Ack count 3 [flow_cost = 100];
    end
    ```

    `!` is a send, `?` a receive; `count k` is a fan-in's threshold. A subtree reached from
    several places (the code after a choice, shared by its branches) is printed once, after the
    main text, under a label `@k:`, and `=> @k` marks each place that continues there; so the
    text grows with the protocol, not with the number of paths through it.
    """
    return _Printer(local).render()


def _children(node: LocalType) -> tuple[LocalType, ...]:
    match node:
        case Send(then=then) | Receive(then=then):
            return (then,)
        case Select(branches=branches):
            return tuple(case.then for case in branches)
        case Branch(cases=cases):
            return tuple(case.then for case in cases)
        case Rec(body=body):
            return (body,)
        case Timeout(body=body, on_timeout=handler):
            return (body, handler)
        case Par(branches=branches, then=then):
            return (*branches, then)
        case End() | Var():
            return ()


class _Printer:
    def __init__(self, root: LocalType) -> None:
        self.root = root
        references: dict[int, int] = {}
        seen: set[int] = set()
        stack = [root]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            for child in _children(node):
                references[id(child)] = references.get(id(child), 0) + 1
                stack.append(child)
        self.shared = {
            key for key, count in references.items() if count > 1
        }  # End and Var are never labelled: they print as one short line anyway
        self.labels: dict[int, int] = {}
        self.pending: list[LocalType] = []

    def render(self) -> str:
        lines: list[str] = []
        self.chain(self.root, 0, lines, head=True)
        done = 0
        while done < len(self.pending):  # labelled subtrees, in order of first reference
            node = self.pending[done]
            done += 1
            lines.append(f"@{self.labels[id(node)]}:")
            self.chain(node, 0, lines, head=True)
        return "\n".join(lines)

    def reference(self, node: LocalType) -> str | None:
        if id(node) not in self.shared or isinstance(node, End | Var):
            return None
        label = self.labels.get(id(node))
        if label is None:
            label = self.labels[id(node)] = len(self.labels) + 1
            self.pending.append(node)
        return f"=> @{label}"

    def chain(self, node: LocalType, depth: int, lines: list[str], *, head: bool = False) -> None:
        pad = "  " * depth
        while True:  # walk `then` chains iteratively; recurse only into blocks
            reference = None if head else self.reference(node)
            head = False
            if reference is not None:
                lines.append(pad + reference)
                return
            match node:
                case End():
                    lines.append(pad + "end")
                    return
                case Send(peer=peer, message=message, then=then):
                    lines.append(f"{pad}{peer} ! {message} {message.annotations};")
                    node = then
                case Receive(then=then):
                    lines.append(f"{pad}{_receive_text(node)};")
                    node = then
                case Select(branches=branches):
                    lines.append(pad + "select {")
                    for case in branches:
                        lines.append(f"{pad}  {case.label}:")
                        self.chain(case.then, depth + 2, lines)
                    lines.append(pad + "}")
                    return
                case Branch(peer=peer, cases=cases):
                    lines.append(f"{pad}branch {peer} {{")
                    for receive in cases:
                        lines.append(f"{pad}  {_receive_text(receive, with_peer=False)}:")
                        self.chain(receive.then, depth + 2, lines)
                    lines.append(pad + "}")
                    return
                case Rec(var=var, body=body):
                    lines.append(f"{pad}rec {var} {{")
                    self.chain(body, depth + 1, lines)
                    lines.append(pad + "}")
                    return
                case Var(name=name):
                    lines.append(f"{pad}continue {name}")
                    return
                case Timeout(after=after, body=body, on_timeout=handler):
                    lines.append(f"{pad}timeout {format_duration(after)} {{")
                    self.chain(body, depth + 1, lines)
                    lines.append(pad + "} on timeout {")
                    self.chain(handler, depth + 1, lines)
                    lines.append(pad + "}")
                    return
                case Par(branches=branches, then=then):
                    lines.append(pad + "par {")
                    for index, branch in enumerate(branches):
                        if index:
                            lines.append(pad + "} and {")
                        self.chain(branch, depth + 1, lines)
                    lines.append(pad + "}")
                    node = then
