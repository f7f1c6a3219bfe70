"""A run's prompt templates: which roles are played from prompts, the templates each uses (the
user's files in place of the bundled ones, checked before anything runs), what the run store
keeps of them, and how two stored runs' prompts differ.

A role is played from prompts when its component's configuration is a `PromptedConfig` (the
`llm` factory of every role: any model address). A template supplied for a role that is not is
an error, as is one that fails its part's checks (`clinsim.agents.prompts`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

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

if TYPE_CHECKING:
    from clinsim.stats import Comparison

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


class PromptChange(NamedTuple):
    """A template two runs do not share: `key` is `ROLE.PART` (`fork ROLE.PART` for a fork's
    new doctor); a side is None where that run's role is not played from prompts."""

    key: str
    first: StoredPrompt | None
    second: StoredPrompt | None

    def as_json(self) -> dict[str, Any]:
        def side(record: StoredPrompt | None) -> dict[str, str] | None:
            return None if record is None else {"source": record.source, "sha256": record.sha256}

        return {"prompt": self.key, "a": side(self.first), "b": side(self.second)}


def prompt_changes(
    first: StoredRun | Mapping[str, Any], second: StoredRun | Mapping[str, Any]
) -> list[PromptChange]:
    """Every template whose text differs between two stored configurations, in the parts'
    order (a fork's templates last). Empty: the same templates."""
    a, b = _records(first), _records(second)
    order = {key: n for n, key in enumerate(PARTS)}
    keys = sorted(
        set(a) | set(b),
        key=lambda k: (k.startswith("fork "), order.get(k.split()[-1], len(order)), k),
    )
    changes = []
    for key in keys:
        x, y = a.get(key), b.get(key)
        if x is None or y is None or x.sha256 != y.sha256:
            changes.append(PromptChange(key, x, y))
    return changes


def prompt_differences(
    first: StoredRun | Mapping[str, Any],
    second: StoredRun | Mapping[str, Any],
    names: tuple[str, str] = ("first", "second"),
) -> list[str]:
    """How two stored configurations' prompt templates differ, one line per template (a role
    played from prompts in one run only: one line for the role). Empty: the same templates."""
    lines: list[str] = []
    alone: dict[tuple[str, str], list[str]] = {}
    for key, x, y in prompt_changes(first, second):
        if x is not None and y is not None:
            lines.append(f"{key}: {names[0]} {_describe(x)}, {names[1]} {_describe(y)}")
            continue
        owner = names[0] if x is not None else names[1]
        role = ("fork " if key.startswith("fork ") else "") + _role(key)
        alone.setdefault((role, owner), []).append(key.split()[-1].partition(".")[2])
    for (role, owner), parts in alone.items():
        lines.append(f"{role}: played from prompts in the {owner} run only ({', '.join(parts)})")
    return lines


PROMPT_NOTE = "prompt templates differ"
"""How a comparison's note about two runs' templates begins."""


def note_prompt_differences(comparison: Comparison, runs: Mapping[str, StoredRun]) -> Comparison:
    """The comparison with a note on each pair of runs whose prompt templates differ, naming
    each role and part with both runs' sources and hashes (`runs`: label -> configuration)."""
    pairs = []
    for pair in comparison.pairs:
        a, b = runs.get(pair.run_a), runs.get(pair.run_b)
        lines = [] if a is None or b is None else prompt_differences(a, b, (pair.run_a, pair.run_b))
        notes = [f"{PROMPT_NOTE}: {line}" for line in lines]
        pairs.append(pair.model_copy(update={"notes": [*notes, *pair.notes]}) if notes else pair)
    return comparison.model_copy(update={"pairs": pairs})
