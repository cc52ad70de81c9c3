"""Errors in the page's language: an error the dashboard can show carries a code and its
params (leadlink.errors), and the page says ``error.<code>`` from its catalog. Here: every
coded raise has a literal English template; every catalog's message for a code uses only the
fields its raises give; the services behind the pages raise nothing uncoded (beyond the
exemptions named with their reason); and the pages say it in Spanish and English."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.web.api_world import pinned_app_fixture, rows, world_db_url  # noqa: F401
from tests.web.conftest import TokenMaker
from tests.web.dashboard import HTML, csrf, login, page, text_of

from leadlink.errors import LeadlinkError, NotFoundError, Phrase, Phrases, Term, UsageError
from leadlink.pipeline.resolution.resolve import person_key_for
from leadlink.web.error_codes import PACKAGE, coded_raises
from leadlink.web.i18n import Translator, languages

# The modules whose errors reach a dashboard page (a page's service, a form's write, a lock a
# page's job start meets). Their raises of a LeadlinkError must carry a code.
DASHBOARD_MODULES = (
    "store/merges.py", "store/person_keys.py", "store/unmerge.py", "store/locks.py", "store/db.py",
    "pipeline/resolution/merge.py", "pipeline/resolution/split.py", "store/splits.py",
    "pipeline/resolution/review.py",
    "pipeline/resolution/explain.py", "pipeline/resolution/search.py",
    "pipeline/money/lead_page.py", "pipeline/money/segments.py",
    "pipeline/money/activity.py", "pipeline/money/gap.py",
    "pipeline/operations/job_start.py", "pipeline/operations/alerts.py",
    "web/pages/claims.py", "web/pages/search.py",
)  # fmt: skip
# (module, error class): why it may stay uncoded.
EXEMPT = {
    ("store/person_keys.py", "RetiredChainError"): "a broken store (a cycle), a 500 for the log",
    ("store/locks.py", "LockBusyError@heartbeat"): "a worker losing its own lock, no page",
    ("store/db.py", "ConfigError"): "a bad URL at start-up: the server does not start",
    ("store/db.py", "NoDatabaseError"): "no database at start-up: the server does not start",
    ("store/db.py", "DatabaseError@startup"): "migrating or opening at start-up",
    ("pipeline/resolution/explain.py", "BadInputError"): "a truth file of `explain`, CLI only",
}
ERROR_NAMES = {cls.__name__ for cls in (LeadlinkError, NotFoundError, UsageError)} | {
    "LockBusyError", "DatabaseError", "ReadOnlyDatabaseError", "NoDatabaseError",
    "ConfigError", "BadInputError", "CheckFailed", "RetiredChainError",
}  # fmt: skip
STARTUP_FUNCTIONS = {"make_engine", "migrate", "ensure_current"}


def _fields(text: str) -> set[str]:
    return {name.split("!")[0].split(".")[0] for _, name, _, _ in string.Formatter().parse(text)
            if name}  # fmt: skip


def test_every_coded_raise_has_a_literal_template_its_params_fill() -> None:
    found = coded_raises()
    assert len({r.code for r in found}) >= 30
    for r in found:
        assert r.template is not None, f"{r.where}: the message must be a literal template"
        assert _fields(r.template) <= r.params, f"{r.where}: {r.template!r} needs {r.params}"


@pytest.mark.parametrize("lang", languages())
def test_each_catalog_says_every_code_with_the_fields_its_raises_give(lang: str) -> None:
    t = Translator(lang)
    for r in coded_raises():
        key = f"error.{r.code}"
        text = t.catalog.gettext(key)
        assert text != key, f"{lang} has no {key} ({r.where})"
        assert _fields(text) <= r.params, f"{lang} {key} uses {_fields(text) - r.params}"


def _enclosing(tree: ast.Module) -> dict[int, str]:
    """The function each line belongs to (for exemptions by function)."""
    out: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                out[line] = node.name  # the innermost wins: ast.walk goes outside in
    return out


def uncoded(module: str) -> list[tuple[str, int]]:
    tree = ast.parse((PACKAGE / module).read_text(encoding="utf-8"))
    inside = _enclosing(tree)
    out = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
            continue
        func = node.exc.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name not in ERROR_NAMES or any(k.arg == "code" for k in node.exc.keywords):
            continue
        where = inside.get(node.lineno, "")
        qualified = (f"{name}@startup" if where in STARTUP_FUNCTIONS
                     else f"{name}@heartbeat" if where == "heartbeat" else name)  # fmt: skip
        if (module, qualified) not in EXEMPT and (module, name) not in EXEMPT:
            out.append((name, node.lineno))
    return out


@pytest.mark.parametrize("module", DASHBOARD_MODULES)
def test_the_services_behind_the_pages_raise_only_coded_errors(module: str) -> None:
    assert uncoded(module) == [], f"{module}: uncoded raises (give them code= and params)"


def test_an_uncoded_raise_is_caught(tmp_path: Path) -> None:
    assert uncoded("store/merges.py") == []
    bad = PACKAGE / "web" / "pages" / "claims.py"
    assert "code=" in bad.read_text(encoding="utf-8")
    tree = ast.parse('def f():\n    raise UsageError(f"no {x}")\n')
    raises = [n for n in ast.walk(tree) if isinstance(n, ast.Raise)]
    assert raises and not any(k.arg == "code" for k in raises[0].exc.keywords)  # type: ignore[union-attr]


def test_the_translator_fills_the_code_and_falls_back_to_the_text() -> None:
    exc = NotFoundError("no person {key}", code="person_unknown", key="abc")
    assert str(exc) == "no person abc"
    assert Translator("es").error(exc) == "no existe la persona abc"
    assert Translator("en").error(exc) == "no person abc"
    assert Translator("es").error(UsageError("plain {text}")) == "plain {text}"
    unknown = UsageError("x {a}", code="no_such_code", a=1)
    assert Translator("es").error(unknown) == "x 1"


def test_phrases_inside_an_error_are_said_in_the_language_too() -> None:
    said = Phrases([Phrase("{record} (no such record)", code="split_record_unknown",
                           record="drivers:X"),
                    Phrase("{record} (linked to person {other})", code="split_record_elsewhere",
                           record="leads:L1", other="abc")])  # fmt: skip
    exc = UsageError("not an active record of person {key}: {said}", code="split_not_active",
                     key="k1", said=said)  # fmt: skip
    english = "not an active record of person k1: drivers:X (no such record), leads:L1 " \
              "(linked to person abc)"  # fmt: skip
    assert str(exc) == Translator("en").error(exc) == english
    assert Translator("es").error(exc) == (
        "no es un registro activo de la persona k1: drivers:X (no existe ese registro), "
        "leads:L1 (vinculado a la persona abc)")  # fmt: skip
    stale = UsageError("review item {id} cannot be accepted: {why}", code="review_item_stale",
                       id=3, why=Phrase("person {person} no longer exists",
                                        code="review_stale_gone", person="p9"))  # fmt: skip
    assert "la persona p9 ya no existe" in Translator("es").error(stale)
    assert "no longer" not in Translator("es").error(stale)
    decided = UsageError("review item {id} is already {status}", code="review_item_decided",
                         id=4, status=Term("item_status", "rejected"), by="ana", when="x")
    assert str(decided) == "review item 4 is already rejected"
    assert "ya se decidió (rechazado, por ana, el x)" in Translator("es").error(decided)


# ---- on the pages, through a login (the API world of tests/web/api_world.py) ----
JUAN_A, JUAN_B = person_key_for("drivers", "DB1"), person_key_for("drivers", "DH1")


@pytest.mark.parametrize(("lang", "said"), [("es", "ninguna clave de persona empieza por"),
                                          ("en", "no person key starts with")])
def test_an_unknown_person_page_says_it_in_the_language(
    client: TestClient, make_token: TokenMaker, lang: str, said: str
) -> None:
    login(client, make_token("viewer", "vera"))
    got = client.get(f"/persons/ffffffffffffffffffffffffffffffff?lang={lang}", headers=HTML)
    assert got.status_code == 404
    assert said in got.text, got.text[got.text.find("<main"):][:800]


def test_a_refused_merge_and_a_viewer_are_told_in_spanish(
    client: TestClient, make_token: TokenMaker, engine: Engine
) -> None:
    login(client, make_token("operator", "olga"))
    html = page(client, f"/persons/{JUAN_A}")
    form = {"csrf_token": csrf(html), "retire": JUAN_A, "action": "merge"}
    client.post(f"/persons/{JUAN_A}/merge", data=form, headers=HTML, follow_redirects=False)
    shown = text_of(page(client, f"/persons/{JUAN_A}"), "flash-error")
    assert f"no se puede fusionar la persona {JUAN_A} consigo misma" in shown
    assert "cannot" not in shown

    login(client, make_token("viewer", "vera"))
    html = page(client, f"/persons/{JUAN_A}")
    got = client.post(f"/persons/{JUAN_A}/merge", data={**form, "csrf_token": csrf(html)},
                      headers=HTML, follow_redirects=False)  # fmt: skip
    assert got.status_code == 403
    assert "vera es un usuario de solo lectura" in got.text, got.text[got.text.find("<main"):]
    assert "viewer" not in got.text
    assert rows(engine, "SELECT COUNT(*) FROM audit_log WHERE action LIKE '%merge'")[0][0] == 0
