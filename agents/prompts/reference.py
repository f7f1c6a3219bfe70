"""Every prompt part as Markdown: what it is for, its bundled templates, the variables it
receives and what a replacement must keep. docs/prompts.md holds this text between its
`parts reference` markers (a test keeps the two the same):

    python -m clinsim.agents.prompts.reference
"""

from __future__ import annotations

from clinsim.agents.prompts.parts import ANY, PARTS, Part
from clinsim.agents.prompts.templates import bundled_name

PROTOCOLS = ("json", "tools", "agentclinic")


def _bundled(part: Part) -> str:
    if part.role != "doctor":
        return f"`{bundled_name(part.key, None)}`"
    by_name: dict[str, list[str]] = {}
    for protocol in part.used_with or PROTOCOLS:
        by_name.setdefault(bundled_name(part.key, protocol), []).append(protocol)
    if len(by_name) == 1:
        return f"`{next(iter(by_name))}`"
    return ", ".join(f"`{name}` ({', '.join(used)})" for name, used in by_name.items())


def _condition(key: str) -> str:
    return "" if key == ANY else f" ({key} protocol)"


def _requirements(part: Part) -> list[str]:
    lines = []
    for key, groups in part.needs.items():
        for group in groups:
            lines.append(f"use {' or '.join(f'`{n}`' for n in group)}{_condition(key)}")
    for key, markers in part.markers.items():
        written = ", ".join(f"`{m}`" for m in markers)
        lines.append(f"contain {written} as written{_condition(key)}")
    if part.blocks:
        lines.append("hold at least one `{% block NAME %}`, one per bias, named as it is chosen")
    return lines


def _part(part: Part) -> list[str]:
    lines = [f"### `{part.key}`", "", part.summary, "", f"Bundled: {_bundled(part)}."]
    if part.used_with:
        plural = "s" if len(part.used_with) > 1 else ""
        lines[-1] += f" Used with the {' and '.join(part.used_with)} protocol{plural} only."
    requirements = _requirements(part)
    if requirements:
        lines += ["", "A replacement must: " + "; ".join(requirements) + "."]
    if part.variables:
        lines += ["", "| variable | what it holds |", "|---|---|"]
        lines += [f"| `{name}` | {v.description} |" for name, v in part.variables.items()]
    elif not part.blocks:
        lines += ["", "It receives no variables."]
    return [*lines, ""]


def parts_markdown() -> str:
    lines: list[str] = []
    for part in PARTS.values():
        lines += _part(part)
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    print(parts_markdown(), end="")
