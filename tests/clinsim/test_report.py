"""The HTML report: self-contained, shows the statistics it was given, keeps hostile text inert."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image
from synthetic_report import synthetic_outcomes, synthetic_report

from clinsim.environments import events as ev
from clinsim.environments.termination import TerminationReason
from clinsim.report import (
    EpisodeTranscript,
    RunInfo,
    TranscriptEntry,
    assemble_report,
    render_report,
)
from clinsim.report.html import payload_json
from clinsim.report.transcripts import entries_from_events, image_asset
from clinsim.stats import OutcomeError, Settings

HOSTILE = '</script><script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "action", "srcset", "poster") and value is not None:
                self.refs.append((tag, name, value))


def payload(html: str) -> dict[str, object]:
    match = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S
    )
    assert match
    data: dict[str, object] = json.loads(match.group(1))
    return data


@pytest.fixture(scope="module")
def report_html() -> str:
    return render_report(synthetic_report(scenarios=12, trials=2))


def test_the_report_refers_to_nothing_outside_itself(report_html: str) -> None:
    links = Links()
    links.feed(report_html)
    outside = [r for r in links.refs if not r[2].startswith(("data:", "#"))]
    assert outside == []
    assert "link" not in links.tags and "iframe" not in links.tags
    assert "default-src 'none'" in report_html  # the page may not fetch anything
    assert (
        sum(1 for _, name, v in links.refs if name == "src" and v.startswith("data:image/svg+xml"))
        >= 5
    )


def test_it_shows_the_figures_and_interval_methods_it_was_given(report_html: str) -> None:
    data = synthetic_report(scenarios=12, trials=2)
    for s in data.summaries:
        assert f"{s.accuracy.estimate:.1%}" in report_html
        assert f"{s.accuracy.low:.1%}, {s.accuracy.high:.1%}" in report_html
        assert f"{s.cost.estimate:,.2f}" in report_html
    assert 'title="bootstrap over scenarios, BCa"' in report_html
    assert "pass^2" in report_html
    assert data.comparison is not None
    pair = data.comparison.pairs[0]
    buttons = report_html.count('class="side-by-side"')
    assert buttons == len(pair.a_right_b_wrong) + len(pair.b_right_a_wrong)
    assert 'class="differs"><th>doctor</th>' in report_html
    assert 'class=""><th>patient</th>' in report_html


def test_one_trial_uses_wilson_and_says_so() -> None:
    html = render_report(synthetic_report(scenarios=10, trials=1))
    assert 'title="Wilson score"' in html and "Wilson score" in html


def test_the_embedded_table_and_transcripts_match_the_data(report_html: str) -> None:
    data = synthetic_report(scenarios=12, trials=2)
    embedded = payload(report_html)
    rows = embedded["rows"]
    assert isinstance(rows, list) and len(rows) == len(data.outcomes)
    assert embedded["runs"] == [r.run for r in data.runs]
    transcripts = embedded["transcripts"]
    assert isinstance(transcripts, dict) and len(transcripts) == len(data.transcripts)
    first = data.transcripts[0]
    row = next(
        i
        for i, o in enumerate(data.outcomes)
        if (o.run, o.episode_id) == (first.run, first.episode_id)
    )
    assert [e[3] for e in transcripts[str(row)]] == [e.text for e in first.entries]
    assert set(embedded["images"]) == set(data.images)  # type: ignore[arg-type]


def test_hostile_text_is_data_not_markup() -> None:
    outcomes, transcripts = synthetic_outcomes({"a": 0.5, "b": 0.5}, scenarios=4)
    outcomes[0] = outcomes[0].model_copy(update={"diagnosis": HOSTILE, "reference": HOSTILE})
    bad = transcripts[0].entries[1].model_copy(update={"text": HOSTILE})
    transcripts[0] = transcripts[0].model_copy(update={"entries": [transcripts[0].entries[0], bad]})
    runs = [RunInfo(run="a", config={"doctor": HOSTILE}), RunInfo(run="b")]
    html = render_report(
        assemble_report(runs, outcomes, transcripts, settings=Settings(resamples=200))
    )
    assert "<script>window.pwned" not in html
    assert "<img src=x onerror" not in html
    assert html.count("</script>") == 2  # the data block and the report's own script
    embedded = payload(html)
    assert embedded["rows"][0][4] == HOSTILE  # type: ignore[index]


def test_long_texts_are_cut_with_a_note() -> None:
    outcomes, transcripts = synthetic_outcomes({"a": 0.5}, scenarios=2)
    long = TranscriptEntry(
        turn=1, actor="tool", kind="tool_result", text="x" * 500, data={"data": "y" * 500}
    )
    transcripts[0] = transcripts[0].model_copy(update={"entries": [long]})
    data = assemble_report(
        [RunInfo(run="a")], outcomes, transcripts, settings=Settings(resamples=200)
    )
    embedded = json.loads(payload_json(data, max_text_chars=100))
    entry = embedded["transcripts"]["0"][0]
    assert entry[3].startswith("x" * 100) and entry[3].endswith("(400 more characters not shown)")
    assert entry[4]["data"].endswith("(400 more characters not shown)")


def test_runs_without_common_scenarios_get_a_note_instead_of_a_comparison() -> None:
    a, _ = synthetic_outcomes({"a": 0.5}, scenarios=3)
    b, _ = synthetic_outcomes({"b": 0.5}, scenarios=3)
    b = [o.model_copy(update={"scenario_id": "other/" + o.scenario_id}) for o in b]
    data = assemble_report(
        [RunInfo(run="a"), RunInfo(run="b")], [*a, *b], settings=Settings(resamples=200)
    )
    assert data.comparison is None
    assert "no scenario (and trial) in common" in data.notes[0]
    assert "no scenario (and trial) in common" in render_report(data)


def test_run_information_must_match_the_outcomes() -> None:
    outcomes, _ = synthetic_outcomes({"a": 0.5}, scenarios=2)
    with pytest.raises(OutcomeError, match="no episodes for run"):
        assemble_report([RunInfo(run="a"), RunInfo(run="zzz")], outcomes)
    with pytest.raises(OutcomeError, match="have no run information"):
        assemble_report([], outcomes)


def test_entries_from_events_keep_what_the_viewer_shows() -> None:
    events = [
        ev.QuestionAsked(turn=1, question="Any fever?"),
        ev.ModelCalled(
            turn=1,
            role="doctor",
            model="openai/x",
            call_id="c1",
            messages=[
                {"role": "system", "content": "rules"},
                {"role": "user", "content": "Patient says: hi"},
            ],
            output='{"action": "ask"}',
            usage={"prompt_tokens": 10, "completion_tokens": 5},
            latency_s=0.25,
        ),
        ev.ToolCalled(turn=2, tool="query_ehr", arguments={"sql": "SELECT 1"}),
        ev.TestReported(turn=3, test="CBC", available=False, result="not available"),
        ev.ImageShown(turn=3, image_id="cxr-1", modality="x-ray"),
        ev.DoctorReplyRepaired(turn=4, repairs=["code fence", "trailing comma"]),
        ev.DiagnosisJudged(turn=4, judge="rules", match=True, reason="names it"),
        ev.EpisodeEnded(turn=4, reason=TerminationReason.DIAGNOSED),
    ]
    entries = entries_from_events(events)
    assert [(e.actor, e.kind) for e in entries] == [
        ("doctor", "question"),
        ("doctor", "model_call"),
        ("doctor", "tool_call"),
        ("measurement", "test_result"),
        ("system", "image"),
        ("system", "note"),
        ("judge", "verdict"),
        ("system", "end"),
    ]
    call = entries[1]
    assert call.text == '{"action": "ask"}'
    assert (call.data["tokens"], call.data["prompt"], call.data["messages"]) == (
        15,
        "Patient says: hi",
        2,
    )
    assert entries[2].data["arguments"] == {"sql": "SELECT 1"}
    assert entries[3].data["available"] is False
    assert entries[4].images == ["cxr-1"]
    assert entries[5].text == "reply read after: code fence; trailing comma"
    assert entries[6].data == {"judge": "rules", "correct": True}
    assert entries[7].text == "diagnosed"


def test_images_become_data_uris_and_large_ones_shrink(tmp_path: Path) -> None:
    small, large = tmp_path / "small.png", tmp_path / "large.png"
    Image.new("RGB", (40, 30), "red").save(small)
    Image.new("RGB", (2000, 1000), "blue").save(large)
    assert image_asset(small).src.startswith("data:image/png;base64,")
    shrunk = image_asset(large, max_side=256)
    assert shrunk.src.startswith("data:image/jpeg;base64,")
    assert len(shrunk.src) < 20_000
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    with pytest.raises(ValueError, match=r"broken\.png: not a readable image"):
        image_asset(broken)


def test_a_transcript_belongs_to_its_own_run() -> None:
    outcomes, transcripts = synthetic_outcomes({"a": 0.5, "b": 0.5}, scenarios=2)
    only_b = [t for t in transcripts if t.run == "b"]
    data = assemble_report(
        [RunInfo(run="a"), RunInfo(run="b")], outcomes, only_b, settings=Settings(resamples=200)
    )
    embedded = json.loads(payload_json(data))
    rows_of_b = {str(i) for i, o in enumerate(outcomes) if o.run == "b"}
    assert set(embedded["transcripts"]) == rows_of_b
    orphan = EpisodeTranscript(run="a", episode_id="nowhere/1", entries=[])
    data = data.model_copy(update={"transcripts": [orphan]})
    assert json.loads(payload_json(data))["transcripts"] == {}
