"""The person page's money (claims with the report's totals, trips paged in SQL, payments) and
its forms: merging and unmerging (an operator previews, the merge done and rolled back, its
counts and conflicts in a flash; is refused on two DNIs unless forcing, merges, and undoes
it) and splitting records off (previewed, done, refused); a viewer, or a form without the
CSRF token, gets a 403 page and changes nothing."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.factories import NOW
from tests.web.api_world import pinned_app_fixture, rows, world_db_url  # noqa: F401
from tests.web.conftest import TokenMaker
from tests.web.dashboard import HTML, csrf, data, element, login, page, text_of

from leadlink.pipeline.money.claims_report import report
from leadlink.pipeline.resolution.resolve import person_key_for
from leadlink.settings import Settings

# Juan Carlos Pérez Rojas twice: DB1 (DNI 10000002) and DH1 (DNI 10000005), homonyms.
JUAN_A, JUAN_B = person_key_for("drivers", "DB1"), person_key_for("drivers", "DH1")
# Splitting DB2 off JUAN_A founds the person DB2 would have founded.
SPLIT_OFF = person_key_for("drivers", "DB2")


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
    assert refused.startswith("No se fusionó:")
    assert "números de identidad 10000002 / 10000005" in refused
    assert "identity" not in refused
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
    got = post(
        client,
        f"/persons/{JUAN_A}/merge",
        {"csrf_token": csrf(html), "retire": JUAN_B, "action": "merge", "force": "true"},
    )
    assert got.status_code == 403
    assert live(engine, JUAN_B) and audit(engine) == []


def test_a_form_without_the_csrf_token_is_refused(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    login(client, make_token("operator", "otto"))
    got = post(
        client, f"/persons/{JUAN_A}/merge", {"retire": JUAN_B, "action": "merge", "force": "true"}
    )
    assert got.status_code == 403
    assert live(engine, JUAN_B) and audit(engine) == []


def words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_page_shows_claims_trips_and_payments(
    client: TestClient, make_token: TokenMaker, engine: Engine, web_settings: Settings
) -> None:
    login(client, make_token("viewer", "vera"))
    got = data(client, f"/persons/{JUAN_A}.json")
    assert got["claim_totals"] == report(engine, web_settings, now=NOW, person=JUAN_A)["claims"]
    html = page(client, f"/persons/{JUAN_A}")
    claims = element(html, "person-claims")
    assert [m for m in re.findall(r'data-testid="person-claim-(M\d+)"', claims)] == [
        "M1", "M5", "M25"]  # fmt: skip
    assert words(element(html, "person-claim-M5")) == (
        "M5 LB1 Rechazado S/ 35.00 9/10/2026 17/10/2026 — P03"
    )
    assert words(element(html, "person-claims-generated")) == "Generado (2) S/ 125.00"
    assert words(element(html, "person-payment-P03")) == (
        "P03 M5 22/10/2026 S/ 30.00 S/ 35.00 Rechazado · monto distinto al del cobro"
    )
    assert (
        text_of(html, "person-trip-days") == "5" and text_of(html, "person-trips-completed") == "40"
    )
    days = re.findall(r'data-testid="person-trip-(DB\d)-([0-9-]+)"', element(html, "person-trips"))
    assert days == [("DB2", "2026-10-17"), ("DB1", "2026-10-16"), ("DB2", "2026-10-09"),
                    ("DB1", "2026-10-03"), ("DB1", "2026-10-02")]  # fmt: skip
    # Paged in SQL: the page's limit and offset are the trip list's, with the pager.
    second = page(client, f"/persons/{JUAN_A}", params={"limit": 2, "offset": 2})
    shown = re.findall(r'data-testid="person-trip-(DB\d)-([0-9-]+)"', second)
    assert shown == [("DB2", "2026-10-09"), ("DB1", "2026-10-03")]
    assert text_of(second, "pager").startswith("Mostrando 3–4 de 5")
    paged = data(client, f"/persons/{JUAN_A}.json", params={"limit": 2, "offset": 2})
    assert [(d["driver_id"], d["day"]) for d in paged["trips"]["items"]] == shown
    nobody = person_key_for("drivers", "DE1")  # quarantined: no lead, no trips, no claim
    empty = page(client, f"/persons/{nobody}")
    assert "Esta persona no tiene cobros." in empty and text_of(empty, "person-trip-days") == "0"


def test_an_operator_previews_and_splits_a_person(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    login(client, make_token("operator", "olga"))
    html = page(client, f"/persons/{JUAN_A}")
    form = element(html, "split-form")
    boxes = re.findall(r'name="record" value="([^"]+)"', form)
    assert boxes == ["drivers:DB1", "drivers:DB2", "leads:LB1", "leads:LB2"]
    base = {"csrf_token": csrf(html), "reason": "otra persona"}
    chosen = ["drivers:DB2", "leads:LB1"]

    def split(action: str, records: list[str]) -> Any:
        body = {**base, "action": action, "record": records}
        return client.post(f"/persons/{JUAN_A}/split", data=body, headers=HTML,
                           follow_redirects=False)  # fmt: skip

    got = split("preview", chosen)
    assert got.status_code == 303 and got.headers["location"] == f"/persons/{JUAN_A}"
    shown = text_of(page(client, f"/persons/{JUAN_A}"), "flash-info")
    assert shown.startswith("Vista previa (nada escrito): separar drivers:DB2, leads:LB1")
    assert "registros: 2" in shown and "cobros: 3" in shown and "pagos: 1" in shown
    assert rows(engine, "SELECT count(*) FROM person WHERE person_key = :k", k=SPLIT_OFF) == [(0,)]

    got = split("split", chosen)
    assert got.status_code == 303 and got.headers["location"] == f"/persons/{SPLIT_OFF}"
    new = page(client, f"/persons/{SPLIT_OFF}")
    assert text_of(new, "flash-ok").startswith(f"drivers:DB2, leads:LB1 separados de {JUAN_A}")
    assert 'data-testid="person-record-drivers-DB2"' in new
    assert 'data-testid="person-claim-M5"' in new and 'data-testid="person-payment-P03"' in new
    assert rows(engine, "SELECT actor, action, target FROM audit_log WHERE action = 'split'") == [
        ("olga", "split", JUAN_A)]  # fmt: skip
    # Refused, said on the page: no record checked; every record; one no longer the person's.
    for records, said in (([], "elige los registros"),
                          (["drivers:DB1", "leads:LB2"], "2 de 2 registros"),
                          (["leads:LB1"], "(vinculado a la persona ")):  # fmt: skip
        assert split("split", records).headers["location"] == f"/persons/{JUAN_A}"
        error = text_of(page(client, f"/persons/{JUAN_A}"), "flash-error")
        assert error.startswith("No se separó:") and said in error, error
    assert rows(engine, "SELECT count(*) FROM audit_log WHERE action = 'split'") == [(1,)]


def test_a_viewer_sees_no_split_form_and_is_refused(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    login(client, make_token("viewer", "vera"))
    html = page(client, f"/persons/{JUAN_A}")
    assert 'data-testid="split-form"' not in html
    body = {"csrf_token": csrf(html), "record": "drivers:DB2", "action": "split"}
    assert post(client, f"/persons/{JUAN_A}/split", body).status_code == 403
    login(client, make_token("operator", "otto"))
    assert (
        post(
            client, f"/persons/{JUAN_A}/split", {"record": "drivers:DB2", "action": "split"}
        ).status_code
        == 403
    )  # no CSRF
    assert rows(engine, "SELECT count(*) FROM audit_log WHERE action = 'split'") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM person WHERE person_key = :k", k=SPLIT_OFF) == [(0,)]
