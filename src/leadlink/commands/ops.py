"""`leadlink gap`, `leadlink backfill origins`, `leadlink alerts`, `leadlink worker`."""
