"""`leadlink model train|show` and `leadlink link`: the matching engine's own commands."""
