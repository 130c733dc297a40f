"""`Choreography` tables, `Session` rosters and the dispatcher's preconditions."""

from __future__ import annotations

import pytest

import aura_sim
from aura_core.choreo import Annotations, MessageType
from aura_core.errors import InvalidArgument, WellFormednessError
from aura_guards.chain import GuardAnnotations
from aura_journal.leakage import ObserverClass
from aura_protocol import Choreography, Dispatcher, Member, Route, Session, guard_annotations
from aura_protocol.protocols import threshold_vote
from tests.protocol.cluster import CONTEXT, SESSION, authority, roster_for, setup

VOTE = Choreography.compile(threshold_vote.TEXT, threshold_vote.BINDINGS)


def test_tables() -> None:
    assert VOTE.name == "ThresholdVote"
    assert VOTE.singles == ("Coordinator",)
    assert VOTE.families == {"Witness": 5}
    assert VOTE.routes == (
        Route("Coordinator", "Witness", "Propose", "bytes"),
        Route("Witness", "Coordinator", "Vote", "bytes"),
        Route("Coordinator", "Witness", "Decide", "bytes"),
        Route("Coordinator", "Witness", "Abort"),
    )
    assert sorted(VOTE.receivable["Coordinator"]) == [("Witness", "Vote")]
    assert sorted(VOTE.receivable["Witness"]) == [
        ("Coordinator", "Abort"),
        ("Coordinator", "Decide"),
        ("Coordinator", "Propose"),
    ]
    assert VOTE.guards[1] == GuardAnnotations("vote:cast", 5, None, (ObserverClass.NEIGHBOR,))
    assert VOTE.guards[2] == GuardAnnotations("vote:decide", 10, "vote_decided", ())
    assert VOTE.operation("Vote") == "ThresholdVote.Vote"


def test_guard_annotations_map_every_field_and_deny_without_a_capability() -> None:
    full = Annotations("a:b", 7, "fact", ("external", "group"))
    assert guard_annotations(MessageType("M", None, full)) == GuardAnnotations(
        "a:b", 7, "fact", (ObserverClass.EXTERNAL, ObserverClass.GROUP)
    )
    assert guard_annotations(MessageType("M", None, Annotations(None, 7, "fact"))) is None
    public = Annotations(None, 3, None, ("neighbor",), public="presence beacon")
    assert guard_annotations(MessageType("M", None, public)) == GuardAnnotations(
        flow_cost=3, leak=(ObserverClass.NEIGHBOR,), public="presence beacon"
    )


def test_a_public_message_compiles_to_public_guard_annotations() -> None:
    text = """
    protocol Beacon {
      roles A, B;
      A [public = "announces presence only", flow_cost = 2, leak = "external"] -> B : Here;
      B [guard_capability = "beacon:ack"] -> A : Ack;
    }
    """
    beacon = Choreography.compile(text, {})
    assert beacon.guards[0] == GuardAnnotations(
        flow_cost=2, leak=(ObserverClass.EXTERNAL,), public="announces presence only"
    )
    assert beacon.guards[1] == GuardAnnotations("beacon:ack")
    assert 'public = "announces presence only"' in str(beacon.local_types["A"])


def test_only_bound_protocols_compile() -> None:
    with pytest.raises(WellFormednessError) as caught:
        Choreography.compile(threshold_vote.TEXT, {"n": 5, "t": 3})
    assert caught.value.rule == "unbound-symbol"
    with pytest.raises(WellFormednessError):
        Choreography.compile(threshold_vote.TEXT, {"n": 2, "t": 3, "window": 1})


def test_rosters_must_match_the_declared_roles_and_family_sizes() -> None:
    roster = roster_for(VOTE)
    session = Session(VOTE, SESSION, CONTEXT, roster)
    assert session.members(VOTE.local_types["Coordinator"].peer) == tuple(  # type: ignore[union-attr]
        Member("Witness", i) for i in range(5)
    )
    assert session.authority(Member("Witness", 4)) == roster["Witness"][4]
    with pytest.raises(InvalidArgument):
        session.authority(Member("Witness", 5))
    with pytest.raises(InvalidArgument, match="needs 5 authorities"):
        Session(VOTE, SESSION, CONTEXT, {**roster, "Witness": roster["Witness"][:4]})
    with pytest.raises(InvalidArgument, match="declares"):
        Session(VOTE, SESSION, CONTEXT, {**roster, "Observer": (authority(99),)})
    with pytest.raises(InvalidArgument, match="declares"):
        Session(VOTE, SESSION, CONTEXT, {"Coordinator": roster["Coordinator"]})


def test_endpoints_open_only_on_a_running_dispatcher_of_the_right_node() -> None:
    async def main() -> None:
        world = setup(threshold_vote.TEXT, threshold_vote.BINDINGS)
        node = world.node("Witness", 2)
        dispatcher = Dispatcher(node.guarded, node.effects.trace)
        with pytest.raises(InvalidArgument, match="inside"):
            dispatcher.open(world.session, "Witness", 2)
        async with dispatcher:
            with pytest.raises(InvalidArgument, match="not played by this node"):
                dispatcher.open(world.session, "Witness", 1)
            endpoint = dispatcher.open(world.session, "Witness", 2)
            assert endpoint.member == Member("Witness", 2)
            with pytest.raises(InvalidArgument, match="already opened"):
                dispatcher.open(world.session, "Witness", 2)
            dispatcher.close(endpoint)
            with pytest.raises(InvalidArgument, match="already opened"):
                dispatcher.open(world.session, "Witness", 2)

    aura_sim.run(main, seed=1)
