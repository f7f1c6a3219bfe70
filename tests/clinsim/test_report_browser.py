"""The report in a real browser (headless Debian Chromium), with the network blocked."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from browser import CHROMIUM, Watched, offline_page
from synthetic_report import synthetic_outcomes, synthetic_report

from clinsim.report import RunInfo, assemble_report, render_report
from clinsim.report.model import ReportData
from clinsim.stats import Settings

HOSTILE = '<img src=x onerror="window.pwned = 1">Sepsis</script><script>window.pwned = 2</script>'


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} missing: run scripts/setup-browser.sh (make test does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


def write(tmp_path: Path, data: ReportData) -> str:
    path = tmp_path / "report.html"
    path.write_text(render_report(data), encoding="utf-8")
    return path.as_uri()


def load(w: Watched, url: str) -> None:
    w.page.goto(url)
    w.page.wait_for_selector("html[data-ready=true]", timeout=10_000)


def shown_count(w: Watched) -> int:
    text = w.page.locator("#episode-count").inner_text()
    match = re.match(r"showing (\d+) of (\d+)", text)
    assert match, text
    return int(match.group(1))


def test_report_opens_offline_shows_transcripts_side_by_side_and_filters(
    chromium: Path, tmp_path: Path
) -> None:
    data = synthetic_report(scenarios=12, trials=2)
    url = write(tmp_path, data)
    with offline_page() as w:
        load(w, url)
        rows = w.page.locator("#episode-table tbody tr")
        assert rows.count() == len(data.outcomes) == shown_count(w)

        # open an episode: its transcript, turn by turn, with the verdict
        index, first = next(
            (i, o) for i, o in enumerate(data.outcomes) if o.run == data.runs[1].run
        )
        transcript = next(
            t for t in data.transcripts if (t.run, t.episode_id) == (first.run, first.episode_id)
        )
        rows.nth(index).click()
        viewer = w.page.locator("#viewer")
        assert viewer.is_visible()
        pane = viewer.locator(".pane")
        assert pane.count() == 1
        question = next(e.text for e in transcript.entries if e.kind == "question")
        assert question in pane.first.inner_text()
        assert pane.first.locator(".turn").count() >= 3
        assert ("correct: " if first.correct else "incorrect: ") in pane.first.locator(
            ".outcome"
        ).inner_text()
        calls = pane.first.locator(".entry.model_call details")
        assert calls.count() > 0 and calls.first.get_attribute("open") is None  # collapsed

        # the same scenario and trial from the other run, side by side
        w.page.select_option("#viewer-other", label=data.runs[0].run)
        assert viewer.locator(".pane").count() == 2
        assert data.runs[0].run in viewer.locator(".pane").nth(1).locator("h3").inner_text()
        assert first.scenario_id in viewer.locator(".pane").nth(1).locator("h3").inner_text()

        # filters: verdict, set, run, free text, together
        wrong = sum(not o.correct for o in data.outcomes)
        w.page.select_option("#filter-correct", "no")
        assert shown_count(w) == wrong
        w.page.select_option("#filter-set", "mimic-iv-demo")
        expected = sum(not o.correct and o.scenario_set == "mimic-iv-demo" for o in data.outcomes)
        assert shown_count(w) == expected
        w.page.select_option("#filter-correct", "")
        w.page.select_option("#filter-set", "")
        w.page.fill("#filter-text", "endocrine")
        assert shown_count(w) == sum(o.tags["specialty"] == "endocrine" for o in data.outcomes)
        w.page.fill("#filter-text", "")
        w.page.select_option("#filter-reason", "turn_limit")
        assert shown_count(w) == sum(o.termination == "turn_limit" for o in data.outcomes)
        visible = [r for r in range(rows.count()) if rows.nth(r).is_visible()]
        assert len(visible) == shown_count(w)

        # sort by cost: descending puts the dearest first
        w.page.select_option("#filter-reason", "")
        header = w.page.locator('#episode-table thead th[data-col="cost"]')
        header.click()
        header.click()
        top = float(rows.first.locator("td").nth(10).inner_text())
        assert top == pytest.approx(max(round(o.cost, 2) for o in data.outcomes))

        # a discordant case opens both runs at once
        buttons = w.page.locator("button.side-by-side")
        assert buttons.count() > 0
        buttons.first.click()
        assert viewer.locator(".pane").count() == 2
        assert w.problems() == []


def test_hostile_text_stays_text_in_the_browser(chromium: Path, tmp_path: Path) -> None:
    outcomes, transcripts = synthetic_outcomes({"a": 0.5}, scenarios=3)
    outcomes[0] = outcomes[0].model_copy(update={"diagnosis": HOSTILE})
    entry = transcripts[0].entries[1].model_copy(update={"text": HOSTILE})
    transcripts[0] = transcripts[0].model_copy(update={"entries": [entry]})
    data = assemble_report(
        [RunInfo(run="a", config={"doctor": HOSTILE})],
        outcomes,
        transcripts,
        settings=Settings(resamples=200),
    )
    with offline_page() as w:
        load(w, write(tmp_path, data))
        w.page.locator("#episode-table tbody tr").first.click()
        assert w.page.evaluate("window.pwned") is None
        assert HOSTILE in w.page.locator("#episode-table tbody tr").first.inner_text()
        assert HOSTILE in w.page.locator("#viewer .pane").inner_text()
        assert w.page.locator("img[src=x]").count() == 0
        assert w.problems() == []


def test_the_guard_sees_a_page_that_reaches_out(chromium: Path, tmp_path: Path) -> None:
    page = tmp_path / "leaky.html"
    page.write_text(
        '<!DOCTYPE html><img src="http://203.0.113.9/x.png"><script>console.error("boom")</script>'
    )
    with offline_page() as w:
        w.page.goto(page.as_uri())
        w.page.wait_for_load_state("load")
        assert any("203.0.113.9" in url for url in w.blocked)
        assert "boom" in w.console_errors
