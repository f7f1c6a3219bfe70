"""Command groups of the `clinsim` CLI."""

from __future__ import annotations

import importlib

import typer

# (command name, module with a module-level `app = typer.Typer(...)`)
SUB_APPS: list[tuple[str, str]] = [
    ("scenarios", "clinsim.cli.scenarios"),
    ("ehr", "clinsim.cli.ehr"),
    ("image", "clinsim.cli.image"),
    ("judge", "clinsim.cli.judge"),
    ("prompts", "clinsim.cli.prompts"),
]


def sub_apps() -> list[tuple[str, typer.Typer]]:
    return [(name, importlib.import_module(module).app) for name, module in SUB_APPS]
