"""POST /api/alerts/{id}/ack on the API world (SQLite and PostgreSQL): an operator token
acknowledges an open alert (audited under its name); twice, or a resolved alert, is a 409;
viewers, forged cookie writes and unknown ids are refused; GET /api/alerts and /metrics say
what is acknowledged."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.factories import NOW
from tests.pipeline.claims_world import SETTINGS
from tests.web.api_world import (  # noqa: F401 - fixtures
    Get,
    all_items,
    api_fixture,
    error_fields,
    pinned_app_fixture,
    rows,
    world_db_url,
)
from tests.web.conftest import TokenMaker
from tests.web.dashboard import csrf, login, page

from leadlink.pipeline.operations.alerts import evaluate


def _id(api: Get, kind: str) -> int:
    return next(int(i["id"]) for i in all_items(api, "/api/alerts") if i["kind"] == kind)


def _audit(engine: Engine) -> list[tuple[Any, ...]]:
    found = rows(engine, "SELECT actor, action, target FROM audit_log "
                         "WHERE action = 'alert_ack' ORDER BY id")  # fmt: skip
    return [tuple(r) for r in found]


def test_an_operator_acknowledges_and_the_listing_says_so(
    client: TestClient, api: Get, engine: Engine, operator: dict[str, str]
) -> None:
    alert_id = _id(api, "over_24h_no_identity")
    got = client.post(f"/api/alerts/{alert_id}/ack", headers=operator,
                      json={"note": "el equipo de recuperación lo ve"})  # fmt: skip
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["id"] == alert_id and body["open"] and body["acknowledged"]
    assert (body["acknowledged_by"], body["acknowledged_at"], body["ack_note"]) == (
        "otto",
        NOW.isoformat(),
        "el equipo de recuperación lo ve",
    )
    (listed,) = [i for i in all_items(api, "/api/alerts") if i["id"] == alert_id]
    assert {k: listed[k] for k in body} == body
    assert [i["id"] for i in all_items(api, "/api/alerts", acknowledged="true")] == [alert_id]
    pending = all_items(api, "/api/alerts", acknowledged="false")
    assert len(pending) == 2 and not any(i["acknowledged"] for i in pending)
    assert _audit(engine) == [("otto", "alert_ack", f"alert:{alert_id}")]

    # Without a body is fine too (no note); twice is a conflict naming who acknowledged.
    other = _id(api, "job_stale")
    assert client.post(f"/api/alerts/{other}/ack", headers=operator).json()["ack_note"] is None
    again = client.post(f"/api/alerts/{alert_id}/ack", headers=operator)
    assert again.status_code == 409 and "already acknowledged by otto" in again.json()["detail"]
    assert len(_audit(engine)) == 2


def test_a_resolved_alert_is_409_and_an_unknown_one_404(
    client: TestClient, api: Get, engine: Engine, operator: dict[str, str]
) -> None:
    stale = _id(api, "job_stale")
    evaluate(engine, SETTINGS, now=NOW + dt.timedelta(hours=1), job_kinds=[])  # resolves it
    got = client.post(f"/api/alerts/{stale}/ack", headers=operator)
    assert got.status_code == 409 and "is resolved since" in got.json()["detail"]
    assert client.post("/api/alerts/999999/ack", headers=operator).status_code == 404
    assert "alert_id" in error_fields(client.post("/api/alerts/0/ack", headers=operator).json())
    long = client.post(f"/api/alerts/{_id(api, 'over_7d_unresolved')}/ack", headers=operator,
                       json={"note": "x" * 2001})  # fmt: skip
    assert long.status_code == 422 and "note" in error_fields(long.json())
    assert _audit(engine) == []


def test_viewers_tokenless_and_forged_cookie_writes_are_refused(
    client: TestClient, api: Get, engine: Engine, viewer: dict[str, str], make_token: TokenMaker
) -> None:
    alert_id = _id(api, "over_7d_unresolved")
    assert client.post(f"/api/alerts/{alert_id}/ack", headers=viewer).status_code == 403
    assert client.post(f"/api/alerts/{alert_id}/ack").status_code == 401
    assert login(client, make_token("operator", "olga")).status_code == 303
    forged = client.post(f"/api/alerts/{alert_id}/ack")  # the cookie alone
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    assert _audit(engine) == []
    token = csrf(page(client, "/alerts"))
    got = client.post(f"/api/alerts/{alert_id}/ack", headers={"X-CSRF-Token": token})
    assert got.status_code == 200, got.text
    assert _audit(engine) == [("olga", "alert_ack", f"alert:{alert_id}")]


def test_metrics_count_acknowledged_alerts_as_open_and_apart(
    client: TestClient, api: Get, operator: dict[str, str], viewer: dict[str, str]
) -> None:
    def gauges() -> dict[str, str]:
        text = client.get("/metrics", headers=viewer).text
        return {line.rsplit(" ", 1)[0]: line.rsplit(" ", 1)[1] for line in text.splitlines()
                if line.startswith("leadlink_alerts_")}  # fmt: skip

    before = gauges()
    kind = 'kind="over_24h_no_identity"'
    assert before[f"leadlink_alerts_open{{{kind}}}"] == "1.0"
    assert before[f"leadlink_alerts_unacknowledged{{{kind}}}"] == "1.0"
    assert before['leadlink_alerts_open{kind="backlog_growing"}'] == "0.0"  # every kind shown
    client.post(f"/api/alerts/{_id(api, 'over_24h_no_identity')}/ack", headers=operator)
    after = gauges()
    assert after[f"leadlink_alerts_open{{{kind}}}"] == "1.0"  # it still holds
    assert after[f"leadlink_alerts_unacknowledged{{{kind}}}"] == "0.0"
    assert {k: v for k, v in after.items() if kind not in k} == {
        k: v for k, v in before.items() if kind not in k}  # fmt: skip
