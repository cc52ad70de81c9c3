"""The operator's forms on /alerts (acknowledge, with a note) and /jobs (run now), on the API
world (SQLite and PostgreSQL): each writes through the same service as the API, audited under
the operator, and says what happened in a flash; a viewer sees no form and gets a 403 page,
and so does a form without the session's CSRF token. Alert details link what they name."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from tests.factories import NOW
from tests.web.api_world import pinned_app_fixture, rows, world_db_url  # noqa: F401
from tests.web.conftest import TokenMaker
from tests.web.dashboard import HTML, csrf, element, login, page, text_of

from leadlink.pipeline.operations import alerts as alerts_service
from leadlink.pipeline.operations import job_start
from leadlink.pipeline.resolution.resolve import person_key_for
from leadlink.store import locks
from leadlink.web.pages import ops


def post(client: TestClient, path: str, form: dict[str, str]) -> Any:
    return client.post(path, data=form, headers=HTML, follow_redirects=False)


def audit(engine: Engine, action: str) -> list[tuple[Any, ...]]:
    found = rows(engine, "SELECT actor, target FROM audit_log WHERE action = :a ORDER BY id",
                 a=action)  # fmt: skip
    return [tuple(r) for r in found]


def claims_runs(engine: Engine) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in rows(engine, "SELECT id, status FROM job_run WHERE kind = 'claims' "
                                           "ORDER BY id")]  # fmt: skip


def alert_id(engine: Engine, kind: str) -> int:
    return next(int(a["id"]) for a in alerts_service.open_now(engine) if a["kind"] == kind)


# --------------------------------------------------------------------------- /alerts


def test_an_operator_acknowledges_an_alert_from_the_page(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    login(client, make_token("operator", "olga"))
    backlog = alert_id(engine, "over_24h_no_identity")
    html = page(client, "/alerts")
    assert f'data-testid="alert-{backlog}-ack-form"' in element(html, "alerts")
    assert text_of(html, "alerts-unacknowledged-count") == "3"
    assert 'data-testid="alerts-acknowledged"' not in html

    got = post(client, f"/alerts/{backlog}/ack", {"csrf_token": csrf(html), "note": "en ello"})
    assert got.status_code == 303 and got.headers["location"] == "/alerts"
    after = page(client, "/alerts")
    assert text_of(after, "flash-ok").startswith(f"Alerta #{backlog} (Leads sin identidad")
    assert text_of(after, "alerts-unacknowledged-count") == "2"
    seen = element(after, "alerts-acknowledged")
    assert f'data-testid="alert-{backlog}"' in seen and "ack-form" not in seen
    assert text_of(after, f"alert-{backlog}-ack").split()[0] == "olga" and "en ello" in seen
    assert f'data-testid="alert-{backlog}"' not in element(after, "alerts")
    assert audit(engine, "alert_ack") == [("olga", f"alert:{backlog}")]

    # Twice: the page says who did it first; nothing more is written.
    post(client, f"/alerts/{backlog}/ack", {"csrf_token": csrf(after), "note": ""})
    refused = text_of(page(client, "/alerts"), "flash-error")
    assert refused.startswith("No se reconoció:") and "ya fue reconocida por olga" in refused
    assert audit(engine, "alert_ack") == [("olga", f"alert:{backlog}")]


def test_a_viewer_sees_no_form_and_a_form_without_csrf_is_refused(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    backlog = alert_id(engine, "over_24h_no_identity")
    runs = claims_runs(engine)  # the world's own claims run
    login(client, make_token("viewer", "vera"))
    html = page(client, "/alerts")
    assert "ack-form" not in html and "/run" not in page(client, "/jobs")
    got = post(client, f"/alerts/{backlog}/ack", {"csrf_token": csrf(html)})
    assert got.status_code == 403 and "usuario de solo lectura" in got.text
    assert post(client, "/jobs/claims/run", {"csrf_token": csrf(html)}).status_code == 403

    login(client, make_token("operator", "otto"))
    assert post(client, f"/alerts/{backlog}/ack", {"note": "sin token"}).status_code == 403
    assert post(client, f"/alerts/{backlog}/ack",
                {"csrf_token": "not-the-token"}).status_code == 403  # fmt: skip
    assert post(client, "/jobs/claims/run", {}).status_code == 403
    assert audit(engine, "alert_ack") == [] and audit(engine, "job_start") == []
    assert claims_runs(engine) == runs


def test_alert_details_link_their_leads_persons_segments_and_jobs(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    key = person_key_for("drivers", "DA1")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO alert (kind, subject, severity, detail, raised_at) "
                          "VALUES ('unlinked_activity_growing', 'drivers', 'warning', :d, :t)"),
                     {"d": json.dumps({"drivers": 2, "examples": ["DA1", "DZ9"],
                                       "persons": {"DA1": key}}), "t": NOW})  # fmt: skip
    login(client, make_token("viewer", "vera"))
    html = page(client, "/alerts")
    backlog = element(html, f"alert-{alert_id(engine, 'over_24h_no_identity')}")
    assert '<a href="/leads/LX1" class="code lead-link">LX1</a>' in backlog  # "oldest"
    assert 'href="/backlog?segment=' in backlog  # the segments
    activity = element(html, f"alert-{alert_id(engine, 'unlinked_activity_growing')}")
    assert f'href="/persons/{key}"' in activity and 'data-testid="alert-person-DA1"' in activity
    assert "DZ9" in activity and "alert-person-DZ9" not in activity  # no person known: text
    assert ">persons<" not in activity  # the map is for the links, not shown by itself
    assert 'href="/jobs#job-ingest"' in element(html, f"alert-{alert_id(engine, 'job_stale')}")


# --------------------------------------------------------------------------- /jobs


def test_run_now_starts_the_job_and_the_page_shows_its_run(
    client: TestClient, make_token: TokenMaker, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Widened as in the API's tests: what is tested is the finished path, not the 2 s wait.
    monkeypatch.setattr(ops, "RUN_WAIT_SECONDS", 120.0)
    login(client, make_token("operator", "olga"))
    before = claims_runs(engine)
    html = page(client, "/jobs")
    for kind in job_start.KINDS:
        assert f'data-testid="job-{kind}-run"' in html
    got = post(client, "/jobs/claims/run", {"csrf_token": csrf(html)})
    assert got.status_code == 303 and got.headers["location"] == "/jobs#job-claims"
    ((run_id, status),) = claims_runs(engine)[len(before) :]
    assert status == "ok"
    after = page(client, "/jobs")
    assert text_of(after, "flash-ok").startswith(f"Cobros: ejecución #{run_id} terminada bien")
    assert text_of(after, "job-claims-run-id") == f"#{run_id}"
    assert audit(engine, "job_start") == [("olga", "job:claims")]
    assert locks.holder(engine, "claims") is None


def test_run_now_of_a_running_kind_says_so_and_starts_nothing(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    login(client, make_token("operator", "olga"))
    before = claims_runs(engine)
    holder = "elsewhere:4242:abcdef"
    locks.acquire(engine, "claims", holder, NOW)
    post(client, "/jobs/claims/run", {"csrf_token": csrf(page(client, "/jobs"))})
    busy = text_of(page(client, "/jobs"), "flash-info")
    assert busy.startswith("Cobros ya está en curso, no se inició otra vez") and holder in busy
    assert audit(engine, "job_start") == [] and claims_runs(engine) == before
    assert post(client, "/jobs/ingest/run",
                {"csrf_token": csrf(page(client, "/jobs"))}).status_code == 404  # fmt: skip


def test_run_now_of_a_long_job_says_it_still_runs(
    client: TestClient, make_token: TokenMaker, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ops, "RUN_WAIT_SECONDS", 0.0)
    login(client, make_token("operator", "olga"))
    post(client, "/jobs/match/run", {"csrf_token": csrf(page(client, "/jobs"))})
    shown = text_of(page(client, "/jobs"), "flash-info")
    assert shown.startswith("Enlace (match) sigue en curso") and "GET /api/jobs" in shown
    deadline = time.monotonic() + 60
    while locks.holder(engine, "match") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert locks.holder(engine, "match") is None
    newest = rows(engine, "SELECT id, status FROM job_run WHERE kind = 'match' ORDER BY id")[-1]
    assert newest[1] == "ok" and text_of(page(client, "/jobs"), "job-match-run-id") == (
        f"#{newest[0]}"
    )
    assert audit(engine, "job_start") == [("olga", "job:match")]
