"""`clinsim run`: play scenarios, score and store every episode."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import JsonValue
from rich.console import Console
from rich.text import Text

from clinsim.agents.models.base import ModelError
from clinsim.agents.models.registry import ModelPool
from clinsim.baseline_reference import baseline_note
from clinsim.cli import flags
from clinsim.cli.errors import fail
from clinsim.cli.flags import ModelFlags, key_values
from clinsim.cli.options import folder, number
from clinsim.cli.run_play import connect_executor, run_elsewhere, run_with_progress
from clinsim.cli.terminal import terminal_responder
from clinsim.components import Plan, resolve
from clinsim.config import RunConfig
from clinsim.environments.encounter import Presentation
from clinsim.environments.events import Event, PatientLeakBlocked
from clinsim.plugins import PluginError
from clinsim.scenarios.errors import RecordError, ScenarioLoadError, UnknownScenarioSet
from clinsim.scenarios.model import Scenario
from clinsim.scenarios.sets import load_good
from clinsim.tools.base import builtin_tools

if TYPE_CHECKING:  # the runner and the store load the encounter graph and DuckDB: on first use
    from clinsim.environments.run_store import EpisodeRecord, RunStore
    from clinsim.experiment.execute import Executor
    from clinsim.runner import Runner

Opt = typer.Option


@dataclass(frozen=True)
class RunFlags:
    """Every option of `clinsim run`, by name and type."""

    sources: list[str]
    doctor: str
    patient: str
    measurement: str
    judges: list[str]
    tools: list[str]
    limit: int | None
    max_turns: int
    seed: int
    max_concurrency: int
    budget: float | None
    prices: Path | None
    images_upfront: bool
    image_dir: Path | None
    normal_readings: bool
    patient_bias: str | None
    ehr: Path | None
    image_model: str | None
    image_cache: Path | None
    trials: int = 1
    presentation: Presentation = "dialogue"
    tool_option: list[str] = field(default_factory=list)
    models: ModelFlags = field(default_factory=ModelFlags)
    prompt: list[str] = field(default_factory=list)

    def config(self) -> RunConfig:
        agent = self.models.agent_options(
            **{
                "patient.bias": self.patient_bias,
                "measurement.normal_readings": True if self.normal_readings else None,
            }
        )
        tools: dict[str, JsonValue | None] = {
            "ehr_db": str(self.ehr) if self.ehr else None,
            "image_model": self.image_model,
            "image_cache_dir": str(self.image_cache) if self.image_cache else None,
        }
        return RunConfig(
            sources=self.sources or ["demo"],
            doctor=self.doctor,
            patient=self.patient,
            measurement=self.measurement,
            judges=self.judges or ["rules"],
            tools=list(dict.fromkeys([*builtin_tools(), *self.tools])),
            max_turns=self.max_turns,
            seed=self.seed,
            trials=self.trials,
            presentation=self.presentation,
            limit=self.limit,
            budget=self.budget,
            max_concurrency=self.max_concurrency,
            images_upfront=self.images_upfront,
            prices=self.prices,
            image_dir=self.image_dir,
            agent_options=agent,
            model_options=self.models.model_options(),
            tool_options={**key_values(self.tool_option, "--tool-option"), **flags.given(tools)},
            prompts=flags.prompt_flags(self.prompt),
        )


def run(
    sources: Annotated[
        list[str] | None, typer.Argument(help="Scenario set names or scenario files.")
    ] = None,
    doctor: Annotated[str, Opt(help="baseline, oracle, scripted/PATH or a model address.")] = (
        "baseline"
    ),
    patient: Annotated[str, Opt(help="facts or a model address.")] = "facts",
    judge: Annotated[
        list[str] | None, Opt(help="rules and/or a model address; repeat for several.")
    ] = None,
    measurement: Annotated[str, Opt(help="lookup or a model address.")] = "lookup",
    tool: Annotated[
        list[str] | None, Opt(help="Offer this installed tool too (see clinsim plugins).")
    ] = None,
    limit: Annotated[int | None, Opt(min=1, help="Run only the first N scenarios.")] = None,
    max_turns: Annotated[int, Opt(min=1, help="Doctor turn budget.")] = 20,
    seed: Annotated[int, Opt(help="Run seed (episode seeds derive from it).")] = 0,
    trials: Annotated[
        int, Opt(min=1, max=1000, help="Play every scenario this many times (own seeds).")
    ] = 1,
    presentation: Annotated[
        Presentation,
        Opt(help="dialogue, or vignette: the whole case at once, diagnosed in one turn."),
    ] = "dialogue",
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
    doctor_protocol: flags.DoctorProtocol = None,
    doctor_bias: flags.DoctorBias = None,
    patient_bias: Annotated[str | None, Opt(help="A bias name or free text.")] = None,
    normal_readings: Annotated[
        bool, Opt(help="Answer absent tests with NORMAL READINGS (AgentClinic).")
    ] = False,
    images_upfront: Annotated[bool, Opt(help="Show images at the start, not on request.")] = False,
    base_url: flags.BaseUrl = None,
    api_key: flags.ApiKey = None,
    timeout: flags.Timeout = None,
    temperature: flags.Temperature = None,
    ehr: Annotated[Path | None, Opt(help="EHR database for scenarios with an EHR link.")] = None,
    image_model: Annotated[str | None, Opt(help="SigLIP/MedSigLIP checkpoint dir.")] = None,
    image_dir: Annotated[Path | None, Opt(help="Folder holding scenario images.")] = None,
    image_cache: Annotated[
        Path | None, Opt(help="Keep image embeddings on disk here, across runs.")
    ] = None,
    model_option: flags.ModelOption = None,
    agent_option: flags.AgentOption = None,
    tool_option: Annotated[
        list[str] | None, Opt(help="Tool setting KEY=VALUE or TOOL.KEY=VALUE.")
    ] = None,
    prompt: flags.PromptFile = None,
    executor: Annotated[
        str, Opt(help="Who plays the episodes: local, or ray[:ADDRESS] (a Ray cluster).")
    ] = "local",
) -> None:
    """Run scenarios (default: the bundled demo set with the offline agents)."""
    models = ModelFlags(
        base_url, timeout, temperature, doctor_protocol, doctor_bias, model_option, agent_option
    )
    given = RunFlags(
        sources=sources or [],
        doctor=doctor,
        patient=patient,
        measurement=measurement,
        judges=judge or [],
        tools=tool or [],
        limit=limit,
        max_turns=max_turns,
        seed=seed,
        max_concurrency=max_concurrency,
        budget=budget,
        prices=prices,
        images_upfront=images_upfront,
        image_dir=image_dir,
        normal_readings=normal_readings,
        patient_bias=patient_bias,
        ehr=ehr,
        image_model=image_model,
        image_cache=image_cache,
        trials=trials,
        presentation=presentation,
        tool_option=tool_option or [],
        models=models,
        prompt=prompt or [],
    )
    console = Console()
    try:
        config = given.config()
        plan = resolve(config, api_key)
        scenarios, unreadable = _readable(config)
    except (ScenarioLoadError, UnknownScenarioSet, ValueError, PluginError) as exc:
        fail(flags.explain(exc))
    if limit:
        scenarios = scenarios[:limit]
    interactive = "human" in (doctor, patient)
    streamed = stream or interactive
    player = connect_executor(executor, streamed)
    try:
        _execute(console, plan, scenarios, out, resume, streamed, interactive, unreadable, player)
    finally:
        if player is not None:
            player.close()


def _readable(config: RunConfig) -> tuple[list[Scenario], list[RecordError]]:
    """The scenarios to run and the records that could not be read (each is reported, kept with
    the run and makes it exit non-zero; the others run). A source that cannot be read at all,
    or that holds no readable record, stops the run before it starts."""
    scenarios, errors = load_good(config.sources, config.image_dir)
    whole = [error for error in errors if error.line is None]
    if whole or (errors and not scenarios):
        raise ScenarioLoadError(errors)
    return scenarios, errors


def _execute(
    console: Console,
    plan: Plan,
    scenarios: list[Scenario],
    out: Path | None,
    resume: bool,
    stream: bool,
    interactive: bool,
    unreadable: list[RecordError] | None = None,
    executor: Executor | None = None,
) -> None:
    from clinsim.cli import run_dir as directory
    from clinsim.environments.run_store import RunStore, StoreError
    from clinsim.runner import new_run_id

    if resume and out is None:
        fail("--resume needs --out DIR: the run directory to complete")
    run_id = out.name if out else new_run_id()
    store = RunStore(out or Path("runs") / run_id)
    skipped = directory.skipped_records(unreadable or [])
    directory.report_skipped(console, skipped)
    with directory.holding(store):
        try:
            create, skip = directory.prepare(store, plan.stored(), resume)
            if not create:
                run_id = store.run_info().run_id
                if skipped != store.run_info().skipped:
                    store.set_skipped(skipped)
        except StoreError as exc:
            fail(str(exc))
        pool = executor.check_pool() if executor else None
        runner = _runner(console, plan, store, run_id, stream, interactive, pool)
        _validate_addresses(runner, scenarios)
        try:
            if create:
                store.create(run_id, plan.stored().model_dump(mode="json"), skipped)
        except (StoreError, OSError) as exc:
            fail(str(exc))
        if executor is None:
            played = run_with_progress(console, runner, scenarios, skip, stream)
        else:
            from clinsim.experiment.execute import RunTask

            task = RunTask(run_id, plan, scenarios, store, skip)
            played = run_elsewhere(console, executor, task, runner.write_errors)
    _summarise(console, plan, store, scenarios, run_id, runner.write_errors)
    _fail_if_all_model_errors(played)
    problem = directory.final_problems(skipped, runner.write_errors, store.run_dir)
    if problem is not None:
        fail(problem, code=1)


def _runner(
    console: Console,
    plan: Plan,
    store: RunStore,
    run_id: str,
    stream: bool,
    interactive: bool,
    pool: ModelPool | None = None,
) -> Runner:
    from clinsim.render import render_event
    from clinsim.runner import Runner

    def show_event(episode_id: str, event: Event) -> None:
        if interactive and isinstance(event, PatientLeakBlocked):
            return  # its text names the diagnosis: never in front of a person playing doctor
        render_event(console, event, prefix=episode_id)

    # a person at the terminal plays one episode at a time
    one_at_a_time = plan.config.model_copy(update={"max_concurrency": 1})
    return Runner(
        replace(plan, config=one_at_a_time) if interactive else plan,
        store,
        run_id,
        on_event=show_event if stream else None,
        respond=terminal_responder(console) if interactive else None,
        pool=pool or ModelPool(),
    )


def _summarise(
    console: Console,
    plan: Plan,
    store: RunStore,
    scenarios: list[Scenario],
    run_id: str,
    not_stored: list[str],
) -> None:
    from clinsim.render import episodes_table

    for problem in not_stored:
        console.print(Text(f"not stored: {problem}", style="red"), soft_wrap=True)
    records = store.episodes()
    if len(records) <= 40:
        console.print(episodes_table(records, width=console.width))
    _print_summary(console, records, scenarios, f"Run {run_id}")
    c = plan.config
    if c.doctor == "baseline":
        measured = c.max_turns == 20 and c.presentation == "dialogue" and c.budget is None
        console.print(Text(baseline_note(c.sources, figures=measured), style="dim"))
    console.print(Text(f"Run store: {store.path}"), soft_wrap=True)
    console.print(Text(f"Show it again: clinsim show {store.run_dir}"), soft_wrap=True)


def _print_summary(
    console: Console, records: list[EpisodeRecord], scenarios: list[Scenario], title: str
) -> None:
    """The run's figures with their intervals, and how its episodes ended."""
    from clinsim.render_stats import breakdown_tables, summary_figures
    from clinsim.results import outcomes_of
    from clinsim.stats import summarize

    if not records:
        console.print("no episode was stored")
        return
    by_id = {scenario.id: scenario for scenario in scenarios}
    summary = summarize(outcomes_of(title, records, by_id, {}))
    console.print(summary_figures(summary, title=title))
    for table in breakdown_tables(summary, only=["termination"]):
        console.print(table)


def _validate_addresses(runner: Runner, scenarios: list[Scenario]) -> None:
    """Build every role once before the run, so a bad address fails fast and clearly, and ask
    every model server whether it answers (a dead one stops the run with its address)."""
    try:
        if scenarios:
            runner.parts(scenarios[0], "check", 0)
            asyncio.run(runner.pool.check())
    except (ValueError, OSError, ModelError, PluginError) as exc:
        fail(str(exc))


def _fail_if_all_model_errors(records: list[EpisodeRecord]) -> None:
    """A run whose every episode ended in a model error measured nothing: say why, exit 1."""
    if not records or any(r.termination != "model_error" for r in records):
        return
    details = Counter(r.detail.strip().splitlines()[0] if r.detail.strip() else "" for r in records)
    detail, count = details.most_common(1)[0]
    same = "" if count == len(records) else f" ({count} of them: the first below)"
    fail(f"every episode ({len(records)}) ended with a model error{same}: {detail}", code=1)
