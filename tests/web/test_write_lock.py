"""While another process holds SQLite's write lock (``leadlink match`` writing its decisions),
the console keeps answering: the authentication dependencies run in the thread pool, so a
request whose token bookkeeping (``last_used_at``) waits for the lock holds up its own thread,
not the event loop and every other request with it.

SQLite only: the lock is SQLite's; the server is real (uvicorn on a localhost port) because
the in-process TestClient serves one request at a time and could not show it.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event, text
from tests.web.live_server import serving

from leadlink.clock import utcnow
from leadlink.pipeline.operations import tokens
from leadlink.settings import Settings
from leadlink.store.db import make_engine
from leadlink.web import create_app

# Far below the engine's 30 s busy timeout: a request stuck behind the lock would hit it.
ANSWER_TIMEOUT = 10.0


@dataclass
class Site:
    url: str
    path: Path
    engine: Engine


@pytest.fixture
def site(tmp_path: Path, sqlite_template: Path) -> Iterator[Site]:
    path = tmp_path / "leadlink.db"
    shutil.copyfile(sqlite_template, path)
    db_url = f"sqlite:///{path}"
    engine = make_engine(db_url)
    app = create_app(Settings(db=db_url, secret_key="write-lock-secret-0123456789"), engine)
    with serving(app, "uvicorn-write-lock") as url:
        yield Site(url, path, engine)
    engine.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def last_used(engine: Engine, name: str) -> Any:
    with engine.connect() as conn:
        query = text("SELECT last_used_at FROM api_token WHERE name = :name")
        return conn.execute(query, {"name": name}).scalar_one()


def test_requests_are_answered_while_one_waits_for_the_write_lock(site: Site) -> None:
    # Never used: its first request writes last_used_at, so it must wait for the lock.
    waiting, _ = tokens.create(site.engine, role="viewer", name="waits", now=utcnow())
    # Used just now: within the minute its requests only read.
    reading, _ = tokens.create(site.engine, role="viewer", name="reads", now=utcnow())
    assert httpx.get(site.url + "/api/jobs", headers=bearer(reading)).status_code == 200

    touching = threading.Event()

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_TOKEN"):
            touching.set()  # the first request is at its write, about to wait for the lock

    event.listen(site.engine, "before_cursor_execute", on_execute)
    holder = sqlite3.connect(site.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, as a running `leadlink match` holds it
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            first = pool.submit(httpx.get, site.url + "/api/jobs", headers=bearer(waiting),
                                timeout=60)  # fmt: skip
            assert touching.wait(timeout=20), "the first request never reached its token write"
            health = httpx.get(site.url + "/healthz", timeout=ANSWER_TIMEOUT)
            read = httpx.get(site.url + "/api/jobs", headers=bearer(reading),
                             timeout=ANSWER_TIMEOUT)  # fmt: skip
            assert (health.status_code, read.status_code) == (200, 200), (health.text, read.text)
            assert not first.done(), "the first request did not wait for the lock"
        finally:
            holder.execute("ROLLBACK")
            holder.close()
            event.remove(site.engine, "before_cursor_execute", on_execute)
        answer = first.result(timeout=60)
    assert answer.status_code == 200, answer.text
    assert last_used(site.engine, "waits") is not None
