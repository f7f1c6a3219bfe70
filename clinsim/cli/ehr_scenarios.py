"""`clinsim scenarios build-mimic`: scenarios from an EHR database's admissions.

The patient story is written by a template, or by a model given with `--writer` (an `hf/...`
address, or `openai/...` served on this machine: MIMIC data must not go to remote services).
With `--notes DIR` (MIMIC-IV-Note: DIR/note/discharge.csv.gz, and radiology.csv.gz where
present) each admission's discharge summary tells the story instead, and only admissions with
one are built; unusable note rows are listed and the rest builds.
"""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path
from typing import Annotated
from urllib.parse import urlparse

import duckdb
import typer

from clinsim.agents.models.base import ChatMessage, ChatModel, ChatRequest, ModelSettings
from clinsim.agents.models.registry import load_model, split_address
from clinsim.cli.errors import fail
from clinsim.environments.ehr.demo import DEMO_NOTES_SET, DEMO_SET, DEMO_SOURCE, demo_ehr_path
from clinsim.scenarios.loader import write_scenarios
from clinsim.scenarios.mimic import (
    MimicBuild,
    MimicScenarioError,
    MimicSetInfo,
    Phrase,
    build_mimic,
    template_phrase,
)
from clinsim.scenarios.sets import demo_notes_dir

DEMO_INFO = MimicSetInfo(
    set_name=DEMO_SET,
    license="ODbL-1.0",
    attribution=(
        "MIMIC-IV Clinical Database Demo v2.2 (Johnson et al. 2023, PhysioNet, "
        "doi:10.13026/dp1f-ex47), ODbL 1.0; see clinsim/environments/ehr/data/mimic-iv-demo"
    ),
)

DEMO_NOTES_INFO = MimicSetInfo(
    set_name=DEMO_NOTES_SET,
    license="ODbL-1.0 (MIMIC-IV demo EHR data); MIT (synthetic notes)",
    attribution=(
        "MIMIC-IV Clinical Database Demo v2.2 (Johnson et al. 2023, PhysioNet, "
        "doi:10.13026/dp1f-ex47), ODbL 1.0; discharge summaries and radiology reports are "
        "synthetic, written for clinsim in MIMIC-IV-Note's format (MIT); see "
        "clinsim/scenarios/data/mimic-iv-demo-notes"
    ),
)
NOTE_ATTRIBUTION = "MIMIC-IV-Note (Johnson et al., PhysioNet, doi:10.13026/1n74-ne17)"
MAX_PROBLEMS_SHOWN = 20

WRITER_PROMPT = (
    "Rewrite the facts below as the short account a patient would give a doctor at admission, "
    "in the first person, in two to four sentences. Use only these facts. Do not add symptoms, "
    "diagnoses, test results or a reason for this admission that the facts do not state."
)

Opt = typer.Option


