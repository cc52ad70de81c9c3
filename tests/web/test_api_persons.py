"""GET /api/persons and /api/persons/{key}: search, and a person whole, equal to `leadlink
persons show --json`; a retired key answers its survivor (merge world)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.factories import NOW
from tests.merge_world import LATER, P1, P2, World, add_evidence, world_fixture  # noqa: F401
from tests.pipeline.claims_world import SETTINGS as CLAIMS_SETTINGS
from tests.web.api_world import (  # noqa: F401 - fixtures
    Get,
    all_items,
    api_fixture,
    error_fields,
    pinned_app_fixture,
    rows,
    world_db_url,
)
from tests.web.dashboard import login, page, text_of
from typer.testing import CliRunner

from leadlink.cli import app as cli_app
from leadlink.pipeline.money.claims_report import report
from leadlink.pipeline.operations import tokens
from leadlink.pipeline.resolution.resolve import match
from leadlink.settings import Settings
from leadlink.web import create_app


def person_of(engine: Engine, source: str, source_pk: str) -> str:
    found = rows(engine, "SELECT l.person_key FROM link l JOIN source_record sr ON "
                 "sr.id = l.record_id AND l.active WHERE sr.source = :s AND sr.source_pk = :pk",
                 s=source, pk=source_pk)  # fmt: skip
    return str(found[0][0])


def test_every_live_person_with_its_records(api: Get, engine: Engine) -> None:
    items = all_items(api, "/api/persons")
    live = rows(engine, "SELECT person_key FROM person WHERE retired_into IS NULL")
    assert sorted(i["person_key"] for i in items) == sorted(r[0] for r in live)
    counts = dict(rows(engine, "SELECT person_key, count(*) FROM link WHERE active "
                       "GROUP BY person_key"))  # fmt: skip
    for item in items:
        assert item["records"] == counts[item["person_key"]] == sum(item["sources"].values())
    by_key = {i["person_key"]: i for i in items}
    db = by_key[person_of(engine, "drivers", "DB1")]
    assert db["sources"] == {"drivers": 2, "leads": 2}
    assert (db["name"], db["phone"], db["document"]) == ("Juan Carlos Pérez Rojas", "987000002",
                                                         "10000002")  # fmt: skip


@pytest.mark.parametrize(
    ("params", "drivers"),
    [
        ({"phone": "+51 987 000 022"}, {"DB1"}),  # DB2's phone: one person with DB1
        ({"phone": "0051987000005"}, {"DH1"}),
        ({"phone": "987-000-00"}, {"DA1", "DB1", "DC1", "DD1", "DH1", "DE1", "DG1"}),
        ({"phone": "955111222"}, {"RD5"}),
        ({"document": "q10000001"}, {"DA1"}),  # the licence, any case
        ({"document": "10.000.002"}, {"DB1"}),
        ({"document": "1000000"}, set()),  # exact, not a prefix
        ({"name": "torres vega"}, {"DG1"}),
        ({"name": "juan carlos"}, {"DB1", "DH1", "RD3", "RD4"}),
        ({"name": "JUAN mamani"}, {"RD3", "RD4"}),
        ({"name": "juan", "phone": "987000005"}, {"DH1"}),
        ({"name": "%"}, set()),
    ],
)
def test_search(api: Get, engine: Engine, params: dict[str, str], drivers: set[str]) -> None:
    expected = {person_of(engine, "drivers", d) for d in drivers}
    items = all_items(api, "/api/persons", **params)
    assert {i["person_key"] for i in items} == expected
    assert api("/api/persons", params)["total"] == len(expected)


def test_search_by_key_prefix(api: Get, engine: Engine) -> None:
    key = person_of(engine, "drivers", "DA1")
    assert [i["person_key"] for i in all_items(api, "/api/persons", key=key[:8].upper())] == [key]


def test_one_person_is_persons_show_plus_records_and_claims(
    api: Get,
    engine: Engine,
    db_url: str,  # noqa: F811
) -> None:
    key = person_of(engine, "drivers", "DB1")
    body = api(f"/api/persons/{key}")
    shown = json.loads(CliRunner().invoke(cli_app, ["--db", db_url, "persons", "show", key,
                                                    "--json"]).output)  # fmt: skip
    for field in ("requested", "person_key", "was_retired", "created_at", "retired_keys",
                  "links", "origins"):  # fmt: skip
        assert body[field] == shown[field], field
    assert body["note"] is None
    assert [(r["source"], r["source_pk"]) for r in body["records"]] == [
        (r["source"], r["source_pk"]) for r in shown["records"]]  # fmt: skip
    for record, listed in zip(body["records"], shown["records"], strict=True):
        assert record["link"]["rule"] == record["explanation"]["rule"] == listed["rule"]
        assert record["link"]["link_id"] == listed["link_id"]
        assert record["explanation"]["rule_label"]
        assert record["data"]["first_name"]
    claims = report(engine, CLAIMS_SETTINGS, now=NOW, person=key)["rows"]
    assert sorted((c["milestone"], c["status"], c["amount"]) for c in body["claims"]) == sorted(
        (c["milestone"], c["status"], c["amount"]) for c in claims)  # fmt: skip
    assert len(body["claims"]) == 3


def test_one_person_has_its_money_and_pages_its_trips(api: Get, engine: Engine) -> None:
    key = person_of(engine, "drivers", "DB1")
    body = api(f"/api/persons/{key}", {"trips_limit": 2, "trips_offset": 1})
    assert body["claim_totals"] == report(engine, CLAIMS_SETTINGS, now=NOW, person=key)["claims"]
    assert [c["milestone"] for c in body["claims"]] == ["M1", "M5", "M25"]
    assert body["trips"]["summary"] == {"days": 5, "completed": 40, "first_day": "2026-10-02",
                                        "last_day": "2026-10-17"}  # fmt: skip
    assert [(t["day"], t["driver_id"]) for t in body["trips"]["items"]] == [
        ("2026-10-16", "DB1"), ("2026-10-09", "DB2")]  # fmt: skip
    assert [(p["payment_id"], p["claim_status"]) for p in body["payments"]] == [("P03", "rejected")]
    assert "trips_limit" in error_fields(api(f"/api/persons/{key}", {"trips_limit": 0},
                                             status=422))  # fmt: skip


def test_unknown_person_is_404(api: Get) -> None:
    assert api("/api/persons/00000000-0000-0000-0000-000000000000", status=404)["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"phone": "12"}, "phone"),
        ({"phone": "abc"}, "phone"),
        ({"document": "--"}, "document"),
        ({"key": "k" * 37}, "key"),
        ({"sort": "name"}, "sort"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_parameters_are_422_naming_them(api: Get, params: dict[str, Any], field: str) -> None:
    assert field in error_fields(api("/api/persons", params, status=422))


def test_without_a_token_is_401(client: TestClient) -> None:
    assert client.get("/api/persons").status_code == 401
    assert client.get("/api/persons/x").status_code == 401


def test_a_retired_key_answers_its_survivor(world: World) -> None:  # noqa: F811
    add_evidence(world)
    match(world.engine, Settings(db="sqlite://", probabilistic=False), now=LATER)
    assert world.rows("SELECT retired_into FROM person WHERE person_key = :k", k=P2)[0][0] == P1
    app = create_app(Settings(db=world.url or "sqlite://", secret_key="k" * 20), world.engine)
    token, _ = tokens.create(world.engine, role="viewer", name="vera", now=LATER)
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {token}"}
        body = client.get(f"/api/persons/{P2}", headers=headers).json()
        listed = client.get("/api/persons", headers=headers).json()
    assert (body["requested"], body["person_key"], body["was_retired"]) == (P2, P1, True)
    assert body["note"] == f"{P2} was retired into {P1}"
    assert body["retired_keys"] == [P2]
    # P2's lead and scouting row moved to the survivor, with the merge recorded on the link
    records = {(r["source"], r["source_pk"]): r for r in body["records"]}
    assert {("leads", "L2"), ("scouting", "S1"), ("drivers", "D2")} <= set(records)
    assert records[("leads", "L2")]["link"]["merged_from"] == P2
    assert P2 not in {i["person_key"] for i in listed["items"]}


def test_a_retired_keys_page_names_its_survivor(world: World) -> None:  # noqa: F811
    # The page's message takes an argument named ``key``: it once clashed with the translator's
    # own parameter and the page answered 500.
    add_evidence(world)
    match(world.engine, Settings(db="sqlite://", probabilistic=False), now=LATER)
    settings = Settings(db=world.url or "sqlite://", secret_key="k" * 20,
                        session_https_only=False)  # http://testserver: see web/conftest.py
    app = create_app(settings, world.engine)
    token, _ = tokens.create(world.engine, role="viewer", name="vera", now=LATER)
    with TestClient(app) as client:
        assert login(client, token).status_code == 303
        html = page(client, f"/persons/{P2}")
    assert P2 in text_of(html, "person-retired") and P1 in html
