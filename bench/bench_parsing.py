"""How well the doctor's reply parsers read the labelled reply corpus.

Prints, per split (held out: written before the parser was made lenient and never tuned on;
dev: the rest) and per protocol: the share of unambiguous replies read as the labelled action,
and how many ambiguous replies were turned into an action (should be 0). `--failures` lists
every miss. No model calls.

    .venv/bin/python bench/bench_parsing.py
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from reply_corpus import IMAGE_REQUEST, OFFERED, Reply, Tally, load, score

from clinsim.agents.llm.parsing import parse_reply
from clinsim.agents.models.base import ToolCall
from clinsim.environments.actions import Action


def read(protocol: str, text: str, tool_calls: Sequence[ToolCall]) -> Action:
    chosen: Any = protocol
    return parse_reply(chosen, text, tool_calls, OFFERED, IMAGE_REQUEST)


def row(name: str, tally: Tally) -> str:
    return (
        f"| {name} | {tally.correct}/{tally.unambiguous} | {100 * tally.share:.1f}% "
        f"| {tally.guessed}/{tally.ambiguous} |"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--failures", action="store_true", help="list every miss")
    args = parser.parse_args(argv)
    replies = load()
    print(f"{len(replies)} replies")
    print("| split / protocol | read as labelled | share | ambiguous read as an action |")
    print("|---|---:|---:|---:|")
    failures: list[str] = []
    groups: list[tuple[str, list[Reply]]] = []
    for split in ("held_out", "dev"):
        in_split = [r for r in replies if r.split == split]
        for protocol in ("json", "tools", "agentclinic"):
            chosen = [r for r in in_split if r.protocol == protocol]
            groups.append((f"{split} / {protocol}", chosen))
        groups.append((f"**{split}**", in_split))
    groups.append(("**all**", replies))
    for name, group in groups:
        tally = score(group, read)
        print(row(name, tally))
        if "/" in name:
            failures += tally.failures
    if args.failures:
        print("\n".join(["", *failures]))


if __name__ == "__main__":
    main()
