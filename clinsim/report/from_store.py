"""A report's data from stored runs: outcome rows from the episode records, transcripts from the
stored events, images from the scenarios' image files.

Image ids are per scenario (`image-1`), so a transcript's images are keyed
`<scenario id>/<image id>` in the report. An image whose file is gone is left out with a note.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import JsonValue

from clinsim.config import RunConfig
from clinsim.environments.events import EpisodeStarted, Event, ImageShown
from clinsim.prompting import note_prompt_differences
from clinsim.report.assemble import assemble_report
from clinsim.report.model import EpisodeTranscript, ImageAsset, ReportData, RunInfo
from clinsim.report.transcripts import entries_from_events, image_asset
from clinsim.results import RunResults
from clinsim.stats import Settings

HIDDEN_SETTINGS = {"max_concurrency"}
"""How fast a run went, not what it measured: left out of the configuration table."""


def flat_config(config: RunConfig) -> dict[str, JsonValue]:
    """A run's settings as one level of keys; options as `agent_options.KEY` and so on."""
    raw = config.model_dump(mode="json")
    flat: dict[str, JsonValue] = {}
    for key, value in raw.items():
        if key in HIDDEN_SETTINGS:
            continue
        if key.endswith("_options") and isinstance(value, dict):
            flat |= {f"{key}.{name}": v for name, v in value.items()}
        else:
            flat[key] = value
    return flat


def run_info(results: RunResults) -> RunInfo:
    config = flat_config(results.stored.run)
    if results.stored.fork is not None:
        config["fork"] = results.stored.fork.model_dump(mode="json")
    return RunInfo(run=results.label, config=config, created=results.info.created.isoformat())


def _image_key(scenario_id: str, image_id: str) -> str:
    return f"{scenario_id}/{image_id}"


def _transcript(
    results: RunResults, episode_id: str, events: list[Event]
) -> tuple[EpisodeTranscript, dict[str, str]]:
    """The episode's transcript, and its images (report key -> image id) to look up."""
    started = next((e for e in events if isinstance(e, EpisodeStarted)), None)
    scenario_id = started.scenario_id if started else episode_id
    wanted: dict[str, str] = {}
    entries = []
    for entry in entries_from_events(events):
        if entry.images:
            keys = [_image_key(scenario_id, image) for image in entry.images]
            wanted |= dict(zip(keys, entry.images, strict=True))
            entry = entry.model_copy(update={"images": keys})
        entries.append(entry)
    transcript = EpisodeTranscript(run=results.label, episode_id=episode_id, entries=entries)
    return transcript, {key: scenario_id for key in wanted}


def _images(results: RunResults, wanted: dict[str, str], notes: list[str]) -> dict[str, ImageAsset]:
    """Report key -> the image as a data: URI, from the scenario's image file."""
    assets: dict[str, ImageAsset] = {}
    missing = 0
    for key, scenario_id in wanted.items():
        scenario = results.scenarios.get(scenario_id)
        image_id = key[len(scenario_id) + 1 :]
        ref = (
            next((i for i in scenario.case.images if i.id == image_id), None) if scenario else None
        )
        if ref is None or ref.path is None or not Path(ref.path).is_file():
            missing += 1
            continue
        try:
            caption = " ".join(filter(None, [image_id, ref.modality, ref.caption]))
            assets[key] = image_asset(Path(ref.path), caption)
        except ValueError:
            missing += 1
    if missing:
        notes.append(f"{results.label}: {missing} image(s) not included (file not found)")
    return assets


def transcripts_and_images(
    results: RunResults, events: dict[str, list[Event]], notes: list[str]
) -> tuple[list[EpisodeTranscript], dict[str, ImageAsset]]:
    transcripts = []
    wanted: dict[str, str] = {}
    for record in results.records:
        found = events.get(record.episode_id, [])
        transcript, images = _transcript(results, record.episode_id, found)
        transcripts.append(transcript)
        if any(isinstance(e, ImageShown) for e in found):
            wanted |= images
    return transcripts, _images(results, wanted, notes)


def report_from_runs(
    runs: Sequence[RunResults],
    events: Sequence[dict[str, list[Event]]],
    title: str,
    settings: Settings | None = None,
) -> ReportData:
    """The report of stored runs (labels distinct), each with all its episodes' events."""
    notes: list[str] = [f"{r.label}: {note}" for r in runs for note in r.notes]
    transcripts: list[EpisodeTranscript] = []
    images: dict[str, ImageAsset] = {}
    for results, found in zip(runs, events, strict=True):
        more, assets = transcripts_and_images(results, found, notes)
        transcripts += more
        images |= assets
    outcomes = [o for r in runs for o in r.outcomes]
    data = assemble_report(
        [run_info(r) for r in runs], outcomes, transcripts, images, title=title, settings=settings
    )
    comparison = data.comparison
    if comparison is not None:
        comparison = note_prompt_differences(comparison, {r.label: r.stored for r in runs})
    return data.model_copy(update={"notes": [*data.notes, *notes], "comparison": comparison})
