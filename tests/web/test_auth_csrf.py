"""Which writes must carry the session's CSRF token: only those the dashboard cookie
authenticates. A bearer token is the caller whenever it is sent (no CSRF: another site cannot
make a browser send it), and the header, when sent, is the token checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.factories import NOW
from tests.review_factories import SETTINGS, item_id, review_world, rows
from tests.web.conftest import TokenMaker
from tests.web.dashboard import HTML, csrf, login, page

from leadlink.pipeline.resolution.resolve import match


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Engine:
    review_world(engine, tmp_path)
    match(engine, SETTINGS, now=NOW)
    return engine


def _deciders(engine: Engine) -> list[tuple[str, str]]:
    found = rows(engine, "SELECT status, decided_by FROM review_item "
                         "WHERE decided_by IS NOT NULL ORDER BY id")  # fmt: skip
    return [(r[0], r[1]) for r in found]


def test_a_bearer_write_needs_no_csrf_token_even_beside_a_session(
    client: TestClient, world: Engine, operator: dict[str, str], make_token: TokenMaker
) -> None:
    assert login(client, make_token("operator", "olga")).status_code == 303
    item = item_id(world, "L2", "D2")
    got = client.post(f"/api/review/{item}/reject", headers=operator)
    assert got.status_code == 200, got.text
    # The bearer token is the caller, not the session beside it.
    assert _deciders(world) == [("rejected", "otto")]


def test_a_wrong_csrf_header_is_refused_though_the_form_field_is_right(
    client: TestClient, world: Engine, make_token: TokenMaker
) -> None:
    assert login(client, make_token("operator", "olga")).status_code == 303
    token = csrf(page(client, "/review"))
    item = item_id(world, "L1", "D1")
    forged = {**HTML, "X-CSRF-Token": "forged"}
    got = client.post(f"/review/{item}/accept", data={"csrf_token": token}, headers=forged,
                      follow_redirects=False)  # fmt: skip
    assert got.status_code == 403
    assert _deciders(world) == []
    right = client.post(f"/review/{item}/accept", data={"csrf_token": token},
                        headers=HTML, follow_redirects=False)  # fmt: skip
    assert right.status_code == 303, right.text
    assert _deciders(world) == [("accepted", "olga")]
