"""The testing kit for users of the library: what this project's own tests use, shipped.

Needs the `testing` extra (`pip install 'aura-py[testing]'`: Hypothesis and pytest); the
library never imports it. `laws` checks semilattice laws for any join or meet.
"""
