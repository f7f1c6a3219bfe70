"""Components come from entry points: clinsim's own like any package's, loaded on first use,
checked when loaded, and two packages never silently share a name."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from distributions import install
from pydantic import ConfigDict
from typer.testing import CliRunner

from clinsim.agents.factories import DOCTORS, JUDGES, MEASUREMENTS, PATIENTS, find_factory
from clinsim.agents.models.registry import BACKENDS
from clinsim.cli.main import app
from clinsim.plugins import Config, Factory, NoConfig, PluginError, Registry, factory_of
from clinsim.scenarios.sets import SCENARIO_SETS
from clinsim.tools.base import TOOLS, builtin_tools

ROOT = Path(__file__).resolve().parents[1]
BUILT_IN = {
    DOCTORS: {"baseline", "oracle", "scripted", "human", "llm"},
    PATIENTS: {"facts", "human", "llm"},
    MEASUREMENTS: {"lookup", "llm"},
    JUDGES: {"rules", "llm"},
    BACKENDS: {"openai", "hf", "replay"},
    SCENARIO_SETS: {
        "demo", "agentclinic-medqa", "agentclinic-medqa-ext", "mimic-iv-demo",
        "mimic-iv-demo-notes", "images",
    },
}  # fmt: skip
GROUP = "clinsim.doctors"
FAKE = """
from clinsim.environments.factories import doctor
from clinsim.agents.doctors.oracle import OracleDoctor
from clinsim.plugins import NoConfig

@doctor("{name}")
def build(request, config: NoConfig):
    return OracleDoctor(request.scenario)

not_a_factory = 42
"""


def test_the_built_ins_are_declared_by_the_clinsim_package() -> None:
    for registry, names in BUILT_IN.items():
        own = {e.name for e in registry.installed() if e.distribution == "clinsim"}
        assert names == own, registry.group
    assert set(builtin_tools()) == {
        "query_ehr", "get_patient_summary", "get_lab_history", "get_latest_labs",
        "get_medications", "get_prior_diagnoses", "get_microbiology", "get_vitals",
        "read_image", "find_similar_images", "search_images",
    }  # fmt: skip
    assert all(TOOLS.get(name).name == name for name in builtin_tools())


def test_listing_imports_no_component_and_start_up_loads_none() -> None:
    code = (
        "import sys; from clinsim.agents.factories import DOCTORS; "
        "from clinsim.agents.models.registry import BACKENDS; import clinsim.cli.main; "
        "DOCTORS.names(); BACKENDS.names(); "
        "loaded = [m for m in ('clinsim.agents.doctors.baseline', 'clinsim.agents.models.hf', "
        "'clinsim.agents.llm.factories', 'clinsim.tools.imaging.tools', 'torch', 'transformers') "
        "if m in sys.modules]; print(loaded)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_plugin_component_is_found_by_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(tmp_path, monkeypatch, "clinsim-fake", {GROUP: {"fake": "fake_doctor:build"}},
            {"fake_doctor": FAKE.format(name="fake")})  # fmt: skip
    entry = DOCTORS.entry("fake")
    assert (entry.distribution, entry.value) == ("clinsim-fake", "fake_doctor:build")
    made = find_factory(DOCTORS, "fake/anything")
    assert isinstance(made, Factory) and made.name == "fake"


@pytest.mark.parametrize(
    ("points", "source", "problem"),
    [
        ({"oracle": "fake_doctor:build"}, FAKE.format(name="oracle"),
         "two packages declare the doctor 'oracle': clinsim (clinsim.agents.doctors.oracle:oracle), "
         "clinsim-fake (fake_doctor:build)"),
        ({"fake": "fake_doctor:not_a_factory"}, FAKE.format(name="fake"),
         "fake_doctor:not_a_factory is not a doctor component (got int)"),
        ({"fake": "fake_doctor:build"}, FAKE.format(name="other"),
         "clinsim-fake declares the doctor 'fake' but fake_doctor:build is called 'other'"),
        ({"fake": "fake_doctor:build"}, "raise RuntimeError('half-installed')",
         "doctor 'fake' from clinsim-fake (fake_doctor:build) cannot be loaded: RuntimeError: "
         "half-installed"),
    ],
)  # fmt: skip
def test_a_broken_plugin_is_a_clear_error(
    points: dict[str, str],
    source: str,
    problem: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = f"fake_doctor_{tmp_path.name}"  # a module of its own: imports are cached
    points = {name: value.replace("fake_doctor", module) for name, value in points.items()}
    problem = problem.replace("fake_doctor", module)
    install(tmp_path, monkeypatch, "clinsim-fake", {GROUP: points}, {module: source})
    name = next(iter(points))
    with pytest.raises(PluginError) as caught:
        DOCTORS.get(name)
    assert problem in str(caught.value)
    result = CliRunner().invoke(
        app, ["run", "demo", "--doctor", name, "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 2 and problem in result.output


def test_an_empty_group_says_how_to_register_the_built_ins() -> None:
    empty: Registry[Factory[None, object]] = Registry("clinsim.nothing", "widget", factory_of("x"))
    with pytest.raises(PluginError, match=r"no widgets are installed .*pip install -e \."):
        empty.names()


def test_a_factory_validates_its_configuration() -> None:
    class Strict(Config):
        dose_mg: float = 1.0

    made: Factory[None, float] = Factory("clinsim.test", "dose", Strict, lambda _, c: c.dose_mg)
    assert made.build(None, made.configure({"dose_mg": "2.5"})) == 2.5
    with pytest.raises(PluginError, match=r"clinsim.test 'dose': volume: Extra inputs are not"):
        made.configure({"volume": 3})
    with pytest.raises(PluginError, match=r"dose_mg: Input should be a valid number"):
        made.configure({"dose_mg": "lots"})
    with pytest.raises(TypeError, match="takes a Strict"):
        made.build(None, NoConfig())

    class Loose(Config):
        model_config = ConfigDict(extra="allow")

    with pytest.raises(TypeError, match="must refuse unknown keys"):
        Factory("clinsim.test", "loose", Loose, lambda _, c: c)


def test_clinsim_plugins_lists_every_component_with_its_package_and_settings() -> None:
    result = CliRunner().invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    listed = {(row["group"], row["name"]) for row in rows}
    for registry, names in BUILT_IN.items():
        assert {(registry.group, name) for name in names} <= listed
    assert {("clinsim.tools", name) for name in builtin_tools()} <= listed
    openai = next(r for r in rows if (r["group"], r["name"]) == ("clinsim.models", "openai"))
    assert openai["package"] == "clinsim"
    assert "base_urls: list[str] = []" in openai["settings"]
    assert "timeout_s: float = 120.0" in openai["settings"]
    table = CliRunner().invoke(app, ["plugins"])
    assert table.exit_code == 0 and "scenario sets (clinsim.scenario_sets)" in table.output
