"""How `clinsim run` plays its episodes: here, behind a progress bar, or with a cluster executor
(`--executor`), the bar fed by the episodes it stores."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from clinsim.cli.errors import fail
from clinsim.scenarios.model import Scenario

if TYPE_CHECKING:
    from clinsim.environments.run_store import EpisodeRecord
    from clinsim.experiment.execute import Executor, RunTask
    from clinsim.runner import Runner


def connect_executor(name: str, in_this_process: bool) -> Executor | None:
    """The cluster executor `--executor` names, connected; None for the local one."""
    from clinsim.experiment.execute import executor_for
    from clinsim.experiment.spec import ExperimentError

    try:
        chosen = executor_for(name)
        if chosen.name == "local":
            return None
        if in_this_process:
            fail(f"--executor {name}: --stream and human roles play in this process (local)")
        chosen.open()
    except ExperimentError as exc:
        fail(str(exc))
    return chosen


def run_elsewhere(
    console: Console, executor: Executor, task: RunTask, write_errors: list[str]
) -> list[EpisodeRecord]:
    """Play the run with a cluster executor, the progress bar fed by the episodes it stores."""
    from clinsim.experiment.spec import ExperimentError
    from clinsim.runner import episode_jobs

    played: list[EpisodeRecord] = []
    jobs = episode_jobs(task.scenarios, task.plan.config.trials)
    todo = sum(job.episode_id not in task.skip for job in jobs)
    with Progress(*_COLUMNS, console=console) as progress:
        bar = progress.add_task("episodes", total=todo, correct=0)

        def done(record: EpisodeRecord) -> None:
            played.append(record)
            progress.update(bar, advance=1, correct=sum(r.correct for r in played))

        try:
            result = executor.run_cell(task, done)
        except ExperimentError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: finished episodes are stored (use --resume)[/]")
            raise typer.Exit(130) from None
    write_errors.extend(result.write_errors)
    if result.replayed:
        lost = f"{result.replayed} episode attempts lost with their worker, played again"
        console.print(Text(lost, style="yellow"))
    return sorted(played, key=lambda r: r.position)


_COLUMNS = (
    TextColumn("{task.description}"),
    BarColumn(),
    MofNCompleteColumn(),
    TextColumn("correct {task.fields[correct]}"),
    TimeElapsedColumn(),
)


def run_with_progress(
    console: Console,
    runner: Runner,
    scenarios: list[Scenario],
    skip: set[str],
    stream: bool,
) -> list[EpisodeRecord]:
    from clinsim.environments.run_store import StoreError
    from clinsim.runner import episode_jobs, freeze_setup

    with Progress(*_COLUMNS, console=console, disable=stream) as progress:
        jobs = episode_jobs(scenarios, runner.config.trials)
        todo = sum(job.episode_id not in skip for job in jobs)
        task = progress.add_task("episodes", total=todo, correct=0)
        correct = 0

        def done(record: EpisodeRecord) -> None:
            nonlocal correct
            correct += record.correct
            progress.update(task, advance=1, correct=correct)

        freeze_setup()
        try:
            return asyncio.run(runner.run(scenarios, skip=skip, on_done=done))
        except StoreError as exc:  # the store cannot be written: found before anything played
            fail(str(exc))
        except KeyboardInterrupt:
            console.print(
                "[yellow]interrupted: finished episodes and the model calls of the others are "
                "stored (--resume completes the run without repeating them)[/]"
            )
            raise typer.Exit(130) from None
