"""`clinsim image classify`: JSON and table output, clean errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinsim.cli.main import app
from clinsim.tools.imaging.encoder import ImageEncoder
from clinsim.tools.imaging.testing import build_tiny_siglip
from clinsim.tools.imaging.zero_shot import classify_files

FUNDUS = Path(__file__).resolve().parents[2] / "scenarios/data/images/fundus/IDRiD_01.jpg"
runner = CliRunner()


@pytest.fixture(scope="module")
def siglip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_siglip(tmp_path_factory.mktemp("siglip"))


def test_classify_json_matches_the_library(siglip_dir: Path) -> None:
    args = ["image", "classify", str(FUNDUS), "pydicom:ct", "--labels", "retinopathy, normal"]
    result = runner.invoke(app, [*args, "--model", str(siglip_dir), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout[result.stdout.index("{") :])
    assert [r["image"] for r in payload["results"]] == [str(FUNDUS), "pydicom:ct"]
    encoder = ImageEncoder.load(str(siglip_dir))
    expected = classify_files(encoder, [FUNDUS], ["retinopathy", "normal"])[0]
    got = payload["results"][0]["findings"]
    assert [f["label"] for f in got] == [f.label for f in expected]
    assert got[0]["probability"] == pytest.approx(expected[0].probability, abs=1e-5)


def test_classify_table_with_modality_vocabulary(siglip_dir: Path) -> None:
    result = runner.invoke(
        app,
        ["image", "classify", str(FUNDUS), "--modality", "fundus", "--top-k", "3",
         "--model", str(siglip_dir)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "probability" in result.stdout and "IDRiD_01.jpg" in result.stdout


def test_classify_errors_are_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["image", "classify", str(FUNDUS)])
    assert result.exit_code == 2 and "give --labels" in result.output
    result = runner.invoke(app, ["image", "classify", str(tmp_path / "x.png"), "--labels", "a"])
    assert result.exit_code == 2 and "no such image file" in result.output
    result = runner.invoke(
        app, ["image", "classify", str(FUNDUS), "--labels", "a", "--model", str(tmp_path / "m")]
    )
    assert result.exit_code == 2 and "does not exist" in result.output
    assert "Traceback" not in result.output
