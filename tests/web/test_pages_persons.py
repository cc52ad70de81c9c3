"""Merging and unmerging persons through the person page's forms: an operator previews (the
merge done and rolled back, its counts and conflicts in a flash), is refused on two DNIs
unless forcing, merges, and undoes it; a viewer, or a form without the CSRF token, gets a
403 page and changes nothing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.web.api_world import pinned_app_fixture, rows, world_db_url  # noqa: F401
from tests.web.conftest import TokenMaker
from tests.web.dashboard import HTML, csrf, element, login, page, text_of

from leadlink.pipeline.resolution.resolve import person_key_for

# Juan Carlos Pérez Rojas twice: DB1 (DNI 10000002) and DH1 (DNI 10000005), homonyms.
JUAN_A, JUAN_B = person_key_for("drivers", "DB1"), person_key_for("drivers", "DH1")


def post(client: TestClient, path: str, form: dict[str, str]) -> Any:
    return client.post(path, data=form, headers=HTML, follow_redirects=False)


def live(engine: Engine, key: str) -> bool:
    found = rows(engine, "SELECT retired_into FROM person WHERE person_key = :k", k=key)
    return found[0][0] is None


def audit(engine: Engine) -> list[tuple[str, str, str]]:
    found = rows(engine, "SELECT actor, action, target FROM audit_log WHERE action LIKE '%merge' "
                         "ORDER BY id")  # fmt: skip
    return [tuple(r) for r in found]


def test_preview_refusal_forced_merge_and_undo(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    login(client, make_token("operator", "olga"))
    html = page(client, f"/persons/{JUAN_A}")
    form = {"csrf_token": csrf(html), "retire": JUAN_B[:8], "reason": "mismo DNI?"}
    assert 'data-testid="merge-form"' in html

    got = post(client, f"/persons/{JUAN_A}/merge", {**form, "action": "preview"})
    assert got.status_code == 303 and got.headers["location"] == f"/persons/{JUAN_A}"
    after = page(client, f"/persons/{JUAN_A}")
    shown = text_of(after, "flash-info")
    assert shown.startswith("Vista previa (nada escrito)")
    assert "documento de identidad 10000002 / 10000005 (impide la fusión sin forzarla)" in shown
    assert live(engine, JUAN_B) and audit(engine) == []

    post(client, f"/persons/{JUAN_A}/merge", {**form, "action": "merge"})
    refused = text_of(page(client, f"/persons/{JUAN_A}"), "flash-error")
    assert refused.startswith("No se fusionó:") and "10000002 / 10000005" in refused
    assert live(engine, JUAN_B) and audit(engine) == []

    got = post(client, f"/persons/{JUAN_A}/merge", {**form, "action": "merge", "force": "true"})
    assert got.headers["location"] == f"/persons/{JUAN_A}"
    merged = page(client, f"/persons/{JUAN_A}")
    assert f"{JUAN_B} fusionada en {JUAN_A}" in text_of(merged, "flash-ok")
    assert not live(engine, JUAN_B)
    assert f'data-testid="unmerge-{JUAN_B}"' in element(merged, "person-merge")
    assert 'data-testid="person-record-drivers-DH1"' in merged
    assert audit(engine) == [("olga", "merge", JUAN_B)]

    undo = {"csrf_token": csrf(merged), "reason": "homónimos"}
    post(client, f"/persons/{JUAN_B}/unmerge", {**undo, "action": "preview"})
    assert "registros devueltos: 2" in text_of(page(client, f"/persons/{JUAN_A}"), "flash-info")
    assert not live(engine, JUAN_B)
    got = post(client, f"/persons/{JUAN_B}/unmerge", {**undo, "action": "unmerge"})
    assert got.headers["location"] == f"/persons/{JUAN_B}"
    back = page(client, f"/persons/{JUAN_B}")
    assert text_of(back, "flash-ok").startswith(f"Fusión deshecha: {JUAN_B} vuelve a ser")
    assert live(engine, JUAN_B) and 'data-testid="person-record-drivers-DH1"' in back
    assert audit(engine) == [("olga", "merge", JUAN_B), ("olga", "unmerge", JUAN_B)]


def test_a_viewer_sees_no_form_and_is_refused(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    login(client, make_token("viewer", "vera"))
    html = page(client, f"/persons/{JUAN_A}")
    assert 'data-testid="merge-form"' not in html
    got = post(client, f"/persons/{JUAN_A}/merge",
               {"csrf_token": csrf(html), "retire": JUAN_B, "action": "merge", "force": "true"})
    assert got.status_code == 403
    assert live(engine, JUAN_B) and audit(engine) == []


def test_a_form_without_the_csrf_token_is_refused(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    login(client, make_token("operator", "otto"))
    got = post(client, f"/persons/{JUAN_A}/merge",
               {"retire": JUAN_B, "action": "merge", "force": "true"})
    assert got.status_code == 403
    assert live(engine, JUAN_B) and audit(engine) == []
