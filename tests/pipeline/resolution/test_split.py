"""pipeline.split: a person's records split off to a new person with what hangs on them
(origins, review items, claims and their payments, quarantine rows), audited, in one
transaction; the dry run; the refusals; `leadlink check` after it; and the undo (merging the
new key back), on SQLite and PostgreSQL, in the read API's world (the claims fixture).

DB1 + DB2 are one person (same DNI) with leads LB1 (the claims' anchor) and LB2, claims M1
and M25 generated and M5 rejected by payment P03 (docs/claims.md, tests/fixtures/claims)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from tests.factories import load
from tests.pipeline.claims_world import NOW, SETTINGS
from tests.review_factories import item_id
from tests.web.api_world import rows, world_db_url  # noqa: F401
from typer.testing import CliRunner

from leadlink.cli import app
from leadlink.errors import UsageError
from leadlink.pipeline.money.claims_report import report
from leadlink.pipeline.money.person import person_view
from leadlink.pipeline.operations.checks import CHECKS, run_checks
from leadlink.pipeline.resolution import review
from leadlink.pipeline.resolution.merge import merge_persons, unmerge_persons
from leadlink.pipeline.resolution.resolve import person_key_for
from leadlink.pipeline.resolution.split import split_person

DB = person_key_for("drivers", "DB1")
DB2 = person_key_for("drivers", "DB2")  # the key DB2 founds a person with (it never did)
TABLES = ("person", "link", "origin", "origin_history", "review_item", "claim", "payment",
          "quarantine", "audit_log", "job_run")  # fmt: skip
runner = CliRunner()


def dump(engine: Engine) -> dict[str, list[Any]]:
    return {t: [tuple(r) for r in rows(engine, f"SELECT * FROM {t} ORDER BY 1")]  # noqa: S608
            for t in TABLES}  # fmt: skip


def holders(engine: Engine) -> dict[str, Any]:
    """Who holds each record, origin, claim, payment and quarantine row (what a split moves)."""

    def by(sql: str) -> dict[str, str]:
        return {str(r[0]): r[1] for r in rows(engine, sql)}

    return {
        "links": by("SELECT sr.source || ':' || sr.source_pk, l.person_key FROM link l "
                    "JOIN source_record sr ON sr.id = l.record_id WHERE l.active"),
        "origins": by("SELECT sr.source_pk, o.person_key || '/' || o.status FROM origin o "
                      "JOIN source_record sr ON sr.id = o.record_id"),
        "claims": by("SELECT c.id, c.person_key || '/' || c.milestone || '/' || c.status "
                     "FROM claim c"),
        "payments": by("SELECT id, person_key FROM payment WHERE person_key IS NOT NULL"),
        "quarantine": by("SELECT record_id, person_key FROM quarantine WHERE active"),
    }  # fmt: skip


def failing_checks(engine: Engine) -> list[Any]:
    return [(r.name, r.examples) for r in run_checks(engine, SETTINGS, list(CHECKS)) if not r.ok]


def test_the_records_leave_with_their_origins_claims_and_payments(engine: Engine) -> None:
    before = holders(engine)
    out = split_person(engine, DB[:8], ["leads:LB1", "drivers:DB2"], now=NOW, actor="sara",
                       reason="dos personas")  # fmt: skip
    new = out["new_person_key"]
    assert new == DB2  # made as a founding driver makes it
    assert (out["status"], out["person_key"], out["requested"], out["dry_run"]) == (
        "split", DB, DB, False)  # fmt: skip
    assert out["records"] == ["leads:LB1", "drivers:DB2"]
    moved = {k: v for k, v in out.items() if k.endswith("_moved")}
    assert moved == {"links_moved": 2, "origins_moved": 1, "review_items_moved": 0,
                     "claims_moved": 3, "payments_moved": 1, "quarantine_moved": 0}  # fmt: skip
    after = holders(engine)
    assert after["links"] == {**before["links"], "leads:LB1": new, "drivers:DB2": new}
    assert after["origins"] == {**before["origins"], "LB1": f"{new}/resolved_auto"}
    # The claims anchored on LB1 follow it, with P03, the payment that rejected M5.
    assert sorted(v for v in after["claims"].values() if v.startswith(new)) == [
        f"{new}/M1/generated", f"{new}/M25/generated", f"{new}/M5/rejected"]  # fmt: skip
    p03 = rows(engine, "SELECT p.person_key FROM payment p JOIN source_record sr ON "
                       "sr.id = p.record_id WHERE sr.source_pk = 'P03'")  # fmt: skip
    assert p03 == [(new,)]
    # Audited like a merge: actor, reason, a journal of every row moved; a job run.
    audit = rows(engine, "SELECT actor, action, target, detail FROM audit_log "
                         "WHERE action = 'split'")  # fmt: skip
    assert [(a, b, c) for a, b, c, _ in audit] == [("sara", "split", DB)]
    detail = audit[0][3] if isinstance(audit[0][3], dict) else json.loads(audit[0][3])
    assert detail["reason"] == "dos personas" and detail["new_person_key"] == new
    assert len(detail["journal"]["links"]) == 2 and len(detail["journal"]["claim"]) == 3
    assert rows(engine, "SELECT status FROM job_run WHERE kind = 'split'") == [("ok",)]
    assert rows(engine, "SELECT count(*) FROM origin_history WHERE event = 'split'") == [(1,)]
    # The new links name the split and the link each replaces.
    evidence = rows(engine, "SELECT evidence FROM link WHERE person_key = :k", k=new)
    for (ev,) in evidence:
        ev = ev if isinstance(ev, dict) else json.loads(ev)
        assert ev["split_from"] == DB and ev["previous_link"]
    assert failing_checks(engine) == []


def test_review_items_and_quarantine_rows_follow_their_records(engine: Engine) -> None:
    """Luis's lead RL1 accepted onto driver RD1 (quarantined: it had no lead yet)."""
    luis = person_key_for("drivers", "RD1")
    review.accept(engine, SETTINGS, item_id(engine, "RL1", "RD1"), actor="otto", now=NOW)
    out = split_person(engine, luis, ["leads:RL1"], now=NOW, actor="ops", reason="t")
    assert (out["links_moved"], out["origins_moved"], out["review_items_moved"]) == (1, 1, 1)
    item = rows(engine, "SELECT ri.person_key, ri.status FROM review_item ri JOIN source_record "
                        "sr ON sr.id = ri.record_id WHERE sr.source_pk = 'RL1'")  # fmt: skip
    assert item == [(out["new_person_key"], "accepted")]
    assert failing_checks(engine) == []
    back = merge_persons(engine, luis, out["new_person_key"], now=NOW, actor="ops", reason="t")
    assert back["review_items_moved"] == 1
    # The other way round: the driver leaves, its quarantine row goes with it.
    out = split_person(engine, luis, ["drivers:RD1"], now=NOW, actor="ops", reason="t")
    assert out["quarantine_moved"] == 1 and out["new_person_key"] != luis
    assert rows(
        engine,
        "SELECT q.person_key FROM quarantine q JOIN source_record sr ON "
        "sr.id = q.record_id WHERE sr.source_pk = 'RD1'",
    ) == [  # fmt: skip
        (out["new_person_key"],)
    ]
    assert failing_checks(engine) == []


