"""The docs are checked: every command the README shows exists, with every flag it uses."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadlink.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_commands() -> list[list[str]]:
    commands = []
    for block in re.findall(r"```\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("leadlink "):
                commands.append(shlex.split(line)[1:])
    return commands


def test_the_readme_shows_commands() -> None:
    assert len(readme_commands()) >= 8


@pytest.mark.parametrize("argv", readme_commands(), ids=lambda a: " ".join(a))
def test_readme_command_exists_with_its_flags(argv: list[str]) -> None:
    args = [a for a in argv if not a.startswith("postgresql")]
    if args[:1] == ["--db"]:
        args = args[1:]
    words = [a for a in args if not a.startswith("-")]
    flags = [a.split("=")[0] for a in args if a.startswith("--")]
    # The command path: leading words that name (sub)commands.
    path: list[str] = []
    for word in words:
        result = CliRunner().invoke(app, [*path, word, "--help"])
        if result.exit_code != 0:
            break
        path.append(word)
    assert path, f"README shows an unknown command: {argv}"
    help_text = CliRunner().invoke(app, [*path, "--help"]).output
    for flag in flags:
        assert flag in help_text, f"`leadlink {' '.join(path)}` has no {flag}"


def test_the_two_commands_come_first() -> None:
    first_block = re.search(r"```\n(.*?)```", README, flags=re.S)
    assert first_block is not None
    lines = [ln for ln in first_block.group(1).splitlines() if ln.strip()]
    assert lines[0].startswith("make demo") and any(ln.startswith("make test") for ln in lines)


def test_every_http_route_is_documented() -> None:
    """Each path of the OpenAPI schema appears in the console docs, as written there."""
    from leadlink.settings import Settings
    from leadlink.web import create_app

    docs = "".join(
        (ROOT / "docs" / name).read_text(encoding="utf-8")
        for name in ("console.md", "api-read.md", "api-writes.md")
    )
    paths = create_app(Settings(db="sqlite://", secret_key="x" * 16)).openapi()["paths"]
    missing = [p for p in paths if f"`{p}" not in docs and f"{p}`" not in docs]
    assert not missing, f"routes missing from the console docs: {missing}"
