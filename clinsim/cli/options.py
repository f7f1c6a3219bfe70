"""`KEY=VALUE` (and `TARGET.KEY=VALUE`) options for settings the CLI has no dedicated flag
for."""

from __future__ import annotations

import json
from typing import Any


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
