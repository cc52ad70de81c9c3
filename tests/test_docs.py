"""The docs are held to the CLI both ways: every command the README and the docs pages show
exists, with every flag it uses; and every command and option the CLI has is documented."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main

from leadlink.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


# Code blocks whose lines are shell commands (a ```toml or ```json block is not).
SHELL_FENCES = ("", "sh", "bash", "shell", "console")


def shell_commands(text: str) -> list[list[str]]:
    """The `leadlink ...` command lines of a page's shell code blocks, as argv after
    `leadlink`; a line ending in a backslash goes on on the next one, `#` starts a comment."""
    commands = []
    for info, block in re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M):
        if info not in SHELL_FENCES:
            continue
        logical = ""
        for line in block.splitlines():
            line = line.split("#", 1)[0].rstrip()
            if line.endswith("\\"):
                logical += line[:-1] + " "
                continue
            command, logical = (logical + line).strip(), ""
            if command.startswith("leadlink "):
                commands.append(shlex.split(command)[1:])
    return commands


def readme_commands() -> list[list[str]]:
    return shell_commands(README)


# Every page's commands: README.md and every docs page (the tutorial included).
DOC_COMMANDS = [
    (page.relative_to(ROOT).as_posix(), argv)
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for argv in shell_commands(page.read_text(encoding="utf-8"))
]


def test_the_readme_shows_commands() -> None:
    assert len(readme_commands()) >= 8


def test_the_first_hour_shows_its_commands() -> None:
    first_hour = [argv for page, argv in DOC_COMMANDS if page == "docs/first-hour.md"]
    shown = {" ".join(argv[:2]) for argv in first_hour}
    assert len(first_hour) >= 15
    assert {"init", "ingest drivers", "ingest leads", "ingest trips", "match", "review list",
            "claims", "serve --port", "worker --sources"} <= shown  # fmt: skip


@pytest.mark.parametrize(("page", "argv"), DOC_COMMANDS,
                         ids=[f"{page}: {' '.join(argv)}" for page, argv in DOC_COMMANDS])
def test_every_command_in_the_docs_exists_with_its_flags(page: str, argv: list[str]) -> None:
    assert_command_exists_with_its_flags(argv)


def assert_command_exists_with_its_flags(argv: list[str]) -> None:
    """Walk argv down the click tree: below a group each word must name one of its commands;
    each option must be one the command reached so far has (`--db` the app's, `--map` the
    command's), and an option that takes a value takes the next word with it."""
    command: Any = typer.main.get_command(app)
    path: list[str] = []
    takes_value = False
    for arg in argv:
        if takes_value:
            takes_value = False
            continue
        if arg.startswith("-"):
            name = arg.split("=", 1)[0]
            params = {o: p for p in command.params for o in [*p.opts, *p.secondary_opts]}
            assert name in params or name == "--help", (
                f"`leadlink {' '.join(path)}` has no {name} (the docs show `{' '.join(argv)}`)")
            param = params.get(name)
            takes_value = param is not None and "=" not in arg and not getattr(
                param, "is_flag", False)
            continue
        if hasattr(command, "commands"):
            assert arg in command.commands, (
                f"the docs show an unknown command `leadlink {' '.join([*path, arg])}`")
            command = command.commands[arg]
            path.append(arg)
    assert path or all(a.startswith("-") for a in argv), argv


@dataclass(frozen=True)
class Section:
    """A Markdown section: its heading line and body, and the headings it sits under."""

    page: str
    heading: str
    body: str
    parents: tuple[str, ...]


def page_sections(page: Path) -> list[Section]:
    """A page cut at its headings (a `#` line inside a code fence is a shell comment)."""
    sections: list[Section] = []
    open_headings: list[tuple[int, str]] = []  # (level, heading line) enclosing the current one
    heading, body, fenced = "", [], False
    parents: tuple[str, ...] = ()
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        level = len(line) - len(line.lstrip("#"))
        if fenced or not level or line[level : level + 1] != " ":
            body.append(line)
            continue
        sections.append(Section(page.name, heading, "\n".join(body), parents))
        open_headings = [(lvl, text) for lvl, text in open_headings if lvl < level]
        parents = tuple(text for _, text in open_headings)
        open_headings.append((level, line))
        heading, body = line, []
    sections.append(Section(page.name, heading, "\n".join(body), parents))
    return sections


# Not where a command is looked up: the code map, and the log of where the contract was extended.
# The tutorial is not either: an option it shows must still be on a reference page.
NOT_REFERENCE = ("architecture.md", "contract-notes.md", "first-hour.md")
PAGES = [ROOT / "README.md"] + [
    p for p in sorted((ROOT / "docs").glob("*.md")) if p.name not in NOT_REFERENCE
]


def cli_commands() -> Iterator[tuple[str, Any]]:
    """Every command path of the app (`review accept`, `export links`...) and its click command."""

    def walk(command: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path), command

    yield from walk(typer.main.get_command(app), [])


def names_command(path: str, text: str) -> bool:
    """`leadlink review accept` names `review accept`; so does `leadlink review list|accept`
    (alternatives of the last word), never `leadlink generate-people` for `generate`."""
    *group, last = path.split()
    prefix = re.escape(" ".join(["leadlink", *group]) + " ")
    return any(last in m.group(1).split("|") for m in re.finditer(prefix + r"([\w|-]+)", text))


def names_option(option: str, text: str) -> bool:
    return re.search(re.escape(option) + r"(?![\w-])", text) is not None


SECTIONS = [section for page in PAGES for section in page_sections(page)]
COMMANDS = list(cli_commands())
# --json (every reporting command) and --help (every command) are said once, not per command.
SHARED_OPTIONS = ("--json", "--help")


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[path for path, _ in COMMANDS])
def test_every_command_and_option_is_documented(path: str, command: Any) -> None:
    """Walk the CLI; each command path must be documented, with each of its options.

    The command's doc is every section (heading to next heading) of README.md or a docs/
    reference page (NOT_REFERENCE left out) that names it as `leadlink <path>`, in its heading
    or body, together with the subsections under a heading that names it: a page titled
    `# leadlink link` covers the whole page. The command must have such a section, and each
    of its options (every alias, as ``--name``) must appear in one of them as a whole word;
    an option written only on another command's page does not count. --json and --help are
    shared by every command and documented once (test_the_shared_options_are_documented)."""
    about = [
        s
        for s in SECTIONS
        if names_command(path, f"{s.heading}\n{s.body}")
        or any(names_command(path, parent) for parent in s.parents)
    ]
    assert about, f"`leadlink {path}` is documented nowhere (README.md, docs/)"
    text = "\n".join(f"{s.heading}\n{s.body}" for s in about)
    options = [o for p in command.params if p.param_type_name == "option" for o in p.opts]
    missing = [o for o in options if o not in SHARED_OPTIONS and not names_option(o, text)]
    pages = sorted({s.page for s in about})
    assert not missing, f"`leadlink {path}`: {missing} not in its sections of {pages}"


def test_the_shared_options_are_documented() -> None:
    """The options every command shares, and the global --db, are in the README."""
    assert names_option("--json", README) and names_option("--db", README)


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
