"""The `clinsim` command line.

Each command lives in its own module under `clinsim.cli` and is imported only when it runs (or
its own `--help` is asked for): `clinsim --help` lists the commands from their one-line
summaries below and imports none of them, and `clinsim run` imports what running needs and
nothing that `ehr` or `image` need. `tests/clinsim/test_cli_text.py` checks that each summary is
its command's own help.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class Lazy:
    """A command of the CLI: a function or a `typer.Typer` group, found by module and name."""

    module: str
    attribute: str
    summary: str

    def load(self, name: str) -> Any:
        target = getattr(importlib.import_module(self.module), self.attribute)
        if isinstance(target, typer.Typer):
            group = typer.main.get_group(target)
            group.name = name
            return group
        single = typer.Typer()
        single.command(name)(target)
        return typer.main.get_command(single)


COMMANDS: dict[str, Lazy] = {
    "run": Lazy(
        "clinsim.cli.run", "run", "Run scenarios (default: the bundled demo set with the offline "
        "agents)."
    ),
    "show": Lazy(
        "clinsim.cli.runs", "show", "Summarise a stored run: accuracy, pass^k and means with "
        "intervals, breakdowns."
    ),
    "replay": Lazy(
        "clinsim.cli.runs", "replay", "Render a stored episode turn by turn, re-execute it, or "
        "fork it at a turn."
    ),
    "compare": Lazy(
        "clinsim.cli.research", "compare", "Compare runs episode by episode: paired accuracy "
        "difference, McNemar, discordant cases."
    ),
    "report": Lazy(
        "clinsim.cli.research", "report", "Write one self-contained HTML report of runs or "
        "experiments (opens with no network)."
    ),
    "export": Lazy(
        "clinsim.cli.research", "export", "Export a run's episodes and events as Parquet, JSON "
        "lines or CSV files."
    ),
    "runs": Lazy(
        "clinsim.cli.research", "runs", "List the runs under runs/: when, sets, doctor, "
        "episodes, accuracy."
    ),
    "plugins": Lazy(
        "clinsim.cli.plugins", "plugins", "List every installed component (doctors, patients, "
        "measurements, judges, tools, model backends, scenario sets): its package and the "
        "settings it takes."
    ),
    "experiment": Lazy(
        "clinsim.cli.research", "experiment_app", "Experiments: a grid of runs from one TOML file."
    ),
    "scenarios": Lazy(
        "clinsim.cli.scenarios", "app", "Scenario sets: list, show, validate, audit, schema."
    ),
    "ehr": Lazy(
        "clinsim.cli.ehr", "app", "The longitudinal EHR: build it from MIMIC-IV or synthesise "
        "one, query it sealed."
    ),
    "image": Lazy(
        "clinsim.cli.image", "app", "Medical images: zero-shot classification with MedSigLIP or "
        "any SigLIP checkpoint."
    ),
    "judge": Lazy(
        "clinsim.cli.judge", "app", "Judge reference/answer pairs with one or more judges; "
        "compare them with labels."
    ),
    "prompts": Lazy(
        "clinsim.cli.prompts", "app", "Prompt templates: list the parts, show one, check yours."
    ),
}  # fmt: skip


class LazyCommands(TyperGroup):
    """The top-level group: commands load from their modules when they are run; the command
    list of `clinsim --help` shows their summaries without loading them."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def load(self, name: str) -> Any:
        if name not in self.commands and name in COMMANDS:
            self.commands[name] = COMMANDS[name].load(name)
        return self.commands.get(name)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        return TyperCommand(cmd_name, help=COMMANDS[cmd_name].summary)  # listing only

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args:
            self.load(args[0])
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="clinsim",
    help="Simulated clinical encounters: run, score, store and replay them.",
    cls=LazyCommands,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _clinsim() -> None:
    pass


def main() -> None:
    app()
