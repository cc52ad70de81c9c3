"""The console under test: the real app on the real database (SQLite and PostgreSQL), called
through Starlette's TestClient (in-process HTTP, no mock), with real tokens."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import write_po
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from leadlink.clock import utcnow
from leadlink.pipeline.operations import tokens
from leadlink.settings import Settings
from leadlink.web import create_app, i18n


@pytest.fixture
def web_settings(db_url: str) -> Settings:
    # TestClient speaks http://testserver, where httpx (like a browser on a non-local host)
    # never sends a Secure cookie back. The default (Secure) is tested with an https client in
    # test_sessions.py and, over http://127.0.0.1, by the browser tests.
    return Settings(db=db_url, secret_key="test-secret-key-0123456789", session_https_only=False)


@pytest.fixture
def app(web_settings: Settings, engine: Engine) -> FastAPI:
    return create_app(web_settings, engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


TokenMaker = Callable[..., str]


@pytest.fixture
def make_token(engine: Engine) -> TokenMaker:
    """make_token("operator", name="ana") -> the bearer token string."""

    def make(role: str, name: str | None = None) -> str:
        token, _ = tokens.create(engine, role=role, name=name, now=utcnow())
        return token

    return make


@pytest.fixture
def viewer(make_token: TokenMaker) -> dict[str, str]:
    """Authorization headers of a viewer token named 'vera'."""
    return {"Authorization": f"Bearer {make_token('viewer', 'vera')}"}


@pytest.fixture
def operator(make_token: TokenMaker) -> dict[str, str]:
    """Authorization headers of an operator token named 'otto'."""
    return {"Authorization": f"Bearer {make_token('operator', 'otto')}"}


@pytest.fixture
def portuguese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The shipped catalogs plus a Portuguese one that translates a single message."""
    locale = shutil.copytree(i18n.LOCALE_DIR, tmp_path / "locale")
    catalog = Catalog(locale="pt", domain="messages")
    catalog.add("lang.name", "Português")
    catalog.add("review.days_left", "faltam {n} dias")
    target = locale / "pt" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "messages.po").open("wb") as f:
        write_po(f, catalog)
    with (target / "messages.mo").open("wb") as f:
        write_mo(f, catalog)
    monkeypatch.setattr(i18n, "LOCALE_DIR", locale)
    yield locale
