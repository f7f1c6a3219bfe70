"""An experiment file: a base run configuration, a grid over its settings, the comparisons to
report. One TOML file (stdlib `tomllib`):

    name = "doctors-by-turns"              # optional; the file's name otherwise

    [base]                                 # everything `clinsim run` takes (RunConfig fields)
    sources = ["demo"]
    trials = 2
    seed = 1

    [grid]                                 # every combination is a cell (a run)
    doctor = ["baseline", "oracle"]
    max_turns = [4, 20]

    [report]
    compare = ["doctor"]                   # cells that differ only in the doctor, compared

A grid key is a RunConfig field (`doctor`, `patient`, `judges`, `max_turns`, `budget`,
`presentation`, `sources`, `trials`, ...), an option (`agent_options.KEY`,
`model_options.KEY`, `tool_options.KEY`, where KEY may be `ROLE.KEY`), a prompt template
(`prompts.ROLE.PART`, its values template files, `"bundled"` for the template shipped with
clinsim), or one of the shorthands in `ALIASES`. `"none"` stands for no value where a setting
may have none (`budget`, `limit`). `prompts` itself varies whole sets of templates (tables of
`ROLE.PART = FILE`, `{}` for the bundled ones).
`compare` lists grid keys (the cells that differ only in that key are compared, for every
setting of the others) or lists of cell names.

Everything is checked before anything runs: an unknown key, a value a setting refuses, a
component that does not exist or an option no chosen component takes is an `ExperimentError`
naming the file and the key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from clinsim.agents.prompts.parts import UnknownPart, part_key
from clinsim.config import RunConfig

ALIASES = {
    "protocol": "agent_options.doctor.protocol",
    "bias": "agent_options.doctor.bias",
    "doctor_bias": "agent_options.doctor.bias",
    "patient_bias": "agent_options.patient.bias",
    "sets": "sources",
}
"""Grid shorthands for settings that live among the options."""
OPTION_GROUPS = ("agent_options", "model_options", "tool_options")
NONE = "none"
PROMPTS = "prompts"
BUNDLED = "bundled"
"""A `prompts.ROLE.PART` grid value: the template shipped with clinsim."""
SECTIONS = ("name", "base", "grid", "report")


class ExperimentError(ValueError):
    """An experiment file that cannot be run; the message names the file and the key."""


class ReportSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    compare: list[str | list[str]] = Field(default_factory=list)


class ExperimentSpec(BaseModel):
    """The parsed file. `grid` keys are canonical (aliases resolved), in the file's order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    base: RunConfig
    grid: dict[str, list[JsonValue]]
    report: ReportSpec = Field(default_factory=ReportSpec)


def canonical_key(key: str) -> str:
    """A grid key as the setting it names: a RunConfig field or `GROUP.KEY` of an option."""
    key = ALIASES.get(key, key)
    group, dot, rest = key.partition(".")
    if dot and group in OPTION_GROUPS and rest:
        return key
    if dot and group == PROMPTS:
        try:
            return f"{PROMPTS}.{part_key(rest)}"
        except UnknownPart as exc:
            raise ExperimentError(f"grid.{key}: {exc}") from None
    if key in RunConfig.model_fields and key not in OPTION_GROUPS:
        return key
    known = sorted([*(k for k in RunConfig.model_fields if k not in OPTION_GROUPS), *ALIASES])
    raise ExperimentError(
        f"grid.{key}: not a setting (settings: {', '.join(known)}, "
        f"or agent_options.KEY, model_options.KEY, tool_options.KEY, prompts.ROLE.PART)"
    )


def apply_setting(raw: dict[str, Any], key: str, value: JsonValue) -> dict[str, Any]:
    """A copy of a RunConfig's raw fields with one grid setting applied."""
    out = {**raw}
    group, dot, rest = key.partition(".")
    if dot and group in OPTION_GROUPS:
        out[group] = {**out.get(group, {}), rest: value}
        return out
    if dot and group == PROMPTS:
        files = {k: v for k, v in out.get(PROMPTS, {}).items() if part_key(k) != rest}
        out[PROMPTS] = files if value == BUNDLED else {**files, rest: value}
        return out
    nullable = RunConfig.model_fields[key].default is None
    out[key] = None if nullable and value == NONE else value
    return out


