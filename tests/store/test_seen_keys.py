"""The temporary table of a streamed ingest's keys (real SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from leadlink.store import records, seen_keys
from leadlink.store.db import transaction


def test_a_key_from_an_earlier_page_is_found_with_both_lines(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(records, "CHUNK", 2)  # several lookups per page
    with transaction(engine) as session:
        seen_keys.start(session)
        assert seen_keys.add_page(session, [("a", 2), ("b", 3), ("c", 4)]) is None
        assert seen_keys.add_page(session, [("d", 5), ("e", 6)]) is None
        # The first row of the page whose key was seen, with the line it was seen on.
        assert seen_keys.add_page(session, [("f", 7), ("e", 8), ("a", 9)]) == ("e", 6, 8)
        seen_keys.finish(session)
    with transaction(engine) as session:  # a new ingest starts empty, even on that connection
        seen_keys.start(session)
        assert seen_keys.add_page(session, [("a", 2)]) is None
        seen_keys.start(session)  # a table left behind is replaced
        assert seen_keys.add_page(session, [("a", 2)]) is None
        seen_keys.finish(session)
