"""`clinsim prompts`: the prompt parts of the model-played roles, their bundled templates, and a
check of a template of one's own (docs/prompts.md)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from clinsim.cli.errors import fail

app = typer.Typer(
    help="Prompt templates: list the parts, show one, check yours.", no_args_is_help=True
)

ProtocolOption = Annotated[
    str | None,
    typer.Option(help="The doctor's protocol: json (default), tools or agentclinic."),
]
PROTOCOLS = ("json", "tools", "agentclinic")


def _variant(key: str, protocol: str | None) -> str | None:
    if protocol is not None and protocol not in PROTOCOLS:
        fail(f"--protocol {protocol!r}: choose json, tools or agentclinic")
    if not key.startswith("doctor."):
        if protocol is not None:
            fail(f"--protocol applies to the doctor's parts only, not {key}")
        return None
    return protocol or "json"


def _key(part: str) -> str:
    from clinsim.agents.prompts import UnknownPart, part_key

    try:
        return part_key(part)
    except UnknownPart as error:
        fail(str(error))


@app.command("list")
def list_parts() -> None:
    """Every prompt part, what it is for and its bundled templates."""
    from clinsim.agents.prompts import PARTS
    from clinsim.agents.prompts.reference import PROTOCOLS as ALL
    from clinsim.agents.prompts.templates import bundled_name

    table = Table(title="Prompt parts (replace one: clinsim run --prompt PART=FILE)")
    for column in ("part", "bundled template", "what it is"):
        table.add_column(column, overflow="fold")
    for key, part in PARTS.items():
        variants = (part.used_with or ALL) if part.role == "doctor" else (None,)
        names = dict.fromkeys(bundled_name(key, variant) for variant in variants)
        table.add_row(key, "\n".join(names), part.summary)
    Console().print(table)


@app.command()
def show(
    part: Annotated[str, typer.Argument(help="ROLE.PART, e.g. doctor.system")],
    protocol: ProtocolOption = None,
) -> None:
    """Print a bundled template, to start one of your own from it."""
    from clinsim.agents.prompts import PARTS
    from clinsim.agents.prompts.templates import bundled_template

    key = _key(part)
    variant = _variant(key, protocol)
    if not PARTS[key].used(variant):
        fail(f"{key} is not used with the {variant} protocol")
    typer.echo(bundled_template(key, variant).text, nl=False)


@app.command()
def check(
    file: Annotated[str, typer.Argument(help="Your template file.")],
    part: Annotated[str, typer.Option(help="The part it replaces, e.g. doctor.system.")],
    protocol: ProtocolOption = None,
) -> None:
    """Check a template as a run would before it starts: variables, markers, a trial render."""
    from clinsim.agents.prompts import PromptError, check_template, template_file

    key = _key(part)
    variant = _variant(key, protocol)
    try:
        check_template(template_file(key, file), variant)
    except PromptError as error:
        fail(str(error), code=1)
    under = f" with the {variant} protocol" if variant else ""
    typer.echo(f"{file}: a valid {key} template{under}")
