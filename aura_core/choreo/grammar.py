"""The choreography grammar, as a lark grammar string.

The grammar is embedded (not loaded from a file) because `aura_core` does no I/O. It is LALR(1):
lark builds a table-driven parser that runs in linear time, and the grammar is checked for
conflicts when the parser is built. Two spots needed care to stay LALR(1):

- A family wildcard is the single token `[*]` (no spaces), so `Witness[*] [flow_cost = 5]` can
  tell the wildcard from the annotation list after one token of look-ahead.
- Choice branches are parsed as a flat list of `label:` markers and statements; the parser module
  groups statements under the label before them. (`label: statement*` as a rule would need two
  tokens of look-ahead to see where a branch ends.)

The tree this grammar produces is turned into `aura_core.choreo.syntax` nodes by
`aura_core.choreo.parser`; nothing else should depend on rule or terminal names here.
"""

from __future__ import annotations

__all__ = ["GRAMMAR", "KEYWORDS"]

KEYWORDS = frozenset(
    {"protocol", "roles", "choice", "rec", "continue", "par", "and", "timeout", "at", "on"}
    | {"within"}
)
"""Words the lexer reserves; they cannot name roles, labels or variables."""

GRAMMAR = r"""
start: "protocol" NAME "{" roles statement* "}"

roles: "roles" role_decl ("," role_decl)* ";"
role_decl: NAME                   -> single_role
         | NAME "[" size "]"      -> family_role
?size: INT | NAME

?statement: message
          | choice
          | rec
          | continue_
          | par
          | timeout

message: sender annotations? "->" receiver ":" NAME payload? within? ";"
sender: NAME WILDCARD?
receiver: NAME WILDCARD?
annotations: "[" annotation ("," annotation)* "]"
annotation: NAME "=" value
?value: scalar
      | "(" scalar ("," scalar)* ")"   -> tuple
?scalar: STRING                       -> string
       | INT                          -> integer
payload: "(" type_expr ")"
type_expr: NAME ("." NAME)* type_args?
type_args: "[" type_expr ("," type_expr)* "]"
within: "within" size

choice: "choice" NAME "{" choice_item* "}"
?choice_item: NAME ":"                -> branch_label
            | statement
rec: "rec" NAME "{" statement* "}"
continue_: "continue" NAME ";"
par: "par" block ("and" block)+
block: "{" statement* "}"
timeout: "timeout" duration "at" NAME block "on" "timeout" block
?duration: DURATION | NAME

WILDCARD: "[*]"
DURATION: /[0-9]+(ms|s)\b/
STRING: /"(?:[^"\\\n]|\\["\\])*"/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
INT: /[0-9]+/
COMMENT: /\/\/[^\n]*/

%import common.WS
%ignore WS
%ignore COMMENT
"""
