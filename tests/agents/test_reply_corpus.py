"""Every protocol's parser over the labelled corpus of doctor replies
(tests/agents/data/doctor_replies.jsonl, see its README): at least 98% of the unambiguous
replies read as the action they mean, and no ambiguous reply turned into an action."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from reply_corpus import CORPUS, IMAGE_REQUEST, OFFERED, load, score

from clinsim.agents.llm.parsing import parse_reply
from clinsim.agents.models.base import ToolCall
from clinsim.environments.actions import Action

SOURCES = {
    "agentclinic-script",
    "gemma-function-calling-docs",
    "gemma-tool-code-guide",
    "medgemma-thinking",
    "openai-tool-calls-docs",
    "vllm-tool-calling-docs",
    "chat-model-habit",
}
REPLIES = load()


def read(protocol: str, text: str, tool_calls: Sequence[ToolCall]) -> Action:
    assert protocol in ("json", "tools", "agentclinic")
    return parse_reply(protocol, text, tool_calls, OFFERED, IMAGE_REQUEST)  # type: ignore[arg-type]


def test_the_corpus_is_labelled_and_sourced() -> None:
    records = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]
    assert len(records) >= 150
    assert len({r["id"] for r in records}) == len(records)
    for record in records:
        assert record["protocol"] in ("json", "tools", "agentclinic"), record["id"]
        assert record["split"] in ("held_out", "dev"), record["id"]
        assert record["source"] in SOURCES, record["id"]
        assert record["style"], record["id"]
    held_out = [r for r in records if r["split"] == "held_out"]
    assert len(held_out) >= len(records) // 4
    readme = (CORPUS.parent / "doctor_replies.md").read_text()
    for source in SOURCES:
        assert source in readme


@pytest.mark.parametrize("protocol", ["json", "tools", "agentclinic"])
@pytest.mark.parametrize("split", ["held_out", "dev"])
def test_the_parser_reads_the_corpus(protocol: str, split: str) -> None:
    replies = [r for r in REPLIES if r.protocol == protocol and r.split == split]
    assert replies
    tally = score(replies, read)
    misses = "\n".join(tally.failures)
    assert tally.guessed == 0, misses
    assert tally.share >= 0.98, f"{tally.correct}/{tally.unambiguous}\n{misses}"


def test_the_scorer_counts_a_guess_and_a_miss() -> None:
    ambiguous = [r for r in REPLIES if r.expect is None][:3]
    clear = [r for r in REPLIES if r.expect is not None][:4]
    tally = score([*ambiguous, *clear], lambda p, t, c: clear[0].expect)  # type: ignore[arg-type, return-value]
    assert (tally.guessed, tally.ambiguous) == (3, 3)
    assert tally.unambiguous == 4 and tally.correct == sum(
        r.expect == clear[0].expect for r in clear
    )
