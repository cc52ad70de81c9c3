"""The review queue by money at stake on the API and the dashboard (full and compact views):
the same items in the same order with the same figures as `leadlink review list --json`, on
SQLite and PostgreSQL (tests/stake_world.py works the figures out by hand)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.stake_world import NOW, ORDER, STAKED, TOTAL, ordered_ids, stake_world
from tests.web.conftest import TokenMaker
from tests.web.dashboard import element, login, page, text_of

from leadlink.clock import utcnow
from leadlink.pipeline.resolution import review
from leadlink.settings import Settings
from leadlink.web import create_app


@pytest.fixture(name="app")
def stake_app(web_settings: Settings, engine: Engine, tmp_path: Path) -> FastAPI:
    stake_world(engine, tmp_path)
    app = create_app(web_settings.model_copy(update={"probabilistic": False}), engine)
    app.dependency_overrides[utcnow] = lambda: NOW
    return app


def _said(engine: Engine, settings: Settings) -> dict[str, object]:
    return review.list_items(engine, settings.model_copy(update={"probabilistic": False}),
                             now=NOW)  # fmt: skip


def test_the_api_pages_the_queue_by_money_at_stake(
    client: TestClient, viewer: dict[str, str], engine: Engine, web_settings: Settings
) -> None:
    body = client.get("/api/review", headers=viewer).json()
    assert [i["id"] for i in body["items"]] == ordered_ids(engine)
    assert [i["at_stake"] for i in body["items"]] == [s for _l, _d, s, _dl in ORDER]
    assert (body["at_stake"], body["staked"]) == (TOTAL, STAKED)
    assert body["summary_table"]["lagging"] is False
    said = _said(engine, web_settings)
    assert [{k: v for k, v in i.items() if k != "candidates"} for i in body["items"]] == said[
        "items"
    ]
    second = client.get("/api/review", params={"limit": 2, "offset": 2}, headers=viewer).json()
    assert [i["id"] for i in second["items"]] == ordered_ids(engine)[2:4]
    one = client.get(f"/api/review/{ordered_ids(engine)[0]}", headers=viewer).json()
    assert one["at_stake"] == 135.0


def test_the_pages_show_the_stake_in_the_queues_order(
    client: TestClient, make_token: TokenMaker, engine: Engine, web_settings: Settings
) -> None:
    login(client, make_token("viewer", "vera"))
    ids = ordered_ids(engine)
    data = client.get("/review.json").json()
    assert [i["id"] for i in data["items"]] == ids
    assert data["at_stake"] == TOTAL == _said(engine, web_settings)["at_stake"]
    full = page(client, "/review")
    assert "S/ 220.00" in text_of(full, "review-queue-stake")
    assert text_of(full, f"review-item-{ids[0]}-stake") == "S/ 135.00"
    # A record's candidates stay side by side: L3's second candidate (S/ 0) comes with its
    # first, where the record first appears in the queue's order.
    grouped = [ids[0], ids[1], ids[2], ids[5], ids[3], ids[4]]
    positions = [full.index(f'data-testid="review-item-{i}"') for i in grouped]
    assert positions == sorted(positions)
    compact = page(client, "/review", view="compact")
    table = element(compact, "review-compact")
    assert "S/ en juego" in table
    shown = [text_of(compact, f"review-row-{i}-stake") for i in grouped]
    assert shown == ["S/ 135.00", "S/ 60.00", "S/ 25.00", "S/ 0.00", "S/ 0.00", "S/ 0.00"]
    rows = [compact.index(f'data-testid="review-row-{i}"') for i in grouped]
    assert rows == sorted(rows)
