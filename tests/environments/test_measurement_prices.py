"""The price table: bundled defaults, user replacement, and clear errors for bad files."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clinsim.components import resolve
from clinsim.config import RunConfig
from clinsim.environments import events
from clinsim.environments.prices import PriceTable, PriceTableError, default_price_path
from clinsim.environments.run_store import RunStore
from clinsim.runner import Runner
from clinsim.scenarios.sets import load_scenarios


@pytest.mark.parametrize(
    ("test", "cost"),
    [
        ("Physical examination", 0.0),
        ("vital signs", 0.0),
        ("Neurological_Examination", 0.0),
        ("CBC", 15.0),
        ("complete blood count", 15.0),
        ("Urinalysis", 15.0),
        ("ECG", 50.0),
        ("EKG", 50.0),
        ("Chest_X-Ray", 100.0),
        ("CXR", 100.0),
        ("Chest CT", 500.0),
        ("MRI brain", 1000.0),
        ("Skin biopsy results", 800.0),
        ("Blood culture", 60.0),
        ("something nobody lists", 50.0),
    ],
)
def test_default_prices(test: str, cost: float) -> None:
    assert PriceTable.default().cost_of(test) == cost


def test_default_file_says_where_numbers_come_from() -> None:
    raw = json.loads(default_price_path().read_text())
    assert raw["currency"] == "USD"
    assert "illustrative" in raw["note"].lower()


def test_a_users_table_replaces_the_default(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    table = {
        "default_cost": 7,
        "categories": [
            {"name": "chest imaging", "cost": 42, "patterns": ["chest x-ray", "chest CT"]},
            {"name": "imaging", "cost": 300, "patterns": ["CT", "x-ray"]},
            {"name": "labs", "cost": 3, "patterns": ["CBC"]},
        ],
    }
    path.write_text(json.dumps(table))
    prices = PriceTable.load(path)
    assert prices.cost_of("CXR") == 42  # first matching category wins
    assert prices.cost_of("Abdominal CT") == 300
    assert prices.cost_of("complete blood count") == 3
    assert prices.cost_of("physical examination") == 7
    assert prices.cost_of("chest radiograph") == 42


def test_a_run_prices_its_orders_from_its_price_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"default_cost": 7, "categories": [
        {"name": "chest imaging", "cost": 42, "patterns": ["chest x-ray"]}]}))  # fmt: skip
    script = tmp_path / "script.json"
    orders = [{"kind": "order_test", "test": t} for t in ("chest radiograph", "CBC")]
    script.write_text(json.dumps([*orders, {"kind": "submit_diagnosis", "diagnosis": "x"}]))
    config = RunConfig(doctor=f"scripted/{script}", prices=path)
    scenario = load_scenarios(["demo"])[0]
    played = asyncio.run(Runner(resolve(config), RunStore(tmp_path / "r"), "r").play(scenario, "e"))
    assert [e.cost for e in played if isinstance(e, events.TestOrdered)] == [42, 7]


def _error_for(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(PriceTableError) as caught:
        PriceTable.load(path)
    message = str(caught.value)
    assert str(path) in message
    return message


def test_bad_price_files_name_the_file_and_the_field(tmp_path: Path) -> None:
    assert "line 1" in _error_for(tmp_path, '{"default_cost": ')
    negative = {"default_cost": 1, "categories": [{"name": "x", "cost": -5, "patterns": ["ct"]}]}
    assert "categories.0.cost" in _error_for(tmp_path, json.dumps(negative))
    assert "default_cost" in _error_for(tmp_path, json.dumps({"categories": []}))
    no_patterns = {"default_cost": 1, "categories": [{"name": "x", "cost": 5, "patterns": []}]}
    assert "categories.0.patterns" in _error_for(tmp_path, json.dumps(no_patterns))
    filler = {"default_cost": 1, "categories": [{"name": "x", "cost": 5, "patterns": ["test"]}]}
    assert "categories.0.patterns" in _error_for(tmp_path, json.dumps(filler))
    assert "costs" in _error_for(tmp_path, json.dumps({"default_cost": 1, "costs": {}}))


def test_missing_price_file(tmp_path: Path) -> None:
    with pytest.raises(PriceTableError, match="cannot read price file"):
        PriceTable.load(tmp_path / "nope.json")


def test_prices_are_deterministic() -> None:
    """The same order costs the same in every process (no dependence on hash order)."""
    names = ["CBC", "CT head", "x-ray", "biopsy", "unknown", "Chest CT with contrast"]
    code = (
        "import json, sys; from clinsim.environments.prices import PriceTable; "
        "print(json.dumps([PriceTable.default().cost_of(n) for n in sys.argv[1:]]))"
    )
    here = [PriceTable.default().cost_of(name) for name in names]
    for seed in ("1", "2"):
        environment = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", code, *names], capture_output=True, text=True, env=environment
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == here
    assert here[0] < here[1]  # a blood count is cheaper than a CT, whatever the table says
