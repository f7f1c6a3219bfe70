"""`clinsim judge PAIRS.jsonl`: run judges (default: the rules judge) over reference/answer pairs.

Input: one JSON object a line, {"reference": ..., "answer": ...} with an optional
"label": true|false (the human verdict). Output: one JSON verdict a line,
{"line": N, "match": bool, "rank": 1|null, "reason": ...}, and, when labels are present, a final
{"agreement": ..., "n": ..., "true_pos": ..., "true_neg": ..., "false_pos": ..., "false_neg": ...}.
With several `--judge`, every record names its judge ("judge": ...), one agreement line each.
Malformed lines are reported on stderr (file:line: problem), skipped, and make the exit code 1.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from clinsim.agents.judges.lexicon import LexiconError
from clinsim.agents.models.base import ModelError
from clinsim.agents.models.registry import ModelPool
from clinsim.cli import flags
from clinsim.cli.errors import fail
from clinsim.cli.flags import ModelFlags
from clinsim.components import Player, resolve_judges
from clinsim.config import Options
from clinsim.environments.actions import SubmitDiagnosis
from clinsim.environments.context import Episode
from clinsim.environments.roles import Judge, RoleFailure, Verdict
from clinsim.plugins import PluginError
from clinsim.scenarios.model import AnswerKey, Case, Provenance, Scenario

app = typer.Typer(
    help="Judge reference/answer pairs (JSONL in, JSONL out); the rules judge by default.",
    invoke_without_command=True,
    no_args_is_help=True,
    subcommand_metavar="",
    context_settings={"allow_interspersed_args": True},  # options after PAIRS too
)


@dataclass
class Agreement:
    counts: dict[str, int] = field(
        default_factory=lambda: {"true_pos": 0, "true_neg": 0, "false_pos": 0, "false_neg": 0}
    )

    def add(self, label: bool, match: bool) -> None:
        key = ("true_" if label == match else "false_") + ("pos" if match else "neg")
        self.counts[key] += 1

    def summary(self) -> dict[str, Any]:
        n = sum(self.counts.values())
        agreed = self.counts["true_pos"] + self.counts["true_neg"]
        return {"agreement": round(agreed / n, 4) if n else None, "n": n, **self.counts}


def parse_pair(text: str) -> tuple[str, str, bool | None]:
    """(reference, answer, label) of one input line; ValueError says what is wrong."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
    for key in ("reference", "answer"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{key}: expected a non-empty string")
    label = raw.get("label")
    if label is not None and not isinstance(label, bool):
        raise ValueError("label: expected true, false or no label")
    return raw["reference"], raw["answer"], label


PAIRS_SET = "pairs"


def _build(players: list[Player[Judge]], models: ModelPool) -> dict[str, Judge]:
    """The judges, built once for every pair (a judge is given each pair's answer key)."""
    scenario = Scenario(
        id=f"{PAIRS_SET}/0000",
        case=Case(objective=""),
        answer=AnswerKey(diagnosis="(each pair's reference)"),
        provenance=Provenance(source=PAIRS_SET),
    )
    return {player.address: player.build(scenario, 0, models) for player in players}


async def _verdict(judge: Judge, number: int, reference: str, answer: str) -> Verdict:
    with Episode(f"{PAIRS_SET}/{number:04d}").step(1):  # a model judge's calls are numbered
        return await judge.judge(SubmitDiagnosis(diagnosis=answer), AnswerKey(diagnosis=reference))


async def judge_lines(
    lines: list[str], judges: dict[str, Judge], source: str
) -> tuple[list[str], int]:
    """Output lines and the number of malformed input lines; `judges` by address."""
    out: list[str] = []
    bad = 0
    agreements = {address: Agreement() for address in judges}
    labelled = False
    named = len(judges) > 1
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            reference, answer, label = parse_pair(text)
        except ValueError as exc:
            typer.echo(f"{source}:{number}: {exc}", err=True)
            bad += 1
            continue
        for address, judge in judges.items():
            verdict = await _verdict(judge, number, reference, answer)
            record: dict[str, Any] = {"line": number, "match": verdict.match, "rank": verdict.rank}
            record["reason"] = verdict.reason
            if named:
                record = {"judge": address, **record}
            if label is not None:
                labelled = True
                record["label"] = label
                agreements[address].add(label, verdict.match)
            out.append(json.dumps(record, ensure_ascii=False))
    if labelled:
        for address, agreement in agreements.items():
            summary = agreement.summary()
            out.append(json.dumps({"judge": address, **summary} if named else summary))
    return out, bad


async def _judge_all(
    players: list[Player[Judge]], lines: list[str], source: str
) -> tuple[list[str], int]:
    models = ModelPool()
    try:
        return await judge_lines(lines, _build(players, models), source)
    finally:
        await models.aclose()


@app.callback()
def judge(
    pairs: Annotated[str, typer.Argument(help="JSONL file of pairs, or '-' for stdin.")],
    judges: Annotated[
        list[str] | None,
        typer.Option("--judge", help="rules (default) or a model address; repeat for several."),
    ] = None,
    vocabulary: Annotated[
        Path | None,
        typer.Option(help="Rules judge vocabulary file (default: the bundled one)."),
    ] = None,
    base_url: flags.BaseUrl = None,
    api_key: flags.ApiKey = None,
    model_option: flags.ModelOption = None,
) -> None:
    """Judge each {"reference", "answer"[, "label"]} line; print one verdict a line."""
    options = ModelFlags(base_url=base_url, model_option=model_option)
    agent: Options = {"judge.vocabulary": str(vocabulary)} if vocabulary else {}
    try:
        players = resolve_judges(judges or ["rules"], agent, options.model_options(), api_key)
    except (PluginError, ValueError) as exc:
        fail(flags.explain(exc))
    if pairs == "-":
        lines, source = sys.stdin.read().splitlines(), "<stdin>"
    else:
        path = Path(pairs)
        try:
            lines, source = path.read_text(encoding="utf-8").splitlines(), str(path)
        except FileNotFoundError:
            fail(f"{path}: no such file")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"{path}: cannot read: {exc}")
    try:
        out, bad = asyncio.run(_judge_all(players, lines, source))
    except (LexiconError, PluginError, ValueError, ModelError) as exc:
        fail(str(exc))  # a bad vocabulary file or model address
    except RoleFailure as exc:
        fail(f"judge failed: {exc.detail}")
    for line in out:
        typer.echo(line)
    if bad:
        typer.echo(f"{bad} malformed line(s) skipped", err=True)
        raise typer.Exit(1)
