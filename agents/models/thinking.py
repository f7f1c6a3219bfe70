"""Reasoning spans before (or around) a model's answer: MedGemma's `<unused94>thought ...
<unused95>`, and the `<think>...</think>` / `<thinking>...</thinking>` tags of reasoning models
served without a reasoning parser.

Backends strip them from the reply text and keep them in `ChatResponse.thinking`, so the record
has them but parsers of the doctor's action never see them. A span opened and never closed
(generation cut off) is thinking up to the end; a closing `</think>` with no opening tag (chat
templates that open the span in the prompt) makes everything before it thinking.
"""

from __future__ import annotations

import re

THINKING_START = "<unused94>"
THINKING_END = "<unused95>"

_MARKERS = ((THINKING_START, THINKING_END), ("<think>", "</think>"), ("<thinking>", "</thinking>"))
_SPAN = re.compile(
    "|".join(re.escape(start) + r"(.*?)(?:" + re.escape(end) + r"|\Z)" for start, end in _MARKERS),
    re.S | re.I,
)
_CLOSE_ONLY = re.compile(r"\A(.*?)</think(?:ing)?>", re.S | re.I)


def split_thinking(text: str) -> tuple[str, str | None]:
    """Return (reply without thinking spans, joined thinking or None)."""
    lowered = text.lower()
    if not any(start in lowered or end in lowered for start, end in _MARKERS):
        return text, None
    spans = [next(g for g in match.groups() if g is not None) for match in _SPAN.finditer(text)]
    text = _SPAN.sub("", text)
    if match := _CLOSE_ONLY.match(text):
        spans.insert(0, match.group(1))
        text = text[match.end() :]
    thoughts = [span.strip() for span in spans if span.strip()]
    return text.strip(), "\n\n".join(thoughts) or None