def _is_local(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def model_phrase(model: ChatModel, max_tokens: int = 300) -> Phrase:
    """A writer that asks `model` to phrase the facts; falls back to the facts on empty output."""

    def phrase(facts_text: str) -> str:
        request = ChatRequest(
            messages=[
                ChatMessage(role="system", content=WRITER_PROMPT),
                ChatMessage(role="user", content=facts_text),
            ],
            temperature=0.0,
            max_tokens=max_tokens,
        )
        reply = asyncio.run(model.chat(request)).text.strip()
        return reply or facts_text

    return phrase


def _writer(address: str | None, base_urls: list[str]) -> Phrase:
    if address is None:
        return template_phrase
    provider, _ = split_address(address)
    if provider not in ("hf", "openai", "tiny"):
        fail(f"--writer {address!r}: use a local model (hf/... or openai/... on this machine)")
    if provider == "openai":
        if not base_urls:
            fail("--writer openai/...: give --base-url of the local server (http://127.0.0.1:PORT)")
        remote = [url for url in base_urls if not _is_local(url)]
        if remote:
            fail(f"--base-url {remote[0]}: MIMIC data must not be sent to remote services")
    try:
        model = load_model(address, ModelSettings(base_urls=base_urls))
    except (ValueError, ImportError) as exc:
        fail(f"--writer {address!r}: {exc}")
    return model_phrase(model)


def _set_info(ehr: Path, set_name: str | None, notes: Path | None = None) -> MimicSetInfo:
    """The demo's name and licence when the database is the bundled demo; else MIMIC-IV's.
    With notes: the bundled synthetic notes' set, or `<set>-notes` under MIMIC-IV-Note's
    licence."""
    try:
        with duckdb.connect(str(ehr), read_only=True) as con:
            row = con.execute("SELECT value FROM ehr_metadata WHERE key = 'source'").fetchone()
    except duckdb.Error:
        row = None
    is_demo = bool(row and row[0] == DEMO_SOURCE)
    info = DEMO_INFO if is_demo else MimicSetInfo()
    if notes is not None and is_demo and notes.resolve() == demo_notes_dir().resolve():
        info = DEMO_NOTES_INFO
    elif notes is not None:
        attribution = f"{info.attribution}; {NOTE_ATTRIBUTION}"
        license = "PhysioNet Credentialed Health Data License 1.5.0 (notes)"
        if is_demo:
            license = f"{info.license} (EHR data); {license}"
        info = MimicSetInfo(f"{info.set_name}-notes", license, attribution)
    if set_name:
        info = MimicSetInfo(set_name, info.license, info.attribution)
    return info


def _report_notes(build: MimicBuild) -> None:
    """Unusable note rows and left-out notes on stderr; cases whose text names the
    diagnosis, with where."""
    notes = build.notes
    if notes is None:
        return
    problems = notes.problems
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        typer.echo(f"warning: {problem}", err=True)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        typer.echo(f"warning: ... and {len(problems) - MAX_PROBLEMS_SHOWN} more", err=True)
    for file, read in notes.reads.items():
        skipped = [
            (read.other_patients, "of patients not in the EHR"),
            (read.without_admission, "without an admission"),
            (read.addenda, "addenda"),
        ]
        left_out = ", ".join(f"{n} {why}" for n, why in skipped if n)
        if left_out:
            typer.echo(f"{file}: skipped {left_out}", err=True)
    for scenario_id, paths in build.leaks.items():
        typer.echo(f"{scenario_id}: tagged diagnosis-in-note ({', '.join(paths)})", err=True)


def build_mimic_command(
    out: Annotated[Path, Opt(help="Scenario file to write (JSONL, clinsim format).")],
    ehr: Annotated[
        Path | None,
        Opt(help="EHR database (clinsim ehr build); default: the bundled MIMIC-IV demo."),
    ] = None,
    writer: Annotated[
        str | None,
        Opt(help="Local model that phrases the patient story (hf/... or openai/...)."),
    ] = None,
    base_url: Annotated[
        list[str] | None, Opt(help="Local server URL for an openai/... writer (repeatable).")
    ] = None,
    limit: Annotated[int | None, Opt(min=1, help="At most this many scenarios.")] = None,
    set_name: Annotated[
        str | None, Opt(help="Scenario id prefix (default mimic-iv, or mimic-iv-demo).")
    ] = None,
    notes: Annotated[
        Path | None,
        Opt(
            help="MIMIC-IV-Note folder (note/discharge.csv.gz, note/radiology.csv.gz): "
            "cases from discharge summaries, only admissions that have one."
        ),
    ] = None,
) -> None:
    """Write OSCE-style scenarios from an EHR's admissions (index time = admission time)."""
    db = ehr or demo_ehr_path()
    phrase = _writer(writer, base_url or [])
    try:
        build = build_mimic(db, _set_info(db, set_name, notes), limit, phrase, notes)
    except MimicScenarioError as exc:
        fail(str(exc))
    _report_notes(build)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_scenarios(build.scenarios, out)
    typer.echo(f"wrote {len(build.scenarios)} scenarios to {out}")
