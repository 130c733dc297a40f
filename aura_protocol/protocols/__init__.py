"""Protocols written in the choreography language, with the role programs that run them.

Each module holds the protocol text (a constant), its default bindings and one program per role
(an async function of an `Endpoint`, or a factory returning one). Compile the text once with
`Choreography.compile(TEXT, bindings)` and run each role on its node's `Dispatcher`.
"""
