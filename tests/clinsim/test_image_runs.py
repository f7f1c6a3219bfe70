"""Image-bearing scenarios end to end: read_image through a real (tiny) SigLIP checkpoint, a
clear tool error without one, and NEJM images mapped from a local folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from clinsim.cli.main import app
from clinsim.environments.run_store import RunStore
from clinsim.tools.imaging.testing import build_tiny_siglip

cli = CliRunner()
FIXTURE = Path(__file__).resolve().parents[1] / "data" / "nejm_synthetic.jsonl"


@pytest.fixture(scope="module")
def siglip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_siglip(tmp_path_factory.mktemp("siglip"))


def tool_results(run_dir: Path, tool: str) -> list[dict[str, object]]:
    store = RunStore(run_dir)
    found = []
    for record in store.episodes():
        events = store.events(record.episode_id)
        found += [e.model_dump() for e in events if e.kind == "tool_returned" and e.tool == tool]
    return found


def test_image_set_runs_with_an_image_model(tmp_path: Path, siglip_dir: Path) -> None:
    out = tmp_path / "r"
    result = cli.invoke(
        app, ["run", "images", "--limit", "6", "--image-model", str(siglip_dir), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    records = RunStore(out).episodes()
    assert len(records) == 6 and all(r.termination == "diagnosed" for r in records)
    reads = tool_results(out, "read_image")
    assert len(reads) >= 6
    assert all(r["error"] is None for r in reads)
    findings = reads[0]["data"]["findings"]  # type: ignore[index]
    assert findings and all(0.0 <= f["probability"] <= 1.0 for f in findings)


def test_without_an_image_model_read_image_is_a_clear_tool_error(tmp_path: Path) -> None:
    out = tmp_path / "r"
    result = cli.invoke(app, ["run", "images", "--limit", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {r.termination for r in RunStore(out).episodes()} == {"diagnosed"}
    reads = tool_results(out, "read_image")
    assert reads and all("no image model configured" in str(r["error"]) for r in reads)


def test_nejm_images_resolve_from_an_image_dir(tmp_path: Path, siglip_dir: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for name in ("case-a", "case-b", "case-c"):
        Image.new("RGB", (40, 40), (120, 30, 30)).save(images / f"{name}.png")
    out = tmp_path / "r"
    result = cli.invoke(
        app,
        [
            "run",
            str(FIXTURE),
            "--image-dir",
            str(images),
            "--images-upfront",
            "--image-model",
            str(siglip_dir),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    events = RunStore(out).events("nejm_synthetic/0001")
    assert any(e.kind == "image_shown" for e in events)
    config = json.loads(json.dumps(RunStore(out).run_info().config))
    assert config["run"]["image_dir"] == str(images)
    read_image = config["components"]["tools"]["read_image"]["config"]
    assert read_image["image_model"] == str(siglip_dir)
    # a missing image makes its record unreadable, named with the image; the other one runs,
    # the skipped record is kept with the run, and the run exits 1
    (images / "case-b.png").unlink()
    shutil.rmtree(out)
    bad = cli.invoke(app, ["run", str(FIXTURE), "--image-dir", str(images), "--out", str(out)])
    assert bad.exit_code == 1, bad.output
    assert "case-b" in bad.output
    stored = [r.scenario_id for r in RunStore(out).episodes()]
    assert "nejm_synthetic/0002" not in stored and "nejm_synthetic/0001" in stored
    (skipped,) = RunStore(out).run_info().skipped
    assert "case-b" in skipped.message
