"""Properties over random well-formed protocols (and over random junk)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from hypothesis import given
from hypothesis import strategies as st

from aura_core.choreo import (
    Branch,
    End,
    LocalType,
    Par,
    Rec,
    Receive,
    Select,
    Send,
    Timeout,
    Var,
    check,
    compile,
    format_protocol,
    message_table,
    parse,
    project,
)
from aura_core.errors import ChoreographyError
from tests.core.choreo.strategies import GeneratedProtocol, protocols


def nodes(local: LocalType) -> Iterator[LocalType]:
    """Every distinct node of a local type (shared subtrees once)."""
    seen: set[int] = set()
    stack = [local]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
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
                stack.extend((body, handler))
            case Par(branches=branches, then=then):
                stack.extend((*branches, then))
            case End() | Var():
                pass


Edge = tuple[str, str, str, str | None, object, int]


def edges(local_types: dict[str, LocalType]) -> tuple[set[Edge], set[Edge]]:
    """(sender, receiver, label, payload, annotations, msg_id) of every Send and Receive."""
    sends: set[Edge] = set()
    receives: set[Edge] = set()
    for role, local in local_types.items():
        for node in nodes(local):
            if isinstance(node, Send):
                m = node.message
                sends.add((role, node.peer.role, m.label, m.payload, m.annotations, m.msg_id))
            elif isinstance(node, Receive):
                m = node.message
                receives.add((node.peer.role, role, m.label, m.payload, m.annotations, m.msg_id))
    return sends, receives


def closed_and_guarded(local: LocalType) -> bool:
    """Every `Var` sits inside its `Rec`, with at least one action between them."""
    memo: set[tuple[int, frozenset[str], frozenset[str]]] = set()

    def ok(node: LocalType, bound: frozenset[str], unguarded: frozenset[str]) -> bool:
        key = (id(node), bound, unguarded)
        if key in memo:
            return True
        memo.add(key)
        match node:
            case Var(name=name):
                return name in bound and name not in unguarded
            case Rec(var=var, body=body):
                return ok(body, bound | {var}, unguarded | {var})
            case Send(then=then) | Receive(then=then):
                return ok(then, bound, frozenset())
            case Select(branches=branches):
                return all(ok(case.then, bound, unguarded) for case in branches)
            case Branch(cases=cases):
                return all(ok(case, bound, unguarded) for case in cases)
            case Timeout(body=body, on_timeout=handler):
                return ok(body, bound, unguarded) and ok(handler, bound, unguarded)
            case Par(branches=branches, then=then):
                inner = all(ok(branch, frozenset(), frozenset()) for branch in branches)
                return inner and ok(then, bound, frozenset())
            case End():
                return True

    return ok(local, frozenset(), frozenset())


@given(protocols())
def test_generated_protocols_parse_check_and_project(generated: GeneratedProtocol) -> None:
    protocol = parse(generated.text)
    check(protocol)  # symbolic sizes
    check(protocol, generated.bindings)
    local_types = compile(generated.text, generated.bindings)
    assert list(local_types) == list(generated.roles)
    for role in generated.roles:
        assert project(protocol, role, bindings=generated.bindings) == local_types[role]
        assert closed_and_guarded(local_types[role]), str(local_types[role])
    assert set(compile(generated.text)) == set(generated.roles)


@given(protocols())
def test_projection_is_dual_per_edge(generated: GeneratedProtocol) -> None:
    local_types = compile(generated.text, generated.bindings)
    sends, receives = edges(local_types)
    assert sends == receives
    # Every message statement is sent by someone (the generator writes no dead code).
    table = message_table(parse(generated.text))
    assert {edge[5] for edge in sends} == {m.msg_id for m in table}
    for role, local in local_types.items():
        for node in nodes(local):
            if isinstance(node, Send | Receive):
                assert node.peer.every == (node.peer.role in generated.families)
                if role in generated.families:  # a member talks to single roles only
                    assert not node.peer.every
            if isinstance(node, Receive):
                if node.peer.every:
                    size = generated.families[node.peer.role]
                    assert isinstance(node.count, int) and 1 <= node.count <= size
                else:
                    assert node.count == 1
            if isinstance(node, Timeout):
                assert isinstance(node.after, int) and node.after >= 1
                assert isinstance(node.body, Receive)


@given(protocols())
def test_format_round_trips(generated: GeneratedProtocol) -> None:
    protocol = parse(generated.text)
    text = format_protocol(protocol)
    assert parse(text) == protocol
    assert format_protocol(parse(text)) == text
    assert compile(text, generated.bindings) == compile(generated.text, generated.bindings)


KEYWORDS = ["protocol", "roles", "choice", "rec", "continue", "par", "and", "timeout", "at", "on"]
NAMES = ["within", "A", "B", "W", "x", "ms", "s", "n", "7"]
GRAMMAR_ALPHABET = st.sampled_from([*'{}[]()*;:,.=-> \n\t"/\\#$0123456789', *KEYWORDS, *NAMES])


@given(st.lists(GRAMMAR_ALPHABET, max_size=60).map(" ".join) | st.text(max_size=120))
def test_junk_only_raises_choreography_errors(text: str) -> None:
    with contextlib.suppress(ChoreographyError):
        compile(text)


@given(protocols(max_depth=1), st.data())
def test_mutated_protocols_only_raise_choreography_errors(
    generated: GeneratedProtocol, data: st.DataObject
) -> None:
    text = generated.text
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 30)))
    mutation = data.draw(st.sampled_from(["delete", "duplicate", "insert"]))
    if mutation == "delete":
        text = text[:start] + text[end:]
    elif mutation == "duplicate":
        text = text[:end] + text[start:end] + text[end:]
    else:
        text = text[:start] + data.draw(GRAMMAR_ALPHABET) + text[start:]
    with contextlib.suppress(ChoreographyError):
        compile(text, data.draw(st.sampled_from([None, generated.bindings])))
