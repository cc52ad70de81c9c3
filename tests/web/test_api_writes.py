"""Review decisions and job starts through the API, on real SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.factories import NOW
from tests.review_factories import SETTINGS, item_id, review_world, rows
from tests.web.dashboard import csrf, login, page

from leadlink.pipeline.operations import job_start
from leadlink.pipeline.resolution.resolve import match, person_key_for
from leadlink.store import locks
from leadlink.web.routes import api_writes


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Engine:
    """Leads L1 (Luis -> D1), L2 (Rosa -> D2) and L3 (Juan: D3 or D4) waiting for review."""
    review_world(engine, tmp_path)
    match(engine, SETTINGS, now=NOW)
    return engine


def _audit(engine: Engine) -> list[tuple[Any, ...]]:
    found = rows(engine, "SELECT actor, action, target FROM audit_log "
                         "WHERE action <> 'token_create' ORDER BY id")  # fmt: skip
    return [tuple(r) for r in found]


def _status(engine: Engine, item: int) -> tuple[Any, ...]:
    return tuple(rows(engine, "SELECT status, decided_by, note FROM review_item WHERE id = :i",
                      i=item)[0])  # fmt: skip


# --------------------------------------------------------------------------- review


def test_accept_links_the_record_and_audits_the_token(
    client: TestClient, world: Engine, operator: dict[str, str]
) -> None:
    item = item_id(world, "L1", "D1")
    got = client.post(f"/api/review/{item}/accept", headers=operator,
                      json={"note": "same DNI by phone"})  # fmt: skip
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["item"]["status"] == "accepted" and body["item"]["decided_by"] == "otto"
    assert body["link"]["person_key"] == person_key_for("drivers", "D1")
    assert body["link"]["rule"] == "review_accept" and body["origin_id"] is not None
    linked = rows(world, "SELECT l.person_key, l.rule FROM link l JOIN source_record s "
                         "ON s.id = l.record_id WHERE l.active AND s.source_pk = 'L1'")  # fmt: skip
    assert [tuple(r) for r in linked] == [(person_key_for("drivers", "D1"), "review_accept")]
    assert _status(world, item) == ("accepted", "otto", "same DNI by phone")
    assert _audit(world) == [("otto", "review_accept", f"review_item:{item}")]


def test_reject_without_a_body_keeps_the_record_unmatched(
    client: TestClient, world: Engine, operator: dict[str, str]
) -> None:
    item = item_id(world, "L2", "D2")
    got = client.post(f"/api/review/{item}/reject", headers=operator)
    assert got.status_code == 200, got.text
    assert got.json()["item"]["status"] == "rejected"
    assert _status(world, item) == ("rejected", "otto", None)
    assert rows(world, "SELECT count(*) FROM unmatched u JOIN source_record s "
                       "ON s.id = u.record_id WHERE s.source_pk = 'L2'")[0][0] == 1  # fmt: skip
    assert _audit(world) == [("otto", "review_reject", f"review_item:{item}")]


@pytest.mark.parametrize("action", ["accept", "reject"])
def test_a_viewer_cannot_decide_and_nobody_without_a_token(
    client: TestClient, world: Engine, viewer: dict[str, str], action: str
) -> None:
    item = item_id(world, "L1", "D1")
    refused = client.post(f"/api/review/{item}/{action}", headers=viewer)
    assert refused.status_code == 403 and "viewer" in refused.json()["detail"]
    anonymous = client.post(f"/api/review/{item}/{action}")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert _status(world, item) == ("open", None, None) and _audit(world) == []


@pytest.mark.parametrize("action", ["accept", "reject"])
def test_unknown_item_is_404_and_a_bad_id_422(
    client: TestClient, world: Engine, operator: dict[str, str], action: str
) -> None:
    missing = client.post(f"/api/review/999999/{action}", headers=operator)
    assert missing.status_code == 404 and "999999" in missing.json()["detail"]
    bad = client.post(f"/api/review/abc/{action}", headers=operator)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["path", "item_id"]
    long_note = client.post(f"/api/review/{item_id(world, 'L1', 'D1')}/{action}",
                            headers=operator, json={"note": "x" * 2001})  # fmt: skip
    assert long_note.status_code == 422 and long_note.json()["detail"][0]["loc"] == ["body", "note"]
    assert _audit(world) == []


def test_a_decided_item_cannot_be_decided_again(
    client: TestClient, world: Engine, operator: dict[str, str], make_token: Any
) -> None:
    item = item_id(world, "L1", "D1")
    assert client.post(f"/api/review/{item}/accept", headers=operator).status_code == 200
    ana = {"Authorization": f"Bearer {make_token('operator', 'ana')}"}
    for action in ("accept", "reject"):
        again = client.post(f"/api/review/{item}/{action}", headers=ana)
        assert again.status_code == 409, again.text
        assert "already accepted (by otto" in again.json()["detail"]
    assert _status(world, item)[:2] == ("accepted", "otto")
    assert [a[:2] for a in _audit(world)] == [("otto", "review_accept")]


def test_accepting_the_other_homonym_after_one_is_a_conflict(
    client: TestClient, world: Engine, operator: dict[str, str]
) -> None:
    first, second = item_id(world, "L3", "D3"), item_id(world, "L3", "D4")
    assert client.post(f"/api/review/{first}/accept", headers=operator).status_code == 200
    late = client.post(f"/api/review/{second}/accept", headers=operator)
    assert late.status_code == 409 and "superseded" in late.json()["detail"]


# --------------------------------------------------------------------------- jobs


def _runs(engine: Engine, kind: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in rows(engine, "SELECT id, status, finished_at FROM job_run "
                                           "WHERE kind = :k ORDER BY id", k=kind)]  # fmt: skip


@pytest.mark.parametrize("kind", ["claims", "alerts"])
def test_a_fast_job_answers_its_outcome(
    client: TestClient,
    world: Engine,
    operator: dict[str, str],
    kind: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A job that ends within the wait answers its outcome. The wait is widened because on a
    # loaded CI machine alerts (which now refreshes the money summaries) can pass 2 s; what
    # is tested is the 200-with-outcome path, not the server's default wait.
    monkeypatch.setattr(api_writes, "JOB_WAIT_SECONDS", 120.0)
    got = client.post(f"/api/jobs/{kind}", headers=operator)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["kind"] == kind and body["status"] == "ok" and body["error"] is None
    assert body["started_by"] == "otto" and body["owner"].endswith(":api:otto")
    assert "duration_s" in body["counts"]
    (run,) = _runs(world, kind)
    assert run[0] == body["run_id"] and run[1] == "ok" and run[2] is not None
    assert _audit(world) == [("otto", "job_start", f"job:{kind}")]
    assert locks.holder(world, kind) is None  # released


def test_a_running_job_answers_202_and_finishes_on_its_own(
    client: TestClient, world: Engine, operator: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_writes, "JOB_WAIT_SECONDS", 0.0)
    got = client.post("/api/jobs/match", headers=operator)
    assert got.status_code == 202, got.text
    assert got.json() == {"kind": "match", "status": "running", "owner": got.json()["owner"],
                          "started_by": "otto"}  # fmt: skip
    deadline = time.monotonic() + 60
    while locks.holder(world, "match") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert locks.holder(world, "match") is None
    runs = _runs(world, "match")
    assert len(runs) == 2 and runs[-1][1] == "ok"  # the fixture's match, then this one
    assert _audit(world) == [("otto", "job_start", "job:match")]


def test_a_busy_lock_is_409_naming_its_holder(
    client: TestClient, world: Engine, operator: dict[str, str]
) -> None:
    holder = "elsewhere:4242:abcdef"
    locks.acquire(world, "claims", holder, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    got = client.post("/api/jobs/claims", headers=operator)
    assert got.status_code == 409, got.text
    assert holder in got.json()["detail"] and got.json()["error"] == "LockBusyError"
    assert locks.holder(world, "claims").owner == holder  # type: ignore[union-attr]
    assert _runs(world, "claims") == [] and _audit(world) == []


def test_job_kinds_are_the_workers_and_an_unknown_one_is_422(
    client: TestClient, world: Engine, operator: dict[str, str], viewer: dict[str, str]
) -> None:
    assert [k.value for k in api_writes.JobKind] == list(job_start.KINDS)
    for kind in ("ingest", "nope", "MATCH"):
        got = client.post(f"/api/jobs/{kind}", headers=operator)
        assert got.status_code == 422, got.text
        assert got.json()["detail"][0]["loc"] == ["path", "kind"]
    assert client.post("/api/jobs/claims", headers=viewer).status_code == 403
    assert client.post("/api/jobs/claims").status_code == 401
    assert _runs(world, "claims") == [] and _audit(world) == []


def test_a_dashboard_session_writes_only_with_its_csrf_token(
    client: TestClient, world: Engine, make_token: Any
) -> None:
    assert login(client, make_token("operator", "olga")).status_code == 303
    item = item_id(world, "L2", "D2")
    forged = client.post(f"/api/review/{item}/reject")  # the cookie alone, as another site would
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    assert _status(world, item) == ("open", None, None)
    token = csrf(page(client, "/review"))
    got = client.post(f"/api/review/{item}/reject", headers={"X-CSRF-Token": token})
    assert got.status_code == 200, got.text
    assert _audit(world) == [("olga", "review_reject", f"review_item:{item}")]
