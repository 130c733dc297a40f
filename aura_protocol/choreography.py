"""A protocol ready to run (`Choreography`) and one run of it (`Session`).

`Choreography.compile(text, bindings)` does the per-protocol work once: parse, check, project
every role with the bindings, and derive the tables the runtime consults on every message (who
sends each `msg_id` to whom, which labels a role may ever receive from which peer role, the
guard annotations of each message). A `Session` adds what changes per run: the session id, the
relational context the messages travel in and the roster (which authority plays each role; a
family maps to one authority per member, in member order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from aura_core.choreo import (
    Branch,
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
    parse,
)
from aura_core.choreo.project import compile as project_all
from aura_core.choreo.wellformed import check_static, messages
from aura_core.errors import InvalidArgument
from aura_core.ids import AuthorityId, ContextId, SessionId
from aura_guards.chain import GuardAnnotations
from aura_journal.leakage import ObserverClass

__all__ = ["Member", "Route", "Choreography", "Session", "guard_annotations"]


@attrs.frozen(order=True)
class Member:
    """One participant of a session: a role, and the member index for a family (0 otherwise)."""

    role: str
    index: int = 0

    def __str__(self) -> str:
        return f"{self.role}[{self.index}]"


@attrs.frozen
class Route:
    """A message statement as the global protocol writes it (by `msg_id`): who sends it to
    whom, its label, and its payload type (None for a bare label)."""

    sender: str
    receiver: str
    label: str
    payload: str | None = None


def guard_annotations(message: MessageType) -> GuardAnnotations | None:
    """The guard chain's view of a message's annotations.

    None when the message neither names a capability nor is declared public: the guard chain
    denies a send without annotations (`unguarded`), which is how the design's rule "a message
    type without guard annotations is denied, not waved through" is enforced.
    """
    annotations = message.annotations
    if annotations.guard_capability is None and annotations.public is None:
        return None
    return GuardAnnotations(
        capability=annotations.guard_capability,
        flow_cost=annotations.flow_cost,
        journal_label=annotations.journal_facts,
        leak=tuple(ObserverClass(name) for name in annotations.leak),
        public=annotations.public,
    )


def _nodes(root: LocalType) -> list[LocalType]:
    """Every distinct node of a local type (shared subtrees visited once)."""
    seen: set[int] = set()
    found: list[LocalType] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        found.append(node)
        match node:
            case Send(then=then) | Receive(then=then):
                stack.append(then)
            case Select(branches=branches):
                stack.extend(case.then for case in branches)
            case Branch(cases=cases):
                stack.extend(cases)
            case Rec(body=body):
                stack.append(body)
            case Timeout(body=body, on_timeout=handler):
                stack += [body, handler]
            case Par(branches=branches, then=then):
                stack += [*branches, then]
            case End() | Var():
                pass
    return found


@attrs.frozen(eq=False)
class Choreography:
    """A checked protocol, projected for every role with its bindings, and its lookup tables.

    `families` maps each family to its bound size; `singles` lists the single roles.
    `routes[msg_id]` is the global protocol's sender, receiver, label and payload type of that
    message statement. `receivable[role]` holds (peer role, label) for every message the role's
    local type can ever receive: anything else arriving is a violation by its sender.
    """

    name: str
    singles: tuple[str, ...]
    families: Mapping[str, int]
    local_types: Mapping[str, LocalType]
    routes: tuple[Route, ...]
    receivable: Mapping[str, frozenset[tuple[str, str]]]
    guards: Mapping[int, GuardAnnotations | None]

    @classmethod
    def compile(cls, text: str, bindings: Mapping[str, int] | None = None) -> Choreography:
        """Parse, check and project `text` with `bindings` (every symbol must be bound).

        Raises `ChoreographyError` for a bad protocol and `InvalidArgument` if a local type
        still holds a symbol (the runtime only runs bound local types).
        """
        protocol = parse(text)
        scope = check_static(protocol, bindings or {})
        local_types = project_all(text, bindings or {})
        families: dict[str, int] = {}
        for family, size in scope.families.items():
            resolved = scope.resolve(size)
            if not isinstance(resolved, int):
                raise InvalidArgument(f"family {family} has no bound size")
            families[family] = resolved
        singles = tuple(d.name for d in protocol.roles if not d.is_family)
        routes = tuple(
            Route(m.sender.name, m.receiver.name, m.label, m.payload)
            for m in messages(protocol.body)
        )
        receivable: dict[str, frozenset[tuple[str, str]]] = {}
        guards: dict[int, GuardAnnotations | None] = {}
        for role, local in local_types.items():
            table: set[tuple[str, str]] = set()
            for node in _nodes(local):
                if isinstance(node, Receive):
                    table.add((node.peer.role, node.message.label))
                    if not isinstance(node.count, int):
                        raise InvalidArgument(f"{role}: unbound threshold {node.count}")
                elif isinstance(node, Send):
                    guards.setdefault(node.message.msg_id, guard_annotations(node.message))
                elif isinstance(node, Timeout) and not isinstance(node.after, int):
                    raise InvalidArgument(f"{role}: unbound timeout {node.after}")
            receivable[role] = frozenset(table)
        return cls(protocol.name, singles, families, local_types, routes, receivable, guards)

    def is_family(self, role: str) -> bool:
        return role in self.families

    def operation(self, label: str) -> str:
        """The operation name a message travels under in the guard chain: `<protocol>.<label>`."""
        return f"{self.name}.{label}"


def _roster(roster: Mapping[str, Sequence[AuthorityId]]) -> dict[str, tuple[AuthorityId, ...]]:
    return {role: tuple(authorities) for role, authorities in roster.items()}


@attrs.frozen(eq=False)
class Session:
    """One run of a choreography: its id, its relational context and who plays which role.

    `roster` maps every declared role to its authorities: one for a single role, exactly the
    family's bound size for a family (member i is `roster[family][i]`). One authority may play
    several roles. Messages of the session are sent in `context` (flow budgets, receipts and
    capabilities are those of that context).
    """

    choreography: Choreography
    session_id: SessionId
    context: ContextId
    roster: Mapping[str, tuple[AuthorityId, ...]] = attrs.field(converter=_roster)

    def __attrs_post_init__(self) -> None:
        choreo = self.choreography
        declared = set(choreo.singles) | set(choreo.families)
        if set(self.roster) != declared:
            raise InvalidArgument(
                f"the roster names {sorted(self.roster)}, the protocol declares {sorted(declared)}"
            )
        for role, authorities in self.roster.items():
            expected = choreo.families.get(role, 1)
            if len(authorities) != expected or not all(
                isinstance(a, AuthorityId) for a in authorities
            ):
                raise InvalidArgument(f"role {role} needs {expected} authorities in the roster")

    @property
    def name(self) -> str:
        return self.choreography.name

    def authority(self, member: Member) -> AuthorityId:
        """The authority playing `member`; InvalidArgument if the session has no such member."""
        authorities = self.roster.get(member.role)
        if authorities is None or not 0 <= member.index < len(authorities):
            raise InvalidArgument(f"session {self.session_id} has no member {member}")
        return authorities[member.index]

    def members(self, peer: Peer) -> tuple[Member, ...]:
        """The members a local type's peer stands for: one, or every member of a family."""
        if peer.every:
            return tuple(Member(peer.role, i) for i in range(len(self.roster[peer.role])))
        return (Member(peer.role),)

    def local_type(self, role: str) -> LocalType:
        return self.choreography.local_types[role]
