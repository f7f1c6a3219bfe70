"""`clinsim plugins`: every installed component, by kind, with the package that declares it and
the settings it takes (its configuration model's fields)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from rich.console import Console
from rich.table import Table
from rich.text import Text

from clinsim.cli.errors import fail
from clinsim.plugins import Factory, PluginError, Registry


def registries() -> list[Registry[Any]]:
    from clinsim.agents.factories import DOCTORS, JUDGES, MEASUREMENTS, PATIENTS
    from clinsim.agents.models.registry import BACKENDS
    from clinsim.scenarios.sets import SCENARIO_SETS
    from clinsim.tools.base import TOOLS

    return [DOCTORS, PATIENTS, MEASUREMENTS, JUDGES, TOOLS, BACKENDS, SCENARIO_SETS]


def _type(info: FieldInfo) -> str:
    annotation = info.annotation
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    return text.replace("typing.", "").replace("pathlib.", "").replace("pydantic.types.", "")


def settings(config: type[BaseModel]) -> list[str]:
    """`name: type = default` for each field of a configuration model."""
    shown = []
    for name, info in config.model_fields.items():
        default = "..." if info.is_required() else repr(info.get_default(call_default_factory=True))
        shown.append(f"{name}: {_type(info)} = {default}")
    return shown


def describe(registry: Registry[Any]) -> list[dict[str, Any]]:
    rows = []
    for entry in registry.installed():
        component = registry.get(entry.name)
        config = component.config if isinstance(component, Factory) else None
        description = getattr(component, "description", "")
        rows.append(
            {
                "kind": registry.kind,
                "group": registry.group,
                "name": entry.name,
                "package": entry.distribution,
                "object": entry.value,
                "description": str(description),
                "settings": settings(config) if config is not None else [],
            }
        )
    return rows


def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON record per component.")] = False,
) -> None:
    """List every installed component (doctors, patients, measurements, judges, tools, model
    backends, scenario sets): its package and the settings it takes."""
    try:
        groups = [(registry, describe(registry)) for registry in registries()]
    except PluginError as exc:
        fail(str(exc))
    if as_json:
        for _, rows in groups:
            for row in rows:
                typer.echo(json.dumps(row))
        return
    console = Console()
    for registry, rows in groups:
        table = Table(title=f"{registry.kind}s ({registry.group})", title_justify="left")
        for column in ("name", "package", "settings", "description"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(
                Text(row["name"]),
                Text(row["package"]),
                Text("\n".join(row["settings"]) or "-"),
                Text(row["description"]),
            )
        console.print(table)
