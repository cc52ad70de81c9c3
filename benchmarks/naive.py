"""The naive baseline: resolve leads one at a time with per-lead SQL, the way the old scripts did.

The system leadlink replaces (../shared/background/) ran a Python job that took one lead,
queried the drivers table for it (phone, then plate, then name), decided, wrote the result and
committed, then took the next lead: 100 leads in 164 s on its server. This module does the
same against a `naive_driver` table (one row per driver, built from drivers.csv in the
benchmark's own database) so the cost per lead can be measured on a sample and extrapolated
to every lead. It is given every benefit the old scripts could reasonably have had: phones
stored as their last 9 digits and plates as A-Z0-9 (so an exact match survives formatting),
accents folded and upper case on both sides, B-tree indexes on phone, plate, document,
licence and last name, and a name `LIKE 'PREFIX%'` that can use the last-name index on both
stores (PostgreSQL: the benchmark's cluster has the C locale; SQLite: `PRAGMA
case_sensitive_like`, harmless as both sides are upper case). On a common surname the index
range is still tens of thousands of rows at 1 M leads, which is what such a query costs.

Per lead, in this order, stopping at the first that settles it:

1. phone exact: one driver -> link (`phone_exact`); several -> the one whose last name
   starts with the lead's first surname, if exactly one, else MULTIPLE_CANDIDATES;
2. plate exact: the drivers with that plate whose last name starts with the lead's first
   surname: one -> link (`plate_name`); none -> WEAK_MATCH_ONLY; several -> MULTIPLE_CANDIDATES;
3. name LIKE (first surname prefix and first given name prefix): one -> WEAK_MATCH_ONLY (a
   name alone is not accepted), several -> MULTIPLE_CANDIDATES, none -> NO_CANDIDATES;
4. nothing to search on -> MISSING_IDENTIFIERS.

The decision is written to `naive_decision` and committed, one transaction per lead.

    .venv/bin/python benchmarks/naive.py --db URL --drivers drivers.csv --leads leads.csv \\
        --truth truth.csv --sample 500 --seed 7
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from common import lead_driver_truth, pair_quality
from sqlalchemy import Connection, Engine, create_engine, event, text
from unidecode import unidecode


def norm_phone(raw: str) -> str | None:
    digits = re.sub(r"\D", "", raw or "")
    return digits[-9:] if len(digits) >= 9 else None


def norm_plate(raw: str) -> str | None:
    return re.sub(r"[^A-Z0-9]", "", (raw or "").upper()) or None


def norm_name(raw: str) -> str:
    return " ".join(unidecode(raw or "").upper().split())


def build_driver_table(engine: Engine, drivers_csv: Path) -> int:
    """(Re)create naive_driver and naive_decision, load drivers.csv, index what the old DB had."""
    with engine.begin() as conn:
        for table in ("naive_decision", "naive_driver"):
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        conn.execute(text(
            "CREATE TABLE naive_driver (driver_id VARCHAR(64) PRIMARY KEY, first_name TEXT, "
            "last_name TEXT, phone VARCHAR(20), license VARCHAR(20), document VARCHAR(20), "
            "plate VARCHAR(12))"
        ))  # fmt: skip
        conn.execute(text(
            "CREATE TABLE naive_decision (lead_id VARCHAR(64) PRIMARY KEY, driver_id VARCHAR(64),"
            " rule VARCHAR(20), reason VARCHAR(30))"
        ))  # fmt: skip
    insert = text(
        "INSERT INTO naive_driver (driver_id, first_name, last_name, phone, license, document, "
        "plate) VALUES (:driver_id, :first_name, :last_name, :phone, :license, :document, :plate)"
    )
    n = 0
    with drivers_csv.open(encoding="utf-8", newline="") as fh, engine.begin() as conn:
        batch: list[dict[str, Any]] = []
        for row in csv.DictReader(fh):
            batch.append({
                "driver_id": row["driver_id"],
                "first_name": norm_name(row["first_name"]),
                "last_name": norm_name(row["last_name"]),
                "phone": norm_phone(row["phone"]),
                "license": norm_plate(row["license"]),
                "document": norm_plate(row["document"]),
                "plate": norm_plate(row["plate"]),
            })  # fmt: skip
            if len(batch) == 10_000:
                conn.execute(insert, batch)
                n, batch = n + len(batch), []
        if batch:
            conn.execute(insert, batch)
            n += len(batch)
    with engine.begin() as conn:
        for column in ("phone", "plate", "license", "document", "last_name"):
            conn.execute(text(f"CREATE INDEX ix_naive_driver_{column} ON naive_driver ({column})"))
    return n


def _surname_filter(conn: Connection, ids: list[str], surname: str) -> list[str]:
    """The candidates whose last name starts with the surname: one query per candidate."""
    if not surname:
        return []
    hits = []
    for driver_id in ids:
        hit = conn.execute(
            text("SELECT 1 FROM naive_driver WHERE driver_id = :id AND last_name LIKE :ln"),
            {"id": driver_id, "ln": f"{surname}%"},
        ).first()
        if hit is not None:
            hits.append(driver_id)
    return hits


def decide(conn: Connection, lead: dict[str, str]) -> tuple[str | None, str | None, str | None]:
    """One lead: (driver_id, rule, reason); reason is None when linked."""
    phone, plate = norm_phone(lead.get("phone", "")), norm_plate(lead.get("plate", ""))
    surnames = norm_name(lead.get("last_name", "")).split()
    givens = norm_name(f"{lead.get('first_name', '')} {lead.get('middle_name', '')}").split()
    surname, given = (surnames[0] if surnames else ""), (givens[0] if givens else "")
    if phone:
        ids = [r[0] for r in conn.execute(
            text("SELECT driver_id FROM naive_driver WHERE phone = :p"), {"p": phone})]  # fmt: skip
        if len(ids) == 1:
            return ids[0], "phone_exact", None
        if len(ids) > 1:
            named = _surname_filter(conn, ids, surname)
            if len(named) == 1:
                return named[0], "phone_name", None
            return None, None, "MULTIPLE_CANDIDATES"
    if plate:
        ids = [r[0] for r in conn.execute(
            text("SELECT driver_id FROM naive_driver WHERE plate = :p"), {"p": plate})]  # fmt: skip
        if ids:
            named = _surname_filter(conn, ids, surname)
            if len(named) == 1:
                return named[0], "plate_name", None
            return None, None, "MULTIPLE_CANDIDATES" if named else "WEAK_MATCH_ONLY"
    if surname and given:
        ids = [r[0] for r in conn.execute(
            text("SELECT driver_id FROM naive_driver WHERE last_name LIKE :ln AND first_name "
                 "LIKE :fn"),
            {"ln": f"{surname}%", "fn": f"{given}%"},
        )]  # fmt: skip
        if len(ids) == 1:
            return None, None, "WEAK_MATCH_ONLY"
        return None, None, "MULTIPLE_CANDIDATES" if ids else "NO_CANDIDATES"
    if phone or plate:
        return None, None, "NO_CANDIDATES"
    return None, None, "MISSING_IDENTIFIERS"


def connect(db_url: str) -> Engine:
    engine = create_engine(db_url)
    if engine.dialect.name == "sqlite":  # lets `LIKE 'PREFIX%'` use the index (see above)

        @event.listens_for(engine, "connect")
        def _indexable_like(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA case_sensitive_like = ON")

    return engine


def run(
    db_url: str, drivers_csv: Path, leads_csv: Path, truth_csv: Path, *, sample: int, seed: int
) -> dict[str, Any]:
    engine = connect(db_url)
    t0 = time.perf_counter()
    drivers = build_driver_table(engine, drivers_csv)
    setup_s = time.perf_counter() - t0
    with leads_csv.open(encoding="utf-8", newline="") as fh:
        leads = list(csv.DictReader(fh))
    picked = random.Random(seed).sample(leads, min(sample, len(leads)))
    record = text(
        "INSERT INTO naive_decision (lead_id, driver_id, rule, reason) "
        "VALUES (:lead, :driver, :rule, :reason)"
    )
    per_lead: list[float] = []
    reasons: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    predicted: set[tuple[str, str]] = set()
    started = time.perf_counter()
    for lead in picked:
        t = time.perf_counter()
        with engine.begin() as conn:  # one transaction per lead, committed
            driver, rule, reason = decide(conn, lead)
            conn.execute(record, {"lead": lead["lead_id"], "driver": driver, "rule": rule,
                                  "reason": reason})  # fmt: skip
        per_lead.append(time.perf_counter() - t)
        if driver is not None and rule is not None:
            rules[rule] += 1
            predicted.add((lead["lead_id"], driver))
        else:
            reasons[reason or "ERROR"] += 1
    wall = time.perf_counter() - started
    engine.dispose()
    sampled = {lead["lead_id"] for lead in picked}
    truth = {pair for pair in lead_driver_truth(truth_csv) if pair[0] in sampled}
    mean_s = wall / len(picked) if picked else 0.0
    per_lead.sort()
    return {
        "drivers": drivers,
        "leads_total": len(leads),
        "sample": len(picked),
        "setup_s": setup_s,
        "sample_wall_s": wall,
        "per_lead_ms": {
            "mean": mean_s * 1000,
            "p50": statistics.median(per_lead) * 1000 if per_lead else 0.0,
            "p99": per_lead[max(int(0.99 * len(per_lead)) - 1, 0)] * 1000 if per_lead else 0.0,
        },
        "extrapolated_s": mean_s * len(leads),
        "linked": sum(rules.values()),
        "linked_extrapolated": round(sum(rules.values()) / max(len(picked), 1) * len(leads)),
        "by_rule": dict(rules),
        "unmatched": dict(reasons),
        "quality": pair_quality(predicted, truth),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--db", required=True, help="SQLAlchemy URL of the database to use")
    ap.add_argument("--drivers", type=Path, required=True)
    ap.add_argument("--leads", type=Path, required=True)
    ap.add_argument("--truth", type=Path, required=True)
    ap.add_argument("--sample", type=int, default=500, help="leads resolved (then extrapolated)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    result = run(args.db, args.drivers, args.leads, args.truth, sample=args.sample,
                 seed=args.seed)  # fmt: skip
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
