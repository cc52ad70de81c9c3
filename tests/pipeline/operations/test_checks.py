"""Every check passes on a healthy database and fails, naming what broke, when broken."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from tests.factories import NOW, driver, lead, load

from leadlink.pipeline.operations import checks
from leadlink.pipeline.resolution.resolve import match
from leadlink.settings import Settings
from leadlink.store import db as store_db
from leadlink.store import resolution

SETTINGS = Settings(db="sqlite://")


@pytest.fixture
def matched(engine: Engine, tmp_path: Path) -> Engine:
    load(engine, tmp_path, "drivers", [
        driver("D1", first_name="Ana", last_name="Torres Vega", phone="987000111",
               document="11223344"),
        driver("D2", first_name="Luis", last_name="Ramos Cruz", phone="987000222"),
    ])  # fmt: skip
    load(engine, tmp_path, "leads", [
        lead("L1", first_name="Ana", last_name="Torres", phone="987000111"),
        lead("L2", first_name="Luis", last_name="Ramos Cruz", phone="987000222"),
        lead("L3", first_name="Nadie", last_name="Nunca", phone="955999888"),
    ])  # fmt: skip
    match(engine, SETTINGS, now=NOW)
    return engine


def _exec(engine: Engine, sql: str, **params: Any) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), params)


def _run(engine: Engine, name: str) -> checks.CheckResult:
    return checks.CHECKS[name](engine, SETTINGS)


def test_all_checks_pass_on_a_healthy_database(matched: Engine) -> None:
    results = checks.run_checks(matched, SETTINGS, list(checks.CHECKS))
    assert [(r.name, r.ok, r.examples) for r in results] == [
        (name, True, []) for name in checks.CHECKS
    ]


def test_origins_fails_on_a_linked_lead_without_origin(matched: Engine) -> None:
    _exec(matched, "DELETE FROM origin_history")
    _exec(
        matched,
        "DELETE FROM origin WHERE record_id = "
        "(SELECT id FROM source_record WHERE source = 'leads' AND source_pk = 'L1')",
    )
    result = _run(matched, "origins")
    assert not result.ok
    assert result.violations == 2  # the missing origin, and L2's origin now has no journal
    assert any("leads, L1" in e for e in result.examples)


def test_links_fails_on_two_active_links_when_the_index_is_gone(matched: Engine) -> None:
    # The partial unique index makes this impossible; the check is the second line of defence.
    _exec(matched, "DROP INDEX uq_link_active_record")
    _exec(
        matched,
        "INSERT INTO link (record_id, person_key, rule, score, confidence, evidence, run_id, "
        "active, created_at) SELECT record_id, person_key, rule, score, confidence, evidence, "
        "run_id, active, created_at FROM link WHERE id = (SELECT min(id) FROM link)",
    )
    result = _run(matched, "links")
    assert not result.ok and result.violations == 1
    assert "active links" in result.examples[0]


def test_links_fails_on_a_record_both_linked_and_unmatched(matched: Engine) -> None:
    _exec(
        matched,
        "INSERT INTO unmatched (record_id, reason, candidates, band, updated_at) "
        "SELECT record_id, 'NO_CANDIDATES', '[]', 'reject', created_at FROM link "
        "WHERE id = (SELECT min(id) FROM link)",
    )
    assert not _run(matched, "links").ok


def test_unmatched_fails_on_unknown_reason_and_on_error_without_message(matched: Engine) -> None:
    _exec(matched, "UPDATE unmatched SET reason = 'ERROR', message = NULL")
    result = _run(matched, "unmatched")
    assert not result.ok and result.violations == 1
    _exec(matched, "UPDATE unmatched SET reason = 'failed', message = 'x'")
    assert not _run(matched, "unmatched").ok


def test_source_pk_fails_on_a_key_that_does_not_follow_its_formula(matched: Engine) -> None:
    _exec(matched, "UPDATE source_record SET source_pk = 'L1-bis' WHERE source_pk = 'L1'")
    result = _run(matched, "source-pk")
    assert not result.ok and result.examples == [
        "leads/L1-bis: key does not follow the leads formula"
    ]


def test_heads_fails_with_two_migration_heads(
    matched: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forked = tmp_path / "migrations"
    shutil.copytree(store_db.MIGRATIONS, forked)
    (head,) = store_db.heads(matched)
    for name in ("fork", "other"):  # two children of the real head: two heads
        (forked / "versions" / f"9999_{name}.py").write_text(
            f'revision = "9999{name}"\ndown_revision = "{head}"\nbranch_labels = None\n'
            "depends_on = None\n\n\ndef upgrade() -> None:\n    pass\n\n\n"
            "def downgrade() -> None:\n    pass\n"
        )
    monkeypatch.setattr(store_db, "MIGRATIONS", forked)
    result = _run(matched, "heads")
    assert not result.ok
    assert any("2 migration heads" in e for e in result.examples)


def test_idempotent_passes_and_settles_pending_records(matched: Engine, tmp_path: Path) -> None:
    load(matched, tmp_path, "leads", [lead("L9", first_name="Ana", last_name="Torres Vega",
                                           phone="987000111")])  # fmt: skip
    assert _run(matched, "idempotent").ok


def test_idempotent_fails_when_a_rerun_redoes_work(
    matched: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = resolution.pending_page

    def always_reconsider(session: Any, source: str, **kw: Any) -> Any:
        return real(session, source, **{**kw, "include_unmatched": True})

    monkeypatch.setattr(resolution, "pending_page", always_reconsider)
    result = _run(matched, "idempotent")
    assert not result.ok
    assert any("rerun processed" in e for e in result.examples)


def _every_row(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (and alembic_version): the store, byte for byte."""
    from sqlalchemy import inspect

    rows = {}
    with engine.connect() as conn:
        for table in sorted(inspect(engine).get_table_names()):
            got = conn.execute(text(f"SELECT * FROM {table}")).all()  # noqa: S608 - our tables
            rows[table] = sorted(tuple(str(v) for v in r) for r in got)
    return rows


def test_idempotent_and_check_all_never_write_to_the_live_store(
    matched: Engine, tmp_path: Path
) -> None:
    """It used to run match on the store itself: after a crash it quietly decided 174 k
    records. Now pending records are settled on a scratch copy; the store stays as it was."""
    load(matched, tmp_path, "leads", [lead("L9", first_name="Ana", last_name="Torres Vega",
                                           phone="987000111")])  # fmt: skip
    before = _every_row(matched)
    result = _run(matched, "idempotent")
    assert result.ok and "1 pending records settled first" in result.detail
    assert _every_row(matched) == before  # no link, no unmatched, no job_run row
    checks.run_checks(matched, SETTINGS, list(checks.CHECKS))
    assert _every_row(matched) == before
    if matched.dialect.name == "postgresql":
        with matched.connect() as conn:
            left = conn.execute(text(
                "SELECT count(*) FROM information_schema.schemata "
                "WHERE schema_name LIKE 'leadlink_check_%'")).scalar_one()  # fmt: skip
        assert left == 0  # the scratch schema is dropped
