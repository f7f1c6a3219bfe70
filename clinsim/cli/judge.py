"""`clinsim judge PAIRS.jsonl`: run the rules judge over reference/answer pairs.

Input: one JSON object a line, {"reference": ..., "answer": ...} with an optional
"label": true|false (the human verdict). Output: one JSON verdict a line,
{"line": N, "match": bool, "rank": 1|null, "reason": ...}, and, when labels are present, a final
{"agreement": ..., "n": ..., "true_pos": ..., "true_neg": ..., "false_pos": ..., "false_neg": ...}.
Malformed lines are reported on stderr (file:line: problem), skipped, and make the exit code 1.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from clinsim.agents.judges.lexicon import LexiconError, load_lexicon
from clinsim.agents.judges.rules import RulesJudge
from clinsim.cli.errors import fail
from clinsim.scenarios.model import AnswerKey

app = typer.Typer(
    help="Judge reference/answer pairs with the rules judge (JSONL in, JSONL out).",
    invoke_without_command=True,
    no_args_is_help=True,
    subcommand_metavar="",
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


def judge_lines(lines: list[str], judge: RulesJudge, source: str) -> tuple[list[str], int]:
    """Output lines and the number of malformed input lines."""
    out: list[str] = []
    bad = 0
    agreement = Agreement()
    labelled = False
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            reference, answer, label = parse_pair(text)
        except ValueError as exc:
            typer.echo(f"{source}:{number}: {exc}", err=True)
            bad += 1
            continue
        verdict = judge.verdict(answer, [], AnswerKey(diagnosis=reference))
        record: dict[str, Any] = {"line": number, "match": verdict.match, "rank": verdict.rank}
        record["reason"] = verdict.reason
        if label is not None:
            labelled = True
            record["label"] = label
            agreement.add(label, verdict.match)
        out.append(json.dumps(record, ensure_ascii=False))
    if labelled:
        out.append(json.dumps(agreement.summary()))
    return out, bad


@app.callback()
def judge(
    pairs: Annotated[str, typer.Argument(help="JSONL file of pairs, or '-' for stdin.")],
    vocabulary: Annotated[
        Path | None,
        typer.Option(help="Judge vocabulary file (default: the bundled judge_synonyms.json)."),
    ] = None,
) -> None:
    """Judge each {"reference", "answer"[, "label"]} line; print one verdict a line."""
    try:
        lexicon = load_lexicon(vocabulary)
    except LexiconError as exc:
        fail(str(exc))
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
    out, bad = judge_lines(lines, RulesJudge(lexicon), source)
    for line in out:
        typer.echo(line)
    if bad:
        typer.echo(f"{bad} malformed line(s) skipped", err=True)
        raise typer.Exit(1)
