"""Who is behind each record: `match` (staged, streamed and decided in a scratch DuckDB
workspace), the online path for one lead, the trained model, review, merges, `link`, and
`explain` / `export links` / `evaluate`."""
