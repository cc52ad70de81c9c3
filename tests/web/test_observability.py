"""/healthz, /metrics, request ids and JSON request logs, on the real app and database."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.pipeline.money.segments_world import segments_world

from leadlink.clock import utcnow
from leadlink.pipeline.money.segments import segment_summary
from leadlink.settings import Settings
from leadlink.store import backlog, jobs
from leadlink.store.db import heads, transaction
from leadlink.web.observability import JsonFormatter, match_outcomes


def test_healthz_needs_no_token_and_reports_head_and_job_ages(
    client: TestClient, engine: Engine
) -> None:
    start = utcnow() - dt.timedelta(hours=2)
    with jobs.recorded(engine, "claims", start) as run:
        run.counts = lambda: {"generated": 3}
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["migrations"] == {"current": heads(engine)[0], "head": heads(engine),
                                  "at_head": True}  # fmt: skip
    age = body["jobs"]["claims"]["last_ok_age_seconds"]
    assert body["jobs"]["claims"]["last_status"] == "ok"
    assert 2 * 3600 - 5 < age < 2 * 3600 + 60


def test_healthz_is_503_when_the_database_is_unreachable(app: object) -> None:
    from sqlalchemy import create_engine

    app.state.engine = create_engine("sqlite:////nonexistent/dir/x.db")  # type: ignore[attr-defined]
    with TestClient(app) as client:  # type: ignore[arg-type]
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"].startswith("unreachable")


@pytest.mark.parametrize("path", ["/metrics", "/openapi.json"])
def test_everything_but_healthz_needs_a_token(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token ll_abc", "Bearer ll_unknown"],
)
def test_malformed_or_unknown_credentials_are_401(client: TestClient, header: str) -> None:
    assert client.get("/metrics", headers={"Authorization": header}).status_code == 401


def test_metrics_are_prometheus_text_read_from_the_store(
    client: TestClient, engine: Engine, viewer: dict[str, str]
) -> None:
    with jobs.recorded(engine, "match", utcnow()) as run:
        run.counts = lambda: {"processed": 7, "linked": 5, "new_persons": 1, "review": 0,
                              "unmatched": {"NO_CANDIDATE": 1, "AMBIGUOUS": 1}}  # fmt: skip
    client.get("/healthz")
    response = client.get("/metrics", headers=viewer)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    with transaction(engine) as session:
        red = backlog.count_kpi_red(session, utcnow(), 1)
    assert f"leadlink_backlog_kpi_red {float(red)}" in text
    assert 'leadlink_last_match_records{outcome="linked"} 5.0' in text
    assert 'leadlink_last_match_records{outcome="unmatched"} 2.0' in text
    assert 'leadlink_job_last_duration_seconds{kind="match",status="ok"}' in text
    assert 'leadlink_http_request_duration_seconds_count{method="GET",route="/healthz"' in text


def test_openapi_schema_is_served_with_a_token(client: TestClient, viewer: dict[str, str]) -> None:
    schema = client.get("/openapi.json", headers=viewer).json()
    assert schema["info"]["title"] == "leadlink"
    assert "/healthz" in schema["paths"]


def test_request_id_is_echoed_or_made_and_logged_as_json(
    client: TestClient, viewer: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="leadlink.web"):
        given = client.get("/metrics", headers={**viewer, "X-Request-ID": "abc-123"})
        made = client.get("/healthz")
    assert given.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 32
    records = [r for r in caplog.records if r.getMessage() == "request"]
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["request_id"] == "abc-123" and line["actor"] == "vera"
    assert line["route"] == "/metrics" and line["status"] == 200 and line["duration_ms"] >= 0
    assert json.loads(JsonFormatter().format(records[1]))["actor"] is None


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({}, {}),
        ({"processed": 3, "unmatched": {"A": 1, "B": 2}}, {"processed": 3.0, "unmatched": 3.0}),
        ({"linked": "x", "review": 2}, {"review": 2.0}),
    ],
)
def test_match_outcomes(counts: dict[str, object], expected: dict[str, float]) -> None:
    assert match_outcomes(counts) == expected


def test_metrics_report_the_backlog_per_segment(
    client: TestClient,
    engine: Engine,
    viewer: dict[str, str],
    tmp_path: Path,
    web_settings: Settings,
) -> None:
    """The hand-made segments world, scraped on the real clock: the gauges are the service's."""
    segments_world(engine, tmp_path)
    text = client.get("/metrics", headers=viewer).text
    with transaction(engine) as session:
        split = segment_summary(session, web_settings, utcnow())
    assert sum(v["leads"] for v in split.values()) == 9
    for name, v in split.items():
        assert f'leadlink_backlog_segment_leads{{segment="{name}"}} {float(v["leads"])}' in text
        assert (f'leadlink_backlog_segment_at_stake_soles{{segment="{name}"}} '
                f'{float(v["at_stake"])}') in text  # fmt: skip
    for reason, n in split["lost"]["by_reason"].items():
        assert f'leadlink_backlog_lost_leads{{reason="{reason}"}} {float(n)}' in text
    assert 'leadlink_backlog_lost_leads{reason="NOT_MATCHED"} 1.0' in text
