"""The command line: a thin Typer app over the pipeline's services (``leadlink.cli.main``)."""

from leadlink.cli.main import app, main

__all__ = ["app", "main"]
