"""The cells of an experiment: one run per combination of the grid's values.

A cell is named by its settings (`doctor=oracle,max_turns=4`); its run directory is that name
made safe for a file system, under `<experiment>/cells/`. Every cell's configuration is checked
against the components it chooses (`clinsim.components.resolve`) before anything runs.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue, ValidationError

from clinsim.components import Plan, resolve
from clinsim.config import RunConfig
from clinsim.experiment.spec import (
    OPTION_GROUPS,
    ExperimentError,
    ExperimentSpec,
    apply_setting,
)
from clinsim.plugins import PluginError

_UNSAFE = re.compile(r"[^A-Za-z0-9=,.+_-]+")


@dataclass(frozen=True)
class Cell:
    """One run of the experiment."""

    label: str
    """Its settings as text: `doctor=oracle,max_turns=4` (`base` for an empty grid)."""
    directory: str
    """Its run directory's name under `cells/`."""
    settings: dict[str, JsonValue]
    """Grid key -> this cell's value."""
    config: RunConfig


def value_text(value: JsonValue) -> str:
    if isinstance(value, dict):  # a set of prompt templates
        return "+".join(f"{k}={value_text(v)}" for k, v in value.items()) or "bundled"
    if isinstance(value, list):
        return "+".join(value_text(v) for v in value)
    if isinstance(value, str):
        return value
    return json.dumps(value)


def short_key(key: str) -> str:
    """`agent_options.doctor.protocol` -> `doctor.protocol`; a RunConfig field as it is."""
    group, dot, rest = key.partition(".")
    return rest if dot and group in OPTION_GROUPS else key


def cell_label(settings: dict[str, JsonValue]) -> str:
    if not settings:
        return "base"
    return ",".join(f"{short_key(key)}={value_text(v)}" for key, v in settings.items())


def _directories(labels: list[str]) -> list[str]:
    """File-system-safe names, unique even where two labels differ only in unsafe characters."""
    names: list[str] = []
    for label in labels:
        name = _UNSAFE.sub("_", label).strip("._") or "cell"
        name = name[:120]
        candidate, n = name, 2
        while candidate in names:
            candidate, n = f"{name}-{n}", n + 1
        names.append(candidate)
    return names


def expand(spec: ExperimentSpec) -> list[Cell]:
    """Every combination of the grid's values, in the file's order (the last key varies
    fastest); each cell's configuration validated as a RunConfig."""
    keys = list(spec.grid)
    combos = list(itertools.product(*(spec.grid[k] for k in keys)))
    base = spec.base.model_dump(mode="json", exclude_unset=True)
    cells: list[tuple[str, dict[str, JsonValue], RunConfig]] = []
    for combo in combos:
        settings = dict(zip(keys, combo, strict=True))
        raw: dict[str, Any] = base
        for key, value in settings.items():
            raw = apply_setting(raw, key, value)
        label = cell_label(settings)
        try:
            config = RunConfig.model_validate(raw)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ExperimentError(f"cell {label}: {where}: {first['msg']}") from None
        cells.append((label, settings, config))
    labels = [label for label, _, _ in cells]
    if len(set(labels)) != len(labels):
        raise ExperimentError("two grid keys end in the same name: cells would share names")
    return [
        Cell(label, directory, settings, config)
        for (label, settings, config), directory in zip(cells, _directories(labels), strict=True)
    ]


def check_cells(cells: list[Cell], api_key: str | None = None) -> list[Plan]:
    """Every cell's components found and configured: the first that does not fit is an error
    naming the cell, before any cell runs."""
    plans = []
    for cell in cells:
        try:
            plans.append(resolve(cell.config, api_key))
        except (PluginError, ValueError) as exc:
            raise ExperimentError(f"cell {cell.label}: {exc}") from None
    return plans


def check_comparisons(spec: ExperimentSpec, cells: list[Cell]) -> None:
    """Every list of cells in `report.compare` names cells of the grid."""
    labels = {cell.label for cell in cells}
    for index, entry in enumerate(spec.report.compare):
        if isinstance(entry, list):
            for label in entry:
                if label not in labels:
                    raise ExperimentError(
                        f"report.compare[{index}]: no cell {label!r} "
                        f"(cells: {', '.join(sorted(labels))})"
                    )
