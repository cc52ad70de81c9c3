"""Backlog segments on real databases: one hand-made lead per segment and loss reason."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from tests.factories import driver, load
from tests.pipeline.money.segments_world import NOW, SETTINGS, segments_world
from typer.testing import CliRunner

from leadlink.cli import app
from leadlink.clock import utcnow
from leadlink.errors import UsageError
from leadlink.pipeline.money import recovery as rec
from leadlink.pipeline.money.segments import backlog_segments
from leadlink.pipeline.resolution import review
from leadlink.pipeline.resolution.merge import merge_persons
from leadlink.pipeline.resolution.resolve import match, person_key_for

# lead -> (segment, loss reason, engine reason, S/ at stake, deadline, days left)
EXPECTED = {
    "LR1": ("recoverable", None, "WEAK_MATCH_ONLY", 60.0, "2026-12-14", 34),
    "LR2": ("recoverable", None, "WEAK_MATCH_ONLY", 0.0, "2026-12-12", 32),
    "LW1": ("waiting", None, "NO_CANDIDATES", 160.0, "2026-11-15", 5),
    "LW2": ("waiting", None, "MISSING_IDENTIFIERS", 160.0, "2026-11-19", 9),
    "LE1": ("lost", "EXPIRED", "WEAK_MATCH_ONLY", 0.0, "2026-10-14", -27),
    "LN1": ("lost", "NO_CANDIDATES", "NO_CANDIDATES", 0.0, "2026-10-15", -26),
    "LM1": ("lost", "MISSING_IDENTIFIERS", "MISSING_IDENTIFIERS", 0.0, "2026-10-16", -25),
    "LU1": ("lost", "NOT_MATCHED", None, 0.0, "2026-10-17", -24),
}


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Engine:
    return segments_world(engine, tmp_path)


def _rows(report: dict) -> dict[str, tuple]:
    return {
        r["lead_id"]: (r["segment"], r["loss_reason"], r["reason"], r["at_stake"],
                       r["deadline"], r["days_left"])
        for r in report["leads"]
    }  # fmt: skip


def test_every_lead_in_its_segment(world: Engine) -> None:
    report = backlog_segments(world, SETTINGS, now=NOW)
    assert _rows(report) == EXPECTED
    # Working order: recoverable by deadline, waiting by deadline, lost newest first.
    assert [r["lead_id"] for r in report["leads"]] == [
        "LR2", "LR1", "LW1", "LW2", "LU1", "LM1", "LN1", "LE1",
    ]  # fmt: skip
    assert report["segments"] == {
        "recoverable": {"leads": 2, "at_stake": 60.0, "next_deadline": "2026-12-12",
                        "by_reason": {}},
        "waiting": {"leads": 2, "at_stake": 320.0, "next_deadline": "2026-11-15",
                    "by_reason": {}},
        "lost": {"leads": 4, "at_stake": 0.0, "next_deadline": None,
                 "by_reason": {"EXPIRED": 1, "MISSING_IDENTIFIERS": 1, "NOT_MATCHED": 1,
                               "NO_CANDIDATES": 1}},
    }  # fmt: skip
    assert (report["kpi_red"], report["at_stake"], report["total"]) == (8, 380.0, 8)


def test_candidates_are_the_review_items(world: Engine) -> None:
    by_lead = {r["lead_id"]: r for r in backlog_segments(world, SETTINGS, now=NOW)["leads"]}
    assert by_lead["LR1"]["candidate_trips"] == 6  # 3 + 3 inside the window, not the 30 after
    assert by_lead["LR1"]["candidate"] is not None
    assert by_lead["LE1"]["candidate"] is not None  # a candidate, but its claims expired
    assert by_lead["LW1"]["candidate"] is None


@pytest.mark.parametrize(
    ("segments", "expected"),
    [
        (["recoverable"], ["LR2", "LR1"]),
        (["lost"], ["LU1", "LM1", "LN1", "LE1"]),
        (["waiting", "recoverable"], ["LR2", "LR1", "LW1", "LW2"]),
    ],
)
def test_segment_filter_narrows_the_page_not_the_summary(
    world: Engine, segments: list[str], expected: list[str]
) -> None:
    report = backlog_segments(world, SETTINGS, now=NOW, segments=segments)
    assert [r["lead_id"] for r in report["leads"]] == expected
    assert report["total"] == len(expected)
    assert report["kpi_red"] == 8


def test_paging_is_stable(world: Engine) -> None:
    whole = [r["lead_id"] for r in backlog_segments(world, SETTINGS, now=NOW)["leads"]]
    pages = [
        r["lead_id"]
        for offset in range(0, 8, 3)
        for r in backlog_segments(world, SETTINGS, now=NOW, limit=3, offset=offset)["leads"]
    ]
    assert pages == whole


def test_time_moves_leads_between_segments(world: Engine) -> None:
    """On 11-15 LW1's window has closed (lost, NO_CANDIDATES); on 12-13 LR2's claims expired."""
    later = backlog_segments(world, SETTINGS, now=NOW.replace(day=15))
    assert _rows(later)["LW1"][:2] == ("lost", "NO_CANDIDATES")
    much_later = backlog_segments(world, SETTINGS, now=NOW.replace(month=12, day=13))
    assert _rows(much_later)["LR2"][:2] == ("lost", "EXPIRED")
    assert _rows(much_later)["LR1"][0] == "recoverable"


def test_unknown_segment_is_a_usage_error(world: Engine) -> None:
    with pytest.raises(UsageError, match="unknown segment stuck"):
        backlog_segments(world, SETTINGS, now=NOW, segments=["stuck"])


def test_cli_json_is_the_service_and_the_table_reads_at_80_columns(
    world: Engine, db_url: str
) -> None:
    """The CLI reads the real clock: compare it with the service at the real clock."""
    result = CliRunner().invoke(app, ["--db", db_url, "backlog", "--json", "--limit", "500"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    expected = backlog_segments(world, SETTINGS, now=utcnow(), limit=500)
    assert got == json.loads(json.dumps(expected))
    assert got["kpi_red"] == 9  # LT's grace day has passed on the real clock too

    table = CliRunner().invoke(app, ["--db", db_url, "backlog", "--segment", "lost"])
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "NOT_MATCHED" in table.stdout and "None" not in table.stdout
    assert "{" not in table.stdout and "[]" not in table.stdout

    bad = CliRunner().invoke(app, ["--db", db_url, "backlog", "--segment", "stuck"])
    assert bad.exit_code == 2
    assert "unknown segment stuck" in bad.output


def _attempted(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        found = conn.execute(text(
            "SELECT sr.source_pk FROM recovery_attempt a "
            "JOIN source_record sr ON sr.id = a.record_id ORDER BY a.id"
        ))  # fmt: skip
        return [r[0] for r in found]


def test_recovery_works_recoverable_leads_first_then_waiting_then_lost(world: Engine) -> None:
    settings = SETTINGS.model_copy(update={"chunk_size": 2})
    rec.seed(world, settings, now=NOW)
    for _ in range(3):
        rec.recover(world, settings, now=NOW, limit=2)
    # By segment, then oldest lead first inside it.
    assert _attempted(world) == ["LR2", "LR1", "LW1", "LW2", "LE1", "LN1"]


def test_a_new_driver_rechecks_only_the_leads_it_shares_a_key_with(
    world: Engine, tmp_path: Path
) -> None:
    match(world, SETTINGS, now=NOW)  # LU1 too is decided, and keyed, by match
    rec.seed(world, SETTINGS, now=NOW)
    rec.recover(world, SETTINGS, now=NOW)
    later = NOW + dt.timedelta(hours=2)
    assert rec.seed(world, SETTINGS, now=later).rearmed == 0  # nothing changed
    # Pedro Ruiz Diaz registers with LW1's phone: LW1 is the only lead he shares a key with.
    load(world, tmp_path, "drivers", [
        driver("D7", first_name="Pedro", last_name="Ruiz Diaz", phone="911222333",
               hire_date="2026-11-09"),
    ])  # fmt: skip
    match(world, SETTINGS, now=later)
    assert rec.seed(world, SETTINGS, now=later + dt.timedelta(minutes=1)).rearmed == 1
    result = rec.recover(world, SETTINGS, now=later + dt.timedelta(minutes=1))
    assert (result.processed, result.matched) == (1, 1)
    after = backlog_segments(world, SETTINGS, now=later + dt.timedelta(minutes=1))
    assert "LW1" not in {r["lead_id"] for r in after["leads"]}
    assert after["segments"]["waiting"]["leads"] == 1


def test_a_candidate_rejected_in_review_is_no_candidate(world: Engine) -> None:
    """LR1's proposal (D1) rejected: the lead's verdict still lists D1, but a person said no;
    its window closed long ago, so it is lost for want of a driver."""
    with world.connect() as conn:
        item = conn.execute(text(
            "SELECT ri.id FROM review_item ri JOIN source_record sr ON sr.id = ri.record_id "
            "WHERE sr.source_pk = 'LR1'"
        )).scalar_one()  # fmt: skip
    review.reject(world, SETTINGS, item, now=NOW, actor="ana", note="otro conductor")
    row = next(r for r in backlog_segments(world, SETTINGS, now=NOW)["leads"]
               if r["lead_id"] == "LR1")  # fmt: skip
    assert (row["segment"], row["loss_reason"], row["candidate"]) == (
        "lost", "WEAK_MATCH_ONLY", None)  # fmt: skip
    rec.seed(world, SETTINGS, now=NOW)
    rec.recover(world, SETTINGS.model_copy(update={"chunk_size": 1}), now=NOW, limit=1)
    assert _attempted(world) == ["LR2"]  # the one recoverable lead left goes first


def test_a_candidate_merged_away_is_its_survivor(world: Engine) -> None:
    """LR1's verdict names D1's person; after D1's person is merged into D2's (and LR1's own
    item set aside), the candidate is the survivor, not the retired key."""
    d1, d2 = person_key_for("drivers", "D1"), person_key_for("drivers", "D2")
    merge_persons(world, d2, d1, now=NOW, actor="ana", reason="test", force=True)
    with world.begin() as conn:
        conn.execute(text(
            "UPDATE review_item SET status = 'superseded' WHERE record_id = "
            "(SELECT id FROM source_record WHERE source = 'leads' AND source_pk = 'LR1')"
        ))  # fmt: skip
    row = next(r for r in backlog_segments(world, SETTINGS, now=NOW)["leads"]
               if r["lead_id"] == "LR1")  # fmt: skip
    assert (row["segment"], row["candidate"]) == ("recoverable", d2)
