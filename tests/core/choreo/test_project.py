"""A catalogue of good protocols and the exact local types they project to."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from aura_core.choreo import (
    DEFAULT_FLOW_COST,
    Annotations,
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
    check,
    compile,
    merge,
    message_table,
    parse,
    project,
)
from aura_core.errors import InvalidArgument, ProjectionError


def expect(local: LocalType, text: str) -> None:
    assert str(local) == textwrap.dedent(text).strip()


# --- two parties ---------------------------------------------------------------------------

REQUEST_RESPONSE = """
protocol RequestResponse {
  roles Client, Server;
  Client [guard_capability = "example:request", flow_cost = 10] -> Server : Request(bytes);
  Server [guard_capability = "example:respond"] -> Client : Response(list[bytes]);
  Client [guard_capability = "example:ack", flow_cost = 1, journal_facts = "request_acked"]
    -> Server : Ack;
}
"""


def test_request_response_with_ack_structure() -> None:
    local = compile(REQUEST_RESPONSE)
    request = MessageType("Request", "bytes", Annotations("example:request", 10))
    response = MessageType("Response", "list[bytes]", Annotations("example:respond"))
    ack = MessageType("Ack", None, Annotations("example:ack", 1, "request_acked"))
    assert local == {
        "Client": Send(Peer("Server"), request, Receive(Peer("Server"), response, Send(
            Peer("Server"), ack, End()
        ))),
        "Server": Receive(Peer("Client"), request, Send(Peer("Client"), response, Receive(
            Peer("Client"), ack, End()
        ))),
    }  # fmt: skip
    client = local["Client"]
    assert isinstance(client, Send) and isinstance(client.then, Receive)
    assert isinstance(client.then.then, Send)
    ids = [client.message.msg_id, client.then.message.msg_id, client.then.then.message.msg_id]
    assert ids == [0, 1, 2]
    assert [client.message.line, client.then.then.message.line] == [4, 6]


def test_request_response_with_ack_text() -> None:
    local = compile(REQUEST_RESPONSE)
    expect(
        local["Client"],
        """
        Server ! Request(bytes) [guard_capability = "example:request", flow_cost = 10];
        Server ? Response(list[bytes]) [guard_capability = "example:respond", flow_cost = 100];
        Server ! Ack [guard_capability = "example:ack", flow_cost = 1, journal_facts = "request_acked"];
        end
        """,  # noqa: E501
    )
    expect(
        local["Server"],
        """
        Client ? Request(bytes) [guard_capability = "example:request", flow_cost = 10];
        Client ! Response(list[bytes]) [guard_capability = "example:respond", flow_cost = 100];
        Client ? Ack [guard_capability = "example:ack", flow_cost = 1, journal_facts = "request_acked"];
        end
        """,  # noqa: E501
    )


def test_message_table_is_indexed_by_message_id() -> None:
    table = message_table(parse(REQUEST_RESPONSE))
    assert [(m.msg_id, m.label, m.line, m.column) for m in table] == [
        (0, "Request", 4, 3),
        (1, "Response", 5, 3),
        (2, "Ack", 6, 3),
    ]
    assert table[2].annotations == Annotations("example:ack", 1, "request_acked", ())


# --- coordinator and witnesses: fan-out, threshold fan-in, fan-out ----------------------------

CONSENSUS = """
protocol AuraConsensus {
  roles Coordinator, Witness[n];
  Coordinator [guard_capability = "consensus:initiate", flow_cost = 100]
    -> Witness[*] : Execute(ExecuteRequest);
  Witness[*] [guard_capability = "consensus:witness_sign", flow_cost = 50, leak = "neighbor"]
    -> Coordinator : SignShare(Share) within t;
  Coordinator [guard_capability = "consensus:finalize", journal_facts = "consensus_complete"]
    -> Witness[*] : Commit(CommitFact);
  Witness[*] [guard_capability = "consensus:ack", flow_cost = 1] -> Coordinator : Ack;
}
"""


def test_consensus_shape_with_bindings() -> None:
    local = compile(CONSENSUS, {"n": 5, "t": 3})
    expect(
        local["Coordinator"],
        """
        Witness[*] ! Execute(ExecuteRequest) [guard_capability = "consensus:initiate", flow_cost = 100];
        Witness[*] ? SignShare(Share) count 3 [guard_capability = "consensus:witness_sign", flow_cost = 50, leak = "neighbor"];
        Witness[*] ! Commit(CommitFact) [guard_capability = "consensus:finalize", flow_cost = 100, journal_facts = "consensus_complete"];
        Witness[*] ? Ack count 5 [guard_capability = "consensus:ack", flow_cost = 1];
        end
        """,  # noqa: E501
    )
    # A family member's local type is that of one witness: it talks to the coordinator only.
    expect(
        local["Witness"],
        """
        Coordinator ? Execute(ExecuteRequest) [guard_capability = "consensus:initiate", flow_cost = 100];
        Coordinator ! SignShare(Share) [guard_capability = "consensus:witness_sign", flow_cost = 50, leak = "neighbor"];
        Coordinator ? Commit(CommitFact) [guard_capability = "consensus:finalize", flow_cost = 100, journal_facts = "consensus_complete"];
        Coordinator ! Ack [guard_capability = "consensus:ack", flow_cost = 1];
        end
        """,  # noqa: E501
    )
    coordinator = local["Coordinator"]
    assert isinstance(coordinator, Send) and coordinator.peer == Peer("Witness", every=True)
    shares = coordinator.then
    assert isinstance(shares, Receive)
    assert (shares.peer, shares.count) == (Peer("Witness", every=True), 3)


def test_consensus_shape_stays_symbolic_without_bindings() -> None:
    coordinator = project(parse(CONSENSUS), "Coordinator")
    assert isinstance(coordinator, Send) and isinstance(coordinator.then, Receive)
    assert coordinator.then.count == "t"
    acks = coordinator.then.then
    assert isinstance(acks, Send) and isinstance(acks.then, Receive)
    assert acks.then.count == "n"
    assert project(parse(CONSENSUS), "Coordinator", bindings={"n": 4, "t": 4}) != coordinator


# --- choices -------------------------------------------------------------------------------

KEY_ROTATION = """
protocol KeyRotation {
  roles Initiator, Witness[n];
  Initiator [guard_capability = "tree:rotate", flow_cost = 10] -> Witness[*] : Proposal(RotationData);
  Witness[*] [flow_cost = 5] -> Initiator : Vote(bool) within 2;
  choice Initiator {
    commit: Initiator -> Witness[*] : Commit;
    abort:  Initiator -> Witness[*] : Abort;
  }
}
"""  # noqa: E501


def test_design_example_choice() -> None:
    local = compile(KEY_ROTATION, {"n": 3})
    expect(
        local["Initiator"],
        """
        Witness[*] ! Proposal(RotationData) [guard_capability = "tree:rotate", flow_cost = 10];
        Witness[*] ? Vote(bool) count 2 [flow_cost = 5];
        select {
          commit:
            Witness[*] ! Commit [flow_cost = 100];
            end
          abort:
            Witness[*] ! Abort [flow_cost = 100];
            end
        }
        """,
    )
    expect(
        local["Witness"],
        """
        Initiator ? Proposal(RotationData) [guard_capability = "tree:rotate", flow_cost = 10];
        Initiator ! Vote(bool) [flow_cost = 5];
        branch Initiator {
          Abort [flow_cost = 100]:
            end
          Commit [flow_cost = 100]:
            end
        }
        """,
    )
    initiator = local["Initiator"]
    assert isinstance(initiator, Send) and isinstance(initiator.then, Receive)
    select = initiator.then.then
    assert isinstance(select, Select)
    assert select.labels == ("commit", "abort")
    assert (select.line, select.column) == (6, 3)
    commit = select.case("commit")
    assert isinstance(commit, Send) and commit.message.label == "Commit"
    witness = local["Witness"]
    assert isinstance(witness, Receive) and isinstance(witness.then, Send)
    branch = witness.then.then
    assert isinstance(branch, Branch) and branch.peer == Peer("Initiator")
    assert branch.labels == ("Abort", "Commit")
    assert branch.case("Commit").message.msg_id == 2


def test_third_party_learns_the_choice_from_a_non_decider() -> None:
    local = compile(
        """
        protocol Forward {
          roles A, B, C;
          choice A {
            yes: A -> B : Yes; B -> C : Go(bytes);
            no:  A -> B : No;  B -> C : Stop;
          }
          C -> A : Done;
        }
        """
    )
    expect(
        local["C"],
        """
        branch B {
          Go(bytes) [flow_cost = 100]:
            => @1
          Stop [flow_cost = 100]:
            => @1
        }
        @1:
        A ! Done [flow_cost = 100];
        end
        """,
    )
    expect(
        local["B"],
        """
        branch A {
          No [flow_cost = 100]:
            C ! Stop [flow_cost = 100];
            end
          Yes [flow_cost = 100]:
            C ! Go(bytes) [flow_cost = 100];
            end
        }
        """,
    )
    expect(
        local["A"],
        """
        select {
          yes:
            B ! Yes [flow_cost = 100];
            => @1
          no:
            B ! No [flow_cost = 100];
            => @1
        }
        @1:
        C ? Done [flow_cost = 100];
        end
        """,
    )
    # The code after the choice is one object, shared by both branches.
    a, c = local["A"], local["C"]
    assert isinstance(a, Select) and isinstance(c, Branch)
    yes, no = a.case("yes"), a.case("no")
    assert isinstance(yes, Send) and isinstance(no, Send) and yes.then is no.then
    assert c.case("Go").then is c.case("Stop").then


def test_identical_sends_of_a_third_party_merge() -> None:
    local = compile(
        """
        protocol Audit {
          roles A, B, D;
          choice A {
            l1: A -> B : X; D [journal_facts = "audit"] -> B : Log;
            l2: A -> B : Y; D [journal_facts = "audit"] -> B : Log;
          }
        }
        """
    )
    expect(local["D"], 'B ! Log [flow_cost = 100, journal_facts = "audit"];\nend')
    d = local["D"]
    assert isinstance(d, Send) and d.message.msg_id == 1  # the earliest of the merged messages
    expect(
        local["B"],
        """
        branch A {
          X [flow_cost = 100]:
            D ? Log [flow_cost = 100, journal_facts = "audit"];
            end
          Y [flow_cost = 100]:
            D ? Log [flow_cost = 100, journal_facts = "audit"];
            end
        }
        """,
    )


def test_receives_with_the_same_label_merge_their_continuations() -> None:
    local = compile(
        """
        protocol Relay {
          roles A, B, C;
          choice A {
            fast: A -> B : Go; B -> C : Work; A -> C : Fast;
            slow: A -> B : Wait; B -> C : Work; A -> C : Slow;
          }
        }
        """
    )
    expect(
        local["C"],
        """
        B ? Work [flow_cost = 100];
        branch A {
          Fast [flow_cost = 100]:
            end
          Slow [flow_cost = 100]:
            end
        }
        """,
    )


# --- recursion -----------------------------------------------------------------------------

STREAM = """
protocol Stream {
  roles Producer, Consumer, Observer;
  rec Loop {
    choice Producer {
      more: Producer [flow_cost = 1] -> Consumer : Chunk(bytes);
            Consumer [flow_cost = 1] -> Producer : Credit;
            continue Loop;
      done: Producer -> Consumer : Eof;
    }
  }
  Consumer -> Producer : Close;
  Consumer -> Observer : Summary(int);
}
"""


def test_loop_with_exit() -> None:
    local = compile(STREAM)
    expect(
        local["Producer"],
        """
        rec Loop {
          select {
            more:
              Consumer ! Chunk(bytes) [flow_cost = 1];
              Consumer ? Credit [flow_cost = 1];
              continue Loop
            done:
              Consumer ! Eof [flow_cost = 100];
              Consumer ? Close [flow_cost = 100];
              end
          }
        }
        """,
    )
    expect(
        local["Consumer"],
        """
        rec Loop {
          branch Producer {
            Chunk(bytes) [flow_cost = 1]:
              Producer ! Credit [flow_cost = 1];
              continue Loop
            Eof [flow_cost = 100]:
              Producer ! Close [flow_cost = 100];
              Observer ! Summary(int) [flow_cost = 100];
              end
          }
        }
        """,
    )
    # The observer takes no part in the loop: it just waits for what comes after it.
    check(parse(STREAM), bindings={})
    assert local["Observer"] == Receive(Peer("Consumer"), MessageType("Summary", "int"), End())


def test_role_outside_an_inner_loop_follows_its_exit() -> None:
    local = compile(
        """
        protocol Rounds {
          roles A, B, C;
          rec Round {
            A -> C : Tick;
            rec Step {
              choice A {
                again: A -> B : More; continue Step;
                next: A -> B : Next; continue Round;
              }
            }
          }
        }
        """
    )
    tick = MessageType("Tick")
    assert local["C"] == Rec("Round", Receive(Peer("A"), tick, Var("Round")))
    b = local["B"]
    assert isinstance(b, Rec) and isinstance(b.body, Rec) and isinstance(b.body.body, Branch)


def test_loop_that_never_exits_leaves_outsiders_with_nothing_to_do() -> None:
    local = compile(
        """
        protocol Forever {
          roles A, B, C;
          A -> C : Hello;
          rec L { A -> B : Ping; B -> A : Pong; continue L; }
        }
        """
    )
    assert local["C"] == Receive(Peer("A"), MessageType("Hello"), End())
    expect(
        local["B"],
        """
        rec L {
          A ? Ping [flow_cost = 100];
          A ! Pong [flow_cost = 100];
          continue L
        }
        """,
    )


def test_rec_is_dropped_when_the_role_never_loops() -> None:
    local = compile(
        """
        protocol Once {
          roles A, B, C;
          rec L {
            A -> C : Start;
            choice A {
              again: A -> B : More; A -> C : Again; continue L;
              stop: A -> B : Stop; A -> C : Halt;
            }
          }
          rec M { A -> C : Tail; }
        }
        """
    )
    # B and C loop; `rec M` never continues, so it is no loop for anyone.
    c = local["C"]
    assert isinstance(c, Rec) and c.var == "L"
    tail = Receive(Peer("A"), MessageType("Tail"), End())
    again = Receive(Peer("A"), MessageType("Again"), Var("L"))
    halt = Receive(Peer("A"), MessageType("Halt"), tail)
    assert c.body == Receive(Peer("A"), MessageType("Start"), Branch(Peer("A"), (again, halt)))
    b = local["B"]
    assert isinstance(b, Rec) and isinstance(b.body, Branch)
    assert b.body.case("Stop").then == End()
    a = local["A"]
    assert isinstance(a, Rec) and isinstance(a.body, Send) and isinstance(a.body.then, Select)
    stop = a.body.then.case("stop")
    assert stop == Send(Peer("B"), MessageType("Stop"), Send(Peer("C"), MessageType("Halt"), Send(
        Peer("C"), MessageType("Tail")
    )))  # fmt: skip


# --- timeouts ------------------------------------------------------------------------------

HEARTBEAT = """
protocol Heartbeat {
  roles Monitor, Node, Log;
  Monitor -> Node : Ping;
  timeout 2s at Monitor {
    Node -> Monitor : Pong;
    Monitor -> Node : Ok;
    Monitor -> Log : Healthy;
  } on timeout {
    Monitor [journal_facts = "node_suspected"] -> Node : Suspect;
    Monitor -> Log : Record(bytes);
  }
}
"""


def test_timeout_owner_holds_the_timer() -> None:
    local = compile(HEARTBEAT)
    expect(
        local["Monitor"],
        """
        Node ! Ping [flow_cost = 100];
        timeout 2s {
          Node ? Pong [flow_cost = 100];
          Node ! Ok [flow_cost = 100];
          Log ! Healthy [flow_cost = 100];
          end
        } on timeout {
          Node ! Suspect [flow_cost = 100, journal_facts = "node_suspected"];
          Log ! Record(bytes) [flow_cost = 100];
          end
        }
        """,
    )
    monitor = local["Monitor"]
    assert isinstance(monitor, Send) and isinstance(monitor.then, Timeout)
    assert monitor.then.after == 2000
    assert (monitor.then.line, monitor.then.column) == (5, 3)


def test_timeout_others_send_their_part_then_branch_on_the_owner() -> None:
    local = compile(HEARTBEAT)
    # The node sends its Pong whatever happens (a late one is discarded by the monitor), then
    # learns from the monitor's next message whether the timer fired.
    expect(
        local["Node"],
        """
        Monitor ? Ping [flow_cost = 100];
        Monitor ! Pong [flow_cost = 100];
        branch Monitor {
          Ok [flow_cost = 100]:
            end
          Suspect [flow_cost = 100, journal_facts = "node_suspected"]:
            end
        }
        """,
    )


def test_timeout_third_party_learns_either_way() -> None:
    expect(
        compile(HEARTBEAT)["Log"],
        """
        branch Monitor {
          Healthy [flow_cost = 100]:
            end
          Record(bytes) [flow_cost = 100]:
            end
        }
        """,
    )


def test_consensus_with_timeout_threshold_and_loop() -> None:
    local = compile(
        """
        protocol Consensus {
          roles Coordinator, Witness[n];
          Coordinator [guard_capability = "consensus:initiate"] -> Witness[*] : Execute(Op);
          timeout fallback at Coordinator {
            Witness[*] [guard_capability = "consensus:witness_sign", flow_cost = 50]
              -> Coordinator : SignShare(Share) within t;
            Coordinator [guard_capability = "consensus:finalize"] -> Witness[*] : Commit(Fact);
          } on timeout {
            Coordinator [guard_capability = "consensus:finalize"] -> Witness[*] : Abort;
          }
        }
        """,
        {"n": 4, "t": 3, "fallback": 1500},
    )
    expect(
        local["Coordinator"],
        """
        Witness[*] ! Execute(Op) [guard_capability = "consensus:initiate", flow_cost = 100];
        timeout 1500ms {
          Witness[*] ? SignShare(Share) count 3 [guard_capability = "consensus:witness_sign", flow_cost = 50];
          Witness[*] ! Commit(Fact) [guard_capability = "consensus:finalize", flow_cost = 100];
          end
        } on timeout {
          Witness[*] ! Abort [guard_capability = "consensus:finalize", flow_cost = 100];
          end
        }
        """,  # noqa: E501
    )
    expect(
        local["Witness"],
        """
        Coordinator ? Execute(Op) [guard_capability = "consensus:initiate", flow_cost = 100];
        Coordinator ! SignShare(Share) [guard_capability = "consensus:witness_sign", flow_cost = 50];
        branch Coordinator {
          Abort [guard_capability = "consensus:finalize", flow_cost = 100]:
            end
          Commit(Fact) [guard_capability = "consensus:finalize", flow_cost = 100]:
            end
        }
        """,  # noqa: E501
    )


# --- par -----------------------------------------------------------------------------------


def test_par_branches_for_a_role_in_several_and_sequencing_for_a_role_in_one() -> None:
    local = compile(
        """
        protocol Fanout {
          roles Hub, Left, Right;
          par {
            Hub -> Left : A;
            Left -> Hub : AckA;
          } and {
            Hub -> Right : B;
            Right -> Hub : AckB;
          }
          Hub -> Left : Done;
        }
        """
    )
    expect(
        local["Hub"],
        """
        par {
          Left ! A [flow_cost = 100];
          Left ? AckA [flow_cost = 100];
          end
        } and {
          Right ! B [flow_cost = 100];
          Right ? AckB [flow_cost = 100];
          end
        }
        Left ! Done [flow_cost = 100];
        end
        """,
    )
    hub = local["Hub"]
    assert isinstance(hub, Par) and len(hub.branches) == 2
    expect(
        local["Left"],
        """
        Hub ? A [flow_cost = 100];
        Hub ! AckA [flow_cost = 100];
        Hub ? Done [flow_cost = 100];
        end
        """,
    )
    assert local["Right"] == Receive(
        Peer("Hub"), MessageType("B"), Send(Peer("Hub"), MessageType("AckB"), End())
    )


# --- annotations ---------------------------------------------------------------------------


def test_annotation_defaults_and_normal_forms() -> None:
    local = compile(
        """
        protocol Annotated {
          roles A, B;
          A -> B : Bare;
          A [leak = ("group", "external"), flow_cost = 0] -> B : Leaky;
          A [leak = "neighbor", journal_facts = "seen", guard_capability = "a-b:c_d:0"]
            -> B : Full;
        }
        """
    )
    a = local["A"]
    assert isinstance(a, Send) and isinstance(a.then, Send) and isinstance(a.then.then, Send)
    assert a.message.annotations == Annotations(None, DEFAULT_FLOW_COST, None, ())
    assert DEFAULT_FLOW_COST == 100
    assert a.then.message.annotations == Annotations(None, 0, None, ("external", "group"))
    assert a.then.then.message.annotations == Annotations("a-b:c_d:0", 100, "seen", ("neighbor",))
    assert str(a.then.message.annotations) == '[flow_cost = 0, leak = ("external", "group")]'


# --- printing ------------------------------------------------------------------------------


def test_printing_stays_linear_in_sequential_choices() -> None:
    steps = "\n".join(
        f"choice A {{ x{i}: A -> B : X{i}; A -> C : P{i}; y{i}: A -> B : Y{i}; A -> C : Q{i}; }}"
        for i in range(40)
    )
    local = compile(f"protocol Many {{ roles A, B, C; {steps} }}")
    # 2**40 paths, yet every node prints once: 40 selects of 2 cases of 2 sends, plus labels.
    text = str(local["A"])
    assert len(text.splitlines()) < 40 * 12
    assert text.count("B ! X39 [flow_cost = 100];") == 1
    assert text.splitlines()[-2:] == ["    end", "}"]  # the last choice ends both branches
    assert "=> @39" in text and "@40:" not in text


# --- the documentation's example stays true --------------------------------------------------


def test_reference_example_projects_as_documented() -> None:
    doc = (Path(__file__).parents[3] / "docs" / "choreography.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", doc, re.S | re.M)
    (protocol,) = [b for b in blocks if b.startswith("// Consensus")]
    (coordinator,) = [b for b in blocks if b.startswith("Witness[*] ! Execute")]
    (witness,) = [b for b in blocks if b.startswith("Coordinator ? Execute")]
    local = compile(protocol, {"n": 5, "t": 3})
    assert str(local["Coordinator"]) + "\n" == coordinator
    assert str(local["Witness"]) + "\n" == witness


# --- API edges -----------------------------------------------------------------------------


def test_project_unknown_role() -> None:
    with pytest.raises(InvalidArgument):
        project(parse(REQUEST_RESPONSE), "Nobody")


def test_unused_role_projects_to_end() -> None:
    assert compile("protocol P { roles A, B, Idle; A -> B : X; }")["Idle"] == End()


def test_merge_is_available_to_callers() -> None:
    x = Receive(Peer("A"), MessageType("X"), End())
    y = Receive(Peer("A"), MessageType("Y"), End())
    merged = merge(y, x)
    assert merged == Branch(Peer("A"), (x, y)) == merge(x, y)
    assert merge(x, x) is x
    with pytest.raises(ProjectionError):
        merge(x, Receive(Peer("B"), MessageType("X"), End()))
    with pytest.raises(ProjectionError):
        merge(Send(Peer("A"), MessageType("X")), Send(Peer("A"), MessageType("Y")))
    select = Select((Case("a", End()),))
    assert merge(select, Select((Case("a", End()),))) == select
    with pytest.raises(ProjectionError):
        merge(Var("X"), End())
