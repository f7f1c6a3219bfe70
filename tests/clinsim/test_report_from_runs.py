"""`clinsim report` of real stored runs, in a real browser (headless Debian Chromium) with the
network blocked: the transcript shown is the one stored, side by side works, filters count."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from browser import CHROMIUM, Watched, offline_page
from typer.testing import CliRunner

from clinsim.cli.main import app
from clinsim.environments.events import (
    DiagnosisJudged,
    PatientAnswered,
    QuestionAsked,
    ToolCalled,
)
from clinsim.environments.run_store import RunStore

cli = CliRunner()
COMMON = ["demo", "images", "--limit", "10", "--trials", "2", "--images-upfront", "--seed", "4"]


def invoke(*args: str) -> str:
    result = cli.invoke(app, list(args), env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} missing: run scripts/setup-browser.sh (make test does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("report-runs")
    dialogue, vignette = root / "dialogue", root / "vignette"
    invoke("run", *COMMON, "--out", str(dialogue))
    invoke("run", *COMMON, "--presentation", "vignette", "--out", str(vignette))
    report = root / "report.html"
    printed = invoke("report", str(dialogue), str(vignette), "--out", str(report))
    assert "2 runs, 40 episodes" in printed
    return dialogue, vignette, report


def shown_count(w: Watched) -> int:
    match = re.match(r"showing (\d+) of", w.page.locator("#episode-count").inner_text())
    assert match
    return int(match.group(1))


def test_the_report_of_stored_runs_in_a_browser(
    chromium: Path, stored: tuple[Path, Path, Path]
) -> None:
    dialogue, vignette, report = stored
    records = RunStore(dialogue).episodes() + RunStore(vignette).episodes()
    html = report.read_text(encoding="utf-8")
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    with offline_page() as w:
        w.page.goto(report.as_uri())
        w.page.wait_for_selector("html[data-ready=true]", timeout=20_000)
        rows = w.page.locator("#episode-table tbody tr")
        assert rows.count() == len(records) == shown_count(w) == 40
        assert "presentation" in w.page.locator("#configuration tr.differs").all_inner_texts()[0]

        # an episode of the dialogue run: its stored questions, answers, tool calls and verdict
        store = RunStore(dialogue)
        episode = "images/cxr-covid-01@1"
        events = store.events(episode)
        index = next(i for i, r in enumerate(records) if r.episode_id == episode)
        rows.nth(index).click()
        pane = w.page.locator("#viewer .pane").first
        text = " ".join(pane.inner_text().split())
        for event in events:
            if isinstance(event, QuestionAsked | PatientAnswered):
                said = event.question if isinstance(event, QuestionAsked) else event.answer
                assert " ".join(said.split()) in text
        assert any(isinstance(e, ToolCalled) for e in events)
        assert "read_image" in text
        verdict = next(e for e in events if isinstance(e, DiagnosisJudged))
        assert " ".join(verdict.reason.split()) in text
        image = pane.locator("figure img").first
        assert image.evaluate("img => img.complete && img.naturalWidth > 0")

        # the same scenario and trial as a vignette, side by side
        w.page.select_option("#viewer-other", label=vignette.name)
        panes = w.page.locator("#viewer .pane")
        assert panes.count() == 2
        assert "vignette" in panes.nth(1).locator("h3").inner_text()
        assert "images/cxr-covid-01 (trial 1)" in panes.nth(1).locator("h3").inner_text()

        # filters, alone and together
        w.page.select_option("#filter-set", "images")
        assert shown_count(w) == sum(r.scenario_set == "images" for r in records)
        w.page.select_option("#filter-correct", "no")
        expected = sum(r.scenario_set == "images" and not r.correct for r in records)
        assert shown_count(w) == expected
        w.page.select_option("#filter-set", "")
        w.page.select_option("#filter-correct", "")
        w.page.fill("#filter-text", "pulmonology")
        specialty = {"demo/0001", "demo/0004", "demo/0006"}
        assert shown_count(w) == sum(r.scenario_id in specialty for r in records)
        assert w.problems() == []
