"""Prompt templates: Jinja2 text rendered in a sandbox, checked before a run.

Templates follow Jinja's defaults (a tag leaves the whitespace around it in place; `{%-` and
`-%}` trim it), with one final newline of the file dropped, and render in Jinja's immutable
sandbox (no underscore attributes, no changing the values a template receives). A variable the
template does not receive is an error, found before the run by reading the template's syntax
tree; so is a template that misses what its part needs (see `clinsim.agents.prompts.parts`).
Each template is then tried once with the documented example values.

Jinja is imported on first use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clinsim.agents.prompts.parts import PARTS, Part

if TYPE_CHECKING:
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

BUNDLED = "bundled:"
"""The source of a bundled template: `bundled:doctor.system.json.j2`."""


class PromptError(ValueError):
    """A template that cannot be read, parsed, checked or rendered; the message names its part
    and file."""


@cache
def environment() -> ImmutableSandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
    )


@dataclass(frozen=True)
class Template:
    """One part's template text and where it came from."""

    key: str
    text: str
    source: str
    """The file as given, or `bundled:NAME` for a template shipped with clinsim."""

    @property
    def supplied(self) -> bool:
        return not self.source.startswith(BUNDLED)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def part(self) -> Part:
        return PARTS[self.key]

    def fail(self, problem: str) -> PromptError:
        return PromptError(f"prompt {self.key} ({self.source}): {problem}")

    @cached_property
    def compiled(self) -> jinja2.Template:
        from jinja2 import TemplateSyntaxError

        try:
            return environment().from_string(self.text)
        except TemplateSyntaxError as error:
            raise self.fail(f"line {error.lineno}: {error.message}") from None

    def render(self, values: Mapping[str, Any]) -> str:
        from jinja2 import TemplateError

        try:
            return self.compiled.render(values)
        except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as error:
            raise self.fail(f"cannot be rendered: {type(error).__name__}: {error}") from None

    def block_names(self) -> list[str]:
        return list(self.compiled.blocks)

    def render_block(self, name: str) -> str:
        from jinja2 import TemplateError

        template = self.compiled
        try:
            return "".join(template.blocks[name](template.new_context({})))
        except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as error:
            raise self.fail(f"block {name!r}: {type(error).__name__}: {error}") from None


def bundled_name(key: str, variant: str | None) -> str:
    """The bundled file of a part: its protocol's own (`doctor.system.json.j2`) or the
    part's (`doctor.opening.j2`)."""
    folder = files("clinsim.agents.prompts") / "bundled"
    if variant and (folder / f"{key}.{variant}.j2").is_file():
        return f"{key}.{variant}.j2"
    return f"{key}.j2"


@cache
def bundled_template(key: str, variant: str | None) -> Template:
    name = bundled_name(key, variant)
    text = (files("clinsim.agents.prompts") / "bundled" / name).read_text(encoding="utf-8")
    return Template(key, text, f"{BUNDLED}{name}")


def template_file(key: str, path: str) -> Template:
    """A template supplied as a file; an unreadable file is a `PromptError` naming it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PromptError(f"prompt {key} ({path}): not UTF-8 text") from None
    except OSError as error:
        raise PromptError(f"prompt {key}: cannot read {path}: {error.strerror}") from None
    return Template(key, text, path)


def _variables(template: Template) -> set[str]:
    from jinja2 import TemplateSyntaxError, meta

    env = environment()
    try:
        tree = env.parse(template.text)
    except TemplateSyntaxError as error:
        raise template.fail(f"line {error.lineno}: {error.message}") from None
    return set(meta.find_undeclared_variables(tree)) - set(env.globals)


def _names(names: list[str] | tuple[str, ...]) -> str:
    return ", ".join(names) or "no variables"


def check_template(template: Template, variant: str | None) -> None:
    """Refuse a template that uses a variable its part does not receive, misses a variable or
    marker its part needs under `variant`, or fails with the example values."""
    part = template.part
    used = _variables(template)
    unknown = sorted(used - set(part.variables))
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise template.fail(
            f"unknown variable{plural} {', '.join(unknown)} "
            f"({part.key} receives: {_names(list(part.variables))})"
        )
    for group in part.needed(variant):
        if not used & set(group):
            options = " or ".join(group)
            under = f" with the {variant} protocol" if variant else ""
            raise template.fail(f"never uses {options}, which {part.key} needs{under}")
    for marker in part.markers_for(variant):
        if marker not in template.text:
            reader = f"the {variant} protocol" if variant else f"the {part.role}'s reply reader"
            raise template.fail(f"must contain {marker!r} as written: {reader} looks for it")
    _try(template)


def _try(template: Template) -> None:
    part = template.part
    if part.blocks:
        names = template.block_names()
        if not names:
            raise template.fail("holds no {% block NAME %}: each bias is one named block")
        for name in names:
            template.render_block(name)
        return
    template.render({name: variable.example for name, variable in part.variables.items()})
