"""The ``agentload`` command line (Typer)."""

from agentload.cli.main import app, main

__all__ = ["app", "main"]
