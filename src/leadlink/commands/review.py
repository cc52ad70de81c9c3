"""`leadlink review list|accept|reject`: the review band, decided by a person, audited."""
