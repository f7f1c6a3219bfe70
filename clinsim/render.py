"""Terminal rendering of events, transcripts and result tables (rich)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from pydantic import BaseModel
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from clinsim.environments.events import (
    DiagnosisJudged,
    DiagnosisSubmitted,
    DoctorReplyRejected,
    EpisodeEnded,
    EpisodeStarted,
    Event,
    ImageShown,
    ModelCalled,
    PatientAnswered,
    PatientLeakBlocked,
    QuestionAsked,
    TestOrdered,
    TestReported,
    ToolCalled,
    ToolReturned,
)

if TYPE_CHECKING:
    from clinsim.environments.run_store import EpisodeRecord

_STYLE: dict[type[BaseModel], tuple[str, str]] = {
    QuestionAsked: ("Doctor", "bold cyan"),
    PatientAnswered: ("Patient", "green"),
    TestOrdered: ("Doctor", "bold cyan"),
    TestReported: ("Result", "yellow"),
    ToolCalled: ("Doctor", "bold cyan"),
    ToolReturned: ("Tool", "magenta"),
    ImageShown: ("Image", "blue"),
    DiagnosisSubmitted: ("Doctor", "bold cyan"),
    DiagnosisJudged: ("Judge", "bold"),
    DoctorReplyRejected: ("Rejected", "red"),
    PatientLeakBlocked: ("Blocked", "red"),
    ModelCalled: ("Model", "dim"),
    EpisodeStarted: ("Start", "dim"),
    EpisodeEnded: ("End", "bold"),
}


def event_text(event: Event) -> str:
    """One line (or a few) describing an event for a person."""
    match event:
        case QuestionAsked(question=text) | PatientAnswered(answer=text):
            return text
        case TestOrdered():
            return f"orders {event.test}" + (f" (${event.cost:,.0f})" if event.cost else "")
        case TestReported(result=text) | ToolReturned(result=text):
            return text
        case ToolCalled():
            args = ", ".join(f"{k}={v!r}" for k, v in event.arguments.items())
            return f"{event.tool}({args})"
        case ImageShown():
            return event.image_id + (f" ({event.modality})" if event.modality else "")
        case DiagnosisSubmitted():
            differential = "; ".join(event.differential)
            extra = f"  [differential: {differential}]" if differential else ""
            return f"DIAGNOSIS: {event.diagnosis}{extra}"
        case DiagnosisJudged():
            mark = "correct" if event.match else "incorrect"
            return f"{mark} ({event.judge}): {event.reason}"
        case DoctorReplyRejected():
            return f"{event.error}: {event.reply[:200]!r}"
        case PatientLeakBlocked():
            return event.reply
        case ModelCalled():
            state = f" error: {event.error}" if event.error else ""
            tokens = sum(event.usage.values())
            return f"{event.role} -> {event.model} ({tokens} tokens, {event.latency_s:.2f}s){state}"
        case EpisodeStarted():
            return f"{event.scenario_id} seed={event.seed} max_turns={event.max_turns}"
        case EpisodeEnded():
            return f"{event.reason}" + (f": {event.detail}" if event.detail else "")
    return event.model_dump_json()


def render_event(
    console: Console, event: Event, prefix: str = "", show_models: bool = False
) -> None:
    if isinstance(event, ModelCalled) and not show_models:
        return
    who, style = _STYLE.get(type(event), (event.kind, ""))
    line = Text()
    if prefix:
        line.append(f"{prefix} ", style="dim")
    line.append(f"[{event.turn:>2}] ", style="dim")
    line.append(f"{who}: ", style=style)
    line.append(event_text(event))
    console.print(line)


def render_transcript(console: Console, events: list[Event], show_models: bool = False) -> None:
    turn = -1
    for event in events:
        if event.turn != turn and event.turn > 0:
            turn = event.turn
            console.rule(f"turn {turn}", style="dim")
        render_event(console, event, show_models=show_models)


def episodes_table(records: list[EpisodeRecord], title: str = "Episodes", width: int = 80) -> Table:
    """One row per episode; diagnosis and reference are cut to fit `width` columns."""
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    fixed = {
        "episode": max((len(r.episode_id) for r in records), default=7),
        "end": max((len(r.termination) for r in records), default=3),
        "ok": 3,
        "turns": 5,
        "tests": 5,
        "cost": 6,
    }
    names = max(10, (width - sum(fixed.values()) - 2 * 8 - 2) // 2)
    for name in ("episode", "end", "diagnosis", "reference", "ok", "turns", "tests", "cost"):
        right = name in ("turns", "tests", "cost")
        table.add_column(
            name,
            no_wrap=True,
            overflow="ellipsis",
            min_width=fixed.get(name),
            max_width=names if name in ("diagnosis", "reference") else None,
            justify="right" if right else "left",
        )
    for r in records:
        table.add_row(  # Text cells: diagnoses come from models and files, never markup
            Text(r.episode_id),
            Text(r.termination),
            Text(r.diagnosis or "-"),
            Text(r.reference),
            "[green]yes[/]" if r.correct else "[red]no[/]",
            str(r.turns),
            str(r.tests),
            f"{r.cost:,.0f}",
        )
    return table


def summary_table(records: list[EpisodeRecord], title: str = "Summary") -> Table:
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    n = len(records)
    correct = sum(r.correct for r in records)
    table.add_row("episodes", str(n))
    table.add_row("accuracy", f"{correct / n:.1%} ({correct}/{n})" if n else "-")
    if n:
        table.add_row("mean turns", f"{sum(r.turns for r in records) / n:.1f}")
        table.add_row("mean tests", f"{sum(r.tests for r in records) / n:.1f}")
        table.add_row("mean cost", f"{sum(r.cost for r in records) / n:,.0f}")
        for reason, count in sorted(Counter(r.termination for r in records).items()):
            table.add_row(f"ended: {reason}", str(count))
    return table
