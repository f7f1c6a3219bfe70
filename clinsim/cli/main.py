"""The `clinsim` command line."""

from __future__ import annotations

import typer

from clinsim.cli import research, runs
from clinsim.cli.plugins import plugins
from clinsim.cli.run import run

app = typer.Typer(
    name="clinsim",
    help="Simulated clinical encounters: run, score, store and replay them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(run)
app.command()(runs.show)
app.command()(runs.replay)
app.command()(research.compare)
app.command()(research.report)
app.command()(research.export)
app.command()(research.runs)
app.command()(plugins)
app.add_typer(research.experiment_app, name="experiment")


def _mount() -> None:
    """Attach the command groups. Each lives in its own module under clinsim.cli."""
    from clinsim.cli import sub_apps

    for name, sub in sub_apps():
        app.add_typer(sub, name=name)


_mount()


def main() -> None:
    app()
