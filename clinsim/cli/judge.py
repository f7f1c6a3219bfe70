"""`clinsim judge PAIRS.jsonl`: run one or more judges over reference/answer pairs.

Input: one JSON object a line, {"reference": ..., "answer": ...} with an optional
"label": true|false (the human verdict). Judges are addresses as in `clinsim run --judge`
(`rules`, `openai/NAME` with `--base-url`, any registered judge); repeat `--judge` to compare.
With labels, each judge's agreement, Cohen's kappa and confusion matrix are printed, and the
pairs where judges (or judge and label) disagree are listed. `--json` prints JSON lines
instead: one record per pair, one summary per judge, then the disagreeing lines.
Malformed lines are reported on stderr (file:line: problem) and skipped; they, and pairs a
judge failed on, make the exit code 1.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from clinsim.agents.judges.lexicon import LexiconError
from clinsim.agents.models.base import ModelError
from clinsim.agents.models.registry import ModelPool
from clinsim.cli import flags
from clinsim.cli.errors import fail
from clinsim.cli.flags import ModelFlags
from clinsim.components import resolve_judges
from clinsim.config import Options
from clinsim.environments.roles import Judge
from clinsim.judge_pairs import (
    JudgeSummary,
    Pair,
    PairVerdict,
    disagreements,
    judge_all,
    read_pairs,
    summarise,
)
from clinsim.plugins import PluginError
from clinsim.scenarios.model import AnswerKey, Case, Provenance, Scenario

app = typer.Typer(
    help="Judge reference/answer pairs with one or more judges; compare them with labels.",
    invoke_without_command=True,
    no_args_is_help=True,
    subcommand_metavar="",
    context_settings={"allow_interspersed_args": True},
)
_PLACEHOLDER = Scenario(
    id="pairs/0",
    case=Case(objective="Judge reference/answer pairs."),
    answer=AnswerKey(diagnosis="(per pair)"),
    provenance=Provenance(source="clinsim judge"),
)


def _read(pairs: str) -> tuple[list[str], str]:
    if pairs == "-":
        return sys.stdin.read().splitlines(), "<stdin>"
    path = Path(pairs)
    try:
        return path.read_text(encoding="utf-8").splitlines(), str(path)
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{path}: cannot read: {exc}")


def make_judges(
    addresses: list[str],
    agent_options: Options,
    model_options: Options,
    api_key: str | None,
    pool: ModelPool,
) -> dict[str, Judge]:
    """Judges by address, found among the installed judges (or played by a model address) and
    configured by the options as `clinsim run` configures them."""
    chosen = list(dict.fromkeys(addresses))
    players = resolve_judges(chosen, agent_options, model_options, api_key)
    return {player.address: player.build(_PLACEHOLDER, 0, pool) for player in players}


def _json_lines(
    pairs: list[Pair],
    table: dict[str, list[PairVerdict]],
    summaries: list[JudgeSummary],
    split: list[int],
) -> list[str]:
    out = []
    for index, pair in enumerate(pairs):
        record: dict[str, Any] = {"line": pair.line, "reference": pair.reference}
        record["answer"] = pair.answer
        if pair.label is not None:
            record["label"] = pair.label
        record["verdicts"] = {name: verdicts[index].as_dict() for name, verdicts in table.items()}
        out.append(json.dumps(record, ensure_ascii=False))
    out += [json.dumps(s.as_dict()) for s in summaries]
    out.append(json.dumps({"disagreements": [pairs[i].line for i in split]}))
    return out


def _mark(match: bool | None) -> str:
    return "error" if match is None else ("yes" if match else "no")


def _print_tables(
    console: Console,
    pairs: list[Pair],
    table: dict[str, list[PairVerdict]],
    summaries: list[JudgeSummary],
    split: list[int],
) -> None:
    stats = Table(title="Judges against the labels")
    for column in ("judge", "pairs", "agreement", "kappa", "TP", "FP", "FN", "TN", "errors"):
        stats.add_column(column, justify="left" if column == "judge" else "right")
    for s in summaries:
        c = s.confusion
        agreement = "-" if s.agreement is None else f"{s.agreement:.1%}"
        kappa = "-" if s.kappa is None else f"{s.kappa:.3f}"
        cells = [c["true_pos"], c["false_pos"], c["false_neg"], c["true_neg"], s.errors]
        stats.add_row(Text(s.judge), str(s.n), agreement, kappa, *map(str, cells))
    console.print(stats)
    for s in summaries:
        matrix = Table(title=f"Confusion matrix: {s.judge}", title_justify="left")
        matrix.add_column("label \\ verdict")
        matrix.add_column("match", justify="right")
        matrix.add_column("no match", justify="right")
        c = s.confusion
        matrix.add_row("correct", str(c["true_pos"]), str(c["false_neg"]))
        matrix.add_row("wrong", str(c["false_pos"]), str(c["true_neg"]))
        console.print(matrix)
        if s.grades:
            counts = ", ".join(f"{g} {n}" for g, n in sorted(s.grades.items()))
            console.print(Text(f"grades ({s.judge}): {counts}"))
    listing = Table(title=f"Pairs where judges disagree ({len(split)})")
    for column in ("line", "reference", "answer", "label", *table):
        listing.add_column(column, overflow="fold")
    for index in split:
        pair = pairs[index]
        label = "-" if pair.label is None else ("yes" if pair.label else "no")
        marks = [_mark(table[name][index].match) for name in table]
        listing.add_row(str(pair.line), Text(pair.reference), Text(pair.answer), label, *marks)
    console.print(listing)


@app.callback()
def judge(
    pairs: Annotated[str, typer.Argument(help="JSONL file of pairs, or '-' for stdin.")],
    judges: Annotated[
        list[str] | None,
        typer.Option(
            "--judge", help="rules or a model address; repeat to compare (default rules)."
        ),
    ] = None,
    vocabulary: Annotated[
        Path | None,
        typer.Option(help="Rules judge vocabulary file (default: the bundled one)."),
    ] = None,
    base_url: flags.BaseUrl = None,
    api_key: flags.ApiKey = None,
    timeout: flags.Timeout = None,
    model_option: flags.ModelOption = None,
    agent_option: Annotated[
        list[str] | None,
        typer.Option(help="Judge setting KEY=VALUE (accept_less_specific=true, ...)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of tables.")] = False,
) -> None:
    """Judge each {"reference", "answer"[, "label"]} line with every --judge."""
    lines, source = _read(pairs)
    parsed, problems = read_pairs(lines)
    for number, problem in problems:
        typer.echo(f"{source}:{number}: {problem}", err=True)
    options = ModelFlags(
        base_url=base_url, timeout=timeout, model_option=model_option, agent_option=agent_option
    )
    pool = ModelPool()
    try:
        agent = options.agent_options(
            **{"judge.vocabulary": str(vocabulary) if vocabulary else None}
        )
        chosen = make_judges(judges or ["rules"], agent, options.model_options(), api_key, pool)
        table = asyncio.run(_judge_and_close(chosen, parsed, pool))
    except (LexiconError, ValueError, ModelError, PluginError) as exc:
        fail(flags.explain(exc))
    summaries = [summarise(name, parsed, verdicts) for name, verdicts in table.items()]
    split = disagreements(parsed, table)
    if as_json:
        for line in _json_lines(parsed, table, summaries, split):
            typer.echo(line)
    else:
        _print_tables(Console(), parsed, table, summaries, split)
    failed = sum(s.errors for s in summaries)
    if failed:
        typer.echo(f"{failed} verdict(s) failed (see the errors column)", err=True)
    if problems:
        typer.echo(f"{len(problems)} malformed line(s) skipped", err=True)
    if problems or failed:
        raise typer.Exit(1)


async def _judge_and_close(
    judges: dict[str, Judge], pairs: list[Pair], pool: ModelPool
) -> dict[str, list[PairVerdict]]:
    try:
        return await judge_all(judges, pairs)
    finally:
        await pool.aclose()
