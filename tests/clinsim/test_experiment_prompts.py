"""Prompt templates as an experiment's grid dimension: the grid keys as TOML writes them, every
template checked before any cell runs, and the comparison of the cells naming the template
they differ in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clinsim.agents.models.loopback import LoopbackServer
from clinsim.cli.main import app
from clinsim.config import StoredRun
from clinsim.environments.run_store import RunStore
from clinsim.experiment.cells import expand
from clinsim.experiment.spec import ExperimentError, parse_spec

cli = CliRunner()

TEMPLATE = """You are the admitting physician. {{ objective }}
Reply with one JSON object: {"action": "ask_patient", "question": "..."} | \
{"action": "order_test", "test": "..."} | {"action": "submit_diagnosis", "diagnosis": "..."}
{%- for tool in extra_tools %}
- {{ tool.name }}
{%- endfor %}
"""


def clinic(body: dict[str, Any]) -> dict[str, Any]:
    if body["model"] == "pat":
        return {"content": "Since yesterday."}
    if not any(m["role"] == "assistant" for m in body["messages"]):
        return {"content": '{"action": "ask_patient", "question": "Since when?"}'}
    return {"content": '{"action": "submit_diagnosis", "diagnosis": "Myasthenia gravis"}'}


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer.in_thread(responder=clinic) as running:
        yield running


def experiment(server: LoopbackServer, grid: str, report: str = "") -> str:
    return f"""
[base]
sources = ["demo"]
limit = 2
doctor = "openai/doc"
patient = "openai/pat"
model_options = {{ base_urls = ["{server.base_url}"] }}

[grid]
{grid}

[report]
{report}
"""


def cells_of(text: str) -> list[tuple[str, dict[str, str]]]:
    import tomllib

    spec = parse_spec(tomllib.loads(text), "e")
    return [(cell.label, cell.config.prompts) for cell in expand(spec)]


@pytest.mark.parametrize(
    "grid",
    [
        'prompts.doctor.system = ["bundled", "mine.j2"]',
        '"prompts.doctor" = ["bundled", "mine.j2"]',
        '[grid.prompts]\n"doctor.system" = ["bundled", "mine.j2"]',
    ],
)
def test_a_template_grid_key_as_toml_writes_it(grid: str) -> None:
    text = f'[base]\nprompts = {{ "doctor.repair" = "repair.j2" }}\n[grid]\n{grid}\n'
    assert cells_of(text) == [
        ("prompts.doctor.system=bundled", {"doctor.repair": "repair.j2"}),
        (
            "prompts.doctor.system=mine.j2",
            {"doctor.repair": "repair.j2", "doctor.system": "mine.j2"},
        ),
    ]


def test_bundled_drops_a_file_the_base_gives_and_sets_vary_together() -> None:
    text = '[base]\nprompts = { doctor = "base.j2" }\n[grid]\nprompts.doctor = ["bundled"]\n'
    assert cells_of(text) == [("prompts.doctor.system=bundled", {})]
    sets = '[grid]\nprompts = [{}, { "doctor.system" = "a.j2", "doctor.repair" = "b.j2" }]\n'
    assert cells_of(sets) == [
        ("prompts=bundled", {}),
        (
            "prompts=doctor.system=a.j2+doctor.repair=b.j2",
            {"doctor.system": "a.j2", "doctor.repair": "b.j2"},
        ),
    ]


@pytest.mark.parametrize(
    ("grid", "named"),
    [
        ('prompts.doctor.sytem = ["a.j2"]', "grid.prompts.doctor.sytem: prompt 'doctor.sytem'"),
        ('prompts.nurse = ["a.j2"]', "no role 'nurse'"),
        ('prompts.doctor = [1, "a.j2"]', "must be a template file, or 'bundled'"),
        ('prompts = ["a.j2"]', "grid.prompts: each value must be a table of ROLE.PART = FILE"),
        (
            'prompts = [{}]\n"prompts.doctor.system" = ["a.j2"]',
            "prompts is a grid key too",
        ),
    ],
)
def test_a_malformed_template_grid_names_the_key(grid: str, named: str) -> None:
    import tomllib

    with pytest.raises(ExperimentError) as caught:
        parse_spec(tomllib.loads(f"[grid]\n{grid}\n"), "e")
    assert named in str(caught.value)


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("missing.j2", "cannot read missing.j2"),
        ("bad.j2", "unknown variable diagnosis"),
    ],
)
def test_every_template_is_checked_before_any_cell_runs(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, named: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.j2").write_text("{{ objective }} {{ diagnosis }} {{ tools }}")
    spec = tmp_path / "e.toml"
    spec.write_text(experiment(server, f'prompts.doctor.system = ["bundled", "{value}"]'))
    result = cli.invoke(app, ["experiment", "run", str(spec), "--out", "out"])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert f"cell prompts.doctor.system={value}: prompt doctor.system" in message
    assert named in message and "Traceback" not in message
    assert not (tmp_path / "out").exists()


def test_cells_that_differ_in_a_template_are_compared_and_the_template_named(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.j2").write_text(TEMPLATE)
    spec = tmp_path / "e.toml"
    grid = 'prompts.doctor.system = ["bundled", "mine.j2"]'
    spec.write_text(experiment(server, grid, 'compare = ["prompts.doctor.system"]'))
    ran = cli.invoke(app, ["experiment", "run", str(spec), "--out", "out"])
    assert ran.exit_code == 0, ran.output
    cells = {d.name: d for d in (tmp_path / "out" / "cells").iterdir()}
    mine = StoredRun.model_validate(
        RunStore(cells["prompts.doctor.system=mine.j2"]).run_info().config
    )
    assert mine.prompts["doctor.system"].text == TEMPLATE
    bundled = StoredRun.model_validate(
        RunStore(cells["prompts.doctor.system=bundled"]).run_info().config
    )
    assert bundled.prompts["doctor.system"].source == "bundled:doctor.system.json.j2"

    shown = cli.invoke(app, ["experiment", "show", "out", "--json"])
    assert shown.exit_code == 0, shown.output
    (named,) = json.loads(shown.output)["comparisons"]
    (pair,) = named["comparison"]["pairs"]
    (note,) = [n for n in pair["notes"] if n.startswith("prompt templates differ")]
    assert (
        f"bundled doctor.system.json.j2 (sha256 {bundled.prompts['doctor.system'].sha256[:12]})"
        in note
    )
    assert f"mine.j2 (sha256 {mine.prompts['doctor.system'].sha256[:12]})" in note


def test_the_docs_experiment_examples_read_as_documented() -> None:
    import re
    import tomllib

    docs = Path(__file__).resolve().parents[2] / "docs" / "prompts.md"
    blocks = re.findall(r"```toml\n(.*?)```", docs.read_text(), re.S)
    assert len(blocks) == 2
    one, sets = (cells_of(block) for block in blocks)
    assert [prompts for _, prompts in one] == [
        {},
        {"doctor.system": "prompts/agentclinic-doctor.j2"},
    ]
    assert [label for label, _ in sets] == [
        "prompts=bundled",
        "prompts=doctor.system=ac/doctor.j2+doctor.bias=ac/bias.j2",
    ]
    spec = parse_spec(tomllib.loads(blocks[0]), "e")
    assert spec.report.compare == ["prompts.doctor.system"]
