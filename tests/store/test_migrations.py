from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError
from tests.stake_world import NOW, ORDER, SETTINGS, TOTAL, ordered_ids, stake_world

from leadlink.pipeline.resolution import review
from leadlink.store.db import alembic_config, current_revision, heads, make_engine, migrate
from leadlink.store.models import Base


def test_one_linear_history(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    script = ScriptDirectory.from_config(alembic_config(engine))
    assert len(script.get_heads()) == 1, f"two heads: {script.get_heads()}"
    # Every revision but the first has exactly one parent: no merges, no branches.
    for rev in script.walk_revisions():
        assert not isinstance(rev.down_revision, tuple | list), f"{rev.revision} is a merge"


def test_migrated_database_has_every_model_table(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert current_revision(engine) in heads(engine)


def test_migrate_twice_changes_nothing(engine: Engine) -> None:
    before = current_revision(engine)
    migrate(engine)
    assert current_revision(engine) == before


def test_0004_empties_the_derived_keys_so_match_rekeys_every_record(engine: Engine) -> None:
    """Keys of the model's old name-only blocks would leave registry records unfound."""
    cfg = alembic_config(engine)
    command.downgrade(cfg, "0003_blocking_keys")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO record_key (key, record_id) VALUES (1, 1), (2, 1)"))
        conn.execute(text("INSERT INTO record_term (record_id, given) VALUES (1, 'ANA')"))
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        counts = [conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608
                  for t in ("record_key", "record_term")]  # fmt: skip
    assert counts == [0, 0]
    assert current_revision(engine) in heads(engine)


def test_0005_adds_sessions_and_job_owner_and_downgrades_cleanly(engine: Engine) -> None:
    columns = {c["name"] for c in inspect(engine).get_columns("job_run")}
    assert "owner" in columns
    assert "web_session" in inspect(engine).get_table_names()
    cfg = alembic_config(engine)
    command.downgrade(cfg, "0004_model_name_blocks")
    after = inspect(engine)
    assert "web_session" not in after.get_table_names()
    assert "owner" not in {c["name"] for c in after.get_columns("job_run")}
    command.upgrade(cfg, "head")
    assert current_revision(engine) in heads(engine)


def test_0006_adds_activity_daily_and_downgrades_cleanly(engine: Engine) -> None:
    assert "activity_daily" in inspect(engine).get_table_names()
    cfg = alembic_config(engine)
    command.downgrade(cfg, "0005_sessions_and_job_owner")
    assert "activity_daily" not in inspect(engine).get_table_names()
    command.upgrade(cfg, "head")
    assert current_revision(engine) in heads(engine)


def test_0007_indexes_source_keys_in_byte_order_on_postgresql(engine: Engine) -> None:
    def indexes() -> set[str]:
        return {i["name"] for i in inspect(engine).get_indexes("source_record") if i["name"]}

    on_pg = engine.dialect.name == "postgresql"
    assert ("ix_source_record_source_key_bytes" in indexes()) is on_pg
    cfg = alembic_config(engine)
    command.downgrade(cfg, "0006_activity_daily")
    assert "ix_source_record_source_key_bytes" not in indexes()
    command.upgrade(cfg, "head")
    assert ("ix_source_record_source_key_bytes" in indexes()) is on_pg


def test_0010_adds_the_alert_acknowledgement_and_downgrades_cleanly(engine: Engine) -> None:
    def columns() -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns("alert")}

    ack = {"acknowledged_at", "acknowledged_by", "ack_note"}
    assert ack <= columns()
    insert = ("INSERT INTO alert (kind, subject, severity, detail, raised_at, resolved_at) "
              "VALUES ('job_stale', 'match', 'warning', '{}', '2026-11-01 12:00:00', :resolved)")
    with engine.begin() as conn:
        conn.execute(text(insert), {"resolved": None})
        conn.execute(text("UPDATE alert SET acknowledged_by = 'ana', "
                          "acknowledged_at = raised_at, ack_note = 'visto'"))  # fmt: skip
    cfg = alembic_config(engine)
    command.downgrade(cfg, "0009_candidate_pairs")
    assert not ack & columns()
    # The alert rows stay, and so does "one open alert per (kind, subject)" (SQLite rebuilds
    # the table to drop the columns: the partial unique index must come back with it).
    _one_open_alert_per_kind_and_subject(engine, insert)
    command.upgrade(cfg, "head")
    assert ack <= columns() and current_revision(engine) in heads(engine)
    with engine.connect() as conn:
        got = conn.execute(text("SELECT subject, acknowledged_by, resolved_at IS NULL "
                                "FROM alert ORDER BY id")).all()  # fmt: skip
    assert [tuple(r) for r in got] == [("match", None, True)]  # kept, its acknowledgement not
    _one_open_alert_per_kind_and_subject(engine, insert)


def _one_open_alert_per_kind_and_subject(engine: Engine, insert: str) -> None:
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(insert), {"resolved": None})
    with engine.begin() as conn:  # a resolved one beside the open one is fine
        conn.execute(text(insert), {"resolved": "2026-11-02 12:00:00"})
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM alert WHERE resolved_at IS NOT NULL"))


