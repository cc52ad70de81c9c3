"""Browser tests: the real app served by uvicorn on a free port, driven by real Chromium.

The world (tests/web/api_world.py: claims fixture, review-band leads, unmatched leads, a
recovery run) is built once per module into a SQLite file; the server runs in a thread of
this process on it, with the real clock, so pages equal the CLI run on the same file.
Chromium is Debian's (/usr/bin/chromium, installed by scripts/test.sh), driven by Playwright.
When it cannot start, the tests fail if LEADLINK_REQUIRE_BROWSER=1 (scripts/test.sh sets it),
else they are skipped with the reason. Every page visited is saved to tests/artifacts/.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine
from tests.web.api_world import build

from leadlink.clock import utcnow
from leadlink.pipeline.operations import tokens
from leadlink.settings import Settings
from leadlink.store.db import make_engine
from leadlink.web import create_app

CHROMIUM = Path(os.environ.get("LEADLINK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
REQUIRE_BROWSER = os.environ.get("LEADLINK_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def _unavailable(reason: str) -> None:
    message = f"Chromium cannot be used for the browser tests: {reason}"
    if REQUIRE_BROWSER:
        pytest.fail(f"{message} (LEADLINK_REQUIRE_BROWSER=1: install it with "
                    "`apt-get install -y chromium`, or unset the variable to skip)",
                    pytrace=False)  # fmt: skip
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} does not exist")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"Playwright is not installed ({exc})")
    try:
        driver = sync_playwright().start()
    except Exception as exc:  # noqa: BLE001 - any failure to start is reported, never hidden
        _unavailable(f"Playwright did not start: {type(exc).__name__}: {exc}")
    try:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                          args=CHROMIUM_ARGS)  # fmt: skip
    except Exception as exc:  # noqa: BLE001
        driver.stop()
        _unavailable(f"{CHROMIUM} did not launch: {type(exc).__name__}: {exc}")
    yield chromium
    chromium.close()
    driver.stop()


@dataclass
class Site:
    """The live server: its base URL, the database file's URL and engine, token minting."""

    url: str
    db_url: str
    engine: Engine

    def token(self, role: str, name: str) -> str:
        token, _ = tokens.create(self.engine, role=role, name=name, now=utcnow())
        return token


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("browser_world")
    path = work / "leadlink.db"
    shutil.copyfile(sqlite_template, path)
    db_url = f"sqlite:///{path}"
    engine = make_engine(db_url)
    build(engine, work)
    app = create_app(Settings(db=db_url, secret_key="browser-test-secret-0123456789"), engine)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))  # fmt: skip
    thread = threading.Thread(target=server.run, name="uvicorn-browser-tests", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail(f"the live server did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    yield Site(f"http://127.0.0.1:{port}", db_url, engine)
    server.should_exit = True
    thread.join(timeout=20)
    engine.dispose()


@dataclass
class Tab:
    """A browser page on the site, that keeps what leaves it for a check: requests to any
    other host (there must be none: no CDN) and JavaScript errors."""

    page: Any
    site: Site
    foreign: list[str]
    errors: list[str]

    def open(self, path: str) -> Any:
        response = self.page.goto(self.site.url + path)
        assert response is not None
        return response

    def login(self, token: str) -> None:
        self.open("/login")
        self.page.fill('[data-testid="login-token"]', token)
        with self.page.expect_navigation():
            self.page.click('[data-testid="login-submit"]')

    def testid(self, name: str) -> Any:
        return self.page.locator(f'[data-testid="{name}"]')

    def text(self, name: str) -> str:
        return " ".join(str(self.testid(name).inner_text()).split())

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        target = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(target), full_page=True)
        return target


@pytest.fixture
def tab(browser: Any, site: Site) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="es-PE")
    page = context.new_page()
    foreign: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((site.url, "data:", "about:"))
            else foreign.append(r.url))  # fmt: skip
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield Tab(page, site, foreign, errors)
    context.close()
    assert foreign == [], f"the page fetched from other hosts: {foreign}"
    assert errors == [], f"JavaScript errors: {errors}"

