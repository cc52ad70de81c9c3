"""The dashboard's pages, one module per group; ``common`` is what they share (templates, the
one response that is HTML or JSON, flash messages, the error page)."""
