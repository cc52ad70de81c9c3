"""cli/main.py registers every command the command modules define: a command written but
not registered would be silently missing from `leadlink --help`."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import typer

import leadlink.cli.commands
from leadlink.cli import app


def defined_in_command_modules() -> tuple[set[Any], set[int]]:
    """The command functions (wrapped by handles_errors) and the sub-apps of cli/commands."""
    commands: set[Any] = set()
    sub_apps: set[int] = set()
    for info in pkgutil.iter_modules(leadlink.cli.commands.__path__):
        module = importlib.import_module(f"leadlink.cli.commands.{info.name}")
        for value in vars(module).values():
            if isinstance(value, typer.Typer):
                sub_apps.add(id(value))
            elif getattr(value, "__module__", None) == module.__name__ and hasattr(
                value, "__wrapped__"
            ):
                commands.add(value)
    return commands, sub_apps


def test_every_command_and_sub_app_is_registered_once() -> None:
    commands, sub_apps = defined_in_command_modules()
    groups = [g.typer_instance for g in app.registered_groups]
    callbacks = [c.callback for c in app.registered_commands]
    callbacks += [c.callback for g in groups if g is not None for c in g.registered_commands]
    assert {id(g) for g in groups} == sub_apps
    assert set(callbacks) == commands and len(callbacks) == len(commands)
    assert len(commands) >= 30
