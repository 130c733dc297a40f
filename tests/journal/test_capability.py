"""The capability frontier on Biscuit tokens."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.errors import CapabilityDenied, InvalidArgument, TokenError
from aura_core.ids import AuthorityId, ContextId
from aura_journal.capability import (
    AuthorityScope,
    CapabilityEvaluator,
    CapabilityFrontier,
    CapabilityToken,
    ContextScope,
    StorageScope,
    issue_token,
)
from aura_sim.testing.laws import check_semilattice

ALICE = AuthorityId(b"\xa1" * 16)
BOB = AuthorityId(b"\xb0" * 16)
HOME = ContextId(b"\x01" * 16)
WORK = ContextId(b"\x02" * 16)
ROOT = b"\x11" * 32
CAPS = ["chat:send", "chat:read", "tree:rotate"]
NOW = 1_000_000


def seed(n: int) -> bytes:
    return n.to_bytes(32, "little")


@functools.cache
def family() -> dict[str, CapabilityToken]:
    root = issue_token(ROOT, ALICE, CAPS, seed=seed(1), scope=ContextScope(HOME))
    send_only = root.attenuate(capabilities=["chat:send"], seed=seed(2))
    send_expiring = send_only.attenuate(expires_ms=NOW + 10, seed=seed(3))
    read_only = root.attenuate(capabilities=["chat:read"], seed=seed(4))
    stranger = issue_token(b"\x22" * 32, BOB, CAPS, seed=seed(5), scope=ContextScope(HOME))
    return {
        "root": root,
        "send": send_only,
        "send_exp": send_expiring,
        "read": read_only,
        "stranger": stranger,
    }


def frontiers() -> list[CapabilityFrontier]:
    return [CapabilityFrontier.top(), CapabilityFrontier.bottom()] + [
        CapabilityFrontier.of(t) for t in family().values()
    ]


def allows(
    frontier: CapabilityFrontier, need: str, scope: object = ContextScope(HOME), now: int = NOW
) -> bool:
    return frontier.allows(need, scope, now_ms=now, local_authority=ALICE)  # type: ignore[arg-type]


def test_meet_is_a_semilattice_with_distinct_top_and_bottom() -> None:
    top, bottom = CapabilityFrontier.top(), CapabilityFrontier.bottom()
    assert top != bottom
    check_semilattice(
        st.sampled_from(frontiers()), CapabilityFrontier.meet, identity=top, absorbing=bottom
    )


def test_meet_of_chains() -> None:
    f = {name: CapabilityFrontier.of(t) for name, t in family().items()}
    assert f["root"].meet(f["send"]) == f["send"]
    assert f["send_exp"].meet(f["root"]) == f["send_exp"]
    assert f["send"].meet(f["read"]) == CapabilityFrontier.bottom()  # siblings: no common extension
    assert f["root"].meet(f["stranger"]) == CapabilityFrontier.bottom()  # other root key


requests = st.tuples(
    st.sampled_from([*CAPS, "chat:delete"]),
    st.sampled_from([ContextScope(HOME), ContextScope(WORK), AuthorityScope(ALICE)]),
    st.sampled_from([NOW - 5, NOW + 5, NOW + 50]),
)


@settings(max_examples=60)
@given(
    requests, st.lists(st.sampled_from(["caps", "ctx", "exp"]), min_size=1, max_size=3), st.data()
)
def test_attenuation_never_widens(
    request: tuple[str, object, int], steps: list[str], data: st.DataObject
) -> None:
    need, scope, now = request
    token = family()["root"]
    for i, step in enumerate(steps):
        parent_allows = allows(CapabilityFrontier.of(token), need, scope, now)
        if step == "caps":
            token = token.attenuate(
                capabilities=data.draw(st.sets(st.sampled_from(CAPS))), seed=seed(100 + i)
            )
        elif step == "ctx":
            token = token.attenuate(
                context=data.draw(st.sampled_from([HOME, WORK])), seed=seed(200 + i)
            )
        else:
            token = token.attenuate(
                expires_ms=data.draw(st.sampled_from([NOW, NOW + 10, NOW + 100])),
                seed=seed(300 + i),
            )
        child_allows = allows(CapabilityFrontier.of(token), need, scope, now)
        assert not (child_allows and not parent_allows)


def test_scopes_and_denials() -> None:
    f = {name: CapabilityFrontier.of(t) for name, t in family().items()}
    assert allows(f["root"], "chat:send")
    assert not allows(f["root"], "chat:delete")  # not granted
    assert not allows(f["root"], "chat:send", ContextScope(WORK))  # another context
    assert not allows(f["send"], "chat:read")
    assert allows(f["send_exp"], "chat:send", now=NOW + 9)
    assert not allows(f["send_exp"], "chat:send", now=NOW + 10)  # expired
    assert allows(CapabilityFrontier.top(), "anything:at-all")
    assert not allows(CapabilityFrontier.bottom(), "chat:send")
    with pytest.raises(CapabilityDenied):
        f["send"].require("chat:read", ContextScope(HOME), now_ms=NOW, local_authority=ALICE)

    any_context = CapabilityFrontier.of(issue_token(ROOT, ALICE, ["chat:send"], seed=seed(9)))
    assert allows(any_context, "chat:send", ContextScope(WORK))  # issuer evaluating its own token
    assert not any_context.allows("chat:send", ContextScope(WORK), now_ms=NOW, local_authority=BOB)

    tree = CapabilityFrontier.of(
        issue_token(ROOT, ALICE, ["tree:rotate"], seed=seed(10), scope=AuthorityScope(ALICE))
    )
    assert allows(tree, "tree:rotate", AuthorityScope(ALICE))
    assert not allows(tree, "tree:rotate", AuthorityScope(BOB))

    files = issue_token(ROOT, ALICE, ["read"], seed=seed(11), scope=StorageScope(ALICE, "/photos"))
    photos = CapabilityFrontier.of(files)
    assert allows(photos, "read", StorageScope(ALICE, "/photos/2026/a.jpg"))
    assert not allows(photos, "read", StorageScope(ALICE, "/notes"))
    narrower = CapabilityFrontier.of(files.attenuate(storage_prefix="/photos/2026", seed=seed(12)))
    assert allows(narrower, "read", StorageScope(ALICE, "/photos/2026/a.jpg"))
    assert not allows(narrower, "read", StorageScope(ALICE, "/photos/2025/b.jpg"))


def test_forged_and_foreign_tokens_are_rejected() -> None:
    token = family()["send"]
    raw = bytearray(token.raw)
    raw[len(raw) // 2] ^= 0x01
    with pytest.raises(TokenError):
        CapabilityFrontier.of(CapabilityToken(bytes(raw), token.root_key))
    with pytest.raises(TokenError):
        CapabilityFrontier.of(CapabilityToken(token.raw, family()["stranger"].root_key))
    with pytest.raises(TokenError):
        CapabilityFrontier.of(CapabilityToken(b"junk", token.root_key))
    with pytest.raises(TokenError):
        CapabilityToken(bytes(raw), token.root_key).attenuate(
            capabilities=["chat:send"], seed=seed(1)
        )


def test_minting_is_deterministic_and_names_are_checked() -> None:
    a = issue_token(ROOT, ALICE, CAPS, seed=seed(1), scope=ContextScope(HOME))
    assert a.raw == family()["root"].raw
    assert issue_token(ROOT, ALICE, CAPS, seed=seed(2), scope=ContextScope(HOME)).raw != a.raw
    for bad in ("Chat:send", "chat send", "", "chat:sénd"):
        with pytest.raises(InvalidArgument):
            issue_token(ROOT, ALICE, [bad], seed=seed(1))
    with pytest.raises(InvalidArgument):
        a.attenuate(seed=seed(1))


def test_evaluator_caches_and_invalidates() -> None:
    evaluator = CapabilityEvaluator(
        CapabilityFrontier.of(family()["send_exp"]), ALICE, horizon_ms=5
    )
    assert evaluator.allows("chat:send", ContextScope(HOME), now_ms=NOW)
    assert evaluator.allows("chat:send", ContextScope(HOME), now_ms=NOW + 1)
    assert evaluator.hits == 1
    # The expiry (NOW + 10) lies beyond one horizon but is never missed.
    assert not evaluator.allows("chat:send", ContextScope(HOME), now_ms=NOW + 10)
    evaluator.set_policy(frozenset({"chat:read"}))
    assert not evaluator.allows("chat:send", ContextScope(HOME), now_ms=NOW)
    evaluator.set_policy(None)
    hits = evaluator.hits
    evaluator.set_epoch(1)
    evaluator.allows("chat:send", ContextScope(HOME), now_ms=NOW)
    assert evaluator.hits == hits  # the epoch change dropped the cache
    evaluator.set_frontier(CapabilityFrontier.bottom())
    assert not evaluator.allows("chat:send", ContextScope(HOME), now_ms=NOW)
