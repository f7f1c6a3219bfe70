"""Option parsing shared by the commands: `KEY=VALUE` (and `TARGET.KEY=VALUE`) settings,
bounded numbers, folders."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer


def parse_key_values(items: list[str] | None, flag: str) -> dict[str, Any]:
    """['tool_choice=required', 'doctor.max_retries=5'] ->
    {'tool_choice': 'required', 'doctor.max_retries': 5}. Values are read as JSON when they
    parse (numbers, true/false, lists), else kept as text."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        target, _, name = key.strip().rpartition(".")
        name = name.replace("-", "_")
        if (
            not sep
            or not name.isidentifier()
            or (target and not target.replace("-", "_").isidentifier())
        ):
            raise ValueError(f"{flag} takes KEY=VALUE or TARGET.KEY=VALUE, got {item!r}")
        key = f"{target}.{name}" if target else name
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def number(
    minimum: float, *, above: bool = False, maximum: float | None = None, unit: str = ""
) -> Callable[[str], float]:
    """A parser for a numeric flag: a finite number >= `minimum` (> with `above`) and at most
    `maximum`; NaN, infinities and values out of range are refused with one line."""
    bound = f"greater than {minimum:g}" if above else f"at least {minimum:g}"
    if maximum is not None:
        bound += f" and at most {maximum:g}"
    wanted = f"a number {bound}{f' ({unit})' if unit else ''}"

    def parse(text: str | float) -> float:
        try:
            value = float(text)
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not a number; give {wanted}") from None
        too_low = value <= minimum if above else value < minimum
        if not math.isfinite(value) or too_low or (maximum is not None and value > maximum):
            raise typer.BadParameter(f"{text} is out of range; give {wanted}")
        return value

    return parse


def folder(text: str | Path) -> Path:
    """A parser for a folder flag (`--out`): it must name a folder, not '' or '.'."""
    path = Path(text)
    if not str(text).strip() or not path.name:
        raise typer.BadParameter(f"{str(text)!r} names no folder; give one such as runs/my-run")
    return path
