"""`clinsim scenarios build-mimic`: scenarios from an EHR database's admissions.

The patient story is written by a template, or by a model given with `--writer` (an `hf/...`
address, or `openai/...` served on this machine: MIMIC data must not go to remote services).
"""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path
from typing import Annotated
from urllib.parse import urlparse

import duckdb
import typer

from clinsim.agents.models.base import ChatMessage, ChatModel, ChatRequest, ModelError
from clinsim.agents.models.registry import load_model, split_address
from clinsim.cli.errors import fail
from clinsim.environments.ehr.demo import DEMO_SET, DEMO_SOURCE, demo_ehr_path
from clinsim.plugins import PluginError
from clinsim.scenarios.loader import write_scenarios
from clinsim.scenarios.mimic import (
    MimicScenarioError,
    MimicSetInfo,
    Phrase,
    build_mimic_scenarios,
    template_phrase,
)

DEMO_INFO = MimicSetInfo(
    set_name=DEMO_SET,
    license="ODbL-1.0",
    attribution=(
        "MIMIC-IV Clinical Database Demo v2.2 (Johnson et al. 2023, PhysioNet, "
        "doi:10.13026/dp1f-ex47), ODbL 1.0; see clinsim/environments/ehr/data/mimic-iv-demo"
    ),
)

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
    if provider not in ("hf", "openai"):
        fail(f"--writer {address!r}: use a local model (hf/... or openai/... on this machine)")
    if provider == "openai":
        if not base_urls:
            fail("--writer openai/...: give --base-url of the local server (http://127.0.0.1:PORT)")
        remote = [url for url in base_urls if not _is_local(url)]
        if remote:
            fail(f"--base-url {remote[0]}: MIMIC data must not be sent to remote services")
    try:
        model = load_model(address, {"base_urls": base_urls} if provider == "openai" else {})
    except (ValueError, ImportError, PluginError, ModelError) as exc:
        fail(f"--writer {address!r}: {exc}")
    return model_phrase(model)


def _set_info(ehr: Path, set_name: str | None) -> MimicSetInfo:
    """The demo's name and licence when the database is the bundled demo; else MIMIC-IV's."""
    try:
        with duckdb.connect(str(ehr), read_only=True) as con:
            row = con.execute("SELECT value FROM ehr_metadata WHERE key = 'source'").fetchone()
    except duckdb.Error:
        row = None
    info = DEMO_INFO if row and row[0] == DEMO_SOURCE else MimicSetInfo()
    if set_name:
        info = MimicSetInfo(set_name, info.license, info.attribution)
    return info


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
) -> None:
    """Write OSCE-style scenarios from an EHR's admissions (index time = admission time)."""
    db = ehr or demo_ehr_path()
    phrase = _writer(writer, base_url or [])
    try:
        scenarios = build_mimic_scenarios(db, _set_info(db, set_name), limit, phrase)
    except MimicScenarioError as exc:
        fail(str(exc))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_scenarios(scenarios, out)
    typer.echo(f"wrote {len(scenarios)} scenarios to {out}")
