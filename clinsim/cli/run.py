"""`clinsim run`: play scenarios, score and store every episode."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from clinsim.agents.models.base import ModelError, ModelSettings
from clinsim.agents.registry import AgentOptions
from clinsim.baseline_reference import baseline_note
from clinsim.cli.errors import fail
from clinsim.cli.options import folder, number, parse_key_values
from clinsim.cli.terminal import terminal_responder
from clinsim.environments.events import Event
from clinsim.render import episodes_table, render_event, summary_table
from clinsim.runner import RunConfig, Runner, episode_ids, new_run_id
from clinsim.scenarios.errors import ScenarioLoadError, UnknownScenarioSet
from clinsim.scenarios.model import Scenario
from clinsim.scenarios.sets import load_scenarios
from clinsim.store import EpisodeRecord, RunStore, StoreError
from clinsim.tools.base import ToolSettings

Opt = typer.Option
MODEL_TIMEOUT = number(0, above=True, maximum=86_400, unit="seconds")


def run(
    sources: Annotated[
        list[str] | None, typer.Argument(help="Bundled set names or scenario files.")
    ] = None,
    doctor: Annotated[str, Opt(help="baseline, oracle, scripted/PATH or a model address.")] = (
        "baseline"
    ),
    patient: Annotated[str, Opt(help="facts or a model address.")] = "facts",
    judge: Annotated[
        list[str] | None, Opt(help="rules and/or a model address; repeat for several.")
    ] = None,
    measurement: Annotated[str, Opt(help="lookup or a model address.")] = "lookup",
    limit: Annotated[int | None, Opt(min=1, help="Run only the first N scenarios.")] = None,
    max_turns: Annotated[int, Opt(min=1, help="Doctor turn budget.")] = 20,
    seed: Annotated[int, Opt(help="Run seed (episode seeds derive from it).")] = 0,
    out: Annotated[
        Path | None, Opt(parser=folder, help="Run directory (default runs/<run-id>).")
    ] = None,
    max_concurrency: Annotated[int, Opt(min=1, help="Episodes run at once.")] = 1,
    budget: Annotated[
        float | None,
        Opt(parser=number(0, unit="USD"), help="Stop an episode once tests cost more (USD)."),
    ] = None,
    prices: Annotated[Path | None, Opt(help="Replace the default test price table (JSON).")] = None,
    stream: Annotated[bool, Opt(help="Print each episode's transcript live.")] = False,
    resume: Annotated[bool, Opt(help="Skip episodes already finished in --out.")] = False,
    doctor_protocol: Annotated[str, Opt(help="json, tools or agentclinic.")] = "json",
    doctor_bias: Annotated[str | None, Opt(help="A bias name or free text.")] = None,
    patient_bias: Annotated[str | None, Opt(help="A bias name or free text.")] = None,
    normal_readings: Annotated[
        bool, Opt(help="Answer absent tests with NORMAL READINGS (AgentClinic).")
    ] = False,
    images_upfront: Annotated[bool, Opt(help="Show images at the start, not on request.")] = False,
    base_url: Annotated[
        list[str] | None, Opt(help="OpenAI-compatible server URL; repeat for round-robin.")
    ] = None,
    api_key: Annotated[str | None, Opt(envvar="CLINSIM_API_KEY", help="Server API key.")] = None,
    timeout: Annotated[
        float, Opt(parser=MODEL_TIMEOUT, help="Per model call timeout (s).")
    ] = 120.0,
    temperature: Annotated[
        float, Opt(parser=number(0), help="Sampling temperature for model roles.")
    ] = 0.0,
    ehr: Annotated[Path | None, Opt(help="EHR database for scenarios with an EHR link.")] = None,
    image_model: Annotated[str | None, Opt(help="SigLIP/MedSigLIP checkpoint dir.")] = None,
    image_dir: Annotated[Path | None, Opt(help="Folder holding scenario images.")] = None,
    image_cache: Annotated[
        Path | None, Opt(help="Keep image embeddings on disk here, across runs.")
    ] = None,
    model_option: Annotated[
        list[str] | None,
        Opt(help="Backend setting KEY=VALUE (tool_choice, chat_template, gguf_file, ...)."),
    ] = None,
    agent_option: Annotated[
        list[str] | None,
        Opt(help="Agent setting KEY=VALUE (multimodal, repair_attempts, max_tokens, ...)."),
    ] = None,
) -> None:
    """Run scenarios (default: the bundled demo set with the offline agents)."""
    given = dict(locals())  # every option, by name
    console = Console()
    try:
        config = _build_config(given)
        scenarios = load_scenarios(config.sources, config.tools.image_dir)
    except (ScenarioLoadError, UnknownScenarioSet, ValueError) as exc:
        fail(str(exc))
    if limit:
        scenarios = scenarios[:limit]
    interactive = "human" in (doctor, patient)
    _execute(console, config, scenarios, out, resume, stream or interactive, interactive)


FLAGGED = {
    "base_urls": "--base-url",
    "api_key": "--api-key",
    "timeout_s": "--timeout",
    "doctor_protocol": "--doctor-protocol",
    "doctor_bias": "--doctor-bias",
    "patient_bias": "--patient-bias",
    "temperature": "--temperature",
    "normal_readings": "--normal-readings",
    "prices": "--prices",
}
"""Settings with a flag of their own: --model-option/--agent-option must not set them."""


def _extras(items: list[str] | None, flag: str) -> dict[str, Any]:
    extras = parse_key_values(items, flag)
    for key in extras:
        if key in FLAGGED:
            raise ValueError(f"{flag} {key}=...: use {FLAGGED[key]} instead")
    return extras


def _build_config(given: dict[str, Any]) -> RunConfig:
    prices = given["prices"]
    model_extras = _extras(given["model_option"], "--model-option")
    agent_extras = _extras(given["agent_option"], "--agent-option")
    same = ("doctor", "patient", "measurement", "max_turns", "seed", "limit", "budget")
    return RunConfig(
        sources=given["sources"] or ["demo"],
        judges=given["judge"] or ["rules"],
        max_concurrency=given["max_concurrency"],
        images_upfront=given["images_upfront"],
        prices=prices,
        options=AgentOptions(
            doctor_protocol=given["doctor_protocol"],
            doctor_bias=given["doctor_bias"],
            patient_bias=given["patient_bias"],
            temperature=given["temperature"],
            normal_readings=given["normal_readings"],
            prices=str(prices) if prices else None,
            **agent_extras,
        ),
        models=ModelSettings(
            base_urls=given["base_url"] or [],
            api_key=given["api_key"],
            timeout_s=given["timeout"],
            **model_extras,
        ),
        tools=ToolSettings(
            ehr_db=given["ehr"],
            image_model=given["image_model"],
            image_dir=given["image_dir"],
            image_cache_dir=given["image_cache"],
        ),
        **{name: given[name] for name in same},
    )


def _execute(
    console: Console,
    config: RunConfig,
    scenarios: list[Scenario],
    out: Path | None,
    resume: bool,
    stream: bool,
    interactive: bool,
) -> None:
    if resume and out is None:
        fail("--resume needs --out DIR: the run directory to complete")
    run_id = out.name if out else new_run_id()
    run_dir = out or Path("runs") / run_id
    store = RunStore(run_dir)
    try:
        skip = _resumable(store, config) if resume else _fresh(store)
        if skip:
            run_id = store.run_info()["run_id"]
    except StoreError as exc:
        fail(str(exc))

    def show_event(episode_id: str, event: Event) -> None:
        if interactive and event.kind == "patient_leak_blocked":
            return  # its text names the diagnosis: never in front of a person playing doctor
        render_event(console, event, prefix=episode_id)

    # a person at the terminal plays one episode at a time
    runner_config = config.model_copy(update={"max_concurrency": 1}) if interactive else config
    try:
        runner = Runner(
            runner_config,
            store,
            run_id,
            on_event=show_event if stream else None,
            respond=terminal_responder(console) if interactive else None,
        )
        _validate_addresses(runner, scenarios)
    except (ValueError, OSError, ModelError) as exc:
        fail(str(exc))
    try:
        if not skip:
            store.create(run_id, config.model_dump(mode="json"))
    except (StoreError, OSError) as exc:
        fail(str(exc))
    played = _run_with_progress(console, runner, scenarios, skip, stream)
    for problem in runner.write_errors:
        console.print(Text(f"not stored: {problem}", style="red"))
    records = store.episodes()
    if len(records) <= 40:
        console.print(episodes_table(records, width=console.width))
    console.print(summary_table(records, title=f"Run {run_id}"))
    if config.doctor == "baseline":
        console.print(Text(baseline_note(config.sources), style="dim"))
    console.print(Text(f"Run store: {store.path}"), soft_wrap=True)
    console.print(Text(f"Show it again: clinsim show {run_dir}"), soft_wrap=True)
    _fail_if_all_model_errors(played)


def _fresh(store: RunStore) -> set[str]:
    if store.path.exists():
        raise StoreError(
            f"{store.run_dir} already holds a run: use --resume to complete it, "
            "or choose another --out"
        )
    return set()


RESUME_MAY_CHANGE = {"limit", "max_concurrency", "sources"}


def _set(value: Any) -> Any:
    """A config without unset (None) entries, for comparing two runs' settings."""
    if isinstance(value, dict):
        return {k: _set(v) for k, v in value.items() if v is not None}
    return value


