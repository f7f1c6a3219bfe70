"""What a report is made of: typed data, built from stored runs by the caller.

The renderer reads these models and nothing else: run settings, the statistics of
`clinsim.stats`, the episode table (`Outcome` rows) and one transcript per episode.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from clinsim.stats import Comparison, FrontierPoint, Outcome, RunSummary

Actor = Literal["doctor", "patient", "measurement", "tool", "judge", "system"]

EntryKind = Literal[
    "start",  # the episode began (scenario, seed, agents)
    "question",  # the doctor asked the patient
    "answer",  # the patient answered
    "test_order",  # the doctor ordered a test or examination (data: test, cost)
    "test_result",  # the result came back (data: test, available)
    "tool_call",  # the doctor called a tool (data: tool, arguments)
    "tool_result",  # what the tool returned (data: tool, error, data)
    "image",  # an image was shown to the doctor (images: its key)
    "diagnosis",  # the doctor's diagnosis (data: differential)
    "verdict",  # a judge's verdict (data: judge, correct)
    "model_call",  # one model call, shown collapsed (data: role, model, usage, latency_s)
    "rejected",  # a reply no parser could read, or a withheld patient reply
    "end",  # why the episode ended (data: reason)
    "note",  # anything else worth showing
]


class TranscriptEntry(BaseModel):
    """One line of an episode's transcript as the report shows it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    turn: int = Field(ge=0)
    actor: Actor
    kind: EntryKind
    text: str
    data: dict[str, JsonValue] = Field(default_factory=dict)
    images: list[str] = Field(default_factory=list, description="Keys of ReportData.images.")


class EpisodeTranscript(BaseModel):
    """The transcript of the episode that `Outcome(run=run, episode_id=episode_id)` describes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run: str
    episode_id: str
    entries: list[TranscriptEntry]


class ImageAsset(BaseModel):
    """An image a transcript shows: a data: URI keeps the report self-contained."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    src: str = Field(description="data: URI (self-contained) or a path relative to the report.")
    caption: str = ""


class RunInfo(BaseModel):
    """A run or experiment cell as the configuration section shows it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run: str = Field(description="The label its outcomes carry.")
    config: dict[str, JsonValue] = Field(default_factory=dict)
    created: str | None = None


class ReportData(BaseModel):
    """Everything one report shows."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = "clinsim report"
    generated: str | None = None
    runs: list[RunInfo]
    summaries: list[RunSummary]
    comparison: Comparison | None = None
    frontier: list[FrontierPoint] = Field(default_factory=list)
    varying: list[str] = Field(
        default_factory=list,
        description="Settings whose values differ between the runs (the frontier is drawn "
        "when `budget` is one of them).",
    )
    outcomes: list[Outcome]
    transcripts: list[EpisodeTranscript] = Field(default_factory=list)
    images: dict[str, ImageAsset] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list, description="Shown under the summary.")
