"""The hand-checked claims fixture (tests/fixtures/claims), loaded for real, and table readers."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from leadlink.pipeline.ingest.files import ingest_file
from leadlink.pipeline.resolution.resolve import match
from leadlink.settings import Settings

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "claims"
# The fixture is settled by the deterministic rules; no model is trained on 15 rows.
SETTINGS = Settings(db="sqlite://", probabilistic=False)
NOW = dt.datetime(2026, 11, 1, 12, 0, 0)
INGESTED = dt.datetime(2026, 11, 1, 6, 0, 0)


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=12)


def load_fixture(
    engine: Engine, sources: tuple[str, ...] = ("drivers", "leads", "trips", "payments")
) -> None:
    for source in sources:
        ingest_file(engine, source, FIXTURE / f"{source}.csv", now=INGESTED)
    match(engine, SETTINGS, now=INGESTED)


def expected(name: str) -> list[dict[str, str]]:
    with (FIXTURE / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def person_labels(engine: Engine) -> dict[str, str]:
    """person_key -> the smallest driver id of the person (readable in expectations)."""
    found: dict[str, str] = {}
    for pk, person in rows(
        engine,
        "SELECT sr.source_pk, l.person_key FROM source_record sr "
        "JOIN link l ON l.record_id = sr.id AND l.active "
        "WHERE sr.source = 'drivers'",
    ):
        found[person] = min(found.get(person, pk), pk)
    return found


def claims_table(engine: Engine) -> list[dict[str, str]]:
    """The claim table in the fixture's expected_claims.csv shape, sorted."""
    label = person_labels(engine)
    out = []
    for r in rows(
        engine,
        "SELECT c.person_key, c.milestone, sr.source_pk, c.lead_date, "
        "c.reached_on, c.amount, c.status, psr.source_pk FROM claim c "
        "JOIN source_record sr ON sr.id = c.lead_record_id "
        "LEFT JOIN payment p ON p.id = c.payment_id "
        "LEFT JOIN source_record psr ON psr.id = p.record_id",
    ):
        out.append(
            {
                "person": label[r[0]],
                "milestone": r[1],
                "lead_id": r[2],
                "lead_date": str(r[3]),
                "reached_on": str(r[4]),
                "amount": str(float(r[5])),
                "status": r[6],
                "payment": r[7] or "",
            }
        )
    return sorted(out, key=lambda r: (r["person"], r["milestone"]))


def payments_table(engine: Engine) -> list[dict[str, str]]:
    label = person_labels(engine)
    out = []
    for r in rows(
        engine,
        "SELECT sr.source_pk, p.status, p.method, p.person_key, p.milestone, "
        "p.detail FROM payment p JOIN source_record sr ON sr.id = p.record_id",
    ):
        detail = r[5] if isinstance(r[5], dict) else json.loads(r[5])
        out.append(
            {
                "payment_id": r[0],
                "status": r[1],
                "method": r[2],
                "person": label.get(r[3], "") if r[3] else "",
                "milestone": r[4],
                "reason": detail.get("reason") or "",
            }
        )
    return sorted(out, key=lambda r: r["payment_id"])


def snapshot(engine: Engine) -> dict[str, list[Any]]:
    """Every row of the tables claims and quarantine write, to compare reruns."""
    return {
        t: rows(engine, f"SELECT * FROM {t} ORDER BY id")  # noqa: S608 - fixed table names
        for t in ("claim", "payment", "quarantine")
    }
