"""Layer 2: facts, namespaces, journals, validation, reducers, the commitment tree and the
capability frontier. Pure: no clocks, randomness or I/O."""
