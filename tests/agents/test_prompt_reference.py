"""docs/prompts.md documents every prompt part and its variables as the code declares them."""

from __future__ import annotations

from pathlib import Path

from clinsim.agents.prompts import PARTS
from clinsim.agents.prompts.reference import parts_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "prompts.md"
START, END = "<!-- parts reference: start -->\n", "<!-- parts reference: end -->"


def test_the_docs_hold_the_generated_parts_reference() -> None:
    text = DOCS.read_text()
    documented = text.split(START, 1)[1].split(END, 1)[0]
    assert documented == parts_markdown(), (
        "docs/prompts.md is out of date: put the output of "
        "`python -m clinsim.agents.prompts.reference` between its parts reference markers"
    )


def test_every_part_and_variable_is_documented() -> None:
    reference = parts_markdown()
    for key, part in PARTS.items():
        assert f"### `{key}`" in reference
        for name, variable in part.variables.items():
            assert f"| `{name}` | {variable.description} |" in reference


def test_the_docs_say_the_bundled_agentclinic_templates_are_a_paraphrase() -> None:
    text = DOCS.read_text()
    assert "**The bundled `agentclinic` templates are a paraphrase" in text
    assert "clinsim does not ship AgentClinic's prompt text" in text
