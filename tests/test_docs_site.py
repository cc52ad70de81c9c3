"""The docs site (mkdocs.yml): it builds in strict mode, its nav has every page, the
generated reference pages (scripts/docs_reference.py) are those the code gives today, and
its screenshots exist and are pages the browser tests take (scripts/docs_screenshots.py)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from scripts import docs_reference, docs_screenshots

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def nav_pages(entries: list[Any]) -> list[str]:
    """The pages of a nav: `page.md`, `Title: page.md` or `Section: [...]`, nested."""
    pages: list[str] = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_the_nav_lists_every_page_once() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    pages = nav_pages(config["nav"])
    on_disk = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    assert sorted(pages) == on_disk
    assert len(pages) == len(set(pages))


def test_the_reference_pages_are_fresh() -> None:
    for path, text in docs_reference.generated().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.relative_to(ROOT)} is stale: run `python scripts/docs_reference.py`")


def test_the_cli_reference_has_every_command_and_option() -> None:
    import typer.main

    from leadlink.cli import app

    cli = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    for path, command in docs_reference.commands(typer.main.get_command(app), ["leadlink"]):
        assert f"\n## {' '.join(path)}\n" in cli
        for param in command.params:
            for opt in param.opts if param.param_type_name == "option" else []:
                assert f"`{opt}" in cli, (path, opt)


def test_the_site_builds_in_strict_mode(tmp_path: Path) -> None:
    """`mkdocs build --strict`: a broken link or anchor, a page outside the nav, a missing
    image fails it (about 2 s). The built site loads nothing from the internet."""
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # no banner about MkDocs 2
    )
    assert result.returncode == 0, result.stderr
    assert (site / "reference" / "cli.html").exists()
    assert (site / "reference" / "openapi.json").exists()
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        for needle in ('src="http', 'src="//', "fonts.googleapis", 'rel="stylesheet" href="http'):
            assert needle not in html, (page.name, needle)


IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def referenced_images() -> set[Path]:
    """Every image a docs page or the README shows, as a resolved path."""
    pages = [ROOT / "README.md", *DOCS.rglob("*.md")]
    return {(page.parent / src).resolve() for page in pages
            for src in IMAGE.findall(page.read_text(encoding="utf-8"))}  # fmt: skip


def test_every_image_the_docs_show_exists_and_every_image_is_shown() -> None:
    shown = referenced_images()
    assert [p for p in shown if not p.is_file()] == []
    assert sorted(p.name for p in (DOCS / "img").glob("*.png") if p not in shown) == []


def browser_shot_names() -> set[str]:
    """The names the browser tests save pages under: `tab.shot("login")`, and the keys of
    their PAGES dict for the loop `for name, path in PAGES.items(): ... tab.shot(name)`."""
    names: set[str] = set()
    for module in (ROOT / "tests" / "web" / "browser").glob("test_*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "shot":
                arg = node.args[0]
                if isinstance(arg, ast.Constant):
                    names.add(arg.value)
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "PAGES" for t in node.targets):
                names |= set(ast.literal_eval(node.value))
    return names


def test_every_screenshot_is_one_the_browser_tests_take() -> None:
    """docs/img/<name>.png is a shot of scripts/docs_screenshots.py's SHOTS, and each of
    those is still taken by the browser tests: a renamed or dropped shot fails here."""
    images = {p.stem for p in (DOCS / "img").glob("*.png")}
    assert images == set(docs_screenshots.SHOTS)
    gone = sorted(set(docs_screenshots.SHOTS.values()) - browser_shot_names())
    assert gone == [], f"SHOTS names shots the browser tests no longer take: {gone}"
