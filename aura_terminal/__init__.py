"""Layer 9: the `aura` command line and terminal UI, thin clients of the agent's API."""
