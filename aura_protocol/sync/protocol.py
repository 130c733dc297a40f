"""`AuraSync`: one anti-entropy session between two devices over one journal namespace.

The initiator drives a loop; each turn it picks one of three messages and the responder answers
it (or refuses, which ends the session):

```
rec Round {
  choice Initiator {
    reconcile: Initiator -> Responder : Reconcile;  Responder -> Initiator : Ranges | Refuse
    fetch:     Initiator -> Responder : Fetch;      Responder -> Initiator : Facts | Refuse
    done:      Initiator -> Responder : Done
  }
}
```

`Reconcile`/`Ranges` carry range-based set reconciliation messages until the initiator knows
which facts each side lacks; `Fetch` asks for the ids it lacks and carries a piece of the facts
the responder lacks; `Facts` carries a piece of what was asked for. Every message is a guarded
send: the capabilities are `sync:reconcile` (reconciliation, refusals, the end) and
`sync:facts` (messages that carry facts), and each pays its flow cost.
"""

from __future__ import annotations

import functools

from aura_protocol.choreography import Choreography

__all__ = ["PROTOCOL", "RECONCILE", "FACTS", "CAPABILITIES", "TEXT", "choreography"]

PROTOCOL = "AuraSync"
RECONCILE = "sync:reconcile"
FACTS = "sync:facts"
CAPABILITIES = (FACTS, RECONCILE)
"""Every capability a device needs, in the context a session travels in, to sync."""

TEXT = f"""\
protocol {PROTOCOL} {{
  roles Initiator, Responder;
  rec Round {{
    choice Initiator {{
      reconcile:
        Initiator [guard_capability = "{RECONCILE}", flow_cost = 1]
          -> Responder : Reconcile(sync.reconcile);
        choice Responder {{
          ranges:
            Responder [guard_capability = "{RECONCILE}", flow_cost = 1]
              -> Initiator : Ranges(sync.ranges);
            continue Round;
          refuse:
            Responder [guard_capability = "{RECONCILE}", flow_cost = 1]
              -> Initiator : Refuse(sync.refusal);
        }}
      fetch:
        Initiator [guard_capability = "{FACTS}", flow_cost = 2]
          -> Responder : Fetch(sync.fetch);
        choice Responder {{
          facts:
            Responder [guard_capability = "{FACTS}", flow_cost = 2]
              -> Initiator : Facts(sync.facts);
            continue Round;
          refuse:
            Responder [guard_capability = "{RECONCILE}", flow_cost = 1]
              -> Initiator : Refuse(sync.refusal);
        }}
      done:
        Initiator [guard_capability = "{RECONCILE}", flow_cost = 1] -> Responder : Done;
    }}
  }}
}}
"""


@functools.lru_cache(maxsize=1)
def choreography() -> Choreography:
    """`AuraSync`, compiled once (it has no bindings)."""
    return Choreography.compile(TEXT)
