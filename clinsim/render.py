"""Terminal rendering of events, transcripts and result tables (rich)."""

from __future__ import annotations

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
    DoctorReplyRepaired,
    EpisodeEnded,
    EpisodeStarted,
    Event,
    ImageShown,
    ModelCalled,
    PatientAnswered,
    PatientLeakBlocked,
    QuestionAsked,
    SimulatorFault,
    TestOrdered,
    TestReported,
    ToolCalled,
    ToolReturned,
)
from clinsim.environments.faults import (
    MEASUREMENT_FAULTS,
    PATIENT_FAULTS,
    FaultSummary,
    spoiled,
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
    DoctorReplyRepaired: ("Read", "dim"),
    PatientLeakBlocked: ("Blocked", "red"),
    SimulatorFault: ("Simulator fault", "bold yellow"),
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
            grade = f", {event.grade.replace('_', ' ')}" if event.grade else ""
            return f"{mark} ({event.judge}{grade}): {event.reason}"
        case DoctorReplyRejected():
            return f"{event.error}: {event.reply[:200]!r}"
        case DoctorReplyRepaired():
            return "; ".join(event.repairs)
        case PatientLeakBlocked():
            return event.reply
        case SimulatorFault():
            return f"{event.fault} ({event.role}): {event.evidence}"
        case ModelCalled():
            state = f" error: {event.error}" if event.error else ""
            tokens = sum(event.usage.values()) if event.usage else 0
            return f"{event.role} -> {event.model} ({tokens} tokens, {event.latency_s:.2f}s){state}"
        case EpisodeStarted():
            return f"{event.scenario_id} seed={event.seed} max_turns={event.max_turns}"
        case EpisodeEnded():
            return f"{event.reason}" + (f": {event.detail}" if event.detail else "")
    return event.model_dump_json()


def render_event(
    console: Console, event: Event, prefix: str = "", show_models: bool = False
) -> None:
    if isinstance(event, ModelCalled | DoctorReplyRepaired) and not show_models:
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


def _verdict(record: EpisodeRecord, faults: FaultSummary) -> str:
    if record.correct:
        return "[green]yes[/]"
    return "[yellow]sim[/]" if spoiled(record.correct, faults) else "[red]no[/]"


def episodes_table(
    records: list[EpisodeRecord],
    title: str = "Episodes",
    width: int = 80,
    faults: dict[str, FaultSummary] | None = None,
) -> Table:
    """One row per episode; the diagnosis and the reference take the rest of `width` columns
    and wrap there, never cut. With `faults`, `ok` says `sim` for a wrong episode spoiled by
    the simulator, and `sim` counts the episode's simulator faults."""
    faults = faults if faults is not None else {}
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name in ("episode", "end", "ok", "turns", "tests", "cost USD", "sim"):
        right = name in ("turns", "tests", "cost USD", "sim")
        table.add_column(name, no_wrap=True, justify="right" if right else "left")
    table.add_column("diagnosis / reference", ratio=1, min_width=16, overflow="fold")
    table.width = width
    for r in records:
        found = faults.get(r.episode_id, FaultSummary())
        names = Text(r.diagnosis or "-")  # Text, not markup: diagnoses come from models and files
        names.append(f"\nref: {r.reference}", style="dim")
        table.add_row(
            Text(r.episode_id),
            Text(r.termination),
            _verdict(r, found),
            str(r.turns),
            str(r.tests),
            f"{r.cost:,.0f}",
            str(found.total) if found.total else "-",
            names,
        )
    return table


def faults_table(
    records: list[EpisodeRecord], faults: dict[str, FaultSummary], title: str = "Simulator"
) -> Table:
    """Wrong episodes split into the doctor's and the simulator's, and each fault's rate."""
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    if records:
        _fault_rows(table, records, faults)
    return table


def _fault_rows(
    table: Table, records: list[EpisodeRecord], faults: dict[str, FaultSummary]
) -> None:
    """Wrong episodes split into the doctor's and the simulator's, and each fault's rate."""
    n = len(records)
    found = [faults.get(r.episode_id, FaultSummary()) for r in records]
    wrong = [r for r in records if not r.correct]
    sim = sum(spoiled(r.correct, f) for r, f in zip(records, found, strict=True))
    table.add_row("wrong: doctor", f"{len(wrong) - sim} ({(len(wrong) - sim) / n:.1%})")
    table.add_row("wrong: spoiled by the simulator", f"{sim} ({sim / n:.1%})")
    with_faults = sum(1 for f in found if f.total)
    table.add_row("episodes with simulator faults", f"{with_faults} ({with_faults / n:.1%})")
    answers = sum(f.answers for f in found)
    reports = sum(f.reports for f in found)
    for kind, base, label in [
        *((k, answers, "patient answers") for k in PATIENT_FAULTS),
        *((k, reports, "test reports") for k in MEASUREMENT_FAULTS),
    ]:
        count = sum(f.faults[kind] for f in found)
        rate = f" ({count / base:.1%} of {base} {label})" if base else ""
        table.add_row(f"fault: {kind}", f"{count}{rate}")
