"""A role's prompt templates: the bundled ones, with any the user supplied in their place.

`role_prompts(role, variant, supplied)` checks each supplied template against its part (under
the doctor's protocol, `variant`) and returns the role's full set; `bundled_prompts` is the set
shipped with clinsim. Components whose configuration is a `PromptedConfig` are played from
prompts: a run hands them their role's set (`AgentRequest.prompts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from clinsim.agents.prompts.parts import PARTS, role_parts
from clinsim.agents.prompts.templates import (
    PromptError,
    Template,
    bundled_template,
    check_template,
)
from clinsim.plugins import Config


class PromptedConfig(Config):
    """Base of the configurations of components played from prompt templates."""

    def prompt_variant(self) -> str | None:
        """Which of a part's bundled templates apply (the doctor's reply protocol)."""
        return None


@dataclass(frozen=True)
class RolePrompts:
    """Every template of one role, by part name (`system`, `bias`, ...)."""

    role: str
    variant: str | None
    templates: Mapping[str, Template]

    def template(self, part: str) -> Template:
        return self.templates[part]

    def render(self, part: str, **values: Any) -> str:
        return self.templates[part].render(values)

    def by_key(self) -> dict[str, Template]:
        return {template.key: template for template in self.templates.values()}


def _unused(key: str, variant: str | None) -> PromptError:
    used = PARTS[key].used_with or ()
    return PromptError(
        f"prompt {key}: used only with the {' or '.join(used)} protocol "
        f"(the {key.partition('.')[0]}'s protocol is {variant})"
    )


def role_prompts(
    role: str, variant: str | None, supplied: Mapping[str, Template] | None = None
) -> RolePrompts:
    """The role's templates under `variant`: the supplied ones (by key, each checked) in place
    of the bundled ones. A supplied part the role does not use is an error."""
    supplied = dict(supplied or {})
    parts = role_parts(role, variant)
    for key in supplied:
        if PARTS[key].role != role:
            raise PromptError(f"prompt {key}: not a part of the {role}'s prompts")
        if not PARTS[key].used(variant):
            raise _unused(key, variant)
    templates: dict[str, Template] = {}
    for part in parts:
        name = part.key.partition(".")[2]
        given = supplied.get(part.key)
        if given is None:
            templates[name] = bundled_template(part.key, variant)
        else:
            check_template(given, variant)
            templates[name] = given
    return RolePrompts(role, variant, templates)


@cache
def bundled_prompts(role: str, variant: str | None = None) -> RolePrompts:
    """The role's templates as shipped with clinsim."""
    return role_prompts(role, variant)