def _resumable(store: RunStore, config: RunConfig) -> set[str]:
    """Finished episodes of a run to complete; its settings must match the new command's."""
    if not store.path.exists():
        return set()
    stored = _set(store.run_info()["config"])
    now = _set(config.model_dump(mode="json"))
    changed = sorted(k for k in now if k not in RESUME_MAY_CHANGE and stored.get(k) != now[k])
    if changed:
        raise StoreError(
            f"{store.run_dir} was run with other settings ({', '.join(changed)}); "
            "resume it with the same options"
        )
    return store.finished_ids()


def _validate_addresses(runner: Runner, scenarios: list[Scenario]) -> None:
    """Build every role once before the run, so a bad address fails fast and clearly, and ask
    every model server whether it answers (a dead one stops the run with its address)."""
    if scenarios:
        runner.parts(scenarios[0], "check", 0)
        asyncio.run(runner.pool.check())


def _fail_if_all_model_errors(records: list[EpisodeRecord]) -> None:
    """A run whose every episode ended in a model error measured nothing: say why, exit 1."""
    if not records or any(r.termination != "model_error" for r in records):
        return
    details = Counter(r.detail.strip().splitlines()[0] if r.detail.strip() else "" for r in records)
    detail, count = details.most_common(1)[0]
    same = "" if count == len(records) else f" ({count} of them: the first below)"
    fail(f"every episode ({len(records)}) ended with a model error{same}: {detail}", code=1)


def _run_with_progress(
    console: Console,
    runner: Runner,
    scenarios: list[Scenario],
    skip: set[str],
    stream: bool,
) -> list[EpisodeRecord]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("correct {task.fields[correct]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=stream) as progress:
        todo = sum(eid not in skip for eid in episode_ids(scenarios))
        task = progress.add_task("episodes", total=todo, correct=0)
        correct = 0

        def done(record: EpisodeRecord) -> None:
            nonlocal correct
            correct += record.correct
            progress.update(task, advance=1, correct=correct)

        try:
            return asyncio.run(runner.run(scenarios, skip=skip, on_done=done))
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: finished episodes are stored (use --resume)[/]")
            raise typer.Exit(130) from None
