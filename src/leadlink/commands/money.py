"""`leadlink claims` and `leadlink quarantine scan`: what the partner can bill, and who not."""
