"""GET /api/jobs (each kind's last run, last success and staleness) and /api/jobs/runs (the
job_run history), on the API world, SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.factories import NOW
from tests.web.api_world import (  # noqa: F401 - fixtures
    Get,
    all_items,
    api_fixture,
    error_fields,
    pinned_app_fixture,
    rows,
    world_db_url,
)

from leadlink.clock import utcnow
from leadlink.pipeline.operations.alerts import WORKER_KINDS
from leadlink.store import jobs


def by_kind(api: Get) -> dict[str, dict[str, Any]]:
    return {k["kind"]: k for k in all_items(api, "/api/jobs")}


def test_every_worker_kind_with_its_last_run(api: Get, engine: Engine) -> None:
    kinds = by_kind(api)
    # the worker's kinds, then the others that ran (compute_claims scans quarantine first)
    assert list(kinds) == [*WORKER_KINDS, "quarantine"]
    newest = {r["kind"]: r for r in jobs.latest_by_kind(engine)}
    for kind, item in kinds.items():
        run = newest.get(kind)
        if run is None:
            assert (item["status"], item["last_run"], item["stale"]) == ("never", None, True)
            continue
        assert item["last_run"]["id"] == run["id"] and item["status"] == run["status"]
        seconds = (run["finished_at"] - run["started_at"]).total_seconds()
        assert item["duration_s"] == pytest.approx(seconds, abs=0.001)
        assert item["last_ok_at"] == run["last_ok_at"].isoformat()
        assert item["stale"] is False and item["stale_after_hours"] == 24.0
    # The world seeded the queue outside the worker: the seed recorded its own run.
    assert kinds["queue_seed"]["status"] == "ok"
    assert kinds["queue_seed"]["last_run"]["counts"]["enqueued"] >= 1
    assert kinds["match"]["last_run"]["counts"]["processed"] >= 1


@pytest.mark.parametrize(("hours", "stale"), [(23, False), (25, True)])
def test_stale_after_the_configured_hours(api: Get, app: FastAPI, hours: int, stale: bool) -> None:
    app.dependency_overrides[utcnow] = lambda: NOW + dt.timedelta(hours=hours)
    kinds = by_kind(api)
    assert {k: v["stale"] for k, v in kinds.items() if v["status"] != "never"} == {
        k: stale for k in ("match", "queue_seed", "recover", "claims", "alerts", "quarantine")
    }  # fmt: skip


def test_a_kind_outside_the_workers_is_listed_too(api: Get, engine: Engine) -> None:
    run_id = jobs.start(engine, "export", NOW)
    jobs.finish(engine, run_id, NOW, counts={"rows": 3}, error="ValueError: boom")
    item = by_kind(api)["export"]
    assert (item["status"], item["last_ok_at"], item["stale"]) == ("failed", None, True)
    assert item["last_run"]["error"] == "ValueError: boom"


def test_runs_newest_first(api: Get, engine: Engine) -> None:
    runs = all_items(api, "/api/jobs/runs")
    stored = rows(engine, "SELECT id, kind, status FROM job_run ORDER BY id DESC")
    assert [(r["id"], r["kind"], r["status"]) for r in runs] == [tuple(s) for s in stored]
    recover = next(r for r in runs if r["kind"] == "recover")
    assert recover["attempts"] == {"matched": 1, "unmatched": 6, "failed": 0}


@pytest.mark.parametrize(
    ("params", "n"),
    [({"kind": "match"}, 3), ({"kind": "recover"}, 1), ({"status": "ok"}, 8),
     ({"status": "failed"}, 0), ({"kind": "match", "status": "running"}, 0),
     ({"kind": "mat"}, 0)],
)  # fmt: skip
def test_runs_filters(api: Get, params: dict[str, str], n: int) -> None:
    items = all_items(api, "/api/jobs/runs", **params)
    assert len(items) == api("/api/jobs/runs", params)["total"] == n
    assert all(all(i[k] == v for k, v in params.items()) for i in items)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/jobs/runs", {"status": "done"}, "status"),
        ("/api/jobs/runs", {"kind": "k" * 31}, "kind"),
        ("/api/jobs/runs", {"limit": 0}, "limit"),
        ("/api/jobs", {"limit": 0}, "limit"),
    ],
)
def test_bad_parameters_are_422_naming_them(
    api: Get, path: str, params: dict[str, Any], field: str
) -> None:
    assert field in error_fields(api(path, params, status=422))


@pytest.mark.parametrize("path", ["/api/jobs", "/api/jobs/runs"])
def test_without_a_token_is_401(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401