def _problem(error: ValidationError, prefix: str) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{prefix}{where}: {str(first['msg']).removeprefix('Value error, ')}"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExperimentError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExperimentError(f"{path}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ExperimentError(f"{path}: not valid TOML ({exc})") from None


def _flat(raw: dict[str, Any], under: str = "") -> dict[str, Any]:
    """Grid keys as written: a table under `prompts` (TOML's `prompts.doctor.system = [...]`
    or `[grid.prompts]`) gives a `prompts.ROLE.PART` key for each list in it."""
    flat: dict[str, Any] = {}
    for key, values in raw.items():
        name = f"{under}.{key}" if under else key
        within = (under or key).partition(".")[0] == PROMPTS
        if within and isinstance(values, dict):
            flat |= _flat(values, name)
        else:
            flat[name] = values
    return flat


def _prompt_values(key: str, values: list[JsonValue]) -> None:
    if key == PROMPTS:
        if not all(
            isinstance(v, dict) and all(isinstance(f, str) for f in v.values()) for v in values
        ):
            raise ExperimentError(
                "grid.prompts: each value must be a table of ROLE.PART = FILE ({} for the "
                "bundled templates)"
            )
    elif key.startswith(f"{PROMPTS}.") and not all(isinstance(v, str) and v for v in values):
        raise ExperimentError(
            f"grid.{key}: each value must be a template file, or {BUNDLED!r} for the bundled one"
        )


def _grid(raw: Any) -> dict[str, list[JsonValue]]:
    if not isinstance(raw, dict):
        raise ExperimentError("grid: must be a table of KEY = [values]")
    grid: dict[str, list[JsonValue]] = {}
    for key, values in _flat(raw).items():
        name = canonical_key(key)
        if name in grid:
            raise ExperimentError(f"grid.{key}: the same setting as another grid key ({name})")
        if not isinstance(values, list) or not values:
            raise ExperimentError(f"grid.{key}: must be a non-empty list of values")
        if len({repr(v) for v in values}) != len(values):
            raise ExperimentError(f"grid.{key}: a value is listed twice")
        _prompt_values(name, values)
        grid[name] = values
    if PROMPTS in grid and (parts := [k for k in grid if k.startswith(f"{PROMPTS}.")]):
        raise ExperimentError(f"grid.{parts[0]}: prompts is a grid key too; vary one or the other")
    return grid


def parse_spec(raw: dict[str, Any], default_name: str) -> ExperimentSpec:
    """The spec from a parsed file, every section and key checked."""
    unknown = [key for key in raw if key not in SECTIONS]
    if unknown:
        raise ExperimentError(f"{unknown[0]}: not a section (sections: {', '.join(SECTIONS)})")
    base = raw.get("base", {})
    if not isinstance(base, dict):
        raise ExperimentError("base: must be a table of run settings")
    try:
        config = RunConfig.model_validate(base)
    except ValidationError as error:
        raise ExperimentError(_problem(error, "base.")) from None
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        raise ExperimentError("name: must be a non-empty string")
    try:
        report = ReportSpec.model_validate(raw.get("report", {}))
    except ValidationError as error:
        raise ExperimentError(_problem(error, "report.")) from None
    grid = _grid(raw.get("grid", {}))
    return ExperimentSpec(name=name, base=config, grid=grid, report=_comparisons(report, grid))


def _comparisons(report: ReportSpec, grid: dict[str, list[JsonValue]]) -> ReportSpec:
    """`compare` entries naming grid keys, canonical; lists of cells are checked with the cells."""
    entries: list[str | list[str]] = []
    for index, entry in enumerate(report.compare):
        if isinstance(entry, list):
            if len(entry) < 2:
                raise ExperimentError(f"report.compare[{index}]: name two or more cells")
            entries.append(entry)
            continue
        try:
            key = canonical_key(entry)
        except ExperimentError:
            key = entry
        if key not in grid:
            raise ExperimentError(
                f"report.compare[{index}]: {entry!r} is not a grid key "
                f"(grid: {', '.join(grid) or 'empty'})"
            )
        entries.append(key)
    return ReportSpec(compare=entries)


def load_spec(path: Path) -> ExperimentSpec:
    """Read and check an experiment file (its cells are checked by `clinsim.experiment.cells`)."""
    try:
        return parse_spec(_read_toml(path), path.stem)
    except ExperimentError as exc:
        raise ExperimentError(f"{path}: {exc}") from None
