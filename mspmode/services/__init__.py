"""Use cases by domain: the only layer that opens a transaction."""
