"""A run's prompt templates: which roles are played from prompts, the templates each uses (the
user's files in place of the bundled ones, checked before anything runs), what the run store
keeps of them, and how two stored runs' prompts differ.

A role is played from prompts when its component's configuration is a `PromptedConfig` (the
`llm` factory of every role: any model address). A template supplied for a role that is not is
an error, as is one that fails its part's checks (`clinsim.agents.prompts`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from clinsim.agents.prompts import (
    PARTS,
    PromptedConfig,
    PromptError,
    RolePrompts,
    Template,
    role_prompts,
    template_file,
)
from clinsim.config import StoredPrompt, StoredRun

Recorded = Mapping[str, StoredPrompt]
"""Templates a stored run used, by `ROLE.PART`: a replay plays with these, not the files."""


class PlayedRole(NamedTuple):
    """What prompt planning needs of a role's player."""

    role: str
    address: str
    config: object


def _template(key: str, path: str | None, recorded: Recorded) -> Template | None:
    if key in recorded:
        stored = recorded[key]
        return Template(key, stored.text, stored.source)
    return template_file(key, path) if path is not None else None


def plan_prompts(
    files: Mapping[str, str], players: Iterable[PlayedRole], recorded: Recorded | None = None
) -> dict[str, RolePrompts]:
    """Every role played from prompts -> its templates (supplied files, or `recorded` texts,
    in place of the bundled ones). `PromptError` says what does not fit."""
    recorded = recorded or {}
    planned: dict[str, RolePrompts] = {}
    others: dict[str, list[str]] = {}
    for player in players:
        config = player.config
        if not isinstance(config, PromptedConfig):
            others.setdefault(player.role, []).append(player.address)
            continue
        if player.role in planned:
            continue
        keys = [k for k in PARTS if PARTS[k].role == player.role]
        supplied = {k: _template(k, files.get(k), recorded) for k in keys}
        given = {k: t for k, t in supplied.items() if t is not None}
        planned[player.role] = role_prompts(player.role, config.prompt_variant(), given)
    for key in files:
        role = PARTS[key].role
        if role not in planned:
            played = ", ".join(repr(a) for a in others.get(role, [])) or "nobody"
            raise PromptError(
                f"prompt {key}: the {role} ({played}) is not played from prompt templates; "
                "a model address is"
            )
    return planned


def stored_prompts(planned: Mapping[str, RolePrompts]) -> dict[str, StoredPrompt]:
    """The templates as the run store keeps them, by `ROLE.PART` in the parts' order."""
    templates = {k: t for prompts in planned.values() for k, t in prompts.by_key().items()}
    return {
        key: StoredPrompt(source=t.source, sha256=t.sha256, text=t.text)
        for key in PARTS
        if (t := templates.get(key)) is not None
    }


def _records(config: StoredRun | Mapping[str, Any]) -> dict[str, StoredPrompt]:
    if isinstance(config, StoredRun):
        fork = {f"fork {k}": v for k, v in config.fork_prompts.items()}
        return {**config.prompts, **fork}
    records: dict[str, StoredPrompt] = {}
    for field, prefix in (("prompts", ""), ("fork_prompts", "fork ")):
        for key, value in dict(config.get(field) or {}).items():
            records[f"{prefix}{key}"] = StoredPrompt.model_validate(value)
    return records


def _describe(record: StoredPrompt) -> str:
    source = record.source
    if source.startswith("bundled:"):
        source = f"bundled {source.removeprefix('bundled:')}"
    return f"{source} (sha256 {record.sha256[:12]})"


def _role(key: str) -> str:
    return key.rsplit(" ", 1)[-1].partition(".")[0]


def prompt_differences(
    first: StoredRun | Mapping[str, Any],
    second: StoredRun | Mapping[str, Any],
    names: tuple[str, str] = ("first", "second"),
) -> list[str]:
    """How two stored configurations' prompt templates differ, one line per template (a role
    played from prompts in one run only: one line for the role). Empty: the same templates."""
    a, b = _records(first), _records(second)
    lines: list[str] = []
    alone: dict[tuple[str, str], list[str]] = {}
    order = {key: n for n, key in enumerate(PARTS)}
    keys = sorted(
        set(a) | set(b),
        key=lambda k: (k.startswith("fork "), order.get(k.split()[-1], len(order)), k),
    )
    for key in keys:
        x, y = a.get(key), b.get(key)
        if x is not None and y is not None:
            if x.sha256 != y.sha256:
                lines.append(f"{key}: {names[0]} {_describe(x)}, {names[1]} {_describe(y)}")
            continue
        owner = names[0] if x is not None else names[1]
        role = ("fork " if key.startswith("fork ") else "") + _role(key)
        alone.setdefault((role, owner), []).append(key.split()[-1].partition(".")[2])
    for (role, owner), parts in alone.items():
        lines.append(f"{role}: played from prompts in the {owner} run only ({', '.join(parts)})")
    return lines
