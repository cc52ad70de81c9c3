"""The commands benchmark's table (the benchmark itself runs by hand on a big store): a failed
command shows as such, never as a time, and the export comparison is its own row."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_commands  # noqa: E402


def test_the_table_shows_times_failures_and_the_export_comparison() -> None:
    rows = [
        {"command": "claims", "wall_s": 1155.24, "cpu_s": 853.3, "rss_mib": 1882, "returncode": 0},
        {"command": "recover", "wall_s": None, "cpu_s": None, "rss_mib": None, "returncode": 1},
        {"command": "export links byte-identical", "identical": False},
    ]
    assert bench_commands.table(rows).splitlines()[2:] == [
        "| `claims` | 1,155.2 | 853.3 | 1,882 | 0 |",
        "| `recover` | — | — | — | 1 |",
        "| export links byte-identical | NO | | | |",
    ]


def test_every_command_is_one_the_cli_has() -> None:
    from typer.main import get_command

    from leadlink.cli.main import app

    cli = get_command(app)
    for name, argv in bench_commands.COMMANDS:
        found = cli
        for word in argv:
            if word.startswith("-") or "{" in word:
                break
            commands = getattr(found, "commands", None)
            if commands is None:
                break
            assert word in commands, f"{name}: {word!r} is not a leadlink command"
            found = commands[word]
