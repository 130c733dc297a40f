"""The choreography language: global protocols, projected to one local type per role.

A choreography is written once as text, parsed into an AST (`parse`), checked against the
well-formedness rules (`check`) and projected onto each role (`project`, or `compile` for all
roles at once). The resulting local types (`Send`, `Receive`, `Select`, `Branch`, `Rec`, `Var`,
`Timeout`, `Par`, `End`) are what the runtime in `aura_protocol` executes, one endpoint per role,
running every send through the guard chain with the annotations the message carries.

```python
from aura_core.choreo import compile

local_types = compile('''
protocol Ping {
  roles Client, Server;
  Client [guard_capability = "example:ping", flow_cost = 1] -> Server : Ping(bytes);
  Server [guard_capability = "example:pong", flow_cost = 1] -> Client : Pong(bytes);
}
''')
print(local_types["Client"])
```

The language, the local types' meaning for a runtime, and every rule are specified in
`docs/choreography.md`. Everything here is pure: no clock, no I/O; errors are
`ChoreographyError` subclasses carrying a line and column.
"""

from aura_core.choreo.local import (
    DEFAULT_FLOW_COST,
    OBSERVER_CLASSES,
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
    pretty,
)
from aura_core.choreo.parser import parse
from aura_core.choreo.project import check, compile, merge, message_table, project
from aura_core.choreo.syntax import Protocol, format_protocol

__all__ = [
    "parse",
    "check",
    "project",
    "compile",
    "message_table",
    "merge",
    "format_protocol",
    "pretty",
    "Protocol",
    "DEFAULT_FLOW_COST",
    "OBSERVER_CLASSES",
    "Peer",
    "Annotations",
    "MessageType",
    "LocalType",
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
]