def test_the_dry_run_does_it_all_and_keeps_nothing(engine: Engine) -> None:
    before = dump(engine)
    dry = split_person(engine, DB, ["leads:LB1", "drivers:DB2"], now=NOW, actor="ops",
                       reason="t", dry_run=True)  # fmt: skip
    assert (dry["status"], dry["dry_run"], dry["audit_id"], dry["run_id"]) == (
        "would_split", True, None, None)  # fmt: skip
    assert (dry["links_moved"], dry["claims_moved"], dry["payments_moved"]) == (2, 3, 1)
    assert dump(engine) == before
    real = split_person(engine, DB, ["leads:LB1", "drivers:DB2"], now=NOW, actor="ops",
                        reason="t")  # fmt: skip
    assert {k: v for k, v in real.items() if k.endswith("_moved")} == {
        k: v for k, v in dry.items() if k.endswith("_moved")}  # fmt: skip


@pytest.mark.parametrize(
    ("records", "said"),
    [
        (["drivers:DA1"], f"drivers:DA1 (linked to person {person_key_for('drivers', 'DA1')})"),
        (["drivers:NOPE", "leads:LB1"], "drivers:NOPE (no such record)"),
        (["leads:LX1"], "leads:LX1 (not linked to anyone)"),
        (["drivers:DB1", "drivers:DB2", "leads:LB1", "leads:LB2"], "4 of 4 records"),
        (["DB1"], "a record is SOURCE:PK"),
        ([], "name the records"),
    ],
)
def test_refusals_name_the_record_and_write_nothing(
    engine: Engine, records: list[str], said: str
) -> None:
    before = dump(engine)
    with pytest.raises(UsageError) as err:
        split_person(engine, DB, records, now=NOW, actor="ops", reason="t")
    assert said in str(err.value)
    assert dump(engine) == before


