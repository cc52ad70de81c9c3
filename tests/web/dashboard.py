"""Helpers for the dashboard tests: log in through the real form, read pages like a browser."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

HTML = {"accept": "text/html,application/xhtml+xml"}


def login(client: TestClient, token: str, next_: str | None = None) -> Response:
    """Open the login form and POST it (the token pasted, the form's CSRF token with it) as a
    browser would; the response is not followed."""
    form = client.get("/login", headers=HTML)
    assert form.status_code == 200, form.text[:2000]
    data = {"token": token, "csrf_token": csrf(form.text)}
    data |= {"next": next_} if next_ is not None else {}
    return client.post("/login", data=data, headers=HTML, follow_redirects=False)


def page(
    client: TestClient,
    path: str,
    status: int = 200,
    params: dict[str, Any] | None = None,
    **more: Any,
) -> str:
    """GET a page as a browser would; assert the status; the HTML."""
    query = {**(params or {}), **more} or None
    got = client.get(path, params=query, headers=HTML, follow_redirects=False)
    assert got.status_code == status, (path, got.status_code, got.text[:2000])
    return got.text


def data(
    client: TestClient,
    path: str,
    status: int = 200,
    params: dict[str, Any] | None = None,
    **more: Any,
) -> Any:
    """GET a page's JSON twin (``/page.json``)."""
    query = {**(params or {}), **more} or None
    got = client.get(path, params=query, follow_redirects=False)
    assert got.status_code == status, (path, got.status_code, got.text[:2000])
    assert got.headers["content-type"].startswith("application/json")
    return got.json()


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def text_of(html: str, name: str) -> str:
    """The text inside the element with ``data-testid=name`` (tags stripped, spaces collapsed)."""
    found = re.search(rf'data-testid="{re.escape(name)}"[^>]*>(.*?)</', html, flags=re.S)
    assert found, f"no data-testid={name!r} on the page"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def element(html: str, name: str) -> str:
    """The opening tag and content of the ``data-testid=name`` element, up to its closing tag
    of the same name (for blocks: a table, an article)."""
    found = re.search(rf'<(\w+)[^>]*data-testid="{re.escape(name)}"', html)
    assert found, f"no data-testid={name!r} on the page"
    tag = found.group(1)
    start, depth, pos = found.start(), 0, found.start()
    for m in re.finditer(rf"<(/?){tag}\b", html[start:]):
        depth += -1 if m.group(1) else 1
        if depth == 0:
            pos = start + m.end()
            break
    return html[start : html.index(">", pos) + 1]
