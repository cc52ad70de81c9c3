"""Services: they own transactions (committed per chunk, never per row) and call the pure core
and the store. Grouped by concept, each group importing only the groups below it:
``operations`` > ``money`` > ``resolution`` > ``ingest`` (docs/architecture.md)."""
