"""Deciding review items through the dashboard's forms: an operator with the CSRF token
accepts or rejects; a viewer, or a form without the token, gets a 403 page and changes
nothing. Also what the queue shows of each candidate's evidence."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from tests.review_factories import item_id
from tests.web.api_world import pinned_app_fixture, rows, world_db_url  # noqa: F401
from tests.web.conftest import TokenMaker
from tests.web.dashboard import HTML, csrf, element, login, page, text_of

from leadlink.pipeline.resolution.resolve import person_key_for
from leadlink.web.pages.review import explanation, grouped

RD1 = person_key_for("drivers", "RD1")


def status_of(engine: Engine, item: int) -> tuple[Any, ...]:
    found = rows(engine, "SELECT status, decided_by, note FROM review_item WHERE id = :i", i=item)
    return tuple(found[0])


def post(client: TestClient, path: str, form: dict[str, str]) -> Any:
    return client.post(path, data=form, headers=HTML, follow_redirects=False)


def test_accept_through_the_form_links_the_lead_on_the_person_page(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    login(client, make_token("operator", "olga"))
    item = item_id(engine, "RL1", "RD1")
    before = page(client, f"/persons/{RD1}")
    assert 'data-testid="person-record-leads-RL1"' not in element(before, "person-records")
    queue = page(client, "/review")
    assert f'data-testid="review-item-{item}-accept"' in queue
    got = post(
        client,
        f"/review/{item}/accept",
        {"csrf_token": csrf(queue), "note": "same person, same car", "back": "/review"},
    )
    assert got.status_code == 303 and got.headers["location"] == "/review"
    after_queue = page(client, "/review")
    assert f"Ítem {item} aceptado" in text_of(after_queue, "flash-ok")
    assert f'data-testid="review-item-{item}"' not in after_queue  # no longer open
    assert status_of(engine, item) == ("accepted", "olga", "same person, same car")
    person = page(client, f"/persons/{RD1}")
    row = element(person, "person-record-leads-RL1")
    assert "review_accept" in row and "Aceptado en revisión por olga." in row
    audit = rows(
        engine, "SELECT actor, action FROM audit_log WHERE target = :t", t=f"review_item:{item}"
    )
    assert [tuple(a) for a in audit] == [("olga", "review_accept")]


def test_reject_through_the_form_and_a_second_decision_is_reported(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    login(client, make_token("operator", "olga"))
    item = item_id(engine, "RL2", "RD2")
    token = csrf(page(client, "/review"))
    got = post(
        client, f"/review/{item}/reject", {"csrf_token": token, "back": "/review?status=all"}
    )
    assert got.status_code == 303 and got.headers["location"] == "/review?status=all"
    assert status_of(engine, item) == ("rejected", "olga", None)
    assert "rechazado" in text_of(page(client, "/review", params={"status": "all"}), "flash-ok")
    again = post(client, f"/review/{item}/accept", {"csrf_token": token})
    assert again.status_code == 303
    assert "ya se decidió (rechazado, por" in text_of(page(client, "/review"), "flash-error")
    assert status_of(engine, item) == ("rejected", "olga", None)
    # An unknown item is said so, too; a "back" off the queue is not followed.
    missing = post(client, "/review/999999/accept", {"csrf_token": token, "back": "/gap"})
    assert missing.headers["location"] == "/review"
    assert "999999" in text_of(page(client, "/review"), "flash-error")


def test_a_viewer_gets_a_403_page_and_nothing_changes(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    login(client, make_token("viewer", "vera"))
    item = item_id(engine, "RL1", "RD1")
    got = post(client, f"/review/{item}/accept", {"csrf_token": csrf(page(client, "/review"))})
    assert got.status_code == 403
    assert text_of(got.text, "error-status").startswith("403")
    assert "usuario de solo lectura" in text_of(got.text, "error-detail")
    assert status_of(engine, item) == ("open", None, None)


def test_a_form_without_the_csrf_token_gets_403(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    login(client, make_token("operator", "olga"))
    item = item_id(engine, "RL1", "RD1")
    page(client, "/review")
    for form in ({}, {"csrf_token": "forged"}):
        got = post(client, f"/review/{item}/accept", form)
        assert got.status_code == 403, got.text
        assert "CSRF" in text_of(got.text, "error-detail")
    assert status_of(engine, item) == ("open", None, None)
    # Without any session the form is not a decision either.
    client.cookies.clear()
    assert post(client, f"/review/{item}/accept", {}).status_code == 401
    assert status_of(engine, item) == ("open", None, None)


def test_evidence_is_explained_field_by_field_with_the_model_weights() -> None:
    evidence = {
        "rule": "model",
        "reason": "WEAK_MATCH_ONLY",
        "fields": {
            "phone_eq": False,
            "id_eq": False,
            "plate_eq": True,
            "brand_model_eq": True,
            "driver_id_eq": False,
            "name_sim": 0.93,
            "days": 4,
        },
        "waterfall": {
            "surname": {"level": 3, "weight": 6.5},
            "phone": {"level": 0, "weight": -3.25},
        },
        "candidates": [
            {"person_key": "p1", "rule": "model", "score": 0.7},
            {"person_key": "p2", "rule": "weak", "score": 0.4},
        ],
    }
    ex = explanation(evidence)
    assert [f["field"] for f in ex["fields"]] == [
        "phone_eq",
        "id_eq",
        "plate_eq",
        "brand_model_eq",
        "driver_id_eq",
        "name_sim",
        "days",
    ]
    assert ex["weights"] == [
        {"field": "surname", "level": 3, "weight": 6.5, "width": 100.0},
        {"field": "phone", "level": 0, "weight": -3.25, "width": 50.0},
    ]
    assert explanation(None) == {
        "fields": [],
        "weights": [],
        "accepted_by": None,
        "merged_from": None,
    }
    record = {"id": 7, "source": "leads", "source_pk": "L7"}
    items = [
        {"id": 1, "record": record, "evidence": evidence},
        {"id": 2, "record": {**record, "id": 8}, "evidence": {}},
        {"id": 3, "record": record, "evidence": {"reason": "MULTIPLE_CANDIDATES"}},
    ]
    groups = grouped(items)
    assert [[i["id"] for i in g["items"]] for g in groups] == [[1, 3], [2]]
    assert groups[0]["items"][0]["considered"] == evidence["candidates"]
    assert groups[0]["items"][1]["reason"] == "MULTIPLE_CANDIDATES"


def test_a_model_proposal_shows_its_match_weights_on_the_queue(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    item = item_id(engine, "RL1", "RD1")
    weights = {"family1": {"level": 3, "weight": 6.5}, "phone": {"level": 0, "weight": -3.25}}
    with engine.begin() as conn:  # as a model proposal stores it (matching/engine.py)
        evidence = conn.execute(
            text("SELECT evidence FROM review_item WHERE id = :i"), {"i": item}
        ).scalar_one()
        evidence = json.loads(evidence) if isinstance(evidence, str) else evidence
        conn.execute(
            text("UPDATE review_item SET rule = 'model', evidence = :e WHERE id = :i"),
            {"e": json.dumps({**evidence, "waterfall": weights}), "i": item},
        )
    login(client, make_token("viewer", "vera"))
    html = page(client, "/review", lang="en")
    card = element(html, f"review-item-{item}")
    table = element(card, "waterfall")
    assert "Model match weights" in table
    assert "+6.50" in table and "-3.25" in table
    # The model's field names in the page's language, not the frame's column names.
    assert "First surname" in table and "Phone" in table and "family1" not in table
    # The bars are SVG: a style="" attribute is refused by the Content-Security-Policy.
    svg = '<svg class="bar {}" viewBox="0 0 100 1" preserveAspectRatio="none" aria-hidden="true">'
    assert svg.format("pos") + '<rect width="100.0" height="1"/></svg>' in table
    assert svg.format("neg") + '<rect width="50.0" height="1"/></svg>' in table
    assert "Probabilistic model (Fellegi-Sunter)" in card


def test_the_reject_form_takes_a_note_like_the_accept_form(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    # The reject form had no note: why a candidate was refused was lost.
    login(client, make_token("operator", "olga"))
    item = item_id(engine, "RL1", "RD1")
    queue = page(client, "/review")
    form = re.search(rf'<form method="post" action="/review/{item}/reject".*?</form>', queue,
                     flags=re.S)  # fmt: skip
    assert form and f'data-testid="review-item-{item}-reject-note"' in form.group(0)
    got = post(client, f"/review/{item}/reject",
               {"csrf_token": csrf(queue), "note": "other DNI", "back": "/review"})  # fmt: skip
    assert got.status_code == 303
    assert status_of(engine, item) == ("rejected", "olga", "other DNI")


def test_a_value_the_record_lacks_is_missing_not_a_disagreement() -> None:
    """A lead has no DNI and no driver id at all, and this one no phone: those fields were not
    compared. Only the plate, which the lead has, disagrees."""
    fields = {"phone_eq": False, "id_eq": False, "plate_eq": False, "brand_model_eq": True,
              "driver_id_eq": False, "name_sim": 1.0}  # fmt: skip
    lead_record = {"source": "leads", "name": "Luis Huaman", "phone": None, "plate": "ABC123",
                   "car": "Toyota Yaris", "document": None, "driver_id": None}  # fmt: skip
    shown = {f["field"]: f["value"] for f in explanation({"fields": fields}, None,
                                                         lead_record)["fields"]}  # fmt: skip
    assert shown == {"phone_eq": "missing", "id_eq": "missing", "plate_eq": False,
                     "brand_model_eq": True, "driver_id_eq": "missing",
                     "name_sim": 1.0}  # fmt: skip
    # Without the record (an old caller), nothing is guessed.
    assert explanation({"fields": fields})["fields"][0]["value"] is False
    # The candidate's side counts too: a plate the lead has but none of the driver's records.
    drivers = [{"source": "drivers", "plate": None, "phone": "987000111", "car": "Toyota Yaris",
                "document": "11111111", "driver_id": "D1"}]  # fmt: skip
    both = {f["field"]: f["value"] for f in explanation({"fields": fields}, None, lead_record,
                                                        drivers)["fields"]}  # fmt: skip
    assert both["plate_eq"] == "missing" and both["phone_eq"] == "missing"


def test_the_review_page_says_missing_where_the_lead_has_no_value(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    login(client, make_token("viewer", "vera"))
    item = item_id(engine, "RL1", "RD1")  # Luis's lead: name and car, no phone, no plate
    block = element(page(client, "/review"), f"review-item-{item}")
    assert 'data-testid="field-missing"' in block and "sin dato en este registro" in block
    assert "✘" not in block  # nothing the lead carries disagrees with Luis's driver record


def _ids_in_order(html: str, prefix: str) -> list[int]:
    return [int(i) for i in re.findall(rf'data-testid="{prefix}-(\d+)"', html)]


def test_the_compact_view_is_one_row_per_item_of_the_json(
    client: TestClient, make_token: TokenMaker
) -> None:
    login(client, make_token("viewer", "vera"))
    expected = {i["id"]: i for i in client.get("/review.json").json()["items"]}
    assert len(expected) >= 3
    full = page(client, "/review")
    compact = page(client, "/review", view="compact")
    table = element(compact, "review-compact")
    rows = _ids_in_order(table, "review-row")
    # Every item of the JSON once, in the full page's order, with its score; no evidence
    # table open on the page (it is folded in each row's <details>).
    assert sorted(rows) == sorted(expected) and rows == _ids_in_order(full, "review-item")
    for item_id_, item in expected.items():
        row = element(table, f"review-row-{item_id_}")
        assert text_of(row, f"review-row-{item_id_}-score") == f"{item['score']:.2f}"
        assert f'href="/persons/{item["person_key"]}"' in row
        if item["record"]["source"] == "leads":
            assert f'href="/leads/{item["record"]["source_pk"]}"' in row
        details = element(row, f"review-row-{item_id_}-details")
        assert "<summary>" in details
        # The evidence the full view shows (a runner-up proposed beside the best has none).
        assert ('class="evidence compact"' in details) is bool(item["evidence"].get("fields"))
    assert 'data-testid="review-item-' not in compact  # not the full cards
    assert "review-row-" not in full  # and the full view has no compact rows
    # The toggle, both ways; a viewer sees no forms.
    assert 'href="/review?status=open&amp;view=compact"' in full
    assert 'href="/review?status=open"' in element(compact, "review-view-full")
    assert "/accept" not in compact
    # Paging keeps the view; so does the status filter.
    paged = page(client, "/review", view="compact", limit=1)
    assert "view=compact" in element(paged, "pager-next")
    assert '<input type="hidden" name="view" value="compact">' in paged


def test_accept_from_the_compact_view_returns_to_it(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    login(client, make_token("operator", "olga"))
    item = item_id(engine, "RL1", "RD1")
    compact = page(client, "/review", view="compact")
    form = re.search(rf'<form method="post" action="/review/{item}/accept".*?</form>', compact,
                     flags=re.S)  # fmt: skip
    assert form, "an accept form on the item's row"
    back = re.search(r'name="back" value="([^"]+)"', form.group(0))
    assert back and back.group(1) == "/review?status=open&amp;view=compact"
    back_url = "/review?status=open&view=compact"
    got = post(client, f"/review/{item}/accept", {"csrf_token": csrf(compact), "back": back_url})
    assert got.status_code == 303
    assert got.headers["location"] == back_url
    assert status_of(engine, item) == ("accepted", "olga", None)
    after = page(client, got.headers["location"])
    assert f"Ítem {item} aceptado" in text_of(after, "flash-ok")
    assert f'data-testid="review-row-{item}"' not in after and 'review-compact' in after
