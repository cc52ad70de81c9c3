"""The command line: a thin Typer app over the pipeline's services (``leadlink.cli.main``)."""

from leadlink.cli.kit import app
from leadlink.cli.main import main

__all__ = ["app", "main"]
