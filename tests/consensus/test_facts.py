"""Commit and ceremony facts in real journals: validation with a trusted key, reduction."""

from __future__ import annotations

import functools

import attrs
import pytest

from aura_consensus import hashing
from aura_consensus.ceremony import CeremonyRegistry, Committed
from aura_consensus.commit import CommitFact
from aura_consensus.facts import (
    CEREMONY_REDUCER,
    COMMIT_REDUCER,
    GroupKeyTrust,
    consensus_fact_types,
    trust_key,
    trust_tree_keys,
)
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SigningKey
from aura_core.errors import FactRejected, InvalidAttestation, MissingParent, UnauthorizedWriter
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId
from aura_journal.context import ContextGenesis, ContextMember
from aura_journal.fact import Fact, JournalNamespace, ThresholdAttestation, signing_message
from aura_journal.journal import Journal
from aura_journal.registry import FactRegistry
from aura_journal.standard import standard_registry
from aura_journal.tree import TreeGenesis
from tests.consensus.support import Group, fresh_seed, group, seed
from tests.consensus.test_commit import sign_commit
from tests.journal.helpers import (
    CONTEXT_NS,
    KEYS,
    MALLORY,
    body,
    genesis_fact,
    leaf,
    leaf_key,
    signed,
)


def registry(trust: GroupKeyTrust) -> FactRegistry:
    reg = standard_registry()
    for fact_type in consensus_fact_types(trust):
        reg.register(fact_type)
    return reg


def context_journal(reg: FactRegistry) -> Journal:
    """The test context's journal (members ALICE, BOB, CAROL), founded."""
    j = Journal(CONTEXT_NS, reg)
    j.insert(genesis_fact())
    return j


@functools.cache
def commits() -> tuple[CommitFact, CommitFact, Group]:
    """Two valid sibling commits of one instance (different signer sets)."""
    g = group(2, 3)
    params = g.params(operation=b"add member")
    return (
        sign_commit(g, params, g.authorities[:2]),
        sign_commit(g, params, g.authorities[1:], fast_path=False),
        g,
    )


def test_a_commit_fact_enters_a_journal_under_the_trusted_key() -> None:
    fact, _, g = commits()
    j = context_journal(registry(trust_key(g.public.group_public_key)))
    j.insert(signed(CONTEXT_NS, fact, "commit"))
    assert j.view(COMMIT_REDUCER).get(fact.consensus_id) == fact
    before = j.fact_ids()
    with pytest.raises(UnauthorizedWriter):  # a valid commit, recorded by a non-member
        j.insert(signed(CONTEXT_NS, fact, "by a stranger", KEYS[MALLORY]))
    assert j.fact_ids() == before


def test_invalid_or_untrusted_commits_are_rejected_and_change_nothing() -> None:
    fact, _, g = commits()
    other = group(2, 3, "other")
    trusted = context_journal(registry(trust_key(g.public.group_public_key)))
    untrusting = context_journal(registry(trust_key(other.public.group_public_key)))
    tampered = attrs.evolve(fact, operation_bytes=b"add someone else")
    for j, payload in ((trusted, tampered), (untrusting, fact)):
        before = j.fact_ids()
        with pytest.raises(InvalidAttestation):
            j.insert(signed(CONTEXT_NS, payload, "bad"))
        assert j.fact_ids() == before and j.view(COMMIT_REDUCER).commits == {}


def test_sibling_commits_reduce_to_one_whatever_the_order() -> None:
    fact, sibling, g = commits()
    reg = registry(trust_key(g.public.group_public_key))
    views = []
    for order in ((fact, sibling), (sibling, fact)):
        j = context_journal(reg)
        for i, payload in enumerate(order):
            j.insert(signed(CONTEXT_NS, payload, ("commit", i, payload.fast_path)))
        views.append(j.view(COMMIT_REDUCER))
        assert j.full_view(COMMIT_REDUCER) == views[-1]
    assert views[0] == views[1] and len(views[0].commits) == 1


