"""A run's configuration is plain data: it comes from a TOML or JSON file as well as from flags,
round-trips through JSON, and is checked against every chosen component before anything runs."""

from __future__ import annotations

import tomllib

import pytest

from clinsim.components import OptionError, resolve
from clinsim.config import RunConfig, StoredRun
from clinsim.plugins import PluginError

EXPERIMENT = """
sources = ["agentclinic-medqa"]
doctor = "openai/medgemma"
patient = "facts"
judges = ["rules", "openai/judge"]
max_turns = 12
seed = 7

[agent_options]
temperature = 0.2
"doctor.protocol" = "tools"
"judge.retries" = 1

[model_options]
base_urls = ["http://127.0.0.1:8000/v1"]
"judge.max_retries" = 0

[tool_options]
ehr_db = "ehr.duckdb"
"""


def test_an_experiment_file_is_a_run_config() -> None:
    config = RunConfig.model_validate(tomllib.loads(EXPERIMENT))
    plan = resolve(config, api_key="sk-test")
    doctor = plan.doctor.describe()
    assert doctor["component"] == "llm" and doctor["config"]["protocol"] == "tools"  # type: ignore[index]
    assert doctor["config"]["temperature"] == 0.2  # type: ignore[index]
    assert doctor["model"]["config"]["max_retries"] == 3  # type: ignore[index]
    judge = plan.judges[1].describe()
    assert judge["config"]["retries"] == 1 and judge["model"]["config"]["max_retries"] == 0  # type: ignore[index]
    rules = plan.judges[0].describe()["config"]  # rules takes no temperature
    assert rules == {"vocabulary": None, "accept_less_specific": False}
    assert plan.patient.backend is None  # facts is played without a model
    ehr = [t.config.model_dump(mode="json") for t in plan.tools if t.factory.name == "query_ehr"]
    assert ehr == [{"ehr_db": "ehr.duckdb"}]
    api_key = plan.doctor.backend.config.api_key  # type: ignore[union-attr]
    assert api_key.get_secret_value() == "sk-test"
    stored = plan.stored()
    assert "sk-test" not in stored.model_dump_json()


def test_it_round_trips_through_json() -> None:
    config = RunConfig.model_validate(tomllib.loads(EXPERIMENT))
    assert RunConfig.model_validate_json(config.model_dump_json()) == config
    stored = resolve(config).stored()
    assert StoredRun.model_validate_json(stored.model_dump_json()) == stored
    assert resolve(RunConfig.model_validate_json(config.model_dump_json())).stored() == stored


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"agent_options": {"temprature": 0.2}}, "no selected component takes 'temprature'"),
        ({"agent_options": {"doctor.protocol": "smoke signals"}}, "protocol: Input should be"),
        ({"model_options": {"judge.api_key": "sk"}}, "API keys are never stored"),
        ({"doctor": "nobody"}, "no doctor called 'nobody'"),
        ({"tools": ["query_ehr", "no_such_tool"]}, "no tool 'no_such_tool'"),
        ({"surprise": 1}, "Extra inputs are not permitted"),
    ],
)
def test_what_does_not_fit_is_refused_before_anything_runs(
    change: dict[str, object], problem: str
) -> None:
    raw = {**tomllib.loads(EXPERIMENT), **change}
    with pytest.raises((PluginError, OptionError, ValueError), match=problem):
        resolve(RunConfig.model_validate(raw))
