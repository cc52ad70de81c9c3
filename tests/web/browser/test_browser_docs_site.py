"""The docs site from file:// in real Chromium, offline: pages load nothing from outside the
site, and search answers (the search worker runs through the shipped iframe-worker shim)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]


def test_the_built_site_searches_from_file_urls_offline(browser: Any, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                   cwd=ROOT, check=True, capture_output=True,
                   env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})  # fmt: skip
    context = browser.new_context(offline=True)
    page = context.new_page()
    foreign: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:", "about:"))
            else foreign.append(r.url))  # fmt: skip
    page.goto((site / "first-hour.html").as_uri())
    assert page.locator("h1").first.inner_text().startswith("The first hour")
    page.keyboard.press("s")  # Material's search shortcut
    page.keyboard.type("quarantine")
    results = page.locator(".md-search-result__item")
    results.first.wait_for(timeout=10_000)
    assert results.count() > 0
    assert foreign == []
    context.close()