def test_0011_stores_the_review_stake_and_the_first_reader_computes_it(
    engine: Engine, tmp_path: Path
) -> None:
    def columns() -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns("review_item")}

    def indexes() -> set[str]:
        return {i["name"] for i in inspect(engine).get_indexes("review_item") if i["name"]}

    stake_world(engine, tmp_path)
    assert "at_stake" in columns() and "ix_review_item_stake" in indexes()
    cfg = alembic_config(engine)
    command.downgrade(cfg, "0010_alert_acknowledgement")
    assert "at_stake" not in columns() and "ix_review_item_stake" not in indexes()
    with engine.connect() as conn:
        views = set(conn.execute(text('SELECT "view" FROM money_refresh')).scalars())
        assert conn.execute(text("SELECT count(*) FROM review_item")).scalar_one() == 6
    assert "review" not in views  # forgotten with its column
    # SQLite rebuilds the table to drop the column: its one-row-per-pair rule comes back.
    duplicate = ("INSERT INTO review_item (record_id, person_key, rule, score, evidence, status, "
                 "created_at) SELECT record_id, person_key, rule, score, evidence, 'open', "
                 "created_at FROM review_item WHERE id = :i")  # fmt: skip
    first = ordered_ids(engine)[0]
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(duplicate), {"i": first})
    command.upgrade(cfg, "head")
    assert "at_stake" in columns() and "ix_review_item_stake" in indexes()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT max(at_stake) FROM review_item")).scalar_one() == 0
    page = review.list_items(engine, SETTINGS, now=NOW)  # computes every figure first
    assert [(i["id"], i["at_stake"]) for i in page["items"]] == [
        (i, s) for i, (_l, _d, s, _dl) in zip(ordered_ids(engine), ORDER, strict=True)
    ]
    assert page["at_stake"] == TOTAL
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(duplicate), {"i": first})


def test_0012_adds_the_stored_funnel_and_downgrades_cleanly(engine: Engine) -> None:
    def tables() -> set[str]:
        return set(inspect(engine).get_table_names())

    funnel = {"funnel_person", "funnel_stage"}
    assert funnel <= tables()
    cfg = alembic_config(engine)
    command.downgrade(cfg, "0011_review_at_stake")
    assert not funnel & tables()
    command.upgrade(cfg, "head")
    assert funnel <= tables() and current_revision(engine) in heads(engine)
    with engine.connect() as conn:  # nothing recorded: the first reader computes it
        got = conn.execute(text("SELECT count(*) FROM money_refresh WHERE view = 'funnel'"))
        assert got.scalar_one() == 0
