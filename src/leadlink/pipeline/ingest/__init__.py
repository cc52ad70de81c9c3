"""Getting data in: reading and validating source files, and upserting them by source_pk in one
transaction."""
