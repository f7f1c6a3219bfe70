"""Terminal rendering of events, transcripts and result tables (rich)."""

from __future__ import annotations

from collections import Counter

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from clinsim.environments.events import Event
from clinsim.environments.faults import (
    MEASUREMENT_FAULTS,
    PATIENT_FAULTS,
    FaultSummary,
    spoiled,
)
from clinsim.store import EpisodeRecord

_STYLE = {
    "question_asked": ("Doctor", "bold cyan"),
    "patient_answered": ("Patient", "green"),
    "test_ordered": ("Doctor", "bold cyan"),
    "test_reported": ("Result", "yellow"),
    "tool_called": ("Doctor", "bold cyan"),
    "tool_returned": ("Tool", "magenta"),
    "image_shown": ("Image", "blue"),
    "diagnosis_submitted": ("Doctor", "bold cyan"),
    "diagnosis_judged": ("Judge", "bold"),
    "doctor_reply_rejected": ("Rejected", "red"),
    "doctor_reply_repaired": ("Read", "dim"),
    "patient_leak_blocked": ("Blocked", "red"),
    "simulator_fault": ("Simulator fault", "bold yellow"),
    "model_called": ("Model", "dim"),
    "episode_started": ("Start", "dim"),
    "episode_ended": ("End", "bold"),
}


def event_text(event: Event) -> str:
    """One line (or a few) describing an event for a person."""
    e = event
    if e.kind == "question_asked":
        return e.question
    if e.kind == "patient_answered":
        return e.answer
    if e.kind == "test_ordered":
        return f"orders {e.test}" + (f" (${e.cost:,.0f})" if e.cost else "")
    if e.kind == "test_reported":
        return e.result
    if e.kind == "tool_called":
        args = ", ".join(f"{k}={v!r}" for k, v in e.arguments.items())
        return f"{e.tool}({args})"
    if e.kind == "tool_returned":
        return e.result
    if e.kind == "image_shown":
        return f"{e.image_id}" + (f" ({e.modality})" if e.modality else "")
    if e.kind == "diagnosis_submitted":
        extra = f"  [differential: {'; '.join(e.differential)}]" if e.differential else ""
        return f"DIAGNOSIS: {e.diagnosis}{extra}"
    if e.kind == "diagnosis_judged":
        mark = "correct" if e.match else "incorrect"
        return f"{mark} ({e.judge}): {e.reason}"
    if e.kind == "doctor_reply_rejected":
        return f"{e.error}: {e.reply[:200]!r}"
    if e.kind == "doctor_reply_repaired":
        return "; ".join(e.repairs)
    if e.kind == "patient_leak_blocked":
        return e.reply
    if e.kind == "simulator_fault":
        return f"{e.fault} ({e.role}): {e.evidence}"
    if e.kind == "model_called":
        state = f" error: {e.error}" if e.error else ""
        tokens = sum(e.usage.values()) if e.usage else 0
        return f"{e.role} -> {e.model} ({tokens} tokens, {e.latency_s:.2f}s){state}"
    if e.kind == "episode_started":
        return f"{e.scenario_id} seed={e.seed} max_turns={e.max_turns}"
    if e.kind == "episode_ended":
        return f"{e.reason}" + (f": {e.detail}" if e.detail else "")
    return e.model_dump_json()


def render_event(
    console: Console, event: Event, prefix: str = "", show_models: bool = False
) -> None:
    if event.kind in ("model_called", "doctor_reply_repaired") and not show_models:
        return
    who, style = _STYLE.get(event.kind, (event.kind, ""))
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


def summary_table(
    records: list[EpisodeRecord],
    title: str = "Summary",
    faults: dict[str, FaultSummary] | None = None,
) -> Table:
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
        table.add_row("mean cost (USD)", f"{sum(r.cost for r in records) / n:,.0f}")
        for reason, count in sorted(Counter(r.termination for r in records).items()):
            table.add_row(f"ended: {reason}", str(count))
    if n and faults is not None:
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
