"""Nonce registries: nothing handed out or used twice; an epoch change clears everything."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_consensus.nonces import NonceRegistry, WitnessNonces
from aura_core.crypto import frost
from aura_core.errors import InvalidArgument, NonceReuse, StaleEpoch
from tests.consensus.support import fresh_seed, group


def commitments(count: int) -> list[frost.SigningCommitments]:
    g = group(2, 3)
    kp = g.key_packages[g.authorities[0]]
    return [frost.commit(kp, fresh_seed())[1] for _ in range(count)]


def test_registry_hands_out_each_commitment_once() -> None:
    g = group(2, 3)
    a, b, c = g.authorities
    ca, cb, cc = commitments(3)
    reg = NonceRegistry(3).offer(3, a, ca).offer(3, b, cb)
    assert reg.can_pipeline([a, b, c], 2) and not reg.can_pipeline([a, b, c], 3)
    taken, after = reg.take(3, [a, c])
    assert taken == {a: ca}
    assert set(after.cached) == {b} and ca.to_bytes() in after.used
    with pytest.raises(NonceReuse):
        after.offer(3, a, ca)  # used: refused forever in this epoch
    with pytest.raises(NonceReuse):
        after.mark_used(3, [ca])
    with pytest.raises(NonceReuse):
        after.offer(3, c, cb)  # another witness's commitment
    marked = after.mark_used(3, [cc])
    with pytest.raises(NonceReuse):
        marked.mark_used(3, [cc])
    with pytest.raises(NonceReuse):
        after.mark_used(3, [cc, cc])
    assert after.offer(3, b, cc).cached[b] == cc  # a witness may replace its unused commitment


def test_an_epoch_change_clears_the_registry_and_refuses_old_material() -> None:
    g = group(2, 3)
    a = g.authorities[0]
    (ca,) = commitments(1)
    reg = NonceRegistry(3).offer(3, a, ca).mark_used(3, commitments(1))
    moved = reg.advance(4)
    assert moved == NonceRegistry(4) and not moved.cached and not moved.used
    for refused in (
        lambda: reg.offer(2, a, ca),
        lambda: reg.take(4, [a]),
        lambda: reg.mark_used(5, [ca]),
        lambda: reg.advance(3),
        lambda: reg.advance(2),
    ):
        with pytest.raises(StaleEpoch):
            refused()
    with pytest.raises(InvalidArgument):
        reg.offer(3, a, b"commitment")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        reg.advance(-1)


@given(st.lists(st.sampled_from(["offer", "take", "mark", "advance"]), max_size=25))
def test_no_commitment_is_ever_handed_out_twice_in_an_epoch(ops: list[str]) -> None:
    g = group(2, 3)
    pool = commitments(6)
    reg = NonceRegistry()
    handed: set[tuple[int, bytes]] = set()
    for i, op in enumerate(ops):
        c = pool[i % len(pool)]
        w = g.authorities[i % 3]
        try:
            if op == "offer":
                reg = reg.offer(reg.epoch, w, c)
            elif op == "take":
                taken, reg = reg.take(reg.epoch, g.authorities)
                for t in taken.values():
                    key = (reg.epoch, t.to_bytes())
                    assert key not in handed
                    handed.add(key)
            elif op == "mark":
                reg = reg.mark_used(reg.epoch, [c])
                key = (reg.epoch, c.to_bytes())
                assert key not in handed
                handed.add(key)
            else:
                reg = reg.advance(reg.epoch + 1)
        except NonceReuse:
            pass


def test_witness_nonces_are_taken_once_and_dropped_on_epoch_change() -> None:
    g = group(2, 3)
    kp = g.key_packages[g.authorities[0]]
    nonces, commits = frost.commit(kp, fresh_seed())
    held = WitnessNonces(7).add(7, nonces)
    assert len(held) == 1
    with pytest.raises(NonceReuse):
        held.add(7, nonces)
    mine, rest = held.take(7, commits)
    assert mine is nonces and len(rest) == 0
    with pytest.raises(NonceReuse):
        rest.take(7, commits)
    with pytest.raises(StaleEpoch):
        held.take(8, commits)
    moved = held.advance(8)
    assert len(moved) == 0
    with pytest.raises(NonceReuse):
        moved.take(8, commits)  # the old epoch's nonces are gone
    with pytest.raises(StaleEpoch):
        held.advance(7)
    # spent nonces cannot be kept
    package = frost.signing_package(
        {
            g.witnesses.signer_of(g.authorities[0]): commits,
            g.witnesses.signer_of(g.authorities[1]): frost.commit(
                g.key_packages[g.authorities[1]], fresh_seed()
            )[1],
        },
        b"message",
    )
    frost.sign(package, nonces, kp)
    with pytest.raises(NonceReuse):
        WitnessNonces(7).add(7, nonces)
    with pytest.raises(NonceReuse):
        held.take(7, commits)  # the held handle was used elsewhere: refused
