"""Journal fact types for consensus results and ceremonies.

`consensus_fact_types(trust)` returns the fact types to register on a journal's
`FactRegistry`:

- `CommitFact` payloads (type id `consensus.commit_fact`), in authority or context journals.
  The validator asks `trust` which group key commits in this journal must be signed under and
  runs `CommitFact.verify` with it. `COMMIT_REDUCER` keeps one commit per consensus id (the
  smallest encoding, so replicas agree whatever order sibling commits arrived in; siblings
  always decide the same operation, because the id commits to it).
- The ceremony facts (`ceremony.*`), reduced by `CEREMONY_REDUCER` into a `CeremonyRegistry`.
  A `CeremonyCommitted` fact's embedded commit is checked like a `CommitFact` payload.

Writers: a commit or ceremony fact is recorded by the journal's owner (a device of the
authority, or a member of the context); the agreement itself is the commit's threshold
signature. A `CeremonyResponse` is written only by the participant it names, which the journal
can check in a context (the participant's member key); in an authority journal participants
are devices whose network identities the tree does not record, so responses live in the
context the ceremony runs in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from aura_consensus.ceremony import (
    CEREMONY_FACT_TYPES,
    CeremonyCommitted,
    CeremonyRegistry,
    CeremonyResponse,
)
from aura_consensus.commit import CommitFact
from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.encoding import decode, encode, record
from aura_core.errors import (
    FactRejected,
    InvalidAttestation,
    InvalidCommitFact,
    MissingParent,
    UnauthorizedWriter,
)
from aura_core.ids import ConsensusId
from aura_journal.context import CONTEXT_MEMBERS
from aura_journal.fact import Fact, NamespaceKind
from aura_journal.registry import FactType, JournalState, Origin
from aura_journal.tree import TREE_REDUCER
from aura_journal.writers import NAMESPACE_OWNER

__all__ = [
    "GroupKeyTrust",
    "trust_key",
    "trust_tree_keys",
    "CommitView",
    "CommitReducer",
    "CeremonyReducer",
    "Participant",
    "COMMIT_REDUCER",
    "CEREMONY_REDUCER",
    "consensus_fact_types",
]

GroupKeyTrust = Callable[[JournalState, CommitFact], VerifyingKey]
"""Given the journal (just before the fact) and a commit, the group key that commit must be
signed under; raises `FactRejected` (or `MissingParent` to retry later) if there is none."""


def trust_key(key: VerifyingKey) -> GroupKeyTrust:
    """Trust exactly one group key (e.g. a relational context's agreed key)."""
    if type(key) is not VerifyingKey:
        raise TypeError("trust_key takes an ed25519.VerifyingKey")

    def trusted(_: JournalState, __: CommitFact) -> VerifyingKey:
        return key

    return trusted


def trust_tree_keys(state: JournalState, commit: CommitFact) -> VerifyingKey:
    """(Authority journals) Trust the group key of any known state of the authority's
    commitment tree: a commit of the authority's witnesses is signed by its tree's key."""
    if state.namespace.kind is not NamespaceKind.AUTHORITY:
        raise FactRejected("tree keys are trusted only in authority journals")
    view = state.view(TREE_REDUCER)
    if view.genesis is None:
        raise MissingParent("a commit arrived before the authority's tree genesis")
    if any(s.group_key == commit.group_public_key for s in view.states.values()):
        return commit.group_public_key
    raise InvalidAttestation(f"commit {commit.consensus_id} is not signed by a tree group key")


def _check_commit(trust: GroupKeyTrust, state: JournalState, fact: Fact, commit: Any) -> None:
    if type(commit) is not CommitFact:
        raise FactRejected(f"fact {fact.id}: expected a CommitFact")
    key = trust(state, commit)
    try:
        commit.verify(key)
    except InvalidCommitFact as exc:
        raise InvalidAttestation(f"fact {fact.id}: {exc.message}") from None


@record("consensus.commit_view")
@attrs.frozen
class CommitView:
    """The decided instances of a journal: one `CommitFact` per consensus id."""

    commits: dict[ConsensusId, CommitFact] = attrs.field(factory=dict, hash=False)

    def get(self, consensus_id: ConsensusId) -> CommitFact | None:
        return self.commits.get(consensus_id)


class CommitReducer:
    """Keeps the smallest-encoded commit per consensus id (order-independent)."""

    name = "consensus.commits"

    def initial(self) -> CommitView:
        return CommitView()

    def apply(self, view: CommitView, fact: Fact, payload: Any) -> CommitView:
        commit: CommitFact = payload
        held = view.commits.get(commit.consensus_id)
        if held is not None and encode(held) <= encode(commit):
            return view
        return CommitView({**view.commits, commit.consensus_id: commit})

    def encode_view(self, view: CommitView) -> bytes:
        return encode(view)

    def decode_view(self, data: bytes) -> CommitView:
        return decode(data, CommitView)


class CeremonyReducer:
    """Adds each ceremony fact to a `CeremonyRegistry` (a set: order-independent)."""

    name = "consensus.ceremonies"

    def initial(self) -> CeremonyRegistry:
        return CeremonyRegistry()

    def apply(self, view: CeremonyRegistry, fact: Fact, payload: Any) -> CeremonyRegistry:
        return view.apply(payload)

    def encode_view(self, view: CeremonyRegistry) -> bytes:
        return encode(view)

    def decode_view(self, data: bytes) -> CeremonyRegistry:
        return decode(data, CeremonyRegistry)


COMMIT_REDUCER = CommitReducer()
CEREMONY_REDUCER = CeremonyReducer()


@attrs.frozen
class Participant:
    """A ceremony response is written by the participant it names: in a context journal, the
    member whose key signed it must be that participant."""

    summary = "the participant it names (its member key; context journals only)"

    def check(self, state: JournalState, fact: Fact, payload: Any, origin: Origin) -> None:
        response: CeremonyResponse = payload
        if state.namespace.kind is not NamespaceKind.CONTEXT:
            raise UnauthorizedWriter(
                f"fact {fact.id}: ceremony responses are recorded in the ceremony's context, "
                "where participants have keys"
            )
        member = CONTEXT_MEMBERS.writer(state, fact)
        if member.authority != response.participant:
            raise UnauthorizedWriter(
                f"fact {fact.id}: {member.authority} answered for {response.participant}"
            )


_PARTICIPANT = Participant()


def consensus_fact_types(trust: GroupKeyTrust) -> tuple[FactType[Any], ...]:
    """The fact types to register: commits and the six ceremony facts.

    `trust` decides which group key commits must verify under: `trust_tree_keys` for an
    authority's own operations, `trust_key(key)` for a context with an agreed key. All facts of
    one registry share it.
    """

    def validate_commit(state: JournalState, fact: Fact, payload: Any) -> None:
        _check_commit(trust, state, fact, payload)

    def validate_ceremony(state: JournalState, fact: Fact, payload: Any) -> None:
        if isinstance(payload, CeremonyCommitted):
            _check_commit(trust, state, fact, payload.commit)

    return (
        FactType(
            payload_type=CommitFact,
            namespace_kind=None,
            writer=NAMESPACE_OWNER,
            validate=validate_commit,
            reducer=COMMIT_REDUCER,
        ),
        *(
            FactType(
                payload_type=kind,
                namespace_kind=None,
                writer=_PARTICIPANT if kind is CeremonyResponse else NAMESPACE_OWNER,
                validate=validate_ceremony,
                reducer=CEREMONY_REDUCER,
            )
            for kind in CEREMONY_FACT_TYPES
        ),
    )
