"""The testing kit for users of the library: what this project's own tests use, shipped.

Needs the `testing` extra (`pip install 'aura-py[testing]'`: Hypothesis and pytest); the
library never imports it. `plugin` runs async pytest tests on the deterministic simulator, one
test per seed, and prints the command that repeats a failing seed; `strategies` draws every
public record type (and your own) for Hypothesis; `laws` checks semilattice laws for any join
or meet. See docs/simulator.md, "Testing your own protocols".
"""
