"""Layer 3: production effect handlers (OS randomness, clocks, SQLite storage, native crypto,
transport, tracing) and handler bundles. The only layer besides the simulator and the terminal
that touches the outside world."""
