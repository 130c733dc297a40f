"""Layer 5: pure consensus logic: the instance state machine, evidence, `CommitFact` and the
ceremony lifecycle. No I/O."""
