"""The `clinsim` command line."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="clinsim",
    help="Simulated clinical encounters: run, score, store and replay them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _mount() -> None:
    """Attach the command groups. Each lives in its own module under clinsim.cli."""
    from clinsim.cli import sub_apps

    for name, sub in sub_apps():
        app.add_typer(sub, name=name)


def main() -> None:
    _mount()
    app()