def _genesis_fact(g: Group) -> Fact:
    """The authority's tree genesis, threshold-signed by the FROST group itself."""
    genesis = TreeGenesis.found((leaf(1), leaf(2), leaf(3)), 2, g.public.group_public_key)
    b = body(JournalNamespace.of(genesis.authority), genesis, "genesis")
    signers = g.authorities[:2]
    rounds = {a: frost.commit(g.key_packages[a], fresh_seed()) for a in signers}
    ids = {a: g.witnesses.signer_of(a) for a in signers}
    package = frost.signing_package({ids[a]: c for a, (_, c) in rounds.items()}, signing_message(b))
    shares = {ids[a]: frost.sign(package, n, g.key_packages[a]) for a, (n, _) in rounds.items()}
    signature = frost.aggregate(package, shares, g.public)
    return Fact(
        b, ThresholdAttestation(g.public.group_public_key, signature, tuple(sorted(ids.values())))
    )


def test_authority_journals_trust_their_tree_group_key() -> None:
    fact, _, g = commits()
    genesis = _genesis_fact(g)
    ns = genesis.namespace
    j = Journal(ns, registry(trust_tree_keys))
    device = leaf_key(1)  # the device of leaf 1 records the commit
    with pytest.raises(MissingParent):  # no tree yet: retry after sync
        j.insert(signed(ns, fact, "early", device))
    j.insert(genesis)
    with pytest.raises(UnauthorizedWriter):  # not a device of the authority
        j.insert(signed(ns, fact, "stranger", KEYS[MALLORY]))
    j.insert(signed(ns, fact, "commit", device))
    assert j.view(COMMIT_REDUCER).get(fact.consensus_id) == fact
    other = group(2, 3, "other")
    forged = sign_commit(other, other.params(operation=b"add member"), other.authorities[:2])
    with pytest.raises(InvalidAttestation):
        j.insert(signed(ns, forged, "forged", device))
    with pytest.raises(FactRejected):  # tree keys mean nothing in a context journal
        Journal(CONTEXT_NS, registry(trust_tree_keys)).insert(signed(CONTEXT_NS, fact, "ctx"))


def member_key(authority: AuthorityId) -> SigningKey:
    return SigningKey(seed("member key", authority.raw))


def ceremony_context(g: Group) -> tuple[JournalNamespace, Fact]:
    """A context whose members are the group's witnesses, each with its own key."""
    members = [ContextMember(a, member_key(a).verifying_key) for a in g.authorities]
    genesis = ContextGenesis.create(members, len(members), seed("ceremony context"))
    ns = JournalNamespace.of(genesis.context)
    return ns, signed(ns, genesis, "genesis", member_key(g.authorities[0]))


def test_ceremony_facts_reduce_into_a_registry() -> None:
    fact, _, g = commits()
    reg = registry(trust_key(g.public.group_public_key))
    ns, genesis = ceremony_context(g)
    j = Journal(ns, reg)
    j.insert(genesis)
    participants = g.authorities
    local = CeremonyRegistry()
    started, local = local.start(
        fact.prestate_hash, hashing.operation_hash(b"add member"), 1, 0, participants
    )
    cid = started.ceremony_id
    steps = [started]
    pending, local = local.enter_pending_epoch(cid, 1, Hash32.of(b"keys"))
    steps.append(pending)
    for p in participants:
        response, local = local.respond(cid, p, True)
        steps.append(response)
    committed, local = local.commit(cid, fact)
    steps.append(committed)
    # A response is written by its participant; a member answering for another is refused.
    first_response = steps[2]
    impostor = member_key(participants[1])
    before = j.fact_ids()
    with pytest.raises(UnauthorizedWriter):
        j.insert(signed(ns, first_response, "impostor", impostor))
    assert j.fact_ids() == before
    for i, step_fact in enumerate(reversed(steps)):  # any order: the registry is a set
        writer = getattr(step_fact, "participant", participants[0])
        j.insert(signed(ns, step_fact, ("ceremony", i), member_key(writer)))
    view = j.view(CEREMONY_REDUCER)
    assert view == local
    assert isinstance(view.state(cid), Committed) and view.live_epoch(0) == 1
    bad = attrs.evolve(committed, commit=attrs.evolve(fact, threshold_signature=bytes(64)))
    before = j.fact_ids()
    with pytest.raises(InvalidAttestation):
        j.insert(signed(ns, bad, "bad ceremony commit", member_key(participants[0])))
    with pytest.raises(UnauthorizedWriter):  # a valid ceremony fact from a non-member
        j.insert(signed(ns, steps[0], "stranger", KEYS[MALLORY]))
    assert j.fact_ids() == before