def test_merging_the_new_key_back_undoes_the_split(engine: Engine) -> None:
    before = holders(engine)
    out = split_person(engine, DB, ["leads:LB1", "drivers:DB2"], now=NOW, actor="ops",
                       reason="t")  # fmt: skip
    new = out["new_person_key"]
    back = merge_persons(engine, DB, new, now=NOW, actor="ops", reason="undo the split")
    assert (back["status"], back["survivor"], back["retired"], back["conflicts"]) == (
        "merged", DB, new, [])  # fmt: skip
    assert (back["links_moved"], back["origins_moved"], back["claims_moved"],
            back["payments_moved"]) == (2, 1, 3, 1)  # fmt: skip
    assert holders(engine) == before
    assert failing_checks(engine) == []
    view = person_view(engine, SETTINGS, DB, now=NOW)
    assert view["retired_keys"] == [new] and view["claim_totals"]["total"] == 3
    # And the merge back is itself undoable: the split state again.
    unmerge_persons(engine, new, now=NOW, actor="ops", reason="t")
    assert holders(engine)["links"]["drivers:DB2"] == new


def test_the_person_view_money_equals_the_claims_report(engine: Engine) -> None:
    view = person_view(engine, SETTINGS, DB, now=NOW, trips_limit=2, trips_offset=1)
    assert view["claim_totals"] == report(engine, SETTINGS, now=NOW, person=DB)["claims"]
    assert [(c["milestone"], c["status"], c["amount"], c["lead_id"]) for c in view["claims"]] == [
        ("M1", "generated", 25.0, "LB1"), ("M5", "rejected", 35.0, "LB1"),
        ("M25", "generated", 100.0, "LB1")]  # fmt: skip
    m1 = view["claims"][0]
    assert (m1["lead_date"], m1["reached_on"], m1["window_closes"], m1["expires_on"]) == (
        "2026-10-03", "2026-10-03", "2026-10-17", "2026-12-16")  # fmt: skip
    # DB1 and DB2's trip days (tests/fixtures/claims/trips.csv), newest first, paged.
    assert view["trips"]["summary"] == {"days": 5, "completed": 40, "first_day": "2026-10-02",
                                        "last_day": "2026-10-17"}  # fmt: skip
    assert (view["trips"]["total"], view["trips"]["limit"], view["trips"]["offset"]) == (5, 2, 1)
    assert [(t["day"], t["driver_id"]) for t in view["trips"]["items"]] == [
        ("2026-10-16", "DB1"), ("2026-10-09", "DB2")]  # fmt: skip
    assert [(p["payment_id"], p["milestone"], p["amount"], p["claim_status"],
             p["amount_mismatch"]) for p in view["payments"]] == [
        ("P03", "M5", 30.0, "rejected", True)]  # fmt: skip


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` runs inside the block."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_the_person_view_reads_a_bounded_number_of_queries(engine: Engine, tmp_path: Path) -> None:
    """Three hundred more trip days of DB1: the same queries, one page of them, the sums exact."""
    with statements(engine) as before:
        person_view(engine, SETTINGS, DB, now=NOW, trips_limit=10)
    start = dt.date(2025, 1, 1)
    load(engine, tmp_path, "trips", [
        {"driver_id": "DB1", "date": (start + dt.timedelta(days=n)).isoformat(),
         "completed_trips": "2"} for n in range(300)
    ])  # fmt: skip
    with statements(engine) as after:
        view = person_view(engine, SETTINGS, DB, now=NOW, trips_limit=10, trips_offset=300)
    assert len(after) == len(before) <= 20
    assert view["trips"]["summary"] == {"days": 305, "completed": 640, "first_day": "2025-01-01",
                                        "last_day": "2026-10-17"}  # fmt: skip
    # Newest first: the fixture's five days, then 2025's from its last; offset 300 is the end.
    assert [t["day"] for t in view["trips"]["items"]] == [
        "2025-01-05", "2025-01-04", "2025-01-03", "2025-01-02", "2025-01-01"]  # fmt: skip


def _cli(db_url: str, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["--db", db_url, *args])
    assert result.exit_code == code, (result.exit_code, result.output)
    return result.output


def words(output: str) -> str:
    """A rendered table's words, one space apart (no box drawing, no wrapping)."""
    return " ".join(re.sub(r"[\u2500-\u257f]", " ", output).split())


def test_persons_split_on_the_command_line(db_url: str, engine: Engine) -> None:  # noqa: F811
    args = ("persons", "split", DB, "--record", "leads:LB1", "--record", "drivers:DB2")
    dry = words(_cli(db_url, *args, "--dry-run"))
    assert "split (dry run: nothing written)" in dry and f"new_person_key {DB2}" in dry
    assert "claims_moved 3" in dry and rows(
        engine, "SELECT count(*) FROM person WHERE person_key = :k", k=DB2
    ) == [(0,)]
    out = json.loads(_cli(db_url, *args, "--reason", "otra persona", "--by", "ana", "--json"))
    assert (out["status"], out["new_person_key"], out["links_moved"]) == ("split", DB2, 2)
    assert rows(engine, "SELECT actor FROM audit_log WHERE action = 'split'") == [("ana",)]
    refused = words(_cli(db_url, "persons", "split", DB, "--record", "leads:LB1", code=2))
    assert f"not an active record of person {DB}: leads:LB1 (linked to person {DB2})" in refused
    assert "--record" in _cli(db_url, "persons", "split", DB, code=2)  # the option is required
    shown = words(_cli(db_url, "persons", "show", DB2))
    assert "claims (S/)" in shown and "P03" in shown and "trip days 1-2 of 2" in shown


def test_persons_show_money_equals_leadlink_claims(db_url: str) -> None:  # noqa: F811
    """Both with the real clock: `claims` recomputes statuses today, then both report them."""
    claims = json.loads(_cli(db_url, "claims", "--person", DB, "--json"))
    shown = json.loads(_cli(db_url, "persons", "show", DB, "--json", "--limit", "1"))
    assert shown["claim_totals"] == claims["claims"]
    assert [(c["milestone"], c["status"], c["payment"]) for c in shown["claims"]] == [
        (r["milestone"], r["status"], r["payment"]) for r in claims["rows"]]  # fmt: skip
    assert len(shown["trips"]["items"]) == 1 and shown["trips"]["total"] == 5
